"""Every lab converts to a valid notebook; three run as notebooks.

The executed notebooks write `results.json` like the scripts, and the same
claim tests that check the scripts' results check theirs.
"""

import importlib
import inspect
import json
import types

import nbformat
import pytest

from mlkeras import labs
from mlkeras.labs import notebook

ALL_LABS = [lab.lab_id for lab in labs.list_labs()]
# The three labs with the shortest quick runs (about 13-14 s each).
EXECUTED_LABS = ["06_weight_init", "10_batch_norm", "12_residual"]
CELL_TIMEOUT_S = 300


def test_every_lab_converts_to_a_valid_notebook(tmp_path):
    for lab_id in ALL_LABS:
        path = notebook.write_notebook(lab_id, tmp_path)
        assert path.name == f"{lab_id}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        kinds = [cell.cell_type for cell in nb.cells]
        assert kinds[0] == "code" and "QUICK = True" in nb.cells[0].source
        assert kinds.count("markdown") >= 4, lab_id
        assert "## Exercise" in nb.cells[-2].source, lab_id
        assert "labs.lab_argv(QUICK)" in nb.cells[-1].source, lab_id


def test_notebook_cells_match_the_script(tmp_path):
    lab = labs.find_lab("01")
    nb = nbformat.read(str(notebook.write_notebook("01", tmp_path)), 4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def perceptron_train", "def main", "QUICK = True"):
        assert name in code and name in lab.path.read_text()
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type != "code")
    assert "# %%" not in code and "## 1. One forward pass" in markdown


def execute(lab_id, folder):
    """Runs a lab's notebook in a fresh kernel in `folder`; returns it."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(notebook.write_notebook(lab_id, folder)), 4)
    NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return nb


def claim_tests(lab_id):
    """The tests of `tests/labs/test_<lab id>.py` that read its quick run.

    They take either `run_lab_quick` or `lab` (the run's
    `(process, out_dir, results)`); the others test the lab's functions.
    """
    module = importlib.import_module(f"tests.labs.test_{lab_id}")
    return [
        function
        for name, function in vars(module).items()
        if name.startswith("test_")
        and list(inspect.signature(function).parameters)
        in (["run_lab_quick"], ["lab"])
    ]


@pytest.mark.parametrize("lab_id", EXECUTED_LABS)
def test_lab_runs_as_a_notebook_and_its_claims_hold(lab_id, tmp_path):
    nb = execute(lab_id, tmp_path)
    out_dir = tmp_path / "runs" / lab_id
    results = json.loads((out_dir / labs.RESULTS_FILE).read_text())
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    stdout = "".join(o.get("text", "") for o in outputs if "text" in o)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "figures show inline"
    assert list(out_dir.glob("*.png")), "figures are saved too"
    assert "Exercise:" in stdout
    process = types.SimpleNamespace(returncode=0, stdout=stdout, stderr="")

    def notebook_run(requested):
        assert labs.find_lab(requested).lab_id == lab_id
        return process, out_dir, results

    tests = claim_tests(lab_id)
    assert tests, f"no claim tests found for {lab_id}"
    for test in tests:
        if "lab" in inspect.signature(test).parameters:
            test(notebook_run(lab_id))
        else:
            test(notebook_run)
