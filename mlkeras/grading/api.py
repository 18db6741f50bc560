"""`check` and `grade`: the Python API of `mlkeras check` and `grade`.

Both run the lab's checks through `pytest.main` with the mlkeras pytest
plugin, exactly as `pytest --submission FILE --lab ID` does; `grade` adds
batching over many submissions, worker processes, `grades.csv`,
per-submission Gradescope `results.json` files and resuming.
"""

import concurrent.futures
import contextlib
import hashlib
import io
import multiprocessing
import os
import pathlib
import re
import sys
import tempfile

from mlkeras.grading import exercises, intake, report, sandbox
from mlkeras.grading import results as results_lib

GRADES_FILE = "grades.csv"
_START_METHOD = os.environ.get("MLKERAS_GRADE_START_METHOD", "forkserver")
RESULTS_FILE = "results.json"


class CanaryError(RuntimeError):
    """The reference solution did not score full marks in the sandbox."""


class _Capture:
    """A pytest plugin that picks up the grading run's result at the end."""

    def __init__(self):
        self.result = None

    def pytest_unconfigure(self, config):
        from mlkeras.grading import pytest_plugin

        run = config.stash.get(pytest_plugin.RUN_KEY, None)
        if run is not None:
            run.close()
            self.result = run.result()


@contextlib.contextmanager
def _environment(name, value):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextlib.contextmanager
def _no_bytecode():
    """Keeps pytest from writing `__pycache__` into the hidden folder."""
    old = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = old


def _pytest_args(
    submission, lab, hidden, seed, ini, call_timeout=None, isolation="auto"
):
    args = [
        "-p",
        "mlkeras.grading.pytest_plugin",
        "--submission",
        str(submission),
        "--lab",
        lab,
        "-c",
        ini,
        "--rootdir",
        os.path.dirname(ini),
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:unraisableexception",
        "-p",
        "no:threadexception",
        "-p",
        "no:faulthandler",
        "-p",
        "no:doctest",
        "-p",
        "no:junitxml",
        "-p",
        "no:pastebin",
        "-p",
        "no:stepwise",
        "-p",
        "no:logging",
        "-p",
        "no:warnings",
        "-p",
        "no:legacypath",
        "--import-mode=importlib",
        "-o",
        "addopts=",
        "-q",
        "--no-header",
        "-rN",
        "--tb=line",
        "-W",
        "ignore::DeprecationWarning",
        "--isolation",
        isolation,
    ]
    if hidden:
        args += ["--hidden", str(hidden)]
    if seed is not None:
        args += ["--grading-seed", str(int(seed))]
    if call_timeout is not None:
        args += ["--call-timeout", str(float(call_timeout))]
    return args


