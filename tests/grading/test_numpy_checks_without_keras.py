"""A NumPy lab's checks never load Keras or a backend in the grader.

Importing Keras (and TensorFlow under it) takes seconds; the NumPy labs'
checks take their references from NumPy formulas instead, so that
`mlkeras check` on a NumPy exercise answers at once. Each test runs in a
fresh interpreter, where nothing else has imported Keras yet.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from mlkeras import cli
from mlkeras.grading import exercises

HERE = pathlib.Path(__file__).parent / "submissions"
FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")
NUMPY_LABS = [e.lab for e in exercises.list_exercises() if e.numpy_only]
KERAS_LABS = [e.lab for e in exercises.list_exercises() if not e.numpy_only]

_REPORT = f"""
import json, sys
print(json.dumps(
    {{
        "result": result,
        "loaded": sorted(
            m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r}
        ),
    }}
))
"""


def _run(code):
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_numpy_and_keras_labs_are_known():
    assert {"01", "03", "08", "13", "15"} <= set(NUMPY_LABS)
    assert {"02", "12", "16"} <= set(KERAS_LABS)


def test_importing_every_numpy_labs_checks_loads_no_framework():
    report = _run(
        "import importlib\n"
        f"for lab in {NUMPY_LABS!r}:\n"
        "    importlib.import_module(f'mlkeras.grading.checks.lab{lab}')\n"
        "result = None\n"
    )
    assert report["loaded"] == []


def test_checking_a_numpy_lab_loads_no_framework():
    report = _run(
        "from mlkeras import grading\n"
        f"r = grading.check({str(HERE / 'lab03' / 'correct.py')!r}, "
        "lab='03', seed=11)\n"
        "result = [r.score, r.max_score]\n"
    )
    score, max_score = report["result"]
    assert max_score > 0 and score == max_score
    assert report["loaded"] == []


def test_the_check_command_on_a_numpy_lab_loads_no_framework():
    report = _run(
        "import contextlib, io\n"
        "from mlkeras import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    result = cli.main(['check', "
        f"{str(HERE / 'lab08' / 'correct.py')!r}, '--lab', '08'])\n"
    )
    assert report["result"] == 0
    assert report["loaded"] == []


@pytest.mark.parametrize("lab", NUMPY_LABS)
def test_cli_loads_tensorflow_for_no_numpy_lab(lab):
    assert not cli._checks_need_keras(lab, hidden=None)


@pytest.mark.parametrize("lab", KERAS_LABS)
def test_cli_loads_tensorflow_for_keras_labs(lab):
    assert cli._checks_need_keras(lab, hidden=None)


def test_cli_loads_tensorflow_for_hidden_checks():
    assert cli._checks_need_keras("03", hidden="hidden_checks")
