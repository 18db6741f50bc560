"""Finds, describes and runs the numbered labs, and the helpers they share.

A lab is a script ``labs/NN_slug.py`` in jupytext's percent format (``# %%``
code cells, ``# %% [markdown]`` teaching text), so it runs as a script and
opens as a notebook (``mlkeras labs notebook NN``). Its module docstring
starts with ``Lab NN: Title`` and holds a ``Runtime:`` line. It defines
``main(argv=None)`` that accepts ``--quick`` and ``--out DIR``, prints what
it measured, saves its figures as PNG under the output folder and returns
its measurements as a dict, which are also written to ``results.json``
there.
"""

import argparse
import ast
import dataclasses
import importlib.util
import json
import math
import os
import pathlib
import re
import sys
import types

LABS_DIR_ENV = "MLKERAS_LABS_DIR"
RESULTS_FILE = "results.json"
_LAB_FILE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.py$")


class UnknownLabError(ValueError):
    """Raised when a lab identifier matches no lab script."""


@dataclasses.dataclass(frozen=True)
class LabInfo:
    """What the runner knows about one lab script, read without running it.

    Attributes:
        number: the lab number, e.g. `1`.
        slug: the name after the number, e.g. `"perceptron"`.
        path: the script's path.
        title: the title from the docstring's first line.
        runtime: the docstring's `Runtime:` line, or `"unknown"`.
    """

    number: int
    slug: str
    path: pathlib.Path
    title: str
    runtime: str

    @property
    def lab_id(self):
        """The lab's full identifier, e.g. `"01_perceptron"`."""
        return f"{self.number:02d}_{self.slug}"


def labs_dir():
    """Returns the folder that holds the lab scripts.

    `MLKERAS_LABS_DIR` wins when set. An installed package (a wheel or
    `pip install .`) carries the labs as `mlkeras/_labs/`; a source checkout
    or an editable install uses the `labs/` folder next to the `mlkeras`
    package.
    """
    override = os.environ.get(LABS_DIR_ENV)
    if override:
        return pathlib.Path(override)
    package = pathlib.Path(__file__).resolve().parent.parent
    installed = package / "_labs"
    if installed.is_dir():
        return installed
    return package.parent / "labs"


def _read_header(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    doc = ast.get_docstring(tree) or ""
    lines = [line.strip() for line in doc.splitlines()]
    title = lines[0] if lines else path.stem
    title = re.sub(r"^Lab\s+\d+\s*:\s*", "", title).rstrip(".")
    runtime = "unknown"
    for line in lines:
        if line.lower().startswith("runtime:"):
            runtime = line.split(":", 1)[1].strip().rstrip(".")
            break
    return title, runtime


def list_labs(directory=None):
    """Lists the lab scripts in number order.

    Args:
        directory: the folder to search. Defaults to `labs_dir()`.

    Returns:
        A list of `LabInfo`.
    """
    directory = pathlib.Path(directory) if directory else labs_dir()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"The labs folder does not exist: {directory}. Reinstall "
            f"mlkeras (pip install mlkeras, or pip install -e . in a source "
            f"checkout) or set {LABS_DIR_ENV}."
        )
    labs = []
    for path in sorted(directory.glob("*.py")):
        match = _LAB_FILE.match(path.name)
        if not match:
            continue
        title, runtime = _read_header(path)
        labs.append(
            LabInfo(int(match.group(1)), match.group(2), path, title, runtime)
        )
    return labs


def find_lab(lab_id, directory=None):
    """Finds a lab by `"01"`, `"1"`, `1` or `"01_perceptron"`.

    Raises:
        UnknownLabError: when no lab matches; the message lists the valid ones.
    """
    labs = list_labs(directory)
    key = str(lab_id).strip()
    if key.endswith(".py"):
        key = key[:-3]
    for lab in labs:
        if key.isdigit() and int(key) == lab.number:
            return lab
        if key in (lab.lab_id, lab.slug):
            return lab
    valid = "\n".join(f"  {lab.lab_id}  {lab.title}" for lab in labs)
    raise UnknownLabError(
        f"Unknown lab: {lab_id!r}. Valid labs (use the number or the full "
        f"name):\n{valid}"
    )


