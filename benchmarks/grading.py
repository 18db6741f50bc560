"""How fast `mlkeras grade` grades lab 03, and what the sandbox costs.

Grades a class of lab-03 submissions (correct, wrong and empty starters, in
turn) two ways, interleaved, several times:

- sandboxed: `mlkeras.grading.grade(..., jobs=JOBS)`, as `mlkeras grade
  --lab 03 --jobs 2` does: every submission in its own bubblewrap sandbox
  (and, for reference, the same with `reduced_isolation=True`: a limited
  child process without bubblewrap);
- unsandboxed: the same checks through the same pytest plugin in one
  process, with each submission imported straight into the grader (what
  otter-grader or gradescope-utils do), i.e. `Sandbox` replaced by an
  in-process stand-in.

Reports submissions per second (median of the repeats) and the sandbox
cost = unsandboxed rate / sandboxed rate. The sandboxed rate is given for
the whole batch and in steady state (after the worker processes started).

It also reports the latency of `mlkeras check` on a correct lab-03 file:
the whole command in a fresh process, and `grading.check` in a process
that has imported mlkeras and run a check already (the difference is
Python and mlkeras starting; a NumPy lab's checks need no framework).

    python benchmarks/grading.py [--submissions 24] [--repeats 3] [--jobs 2]
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types

from arguments import positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mlkeras import grading  # noqa: E402
from mlkeras.grading import (
    exercises,  # noqa: E402
    pytest_plugin,  # noqa: E402
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "grading" / "submissions" / "lab03"


class InProcess:
    """The unsandboxed stand-in for `Sandbox`: imports the submission here."""

    counter = 0

    def __init__(self, module_path=None, limits=None, lab="", **kwargs):
        InProcess.counter += 1
        submission = kwargs["submission"]
        source = dict(submission.files)[submission.main]
        self.module = types.ModuleType(f"unsandboxed_{InProcess.counter}")
        exec(compile(source, submission.main, "exec"), self.module.__dict__)

    def prestart(self):
        pass

    def call(self, name, args=(), kwargs=None, timeout=None, handle=None):
        return getattr(self.module, name)(*args, **(kwargs or {}))

    def protections(self):
        return {}

    def output(self):
        return ""

    def close(self):
        pass


def make_class(folder, count):
    sources = [
        EXAMPLES / "correct.py",
        exercises.find_exercise("03").starter_path,
        *sorted(EXAMPLES.glob("fails_*.py")),
    ]
    paths = []
    for index in range(count):
        target = folder / f"student{index:03d}.py"
        shutil.copyfile(sources[index % len(sources)], target)
        paths.append(target)
    return paths


def sandboxed(paths, out, jobs, reduced=False):
    stamps = []
    start = time.perf_counter()
    grading.grade(
        paths,
        lab="03",
        out=out,
        jobs=jobs,
        seed=7,
        progress=lambda name, result: stamps.append(time.perf_counter()),
        reduced_isolation=reduced,
    )
    total = time.perf_counter() - start
    steady = (
        (len(stamps) - 1) / (stamps[-1] - stamps[0])
        if len(stamps) > 1
        else float("nan")
    )
    return len(paths) / total, steady


def unsandboxed(paths):
    original = pytest_plugin.Sandbox
    pytest_plugin.Sandbox = InProcess
    try:
        start = time.perf_counter()
        for path in paths:
            grading.check(path, lab="03", seed=7)
        return len(paths) / (time.perf_counter() - start)
    finally:
        pytest_plugin.Sandbox = original


def check_latency(repeats):
    """Median seconds of `mlkeras check`: fresh command, then warm."""
    correct = str(EXAMPLES / "correct.py")
    command = [sys.executable, "-m", "mlkeras.cli", "check", correct]
    fresh, warm = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [*command, "--lab", "03"],
            capture_output=True,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        fresh.append(time.perf_counter() - start)
        start = time.perf_counter()
        grading.check(correct, lab="03")
        warm.append(time.perf_counter() - start)
    return statistics.median(fresh), statistics.median(warm)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=positive_int, default=24)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--jobs", type=positive_int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlkeras-bench-") as folder:
        folder = pathlib.Path(folder)
        paths = make_class(folder, args.submissions)
        unsandboxed(paths[:2])  # warm-up: import the checks once
        totals, steadies, plains, reduceds = [], [], [], []
        for repeat in range(args.repeats):
            total, steady = sandboxed(
                paths, folder / f"grades{repeat}", args.jobs
            )
            _, reduced = sandboxed(
                paths, folder / f"reduced{repeat}", args.jobs, reduced=True
            )
            plain = unsandboxed(paths)
            totals.append(total)
            steadies.append(steady)
            plains.append(plain)
            reduceds.append(reduced)
            print(
                f"repeat {repeat}: sandboxed {total:.2f}/s (steady "
                f"{steady:.2f}/s), reduced isolation steady {reduced:.2f}/s, "
                f"unsandboxed {plain:.2f}/s",
                flush=True,
            )
    total, steady, plain, reduced = map(
        statistics.median, (totals, steadies, plains, reduceds)
    )
    fresh, warm = check_latency(args.repeats)
    print()
    print(f"| `mlkeras check`, lab 03, median of {args.repeats} | seconds |")
    print("| --- | --- |")
    print(f"| whole command, fresh process | {fresh:.2f} |")
    print(f"| `grading.check` in a warm process | {warm:.2f} |")
    print()
    print(
        f"| lab 03, {args.submissions} submissions, median of {args.repeats} | "
        f"submissions/s |"
    )
    print("| --- | --- |")
    print(
        f"| sandboxed, `--jobs {args.jobs}`, whole batch "
        f"(worker start-up included) "
        f"| {total:.2f} |"
    )
    print(f"| sandboxed, `--jobs {args.jobs}`, steady state | {steady:.2f} |")
    print(
        f"| `--reduced-isolation` (no bubblewrap), `--jobs {args.jobs}`, "
        f"steady state | {reduced:.2f} |"
    )
    print(f"| unsandboxed, one process | {plain:.2f} |")
    print(
        f"| sandbox cost (unsandboxed / sandboxed steady) | "
        f"{plain / steady:.2f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
