"""benchmarks/recurrent.py's `--threads` option, run as a script."""

import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "recurrent.py")
TINY = [
    "--batch",
    "2",
    "--steps",
    "3",
    "--features",
    "2",
    "--units",
    "2",
    "--rounds",
    "1",
    "--iterations",
    "1",
    "--warmup",
    "1",
    "--jit",
    "off",
    "--kinds",
    "keras_lstm,peephole_lstm",
]


def run_script(*args):
    # TensorFlow fixes its thread counts when its runtime starts, so the
    # option is only meaningful in a fresh process.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_negative_thread_count_is_refused_naming_the_value():
    result = run_script("--threads", "-2", *TINY)
    assert result.returncode == 2
    assert "--threads must be 0 or more, got -2" in result.stderr


def test_one_thread_run_uses_one_thread_and_reports_ratios():
    result = run_script("--threads", "1", *TINY)
    assert result.returncode == 0, result.stderr
    assert "1 TensorFlow threads" in result.stdout
    ratio = re.search(
        r"CPU ratio peephole / keras, both jit_compile=False: "
        r"([0-9.]+)",
        result.stdout,
    )
    assert ratio and float(ratio.group(1)) > 0
    # With one thread the process cannot use more CPU time than wall time.
    rows = re.findall(
        r"\| (\w+) \| False \| ([0-9.]+) \| ([0-9.]+) \|", result.stdout
    )
    assert {name for name, _, _ in rows} == {"keras_lstm", "peephole_lstm"}
    for _, wall, cpu in rows:
        assert float(cpu) <= float(wall) * 1.2 + 0.2
