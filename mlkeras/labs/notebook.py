"""Turns a lab script into a Jupyter notebook.

A lab is written in jupytext's percent format: `# %%` starts a code cell and
`# %% [markdown]` a cell of teaching text, so the same file runs as a script
and reads as a notebook. The notebook's first code cell holds `QUICK`, the
switch between the fast variant (seconds) and the full lab.
"""

import pathlib

KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}


def lab_notebook(lab):
    """Reads a lab script as a notebook.

    Args:
        lab: a `LabInfo` (see `mlkeras.labs.find_lab`).

    Returns:
        An `nbformat.NotebookNode`, version 4, with a Python 3 kernel.
    """
    import jupytext

    text = pathlib.Path(lab.path).read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("language_info", {"name": "python"})
    notebook.metadata.pop("jupytext", None)
    return notebook


def write_notebook(lab_id, out_dir=".", directory=None):
    """Writes a lab as `<out_dir>/<lab id>.ipynb` and returns the path.

    Args:
        lab_id: anything `mlkeras.labs.find_lab` accepts, e.g. `"01"`.
        out_dir: the folder to write to; created when missing.
        directory: the labs folder. Defaults to `mlkeras.labs.labs_dir()`.

    Example:

    ```python
    path = write_notebook("01", "notebooks")  # notebooks/01_perceptron.ipynb
    ```
    """
    import nbformat

    from mlkeras import labs

    lab = labs.find_lab(lab_id, directory)
    notebook = lab_notebook(lab)
    nbformat.validate(notebook)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{lab.lab_id}.ipynb"
    nbformat.write(notebook, str(path))
    return path