def load_lab_module(lab):
    """Imports a lab script as a module.

    A lab's file name (`01_perceptron.py`) is no valid module name, so the
    module is loaded from its path.
    """
    spec = importlib.util.spec_from_file_location(
        f"mlkeras_lab_{lab.lab_id}", lab.path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_lab(lab_id, quick=False, out=None, directory=None):
    """Runs a lab in this process and returns its measurements.

    Args:
        lab_id: anything `find_lab` accepts.
        quick: run the lab's fast variant.
        out: folder for figures and `results.json`. Defaults to
            `runs/<lab id>/` under the current folder.
        directory: the labs folder. Defaults to `labs_dir()`.

    Returns:
        The dict the lab's `main` returned.
    """
    lab = find_lab(lab_id, directory)
    argv = ["--quick"] if quick else []
    if out is not None:
        argv += ["--out", str(out)]
    return load_lab_module(lab).main(argv)


# Helpers the lab scripts share.


def parse_lab_args(argv, description):
    """Parses the arguments every lab accepts: `--quick`, `--out`, `--seed`."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller data and fewer epochs: seconds instead of minutes",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="folder for figures and results.json (default: runs/<lab>/)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    return parser.parse_args(argv)


def output_dir(out, lab_file):
    """Creates and returns the lab's output folder.

    Args:
        out: the `--out` value, or None for `runs/<lab id>/`.
        lab_file: the lab's id (e.g. `"01_perceptron"`) or its file name.
    """
    if out is None:
        out = pathlib.Path("runs") / pathlib.Path(lab_file).stem
    path = pathlib.Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if hasattr(value, "tolist"):
        return _to_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_results(out_dir, results):
    """Writes the lab's measurements to `results.json` and returns its path.

    NumPy values become plain JSON numbers; NaN and infinities become strings.
    """
    path = pathlib.Path(out_dir) / RESULTS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_to_json(results), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def format_table(headers, rows):
    """Formats rows as a plain-text table with aligned columns."""

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in text_rows))
        if text_rows
        else len(str(h))
        for i, h in enumerate(headers)
    ]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in text_rows]
    return "\n".join(row.rstrip() for row in [line, rule, *body])


def print_table(title, headers, rows):
    """Prints a titled table of measurements."""
    print(f"\n{title}")
    print(format_table(headers, rows))


def in_notebook():
    """Returns True when the code runs in a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    return shell.get_ipython() is not None


def lab_argv(quick):
    """The arguments `main` gets in the lab's last cell.

    A script reads its command line (`--quick`, `--out DIR`, `--seed N`); a
    notebook has no command line, so `quick` (the `QUICK` flag in the lab's
    first cell) picks the variant there.

    Args:
        quick: whether a notebook runs the fast variant.

    Returns:
        A list of command-line arguments for `main`.
    """
    if in_notebook():
        return ["--quick"] if quick else []
    return sys.argv[1:]


def save_figure(fig, out_dir, name):
    """Saves a figure as `<out_dir>/<name>.png`; a notebook also shows it.

    Args:
        fig: a `matplotlib.figure.Figure`.
        out_dir: the lab's output folder.
        name: the file name without `.png`.

    Returns:
        The path of the PNG file.
    """
    from mlkeras import plotting

    path = plotting.save_figure(fig, out_dir, name)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    return path


def print_exercise(number, asks):
    """Prints where the lab's exercise is and how to check it.

    Args:
        number: the lab number.
        asks: what the exercise asks, in one line.
    """
    file = f"lab{number:02d}.py"
    print(
        f"\nExercise: {asks}\n"
        f"  get the starter: mlkeras exercise {number:02d} -o {file}\n"
        f"  check your work: mlkeras check {file} --lab {number:02d}"
    )


class Run(types.SimpleNamespace):
    """What a lab's sections share.

    `main` starts a run with `start_run`, hands it to each section in turn
    and ends it with `finish_run`. A section reads what earlier sections
    kept (`run.x`), and keeps what later ones need with `run.keep(x=x)`.

    Attributes:
        args: the parsed command line (`quick`, `out`, `seed`).
        out: the output folder for figures and `results.json`.
    """

    def keep(self, **values):
        """Stores values for the sections that come later."""
        self.__dict__.update(values)


def start_run(argv, description, lab_id):
    """Parses the lab's arguments and creates its output folder.

    Args:
        argv: the command-line arguments (see `lab_argv`).
        description: the lab's docstring, shown by `--help`.
        lab_id: the lab's id, e.g. `"01_perceptron"`.

    Returns:
        A `Run` with `args` and `out`.
    """
    args = parse_lab_args(argv, description)
    return Run(args=args, out=output_dir(args.out, lab_id))


def finish_run(run, number, exercise):
    """Writes `run.results`, says where the output is and what to do next.

    Args:
        run: the lab's `Run`; a section has kept `results` in it.
        number: the lab number.
        exercise: what the lab's exercise asks, in one line.

    Returns:
        The results dict.
    """
    print(f"Figures and results.json are in {run.out}/")
    write_results(run.out, run.results)
    print_exercise(number, exercise)
    return run.results
