"""Each lab reads top to bottom and is also a notebook.

The shape a student relies on, counted in the source: imports at the top
(none inside functions), short functions, a `main` that reads as a table of
contents, jupytext percent cells with teaching text, `QUICK` in the first
cell, and the exercise at the end.
"""

import ast

import pytest

from mlkeras import labs

ALL_LABS = [lab.lab_id for lab in labs.list_labs()]
MAX_FUNCTION_LINES = 60
MAX_MAIN_LINES = 30


def lab_source(lab_id):
    return labs.find_lab(lab_id).path.read_text(encoding="utf-8")


def function_lengths(source):
    """`(name, lines)` for every function and method, nested ones included."""
    tree = ast.parse(source)
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def test_function_lengths_are_counted_from_def_to_last_line():
    source = "def f():\n    x = 1\n\n    return x\n\n\ndef g():\n    pass\n"
    assert function_lengths(source) == [("f", 4), ("g", 2)]


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_no_long_functions_and_main_is_a_table_of_contents(lab_id):
    lengths = function_lengths(lab_source(lab_id))
    too_long = [
        f"{name}: {n} lines"
        for name, n in lengths
        if n > (MAX_MAIN_LINES if name == "main" else MAX_FUNCTION_LINES)
    ]
    assert not too_long, f"{lab_id}: {too_long}"


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_imports_sit_at_the_top_not_inside_functions(lab_id):
    tree = ast.parse(lab_source(lab_id))
    inner = [
        f"line {sub.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        for sub in ast.walk(node)
        if isinstance(sub, (ast.Import, ast.ImportFrom))
    ]
    assert not inner, f"{lab_id} imports inside functions at {inner}"


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_lab_is_a_percent_notebook_with_teaching_text(lab_id):
    source = lab_source(lab_id)
    lines = source.splitlines()
    assert lines[0] == "# %%", "the first cell is the header code cell"
    first_cell = source.split("\n# %%")[0]
    assert "\nQUICK = " in first_cell, "QUICK belongs in the first cell"
    assert source.count("# %% [markdown]") >= 4
    assert "labs.lab_argv(QUICK)" in source


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_lab_ends_with_its_exercise(lab_id):
    lab = labs.find_lab(lab_id)
    source = lab_source(lab_id)
    last_markdown = source.rsplit("# %% [markdown]", 1)[1]
    assert "## Exercise" in last_markdown
    assert f"mlkeras exercise {lab.number:02d}" in last_markdown
    assert f"mlkeras check lab{lab.number:02d}.py" in last_markdown
