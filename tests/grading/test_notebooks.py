"""Notebook submissions and notebook starters: `exercise --notebook`,
`check`, `grade` and the pytest plugin on `.ipynb` files."""

import contextlib
import csv
import io
import json
import os
import pathlib

import nbformat
import pytest

from mlkeras import cli, grading
from mlkeras.grading import intake, notebooks
from mlkeras.grading.sandbox import bubblewrap

LAB03 = pathlib.Path(__file__).parent / "submissions" / "lab03"
REDUCED = bubblewrap()[0] is None


def _notebook(path, *cells):
    node = nbformat.v4.new_notebook()
    for source in cells:
        if source.startswith("## "):
            node.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            node.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(node, str(path))
    return path


def test_code_cells_become_a_module_without_magics_or_shell():
    node = nbformat.v4.new_notebook()
    node.cells = [
        nbformat.v4.new_markdown_cell("## notes"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np"),
        nbformat.v4.new_code_cell("%%bash\necho hi"),
        nbformat.v4.new_code_cell("if True:\n    !pip list\nx = 1"),
        nbformat.v4.new_code_cell("# mlkeras-skip\nraise SystemExit"),
    ]
    source, cells = notebooks.to_source(nbformat.writes(node).encode())
    assert source == "pass\nimport numpy as np\n\nif True:\n    pass\nx = 1\n\n"
    assert cells == ((1, 2), (4, 4))
    assert notebooks.locate(cells, 6) == (4, 3)
    with pytest.raises(notebooks.NotebookError, match="not a readable"):
        notebooks.to_source(b"{not json")


def test_starter_notebook_round_trip(tmp_path, capsys, monkeypatch):
    target = tmp_path / "my03.ipynb"
    assert cli.main(["exercise", "03", "--notebook", "-o", str(target)]) == 0
    assert f"mlkeras check {target}" in capsys.readouterr().out
    node = nbformat.read(str(target), as_version=4)
    nbformat.validate(node)
    # Checked as written: every function is there and raises.
    assert cli.main(["check", str(target)]) == 1
    out = capsys.readouterr().out
    assert "score: 0/19" in out and "relu() raised NotImplementedError" in out
    # The student replaces the function cells by working code; the last
    # cell (the check) is never graded, and running it reports 19/19.
    solution = (LAB03 / "correct.py").read_text()
    node.cells[2:-1] = [nbformat.v4.new_code_cell(solution)]
    node.cells.insert(2, nbformat.v4.new_code_cell("!pip list\n%time 1"))
    nbformat.write(node, str(target))
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        exec(node.cells[-1].source, {})
    assert "score: 19/19" in stream.getvalue()
    assert "skip" in node.cells[-1].metadata["tags"][0]


def test_errors_name_the_notebook_cell(tmp_path):
    target = _notebook(
        tmp_path / "lab03.ipynb",
        "## my work",
        "import numpy as np",
        "def relu(x):\n    return np.maximum(x, 0)",
        "y = 1\nundefined_name",
    )
    result = grading.check(target, seed=1)
    assert "NameError" in result.load_error
    assert "lab03.ipynb, cell 4, line 2" in result.load_error
    target = _notebook(
        tmp_path / "lab03.ipynb",
        "import numpy as np",
        "def relu(x):\n    return np.maximum(x, 0)",
        "def sigmoid(x):\n    x = 1\n    return x.no_such_attribute",
    )
    result = grading.check(target, seed=1)
    sigmoid = [c for c in result.checks if c.name == "sigmoid_matches_keras"]
    assert "lab03.ipynb, cell 3, line 3" in sigmoid[0].output


def test_grade_and_the_pytest_plugin_take_notebooks(tmp_path):
    target = _notebook(
        tmp_path / "alice.ipynb", (LAB03 / "correct.py").read_text()
    )
    out = tmp_path / "grades"
    grading.grade(
        [target], lab="03", out=out, seed=1, reduced_isolation=REDUCED
    )
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["submission"], r["score"]) for r in rows] == [("alice", "19")]
    assert (
        json.loads((out / "alice" / "results.json").read_text())["score"] == 19
    )
    # The plugin reads the same notebook as the same module.
    submission = intake.read_submission(target)
    assert submission.main == "alice.py" and submission.notebook
    code = os.system(
        f"cd {tmp_path} && python -m pytest -q -p no:cacheprovider "
        f"--submission {target} --lab 03 > pytest.log 2>&1"
    )
    assert code == 0, (tmp_path / "pytest.log").read_text()[-2000:]
    assert "score: 19/19" in (tmp_path / "pytest.log").read_text()
