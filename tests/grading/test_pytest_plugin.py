"""Tests of mlkeras.grading.pytest_plugin through a real `pytest` process."""

import os
import pathlib
import subprocess
import sys

# Lab 01's checks use NumPy formulas only, so this pytest process need not
# import Keras.
SUBMISSION = (
    pathlib.Path(__file__).parent / "submissions" / "lab01" / "correct.py"
)


def _pytest(tmp_path, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "mlkeras.grading.pytest_plugin",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )


def test_plugin_runs_the_lab_checks_on_the_submission(tmp_path):
    done = _pytest(
        tmp_path, "--submission", str(SUBMISSION), "--lab", "01", "-q"
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "5 passed" in done.stdout
    assert "score: 5/5" in done.stdout


def test_plugin_does_nothing_without_submission(tmp_path):
    # Public API only: without --submission, neither fixture exists and
    # no grading plugin object is registered.
    (tmp_path / "test_plain.py").write_text(
        "import pytest\n"
        "\n"
        "def test_plain(request):\n"
        "    for name in ('submission', 'rng'):\n"
        "        with pytest.raises(pytest.FixtureLookupError):\n"
        "            request.getfixturevalue(name)\n"
        "    manager = request.config.pluginmanager\n"
        "    assert manager.get_plugin('mlkeras-grading-run') is None\n"
        "    assert manager.get_plugin('mlkeras-grading-fixtures') is None\n"
    )
    done = _pytest(tmp_path, "-q", "test_plain.py")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout and "mlkeras grading" not in done.stdout
