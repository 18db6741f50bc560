"""benchmarks/recurrent.py run as a script on a tiny sweep."""

import os
import re
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "recurrent.py")
TINY = [
    "--backends",
    "tensorflow",
    "--points",
    "2,3,2,train_on_batch,False;2,3,2,fit,auto",
    "--rounds",
    "1",
    "--block",
    "0.01",
]


def run_script(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rounds", "0"], "--rounds: must be a positive integer, got '0'"),
        (["--block", "nan"], "--block: must be a positive number, got 'nan'"),
        (["--features", "x"], "--features: must be a positive integer"),
        (["--backends", "tensorflow,torch"], "unknown backend 'torch'"),
        (["--points", "4,20"], "a point is batch,steps,units,entry"),
        (["--points", "4,0,8,fit,auto"], "must be positive integers"),
        (["--points", "4,20,8,evaluate,auto"], "entry must be fit or"),
        (["--points", "4,20,8,fit,yes"], "jit_compile must be auto, True"),
        (["--threads", "2"], "JAX runs on 1 thread or on its default"),
    ],
)
def test_bad_arguments_get_one_line_naming_the_value(args, message):
    result = run_script(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("recurrent.py:")


def test_negative_thread_count_is_refused_naming_the_value():
    result = run_script("--threads", "-2", *TINY)
    assert result.returncode == 2
    assert (
        "argument --threads: must be 0 or a positive integer, got '-2'"
        in result.stderr
    )


def test_tiny_sweep_reports_a_ratio_per_point_and_the_median():
    result = run_script("--threads", "1", *TINY)
    assert result.returncode == 0, result.stderr
    assert "2 points" in result.stdout and "1 threads" in result.stdout
    rows = re.findall(
        r"^\| tensorflow \| 2 \| 3 \| 2 \| (\w+) \| (\w+) \| ([0-9.]+) \| "
        r"([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|$",
        result.stdout,
        flags=re.MULTILINE,
    )
    assert [(entry, jit) for entry, jit, *_ in rows] == [
        ("train_on_batch", "False"),
        ("fit", "auto"),
    ]
    for row in rows:
        assert all(float(value) > 0 for value in row[2:])
    ratios = sorted(float(row[4]) for row in rows)
    median = re.search(r"median ratio, all: ([0-9.]+) \(", result.stdout)
    assert median
    # The median of two printed ratios is their mean, to rounding.
    assert abs(float(median.group(1)) - sum(ratios) / 2) < 0.006
