"""The pytest plugin behind `mlkeras check` and `pytest --submission FILE`.

Registered as the `mlkeras` entry point in the `pytest11` group, it loads in
every pytest run on the machine, so it does nothing at all unless
`--submission` is given: it only adds its command-line options. With
`--submission FILE --lab ID` it replaces the run's test paths with the lab's
check module (plus the `.py` files of `--hidden DIR`), registers the
`submission` and `rng` fixtures, runs the submission in a `Sandbox`, and
prints a per-check report and the score. `mlkeras.grading.check` and
`mlkeras.grading.grade` run exactly this plugin through `pytest.main`.

Markers that checks may use: `points(n)` (default 1) and
`call_timeout(seconds)` (the per-call timeout for that check).
"""

import pathlib
import re
import secrets
import zlib

import numpy as np
import pytest

from mlkeras.grading import exercises, intake
from mlkeras.grading import results as results_lib
from mlkeras.grading.expect import CheckFailure
from mlkeras.grading.proxy import SubmissionProxy
from mlkeras.grading.sandbox import (
    IsolationError,
    Limits,
    Sandbox,
    SubmissionError,
)

RUN_KEY = pytest.StashKey()
NOT_IMPORTED = results_lib.NOT_IMPORTED


def pytest_addoption(parser):
    group = parser.getgroup(
        "mlkeras", "mlkeras grading (active only with --submission)"
    )
    group.addoption(
        "--submission",
        metavar="FILE",
        default=None,
        help="grade this submission (a .py file, a .ipynb notebook or a "
        "folder) in a sandbox",
    )
    group.addoption(
        "--lab",
        metavar="ID",
        default=None,
        help="the lab whose checks to run, e.g. 03 (default: from the file "
        "name)",
    )
    group.addoption(
        "--hidden",
        metavar="DIR",
        default=None,
        help="a folder of extra (hidden) check files",
    )
    group.addoption(
        "--grading-seed",
        metavar="N",
        type=int,
        default=None,
        help="seed of the random check inputs (default: a fresh one)",
    )
    group.addoption(
        "--isolation",
        choices=("auto", "bubblewrap", "reduced"),
        default="auto",
        help="bubblewrap (refuse without it), reduced (no namespaces), or "
        "auto: bubblewrap when it is installed (the default)",
    )
    group.addoption(
        "--call-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="per-call timeout (default: the exercise's, usually 10 s)",
    )


def resolve_submission(path):
    """Returns `(main_file, is_folder)` for a submission file or folder.

    A folder submission's main file is `labNN.py`, `submission.py`, or its
    only top-level `.py` file. Links, devices, FIFOs and sockets are
    refused (see `intake.read_submission`).

    Raises:
        FileNotFoundError, ValueError or `intake.SubmissionRefused` with a
        message that names the path.
    """
    submission = intake.read_submission(path)
    if submission.is_folder:
        return pathlib.Path(path) / submission.main, True
    return pathlib.Path(path), False


class GradingRun:
    """The state of one graded submission inside a pytest session."""

    def __init__(self, config):
        submission = config.getoption("submission")
        lab = config.getoption("lab") or exercises.infer_lab(submission)
        if lab is None:
            raise pytest.UsageError(
                f"cannot tell the lab from the file name; pass --lab. "
                f"Received: submission={submission!r}"
            )
        try:
            self.exercise = exercises.find_exercise(lab)
            self.files = intake.read_submission(submission)
        except (ValueError, FileNotFoundError) as err:
            raise pytest.UsageError(str(err)) from None
        self.submission = pathlib.Path(submission)
        hidden = config.getoption("hidden")
        self.hidden_files = []
        if hidden:
            hidden_dir = pathlib.Path(hidden)
            if not hidden_dir.is_dir():
                raise pytest.UsageError(
                    f"--hidden must be a folder. Received: hidden={hidden!r}"
                )
            self.hidden_files = sorted(
                p.resolve()
                for p in hidden_dir.glob("*.py")
                if p.name not in ("conftest.py", "__init__.py")
            )
        seed = config.getoption("grading_seed")
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        call_timeout = (
            config.getoption("call_timeout") or self.exercise.call_timeout
        )
        self.limits = Limits(
            call_timeout=call_timeout,
            wall_clock=self.exercise.wall_clock,
            memory_bytes=self.exercise.memory_bytes,
            max_processes=self.exercise.max_processes,
            forbidden_imports=self.exercise.forbidden_imports,
            packages=self.exercise.packages,
            isolation=config.getoption("isolation"),
        )
        self.check_files = [
            str(self.exercise.checks_path),
            *map(str, self.hidden_files),
        ]
        self._sandbox = None
        self.protections = {}
        self.output = ""
        self.checks = {}
        self.order = []
        self.load_error = ""

    # ------------------------------------------------------------ sandbox

    def sandbox(self):
        if self._sandbox is None:
            self._sandbox = Sandbox(
                limits=self.limits,
                lab=self.exercise.lab,
                submission=self.files,
            )
        return self._sandbox

    def close(self):
        if self._sandbox is not None:
            self.protections = self._sandbox.protections()
            self.output = self._sandbox.output()
            self._sandbox.close()
            self._sandbox = None

    # ------------------------------------------------------------ hooks

    def _is_hidden(self, item):
        return pathlib.Path(str(item.path)).resolve() in self.hidden_files

    def _check_name(self, item):
        name = item.name[5:] if item.name.startswith("test_") else item.name
        return f"hidden: {name}" if self._is_hidden(item) else name

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            marker = item.get_closest_marker("points")
            points = float(marker.args[0]) if marker and marker.args else 1.0
            name = self._check_name(item)
            self.order.append(item.nodeid)
            self.checks[item.nodeid] = results_lib.CheckResult(
                name=name,
                max_score=points,
                score=0.0,
                status="failed",
                output="not run",
                hidden=self._is_hidden(item),
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        check = self.checks.get(item.nodeid)
        if check is None:
            return report
        if call.when == "call" or (
            call.when == "setup" and report.outcome != "passed"
        ):
            if report.passed:
                check.status, check.score, check.output = (
                    "passed",
                    check.max_score,
                    "",
                )
            elif report.skipped:
                check.status, check.output = "skipped", "skipped"
            elif self._did_not_import(call.excinfo):
                # Said once for the whole submission, not once per check.
                check.status, check.score = "failed", 0.0
                check.output = NOT_IMPORTED
                report.longrepr = check.output
            else:
                check.status, check.score = "failed", 0.0
                check.output = self.files.locate_errors(
                    self._failure_message(call.excinfo)
                )
                if call.excinfo is not None and isinstance(
                    call.excinfo.value, (CheckFailure, SubmissionError)
                ):
                    report.longrepr = check.output
        return report

    def _did_not_import(self, excinfo):
        err = None if excinfo is None else excinfo.value
        if not (isinstance(err, SubmissionError) and err.reason == "load"):
            return False
        if not self.load_error:
            message = results_lib.clean_text(str(err), single_line=True)
            lines = re.findall(
                r'File "/work/([^"]*)", line (\d+)', err.traceback_text or ""
            )
            if lines and "line " not in message:
                message += f" ({lines[-1][0]}, line {lines[-1][1]})"
            self.load_error = self.files.locate_errors(message)
        return True

    @staticmethod
    def _failure_message(excinfo):
        if excinfo is None:
            return "failed"
        err = excinfo.value
        if isinstance(err, SubmissionError):
            text = str(err)
            if err.traceback_text:
                text += "\n" + err.traceback_text[-1500:]
            return text
        if isinstance(err, CheckFailure):
            return str(err)
        if isinstance(err, AssertionError):
            return f"check failed: {str(err)[:1500]}"
        return (
            f"the check could not use the answer: {type(err).__name__}: "
            f"{str(err)[:1500]}"
        )

    def pytest_sessionfinish(self, session):
        self.close()

    def pytest_terminal_summary(self, terminalreporter):
        result = self.result()
        write = terminalreporter.write_line
        terminalreporter.section("mlkeras grading")
        for line in results_lib.format_report(result).splitlines():
            write(line)

    def result(self):
        """The `SubmissionResult` of this run."""
        return results_lib.SubmissionResult(
            submission=str(self.submission),
            lab=self.exercise.lab,
            seed=self.seed,
            checks=[self.checks[nodeid] for nodeid in self.order],
            protections=dict(self.protections),
            output=self.output,
            load_error=self.load_error,
        )


def pytest_configure(config):
    if not config.getoption("submission", None):
        return
    config.addinivalue_line(
        "markers", "points(n): how many points a check is worth"
    )
    config.addinivalue_line(
        "markers", "call_timeout(seconds): the per-call timeout of a check"
    )
    run = GradingRun(config)
    # The child imports the submission while pytest collects the checks.
    try:
        run.sandbox().prestart()
    except IsolationError as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[RUN_KEY] = run
    config.args[:] = run.check_files
    config.pluginmanager.register(run, "mlkeras-grading-run")
    config.pluginmanager.register(_Fixtures(), "mlkeras-grading-fixtures")


class _Fixtures:
    """The fixtures checks use; registered only when grading is active."""

    @pytest.fixture
    def submission(self, request):
        """The sandboxed submission: `submission.name(*args)` calls it."""
        run = request.config.stash[RUN_KEY]
        marker = request.node.get_closest_marker("call_timeout")
        timeout = float(marker.args[0]) if marker and marker.args else None
        if timeout is not None and request.config.getoption("call_timeout"):
            timeout = min(timeout, request.config.getoption("call_timeout"))
        return SubmissionProxy(run.sandbox(), timeout)

    @pytest.fixture
    def rng(self, request):
        """A NumPy generator seeded from the grader's secret seed and the
        check's name."""
        run = request.config.stash[RUN_KEY]
        return np.random.default_rng(
            [run.seed, zlib.crc32(request.node.name.encode())]
        )
