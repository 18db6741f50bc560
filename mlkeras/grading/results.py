"""Results of graded submissions: the text report, Gradescope's results.json
and the class's grades.csv (rewritten atomically after every submission)."""

import csv
import dataclasses
import io
import json
import os
import pathlib
import tempfile


@dataclasses.dataclass
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: the check's name (hidden ones start with `"hidden: "`).
        score: points earned.
        max_score: points available.
        status: `"passed"`, `"failed"` or `"skipped"`.
        output: why it failed (empty when it passed).
        hidden: whether it is an instructor's hidden check.
    """

    name: str
    score: float
    max_score: float
    status: str
    output: str
    hidden: bool = False


@dataclasses.dataclass
class SubmissionResult:
    """The outcome of one submission.

    Attributes:
        submission: the submission's path.
        lab: the lab number.
        seed: the seed of the random check inputs.
        checks: the `CheckResult`s, in run order.
        protections: which sandbox protections were active.
        output: the submission's captured (truncated) output.
        error: why the submission could not be graded at all, or `""`.
    """

    submission: str
    lab: str
    seed: int = 0
    checks: list = dataclasses.field(default_factory=list)
    protections: dict = dataclasses.field(default_factory=dict)
    output: str = ""
    error: str = ""

    @property
    def score(self):
        return sum(check.score for check in self.checks)

    @property
    def max_score(self):
        return sum(check.max_score for check in self.checks)

    @property
    def status(self):
        """`"error: ..."` when ungraded, else `"graded"`."""
        return f"error: {self.error}" if self.error else "graded"

    def to_gradescope(self):
        """The Gradescope autograder `results.json` document."""
        tests = [
            {
                "name": check.name,
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.status == "passed" else "failed",
                "output": check.output,
                "visibility": "after_published" if check.hidden else "visible",
            }
            for check in self.checks
        ]
        output = self.error or ""
        if self.output:
            output += (
                ("\n" if output else "")
                + "Output of the submission (truncated):\n"
                + self.output
            )
        return {
            "score": self.score,
            "max_score": self.max_score,
            "output": output,
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {
                "lab": self.lab,
                "seed": self.seed,
                "protections": self.protections,
                "status": self.status,
            },
        }


def _score(value):
    return f"{value:g}"


def format_report(result):
    """A human-readable per-check report with the score and the protections."""
    lines = [f"lab {result.lab}: {result.submission}"]
    if result.error:
        lines.append(f"  not graded: {result.error}")
    width = max([len(check.name) for check in result.checks] + [10])
    for check in result.checks:
        mark = "PASS" if check.status == "passed" else "FAIL"
        lines.append(
            f"  {mark}  {check.name:<{width}}  {_score(check.score)}/"
            f"{_score(check.max_score)}"
        )
        if check.status != "passed" and check.output:
            first = (
                check.output.splitlines()[0]
                if check.output.strip()
                else check.output
            )
            lines.append(f"        {first[:300]}")
    lines.append(f"score: {_score(result.score)}/{_score(result.max_score)}")
    if result.protections:
        lines.append(
            "sandbox: "
            + "; ".join(
                f"{name}: {value}" for name, value in result.protections.items()
            )
        )
    return "\n".join(lines)


def atomic_write(path, text):
    """Writes `text` to `path` through a temporary file and a rename."""
    path = pathlib.Path(path)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}."
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class GradesTable:
    """`grades.csv`: one row per submission, one column per check.

    Reads an existing file so that a rerun resumes, and rewrites the whole
    file atomically each time a row is added.

    Args:
        path: the CSV file.
    """

    FIXED = ("submission", "score", "max_score", "status")

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.rows = {}
        self.columns = []
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as stream:
                reader = csv.DictReader(stream)
                for name in reader.fieldnames or ():
                    if name not in self.FIXED:
                        self.columns.append(name)
                for row in reader:
                    self.rows[row["submission"]] = row

    def done(self, name):
        """Whether `name` already has a graded row."""
        row = self.rows.get(name)
        return row is not None and row.get("status") == "graded"

    def add(self, name, result):
        """Adds or replaces the row of submission `name` and saves the file."""
        row = {
            "submission": name,
            "score": _score(result.score),
            "max_score": _score(result.max_score),
            "status": result.status,
        }
        for check in result.checks:
            if check.name not in self.columns:
                self.columns.append(check.name)
            row[check.name] = _score(check.score)
        self.rows[name] = row
        self.save()

    def save(self):
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=[*self.FIXED, *self.columns],
            restval="",
            extrasaction="ignore",
        )
        writer.writeheader()
        for name in sorted(self.rows):
            writer.writerow(self.rows[name])
        atomic_write(self.path, buffer.getvalue())


def write_results_json(path, result):
    """Writes Gradescope's `results.json` for one submission, atomically."""
    atomic_write(path, json.dumps(result.to_gradescope(), indent=2) + "\n")
