"""Shared test set-up: quiet TensorFlow, a headless matplotlib, fixed seeds.

Under `pytest -n auto --dist loadgroup` (pytest-xdist) it also decides which
tests share a worker process.
"""

import os
import random
import re
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mlkeras import labs  # noqa: E402


@pytest.fixture(autouse=True)
def seeded_randomness():
    """Every test starts from the same Python, NumPy and Keras seeds."""
    random.seed(0)
    np.random.seed(0)
    keras.utils.set_random_seed(0)
    yield


FAKE_LAB = textwrap.dedent('''
    """Lab {n:02d}: Fake lab {n}.

    Runtime: about 1 s with --quick, 2 s in full.
    """
    from mlkeras import labs

    def main(argv=None):
        args = labs.parse_lab_args(argv, __doc__)
        out = labs.output_dir(args.out, __file__)
        results = {{"quick": args.quick, "value": float("nan"), "n": {n}}}
        labs.write_results(out, results)
        return results
''')


@pytest.fixture
def fake_labs(tmp_path, monkeypatch):
    """Points the lab runner at two tiny lab scripts in a temporary folder."""
    folder = tmp_path / "labs"
    folder.mkdir()
    for n, slug in [(1, "alpha"), (2, "beta_gamma")]:
        (folder / f"{n:02d}_{slug}.py").write_text(FAKE_LAB.format(n=n))
    (folder / "helper_not_a_lab.py").write_text("x = 1\n")
    monkeypatch.setenv(labs.LABS_DIR_ENV, str(folder))
    return folder


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups the tests for `--dist loadgroup`: one worker runs each group.

    A group is a test module, so that a module's fixtures are built once,
    except that a lab's quick run (`run_lab_quick`, once per worker) joins
    the tests of every module that reads it into the lab's group.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_worker_group(item)))


def _worker_group(item):
    callspec = getattr(item, "callspec", None)
    lab_id = callspec.params.get("lab_id") if callspec else None
    if lab_id and "run_lab_quick" in item.fixturenames:
        return f"lab {lab_id}"
    lab_module = re.fullmatch(r"test_(\d\d_\w+)\.py", item.path.name)
    if lab_module and item.path.parent.name == "labs":
        return f"lab {lab_module[1]}"
    return item.nodeid.split("::")[0]
