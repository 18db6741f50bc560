"""The command line keeps TensorFlow's C++ start-up logging off the screen."""

import os
import re
import subprocess
import sys

import pytest

from mlkeras import cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A line of TensorFlow's C++ logging ("I0000 00:00:1796525.5  123 port.cc:153]
# ..."), absl's note that precedes them, and the cuInit error.
CPP_LOG = re.compile(
    r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|absl::InitializeLog|cuInit",
    re.MULTILINE,
)


def run_info(**env_changes):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")
    }
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-m", "mlkeras", "info"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_info_prints_no_tensorflow_cpp_log_lines():
    result = run_info()
    assert result.returncode == 0, result.stderr
    assert "keras backend" in result.stdout
    assert not CPP_LOG.search(result.stdout + result.stderr), result.stderr


def test_a_level_the_user_set_is_left_alone():
    # The quieting is a default, not an override: with the user's own level
    # the CLI neither changes it nor filters TensorFlow's import.
    script = (
        "import sys, mlkeras.cli as cli; cli._import_tensorflow_quietly(); "
        "import os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'], "
        "'tensorflow' in sys.modules)"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False"]


def test_the_default_level_hides_errors_once_tensorflow_runs(monkeypatch):
    # Level 3 is the one that also hides the cuInit line (an E-line that
    # TensorFlow logs after its start-up, when the level applies).
    script = "import os, mlkeras.cli; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "3", result.stderr


@pytest.mark.parametrize(
    "line",
    [
        b"I0000 00:00:1796525416.288202    9983 port.cc:153] oneDNN on.\n",
        b"E0000 00:00:1796525.5 12 cuda_platform.cc:52] failed cuInit\n",
        b"WARNING: All log messages before absl::InitializeLog() is called\n",
    ],
)
def test_filter_drops_cpp_log_lines(line):
    assert cli._CPP_LOG_LINE.match(line)


@pytest.mark.parametrize(
    "line",
    [
        b"Traceback (most recent call last):\n",
        b"UserWarning: something Python said\n",
        b"Error0000 is not a log line\n",
    ],
)
def test_filter_keeps_other_stderr_lines(line):
    assert not cli._CPP_LOG_LINE.match(line)
