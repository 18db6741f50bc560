"""The `mlkeras` command line: a thin argparse front over the library.

mlkeras labs list
mlkeras labs run ID [--quick] [--out DIR]
mlkeras labs notebook ID [-o DIR]
mlkeras exercise ID [-o FILE] [--notebook]
mlkeras check FILE [--lab ID] [--hidden DIR] [--seed N]
mlkeras grade --lab ID --out DIR SUBMISSION... [--hidden DIR] [--jobs N]
mlkeras autograder ID [-o FILE] [--hidden DIR]
mlkeras info
"""

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import re
import sys
import tempfile

# TensorFlow's C++ runtime writes a dozen lines to stderr when it loads (an
# absl warning, oneDNN and CUDA notices and, on a machine without a GPU, a
# "failed call to cuInit" error that students read as a crash). Unless the
# user chose a level, level 3 hides what it logs once initialised; the lines
# it writes while being imported, before any level applies, are filtered out
# by `_import_tensorflow_quietly`. Both must happen before TensorFlow loads.
_QUIET_TENSORFLOW = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_CPP_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"
)


def _import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up log lines left out of stderr.

    Every other line written to stderr meanwhile (Python warnings, a
    traceback) is passed on. Does nothing when the user set
    `TF_CPP_MIN_LOG_LEVEL`, when `KERAS_BACKEND` names another backend, or
    when TensorFlow is loaded already or not installed.
    """
    if not _QUIET_TENSORFLOW or "tensorflow" in sys.modules:
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # the command that needs it reports the error
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured if not _CPP_LOG_LINE.match(line)]
        if kept:
            sys.stderr.buffer.write(b"".join(kept))
            sys.stderr.flush()


import mlkeras  # noqa: E402
from mlkeras import labs as labs_lib  # noqa: E402


class _BadPath(Exception):
    """A command-line path that cannot be used; the message is one line."""


def _writable_folder(option, value):
    """Checks (and creates) an output folder; raises `_BadPath`."""
    shown = f"Received: {option}={value!r}"
    if not value or not value.strip():
        raise _BadPath(f"{option} must name a folder. {shown}")
    if os.path.exists(value) and not os.path.isdir(value):
        raise _BadPath(f"{option} is a file, not a folder. {shown}")
    if not os.path.isdir(value):
        parent = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(parent):
            raise _BadPath(f"{option}'s parent folder does not exist. {shown}")
        try:
            os.mkdir(value)
        except OSError as err:
            raise _BadPath(
                f"{option} cannot be created ({err.strerror}). {shown}"
            ) from None
    try:
        with tempfile.TemporaryFile(dir=value):
            pass
    except OSError as err:
        raise _BadPath(
            f"{option} is not writable ({err.strerror}). {shown}"
        ) from None


def _writable_file(option, value):
    """Checks that a file can be written at `value`; raises `_BadPath`."""
    shown = f"Received: {option}={value!r}"
    if not value or not value.strip():
        raise _BadPath(f"{option} must name a file. {shown}")
    if os.path.isdir(value):
        raise _BadPath(f"{option} is a folder, not a file. {shown}")
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise _BadPath(f"{option}'s folder does not exist. {shown}")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise _BadPath(
            f"{option}'s folder is not writable ({err.strerror}). {shown}"
        ) from None


def _labs_list(args):
    rows = [
        (f"{lab.number:02d}", lab.lab_id, lab.title, lab.runtime)
        for lab in labs_lib.list_labs()
    ]
    print(labs_lib.format_table(("no.", "id", "title", "runtime"), rows))
    return 0


def _labs_run(args):
    try:
        lab = labs_lib.find_lab(args.lab_id)
    except labs_lib.UnknownLabError as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    if args.out is not None:
        try:
            _writable_folder("--out", args.out)
        except _BadPath as err:
            print(f"mlkeras: {err}", file=sys.stderr)
            return 2
    labs_lib.run_lab(lab.lab_id, quick=args.quick, out=args.out)
    return 0


def _labs_notebook(args):
    from mlkeras.labs import notebook

    try:
        path = notebook.write_notebook(args.lab_id, args.output)
    except labs_lib.UnknownLabError as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {path}; open it with `jupyter lab {path}` (set QUICK in its "
        "first cell to pick the fast or the full run)"
    )
    return 0


def _exercise(args):
    from mlkeras import grading

    try:
        source = grading.starter_source(args.lab_id)
    except grading.exercises.UnknownExerciseError as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    if args.output is None:
        if args.notebook:
            print(
                "mlkeras: --notebook needs -o FILE.ipynb. "
                "Received: --output=None",
                file=sys.stderr,
            )
            return 2
        sys.stdout.write(source)
        return 0
    try:
        _writable_file("--output", args.output)
    except _BadPath as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    if args.notebook:
        from mlkeras.grading import notebooks

        source = notebooks.starter_notebook(
            args.lab_id, os.path.basename(args.output)
        )
    if os.path.exists(args.output) and not args.force:
        print(
            f"mlkeras: {args.output} exists; pass --force to overwrite it",
            file=sys.stderr,
        )
        return 2
    with open(args.output, "w", encoding="utf-8") as stream:
        stream.write(source)
    print(
        f"wrote the lab {args.lab_id} starter to {args.output}; check it with "
        f"`mlkeras check {args.output}`"
    )
    return 0


def _checks_need_keras(lab, hidden):
    """Whether checking `lab` (plus `hidden` checks) may load Keras here."""
    from mlkeras.grading import exercises

    try:
        return exercises.find_exercise(lab).checks_load_keras(hidden)
    except exercises.UnknownExerciseError:
        return False  # grading reports the unknown lab; nothing to load


def _check(args):
    from mlkeras import grading
    from mlkeras.grading import results

    lab = args.lab or grading.exercises.infer_lab(args.file)
    if lab is None:
        print(
            "mlkeras: cannot tell the lab from the file; pass --lab, e.g. "
            f"`mlkeras check {args.file} --lab 03`. "
            f"Received: FILE={args.file!r}",
            file=sys.stderr,
        )
        return 2
    # A Keras lab's checks (and hidden checks, which may use Keras) load
    # TensorFlow: load it quietly, once the arguments are known to be
    # usable. A NumPy lab's checks never import it.
    if _checks_need_keras(lab, args.hidden):
        _import_tensorflow_quietly()
    try:
        result = grading.check(
            args.file,
            lab=lab,
            hidden=args.hidden,
            seed=args.seed,
            isolation="auto",
        )
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"mlkeras: {results.clean_text(err)}", file=sys.stderr)
        return 2
    if result.protections.get("isolation", "").startswith("reduced"):
        print(
            "mlkeras: bubblewrap (bwrap) is not installed, so the checks ran "
            "with reduced isolation (your code ran as you, without "
            "namespaces)",
            file=sys.stderr,
        )
    print(results.format_report(result))
    return 0 if result.score == result.max_score else 1


def _grade(args):
    from mlkeras import grading
    from mlkeras.grading import results

    def progress(name, result):
        status = results.clean_text(result.status, single_line=True)
        print(
            f"{name}: {result.score:g}/{result.max_score:g} ({status[:300]})",
            flush=True,
        )

    try:
        _writable_folder("--out", args.out)
        solution = args.solution
        if solution is None and not args.no_canary:
            solution = grading.exercises.reference_solution(args.lab)
        elif solution is not None and not os.path.isfile(solution):
            raise _BadPath(
                f"--solution must be a file. Received: --solution={solution!r}"
            )
    except _BadPath as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    except grading.exercises.UnknownExerciseError as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    if _checks_need_keras(args.lab, args.hidden):
        _import_tensorflow_quietly()
    try:
        finished = grading.grade(
            args.submissions,
            lab=args.lab,
            out=args.out,
            hidden=args.hidden,
            jobs=args.jobs,
            seed=args.seed,
            progress=progress,
            reduced_isolation=args.reduced_isolation,
            canary=not args.no_canary,
            solution=solution,
            regrade=args.regrade,
        )
    except (ValueError, RuntimeError) as err:
        print(f"mlkeras: {results.clean_text(err)}", file=sys.stderr)
        return 2
    failed = sum(1 for result in finished.values() if result.error)
    skipped = len(args.submissions) - len(finished)
    print(
        f"graded {len(finished) - failed}, skipped {skipped} unchanged, "
        f"failed {failed}; the table is "
        f"{os.path.join(args.out, grading.api.GRADES_FILE)}"
    )
    return 0


def _autograder(args):
    from mlkeras.grading import exercises, gradescope

    try:
        exercises.find_exercise(args.lab_id)
        _writable_file("--output", args.output)
        if args.hidden is not None and not os.path.isdir(args.hidden):
            raise _BadPath(
                f"--hidden must be a folder. Received: --hidden={args.hidden!r}"
            )
    except (_BadPath, exercises.UnknownExerciseError) as err:
        print(f"mlkeras: {err}", file=sys.stderr)
        return 2
    path = gradescope.write_bundle(args.lab_id, args.output, args.hidden)
    print(
        f"wrote the Gradescope autograder for lab {args.lab_id} to {path}; "
        "upload it as the assignment's autograder (zip)"
    )
    return 0


def _package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _devices(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_logical_devices()]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    if backend == "torch":
        import torch

        names = ["cpu"]
        if torch.cuda.is_available():
            names += [
                torch.cuda.get_device_name(i)
                for i in range(torch.cuda.device_count())
            ]
        return names
    return ["unknown"]


def _info(args):
    import keras

    backend = keras.backend.backend()
    rows = [
        ("mlkeras", mlkeras.__version__),
        ("python", platform.python_version()),
        ("keras", keras.__version__),
        ("keras backend", backend),
    ]
    for package in (
        "tensorflow",
        "jax",
        "torch",
        "numpy",
        "tensorflow-datasets",
        "scikit-learn",
        "matplotlib",
    ):
        rows.append((package, _package_version(package)))
    rows.append(("devices", ", ".join(_devices(backend))))
    rows.append(("labs folder", str(labs_lib.labs_dir())))
    print(labs_lib.format_table(("component", "version"), rows))
    return 0


def build_parser():
    """Builds the argument parser of the `mlkeras` command."""
    parser = argparse.ArgumentParser(
        prog="mlkeras",
        description="Keras add-ons, course labs and a sandboxed grader.",
    )
    parser.add_argument(
        "--version", action="version", version=f"mlkeras {mlkeras.__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    labs = commands.add_parser(
        "labs", help="list, run or open the course labs as notebooks"
    )
    labs_commands = labs.add_subparsers(dest="labs_command", metavar="ACTION")
    labs_commands.required = True
    labs_list = labs_commands.add_parser("list", help="list the labs")
    labs_list.set_defaults(handler=_labs_list)
    labs_run = labs_commands.add_parser("run", help="run one lab")
    labs_run.add_argument(
        "lab_id",
        metavar="ID",
        help="lab number or name: 01, 1 or 01_perceptron",
    )
    labs_run.add_argument(
        "--quick", action="store_true", help="the fast variant (seconds)"
    )
    labs_run.add_argument(
        "--out",
        default=None,
        help="folder for figures and results (default: runs/<lab>/)",
    )
    labs_run.set_defaults(handler=_labs_run)
    labs_notebook = labs_commands.add_parser(
        "notebook", help="write a lab as a Jupyter notebook"
    )
    labs_notebook.add_argument(
        "lab_id",
        metavar="ID",
        help="lab number or name: 01, 1 or 01_perceptron",
    )
    labs_notebook.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=".",
        help="folder for NN_name.ipynb (default: the current folder)",
    )
    labs_notebook.set_defaults(handler=_labs_notebook)

    exercise = commands.add_parser(
        "exercise", help="write a lab's exercise starter file"
    )
    exercise.add_argument("lab_id", metavar="ID", help="lab number, e.g. 03")
    exercise.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write the starter here (default: print it)",
    )
    exercise.add_argument("--force", action="store_true", help="overwrite FILE")
    exercise.add_argument(
        "--notebook",
        action="store_true",
        help="write a Jupyter notebook whose last cell runs the check",
    )
    exercise.set_defaults(handler=_exercise)

    check = commands.add_parser(
        "check", help="run a lab's public checks on your exercise, in a sandbox"
    )
    check.add_argument(
        "file",
        metavar="FILE",
        help="your exercise file (.py or .ipynb, or a folder)",
    )
    check.add_argument(
        "--lab",
        metavar="ID",
        default=None,
        help="the lab (default: from the file name, e.g. lab03.py)",
    )
    check.add_argument(
        "--hidden",
        metavar="DIR",
        default=None,
        help="a folder of extra check files",
    )
    check.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the random check inputs (default: fresh)",
    )
    check.set_defaults(handler=_check)

    grade = commands.add_parser(
        "grade",
        help="grade a class's submissions: grades.csv and Gradescope "
        "results.json",
    )
    grade.add_argument(
        "submissions",
        metavar="SUBMISSION",
        nargs="+",
        help="submission files or folders",
    )
    grade.add_argument(
        "--lab", metavar="ID", required=True, help="the lab, e.g. 03"
    )
    grade.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="output folder (a rerun resumes there)",
    )
    grade.add_argument(
        "--hidden",
        metavar="DIR",
        default=None,
        help="a folder of hidden check files",
    )
    grade.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="submissions graded at once (default: 1)",
    )
    grade.add_argument(
        "--seed",
        type=int,
        default=None,
        help="one seed for all random check inputs (default: fresh each)",
    )
    grade.add_argument(
        "--reduced-isolation",
        action="store_true",
        help="grade without bubblewrap: no namespaces, the submissions run "
        "as you (grade refuses to run without bwrap otherwise)",
    )
    grade.add_argument(
        "--solution",
        metavar="FILE",
        default=None,
        help="the reference solution graded first as a canary: nothing is "
        "graded unless it scores full marks (default: the checkout's; "
        "without one, the starter must import)",
    )
    grade.add_argument(
        "--regrade",
        action="store_true",
        help="grade every submission again (default: only new, changed or "
        "errored ones)",
    )
    grade.add_argument(
        "--no-canary",
        action="store_true",
        help="skip the canary run",
    )
    grade.set_defaults(handler=_grade)

    autograder = commands.add_parser(
        "autograder", help="write a lab's Gradescope autograder zip"
    )
    autograder.add_argument("lab_id", metavar="ID", help="lab number, e.g. 03")
    autograder.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="autograder.zip",
        help="the zip to write (default: autograder.zip)",
    )
    autograder.add_argument(
        "--hidden",
        metavar="DIR",
        default=None,
        help="hidden check files, published after the deadline",
    )
    autograder.set_defaults(handler=_autograder)

    info = commands.add_parser(
        "info", help="versions, Keras backend and devices"
    )
    info.set_defaults(handler=_info)
    return parser


def main(argv=None):
    """Runs the command line and returns its exit status."""
    args = build_parser().parse_args(argv)
    if args.handler in (_labs_run, _info):
        _import_tensorflow_quietly()
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
