"""Notebook submissions and notebook starters.

A `.ipynb` submission is graded as the Python module made of its code
cells, in order: IPython magics (`%...`, and whole `%%...` cells), shell
lines (`!...`) and cells tagged `mlkeras-skip` (or whose first line is
`# mlkeras-skip`) are left out. A dropped line becomes `pass` at its
indentation, so every remaining line keeps its place and error messages
can name the notebook cell and the line in it.
"""

import json
import re

SKIP_TAG = "mlkeras-skip"
_LOCATION = re.compile(
    r'File "/work/([^"]*)", line (\d+)|\(([^()]*), line (\d+)\)'
)


class NotebookError(ValueError):
    """A notebook that cannot be read."""


def _code_lines(source):
    """The cell's lines with magics and shell lines turned into `pass`."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return []
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            kept.append(line[: len(line) - len(stripped)] + "pass")
        else:
            kept.append(line)
    return kept


def to_source(data, shown="notebook"):
    """The Python module of a notebook's code cells.

    Args:
        data: the notebook file's bytes.
        shown: the path to name in error messages.

    Returns:
        `(source, cells)`: the module's text and, for each code cell kept,
        `(first_line, cell_number)` (1-based; cells counted as the
        notebook shows them, Markdown ones included).

    Raises:
        NotebookError: not a readable notebook.
    """
    import nbformat

    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise NotebookError(
            f"not a readable Jupyter notebook ({type(err).__name__}). "
            f"Received: submission={shown!r}"
        ) from None
    lines, cells = [], []
    for number, cell in enumerate(notebook.get("cells", ()), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = cell.get("metadata", {}).get("tags", ())
        first = source.lstrip().split("\n", 1)[0].strip()
        if SKIP_TAG in tags or first.startswith(f"# {SKIP_TAG}"):
            continue
        code = _code_lines(source)
        if not code:
            continue
        cells.append((len(lines) + 1, number))
        lines.extend(code)
        lines.append("")
    return "\n".join(lines) + "\n", tuple(cells)


def locate(cells, line):
    """`(cell_number, line_in_cell)` of a line of the converted module."""
    found = None
    for first, number in cells:
        if first <= line:
            found = (number, line - first + 1)
    return found


def rewrite_locations(text, module, notebook, cells):
    """Replaces locations in the converted module by notebook cells.

    `File "/work/lab03.py", line 7` and `(lab03.py, line 7)` become
    `notebook lab03.ipynb, cell 3, line 2`.
    """

    def replace(match):
        name = match.group(1) or match.group(3)
        line = int(match.group(2) or match.group(4))
        where = locate(cells, line) if name == module else None
        if where is None:
            return match.group(0)
        text = f"{notebook}, cell {where[0]}, line {where[1]}"
        return f'File "{text}"' if match.group(1) else f"({text})"

    return _LOCATION.sub(replace, text)


def _cell(cell_type, source, tags=()):
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def starter_notebook(lab, filename):
    """A lab's starter as a notebook whose last cell runs the check.

    The first code cell holds the imports (and the `# mlkeras-lab: NN`
    line that records the lab), then one cell per function. The last cell,
    tagged `mlkeras-skip` so that it is never graded, checks the saved
    notebook `filename`.

    Args:
        lab: the lab, e.g. `"03"`.
        filename: the notebook's file name, used by the check cell.

    Returns:
        The notebook as JSON text (nbformat 4).
    """
    import ast

    from mlkeras.grading import exercises

    exercise = exercises.find_exercise(lab)
    source = exercises.starter_source(lab)
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    docstring = ast.get_docstring(tree) or ""
    starts = [
        node.lineno - 1 - len(getattr(node, "decorator_list", ()))
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    ]
    bounds = starts + [len(lines)]
    head = lines[: starts[0]] if starts else lines
    if tree.body and isinstance(tree.body[0], ast.Expr) and docstring:
        end = tree.body[0].end_lineno
        head = [lines[0]] + lines[end : starts[0] if starts else len(lines)]
    cells = [_cell("markdown", f"# Lab {exercise.lab} exercise\n\n{docstring}")]
    cells.append(_cell("code", "".join(head).strip() + "\n"))
    for start, stop in zip(bounds[:-1], bounds[1:]):
        cells.append(_cell("code", "".join(lines[start:stop]).strip() + "\n"))
    cells.append(
        _cell(
            "code",
            f"# {SKIP_TAG}: save the notebook, then run this cell to check "
            "it (it is not graded)\n"
            "from mlkeras import grading\n\n"
            f"result = grading.check({filename!r}, lab={exercise.lab!r})\n"
            "print(grading.results.format_report(result))\n",
            tags=(SKIP_TAG,),
        )
    )
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    import nbformat

    node = nbformat.from_dict(notebook)
    for index, cell in enumerate(node.cells):
        cell["id"] = f"cell-{index + 1}"
    nbformat.validate(node)
    return json.dumps(node, indent=1) + "\n"
