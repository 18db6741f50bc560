"""The benchmark scripts' argument types and their one-line errors."""

import argparse
import importlib.util
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(REPO_ROOT, "benchmarks")


def _load_arguments():
    spec = importlib.util.spec_from_file_location(
        "benchmark_arguments", os.path.join(BENCHMARKS, "arguments.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


arguments = _load_arguments()


@pytest.mark.parametrize(
    "function, text, value",
    [
        ("positive_int", "1", 1),
        ("positive_int", "40", 40),
        ("non_negative_int", "0", 0),
        ("non_negative_int", "7", 7),
        ("positive_float", "0.4", 0.4),
        ("positive_float", "3", 3.0),
    ],
)
def test_good_values_are_converted(function, text, value):
    result = getattr(arguments, function)(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    "function, text",
    [
        ("positive_int", "0"),
        ("positive_int", "-3"),
        ("positive_int", "2.5"),
        ("positive_int", "many"),
        ("non_negative_int", "-1"),
        ("non_negative_int", ""),
        ("positive_float", "0"),
        ("positive_float", "-0.1"),
        ("positive_float", "nan"),
        ("positive_float", "inf"),
        ("positive_float", "fast"),
    ],
)
def test_bad_values_name_the_value(function, text):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        getattr(arguments, function)(text)
    assert str(info.value).endswith(f"got {text!r}")


@pytest.mark.parametrize(
    "script, args, message",
    [
        (
            "callbacks.py",
            ["--fits", "-1"],
            "argument --fits: must be 0 or a positive integer, got '-1'",
        ),
        (
            "attention.py",
            ["--d-model", "16", "--heads", "32"],
            "--heads: at most --d-model heads",
        ),
        (
            "grading.py",
            ["--jobs", "0"],
            "argument --jobs: must be a positive integer, got '0'",
        ),
    ],
)
def test_scripts_refuse_a_bad_value_in_one_line(script, args, message):
    result = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, script), *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{script}: error:") and message in last