def check(
    submission,
    lab=None,
    hidden=None,
    seed=None,
    verbose=False,
    call_timeout=None,
    isolation="auto",
):
    """Runs a lab's checks on one submission in the sandbox.

    Args:
        submission: a `.py` file, a `.ipynb` notebook (its code cells) or
            a folder holding a `.py` file.
        lab: the lab, e.g. `"03"`. Defaults to the lab in the file name.
        hidden: a folder of extra check files, or `None`.
        seed: the seed of the random inputs. Defaults to a fresh one.
        verbose: print pytest's own output too. Defaults to `False`.
        call_timeout: seconds per call. Defaults to the exercise's (10 s
            for NumPy exercises).
        isolation: `"bubblewrap"` (refuse without it), `"reduced"` (no
            namespaces: for a student's own code on their own machine) or
            `"auto"` (bubblewrap when installed). The result's
            `protections["isolation"]` says which one ran.

    Returns:
        A `SubmissionResult`.

    Raises:
        ValueError: the lab is unknown or cannot be inferred, or the
            submission is not a `.py` file or a folder with one, or it
            holds a link, a device, a FIFO or a socket
            (`intake.SubmissionRefused`).
        FileNotFoundError: the submission does not exist.
        IsolationError: `isolation="bubblewrap"` and bwrap cannot run.
    """
    import pytest

    if lab is None:
        lab = exercises.infer_lab(submission)
        if lab is None:
            raise ValueError(
                f"cannot tell the lab from the file name; pass lab=. "
                f"Received: submission={str(submission)!r}"
            )
    exercise = exercises.find_exercise(lab)
    isolation = sandbox.resolve_isolation(isolation)
    if isolation == "bubblewrap" and sandbox.bubblewrap()[0] is None:
        raise sandbox.IsolationError(
            f"{sandbox.INSTALL_HINT} ({sandbox.bubblewrap()[1]})"
        )
    intake.read_submission(submission)
    if hidden is not None and not pathlib.Path(hidden).is_dir():
        raise ValueError(
            f"hidden must be a folder. Received: hidden={str(hidden)!r}"
        )
    capture = _Capture()
    with tempfile.TemporaryDirectory(prefix="mlkeras-check-") as folder:
        ini = os.path.join(folder, "pytest.ini")
        with open(ini, "w", encoding="utf-8") as stream:
            stream.write("[pytest]\n")
        stream = io.StringIO()
        with (
            _environment("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"),
            _no_bytecode(),
            contextlib.redirect_stdout(stream),
        ):
            code = pytest.main(
                _pytest_args(
                    submission,
                    exercise.lab,
                    hidden,
                    seed,
                    ini,
                    call_timeout,
                    isolation,
                ),
                plugins=[capture],
            )
    if verbose:
        print(results_lib.clean_text(stream.getvalue()))
    if capture.result is None:
        raise RuntimeError(
            f"pytest did not run the checks (exit code {int(code)}):\n"
            f"{results_lib.clean_text(stream.getvalue()[-3000:])}"
        )
    return capture.result


_RESERVED = {
    GRADES_FILE.lower(),
    RESULTS_FILE.lower(),
    report.SUMMARY_FILE,
    report.HISTOGRAM_FILE,
}
_CLEAN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,79}")


def _digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def submission_names(submissions):
    """Unique, stable, file-system-safe row keys, in input order.

    A plain name (letters, digits, `_`, `.`, `-`, not starting with `.` or
    `-`, not an output file's name) is its own key: `alice.py` is `alice`,
    `_alice.py` is `_alice`. Any other name becomes its cleaned form plus
    `~` and a digest of the original name, and two submissions with the
    same name get a digest of their full paths; no plain name contains
    `~`, so no submission can take another's row, whatever its name.
    """
    paths = [pathlib.Path(path) for path in submissions]
    raw = []
    for path in paths:
        name = path.name
        for suffix in (".py", ".ipynb"):
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        raw.append(name)
    counts = {}
    for name in raw:
        counts[name] = counts.get(name, 0) + 1
    names = []
    for path, name in zip(paths, raw):
        clean = (
            re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60]
            or "submission"
        )
        if counts[name] > 1:
            key = f"{clean}~{_digest(os.path.abspath(path))[:12]}"
        elif _CLEAN_NAME.fullmatch(name) and name.lower() not in _RESERVED:
            key = name
        else:
            key = f"{clean}~{_digest(name)[:12]}"
        names.append(key)
    return names


def content_digest(submission):
    """The SHA-256 of a submission's files (names and bytes), or `""`.

    A submission that cannot be read (missing, refused by intake) has no
    digest, so it is always graded again.
    """
    try:
        files = intake.read_submission(submission).files
    except (OSError, ValueError):
        return ""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        encoded = str(name).encode("utf-8", "surrogateescape")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(data).to_bytes(8, "big") + bytes(data))
    return digest.hexdigest()


def _grade_one(
    submission, lab, hidden, seed, call_timeout=None, isolation="bubblewrap"
):
    """Grades one submission; never raises (a bad one becomes an error row)."""
    try:
        return check(
            submission,
            lab=lab,
            hidden=hidden,
            seed=seed,
            call_timeout=call_timeout,
            isolation=isolation,
        )
    except Exception as err:  # noqa: BLE001 - one bad submission never stops a batch
        return results_lib.SubmissionResult(
            submission=str(submission),
            lab=lab,
            error=f"{type(err).__name__}: {err}",
        )


