"""Runs tests again under another Keras backend, in a child process.

Keras fixes its backend when it is first imported, so a test module checks
the JAX backend by re-running its own backend-agnostic tests in a child
pytest with `KERAS_BACKEND` set:

    def test_layer_runs_on_jax_backend():
        run_tests_on_backend("jax", __file__, "-k", "not on_jax_backend")
"""

import os
import subprocess
import sys

import keras
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tests_on_backend(backend, *pytest_args, timeout=600):
    """Runs pytest on `pytest_args` under `KERAS_BACKEND=backend`.

    Fails the calling test if they fail.

    Skips when this process already runs on `backend` (the child itself) or
    when the backend's package is not installed.
    """
    if keras.backend.backend() == backend:
        pytest.skip(f"already running on the {backend} backend")
    pytest.importorskip({"torch": "torch"}.get(backend, backend))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    if backend == "jax":
        env.setdefault("JAX_PLATFORMS", "cpu")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-x",
        *map(str, pytest_args),
    ]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"Tests failed on the {backend} backend (exit {result.returncode}):"
            f"\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        )
    return result
