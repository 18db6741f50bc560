"""Runs each lab once per test session, in a subprocess, with `--quick`.

The generic test (exits 0, writes a PNG) and each lab's claim test share the
same run, so every lab costs one quick run in CI.
"""

import json
import os
import subprocess
import sys

import pytest

from mlkeras import labs

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
LAB_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def run_lab_quick(tmp_path_factory):
    """Returns a function `lab_id -> (completed_process, out_dir, results)`.

    The lab script runs as `python labs/NN_slug.py --quick --out DIR` at most
    once per session; `results` is its `results.json` (None if missing).
    """
    cache = {}

    def run(lab_id):
        lab = labs.find_lab(lab_id)
        if lab.lab_id not in cache:
            out_dir = tmp_path_factory.mktemp(lab.lab_id)
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
            process = subprocess.run(
                [
                    sys.executable,
                    str(lab.path),
                    "--quick",
                    "--out",
                    str(out_dir),
                ],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=LAB_TIMEOUT_S,
            )
            results_path = out_dir / labs.RESULTS_FILE
            results = (
                json.loads(results_path.read_text())
                if results_path.exists()
                else None
            )
            cache[lab.lab_id] = (process, out_dir, results)
        process, out_dir, results = cache[lab.lab_id]
        assert process.returncode == 0, (
            f"{lab.lab_id} exited {process.returncode}:\n"
            f"{process.stdout[-4000:]}\n{process.stderr[-4000:]}"
        )
        return process, out_dir, results

    return run
