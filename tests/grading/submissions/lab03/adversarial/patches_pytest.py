"""Adversarial: patches pytest's reporting (in its own process) so every test passes."""

try:
    import _pytest.reports
    import _pytest.runner

    _pytest.reports.TestReport.passed = property(lambda self: True)
    _pytest.reports.TestReport.failed = property(lambda self: False)
    _pytest.runner.call_and_report = lambda item, when, log=True, **kw: None
except Exception:  # noqa: BLE001
    pass


def relu(x):
    raise NotImplementedError


def sigmoid(x):
    raise NotImplementedError
