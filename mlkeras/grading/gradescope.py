"""A Gradescope autograder bundle for a lab, and the grader it runs.

`write_bundle(lab, "autograder.zip")` (`mlkeras autograder NN -o FILE`)
writes the zip Gradescope asks for: `setup.sh` installs the mlkeras wheel
of the running version (so every submission is graded by the same code)
and bubblewrap; `run_autograder` grades `/autograder/submission` with
`python3 -m mlkeras.grading.gradescope` and writes
`/autograder/results/results.json`. Hidden checks travel in `hidden/` and
are published after the deadline (`after_published`). The root folder is
`$MLKERAS_AUTOGRADER_ROOT` when set (for tests), else `/autograder`.
"""

import argparse
import base64
import csv
import hashlib
import importlib.metadata
import io
import json
import os
import pathlib
import sys
import zipfile

ROOT_VARIABLE = "MLKERAS_AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _metadata_text(version):
    try:
        meta = importlib.metadata.metadata("mlkeras")
        requires = importlib.metadata.requires("mlkeras") or []
        python = meta.get("Requires-Python")
        summary = meta.get("Summary") or ""
    except importlib.metadata.PackageNotFoundError:
        requires, python, summary = [], None, ""
    lines = [
        "Metadata-Version: 2.1",
        "Name: mlkeras",
        f"Version: {version}",
        f"Summary: {summary}",
    ]
    if python:
        lines.append(f"Requires-Python: {python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return "\n".join(lines) + "\n"


def build_wheel(folder):
    """Writes the wheel of the running mlkeras into `folder`.

    The wheel holds the imported `mlkeras` package's files as they are now
    (no build step, so it is exactly the code that grades here) and its
    entry points.

    Returns:
        The wheel's path.
    """
    import mlkeras

    version = mlkeras.__version__
    package = pathlib.Path(mlkeras.__file__).resolve().parent
    info = f"mlkeras-{version}.dist-info"
    path = pathlib.Path(folder) / f"mlkeras-{version}-py3-none-any.whl"
    entries = []
    for file in sorted(package.rglob("*")):
        relative = file.relative_to(package)
        if (
            not file.is_file()
            or file.is_symlink()
            or "__pycache__" in relative.parts
            or file.suffix in (".pyc", ".pyo")
        ):
            continue
        entries.append((f"mlkeras/{relative.as_posix()}", file.read_bytes()))
    entry_points = (
        "[console_scripts]\nmlkeras = mlkeras.cli:main\n\n"
        "[pytest11]\nmlkeras = mlkeras.grading.pytest_plugin\n"
    )
    entries += [
        (f"{info}/METADATA", _metadata_text(version).encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: mlkeras\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{info}/entry_points.txt", entry_points.encode()),
        (f"{info}/top_level.txt", b"mlkeras\n"),
    ]
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in entries:
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    entries.append((f"{info}/RECORD", record.getvalue().encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data)
    return path


_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the grading image.
set -euo pipefail
cd "$(dirname "$0")"
if command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y -q bubblewrap || true
fi
python3 -m pip install {pip_flags}./{wheel}
"""

_RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -euo pipefail
root="${{{variable}:-{default}}}"
exec python3 -m mlkeras.grading.gradescope --lab {lab} --root "$root"{hidden}
"""


def write_bundle(lab, path, hidden=None, pip_flags=""):
    """Writes a Gradescope autograder zip for `lab`.

    Args:
        lab: the lab, e.g. `"03"`.
        path: the zip file to write.
        hidden: a folder of hidden check files to include, or `None`.
        pip_flags: extra `pip install` flags for `setup.sh`.

    Returns:
        The zip's path.
    """
    import tempfile

    from mlkeras.grading import exercises

    exercise = exercises.find_exercise(lab)
    hidden_files = []
    if hidden is not None:
        if not pathlib.Path(hidden).is_dir():
            raise ValueError(
                f"hidden must be a folder. Received: hidden={str(hidden)!r}"
            )
        hidden_files = sorted(pathlib.Path(hidden).glob("*.py"))
    with tempfile.TemporaryDirectory(prefix="mlkeras-bundle-") as folder:
        wheel = build_wheel(folder)
        files = {
            "setup.sh": _SETUP.format(
                pip_flags=(pip_flags + " ") if pip_flags else "",
                wheel=wheel.name,
            ),
            "run_autograder": _RUN.format(
                variable=ROOT_VARIABLE,
                default=DEFAULT_ROOT,
                lab=exercise.lab,
                hidden=' --hidden "$root/source/hidden"'
                if hidden_files
                else "",
            ),
        }
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                item = zipfile.ZipInfo(name, _FIXED_TIME)
                item.external_attr = 0o755 << 16
                archive.writestr(item, text)
            archive.writestr(
                zipfile.ZipInfo(wheel.name, _FIXED_TIME), wheel.read_bytes()
            )
            for file in hidden_files:
                archive.writestr(
                    zipfile.ZipInfo(f"hidden/{file.name}", _FIXED_TIME),
                    file.read_bytes(),
                )
    return pathlib.Path(path)


def _submission(folder):
    """The file to grade in Gradescope's submission folder."""
    folder = pathlib.Path(folder)
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix in (".py", ".ipynb") and not p.name.startswith(".")
    )
    return files[0] if len(files) == 1 else folder


def run(root, lab, hidden=None):
    """Grades `ROOT/submission` and writes `ROOT/results/results.json`.

    Returns:
        The `SubmissionResult`.
    """
    from mlkeras.grading import api, results

    root = pathlib.Path(root)
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = api.check(
            _submission(root / "submission"),
            lab=lab,
            hidden=hidden,
            isolation="auto",
        )
    except Exception as err:  # noqa: BLE001 - Gradescope must get a result
        result = results.SubmissionResult(
            submission="submission",
            lab=lab,
            error=f"{type(err).__name__}: {err}",
        )
    result.submission = "submission"
    results.write_results_json(target, result)
    return result


def main(argv=None):
    """`python -m mlkeras.grading.gradescope --lab NN [--root DIR]`."""
    parser = argparse.ArgumentParser(prog="mlkeras.grading.gradescope")
    parser.add_argument("--lab", required=True)
    parser.add_argument(
        "--root", default=os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT)
    )
    parser.add_argument("--hidden", default=None)
    args = parser.parse_args(argv)
    result = run(args.root, args.lab, args.hidden)
    print(json.dumps({"score": result.score, "max_score": result.max_score}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