@contextlib.contextmanager
def _workers_skip_main():
    """Keeps worker processes from re-running the caller's `__main__`.

    Workers started with forkserver or spawn import the parent's main
    script again, so a plain script that calls `grade(..., jobs=2)` without
    an `if __name__ == "__main__":` guard would start grading again in
    every worker. The workers only need `mlkeras`, so while they start the
    main module is replaced by an empty one.
    """
    import types

    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def run_canary(lab, solution=None, call_timeout=None, isolation="bubblewrap"):
    """Grades a known-good submission first, in the sandbox of the batch.

    With a reference `solution`, it must score full marks; without one the
    lab's starter must import. Either way a sandbox that hides a package
    the exercise needs, or a broken installation, is caught before any
    student is graded wrong.

    Args:
        lab: the lab, e.g. `"03"`.
        solution: the reference solution, or `None` for the starter.
        call_timeout: seconds per call. Defaults to the exercise's.
        isolation: `"bubblewrap"` or `"reduced"`, as the batch.

    Returns:
        The canary's `SubmissionResult`.

    Raises:
        CanaryError: the canary lost points or did not import; the message
            says why.
    """
    exercise = exercises.find_exercise(lab)
    with tempfile.TemporaryDirectory(prefix="mlkeras-canary-") as folder:
        if solution is None:
            path = pathlib.Path(folder) / f"lab{exercise.lab}.py"
            path.write_text(exercises.starter_source(lab), encoding="utf-8")
        else:
            path = pathlib.Path(solution)
        result = _grade_one(
            path, exercise.lab, None, None, call_timeout, isolation
        )
    what = "the starter" if solution is None else "the reference solution"
    not_started = [
        check.output
        for check in result.checks
        if re.search(r"while (?:importing|starting)", check.output)
    ]
    if result.error or result.load_error:
        causes = [result.error or result.load_error]
    elif not_started:
        causes = [results_lib.clean_text(not_started[0], True)[:200]]
    elif solution is not None and result.score < result.max_score:
        causes = []
        for check in result.checks:
            text = results_lib.clean_text(check.output, single_line=True)
            if check.status != "passed" and text[:200] not in causes:
                causes.append(text[:200])
        if len(causes) == 1:
            causes = [f"every lost check: {causes[0]}"]
    else:
        return result
    # A crash before the child could report (a package missing from the
    # sandbox's view) shows only in the child's own last output line.
    tail = [line.strip() for line in result.output.splitlines() if line.strip()]
    if tail:
        causes.append(f"its last output: {tail[-1][:300]}")
    cause = "; ".join(causes[:4])
    raise CanaryError(
        f"{what} scored {result.score:g}/{result.max_score:g} in the "
        f"grading sandbox ({result.protections.get('isolation', '?')}), so "
        f"nothing was graded: {results_lib.clean_text(cause, True)[:900]}. "
        f"Received: lab={exercise.lab!r}, solution="
        f"{str(solution) if solution else None!r}"
    )


def _warm_up(lab):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib

    importlib.import_module(f"mlkeras.grading.checks.lab{lab}")


def grade(
    submissions,
    lab,
    out,
    hidden=None,
    jobs=1,
    seed=None,
    progress=None,
    call_timeout=None,
    reduced_isolation=False,
    canary=False,
    solution=None,
    regrade=False,
):
    """Grades many submissions and writes `grades.csv` and Gradescope files.

    Every submission (a `.py` file or a folder) is checked in its own
    sandbox; a bad one gets an error row and never stops the batch.
    `OUT/grades.csv` is rewritten atomically after each submission,
    `OUT/<name>/results.json` holds Gradescope's format and, at the end,
    `OUT/summary.md` (with `score_histogram.png`) reports on the class.
    Rerun with the same `out`, it skips the submissions graded there whose
    files are unchanged (the table keeps each one's SHA-256); changed ones,
    new ones and rows with an error are graded again.

    Args:
        submissions: paths of the submissions.
        lab: the lab, e.g. `"03"`.
        out: the output folder (created if needed).
        hidden: a folder of hidden check files, or `None`.
        jobs: how many submissions to grade at once. Defaults to `1`.
        seed: one seed for every submission's random inputs. Defaults to a
            fresh seed per submission.
        progress: optional `callable(name, result)` called as each finishes.
        call_timeout: seconds per call. Defaults to the exercise's.
        reduced_isolation: grade without bubblewrap (no namespaces; the
            submissions run as this user). Defaults to `False`: without a
            working bwrap, `grade` refuses.
        canary: first grade `solution` (or, without one, the starter) in
            the same sandbox and refuse to grade anyone if it loses points
            (see `run_canary`). Defaults to `False`.
        solution: the lab's reference solution for the canary.
        regrade: grade every submission again, changed or not. Defaults
            to `False`.

    Returns:
        `{name: SubmissionResult}` for the submissions graded in this call.

    Raises:
        IsolationError: bwrap cannot run and `reduced_isolation` is false.
        CanaryError: the canary lost points; nothing was graded.
    """
    exercise = exercises.find_exercise(lab)
    isolation = "reduced" if reduced_isolation else "bubblewrap"
    if not reduced_isolation and sandbox.bubblewrap()[0] is None:
        raise sandbox.IsolationError(
            f"{sandbox.INSTALL_HINT} ({sandbox.bubblewrap()[1]})"
        )
    if int(jobs) < 1:
        raise ValueError(f"jobs must be at least 1. Received: jobs={jobs}")
    if hidden is not None and not pathlib.Path(hidden).is_dir():
        raise ValueError(
            f"hidden must be a folder. Received: hidden={str(hidden)!r}"
        )
    if canary:
        run_canary(exercise.lab, solution, call_timeout, isolation)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = results_lib.GradesTable(out / GRADES_FILE)
    submissions = [pathlib.Path(path) for path in submissions]
    names = submission_names(submissions)
    digests = dict(zip(names, map(content_digest, submissions)))
    todo = [
        (name, path)
        for name, path in zip(names, submissions)
        if regrade
        or not table.done(name, digests[name] or None)
        or not digests[name]
    ]
    finished = {}

    def record(name, result):
        folder = out / name
        folder.mkdir(exist_ok=True)
        results_lib.write_results_json(folder / RESULTS_FILE, result)
        table.add(name, result, digests[name])
        finished[name] = result
        if progress is not None:
            progress(name, result)

    if int(jobs) == 1:
        for name, path in todo:
            record(
                name,
                _grade_one(
                    path, exercise.lab, hidden, seed, call_timeout, isolation
                ),
            )
        report.write_summary(out)
        return finished
    context = multiprocessing.get_context(_START_METHOD)
    if _START_METHOD == "forkserver":
        # One process imports the checks (and Keras, where they may need
        # it) once; workers fork from it. NumPy labs leave Keras out: a
        # small worker forks its sandboxes faster.
        preload = [
            "mlkeras.grading.api",
            f"mlkeras.grading.checks.lab{exercise.lab}",
        ]
        if exercise.checks_load_keras(hidden):
            preload.append("keras")
        context.set_forkserver_preload(preload)
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=int(jobs),
        mp_context=context,
        initializer=_warm_up,
        initargs=(exercise.lab,),
    ) as pool:
        with _workers_skip_main():  # the workers start at the first submit
            futures = {
                pool.submit(
                    _grade_one,
                    str(path),
                    exercise.lab,
                    hidden,
                    seed,
                    call_timeout,
                    isolation,
                ): name
                for name, path in todo
            }
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - a worker died
                result = results_lib.SubmissionResult(
                    submission=str(dict(todo)[name]),
                    lab=exercise.lab,
                    error=(
                        f"the grading worker failed: "
                        f"{type(err).__name__}: {err}"
                    ),
                )
            record(name, result)
    report.write_summary(out)
    return finished
