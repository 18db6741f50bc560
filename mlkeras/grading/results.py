"""Results of graded submissions: the text report, Gradescope's results.json
and the class's grades.csv (rewritten atomically after every submission)."""

import csv
import dataclasses
import functools
import io
import json
import os
import pathlib
import re
import tempfile

# C0 and C1 control characters (escape sequences start with ESC or CSI),
# DEL, and the bidirectional overrides that reorder text on a terminal.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_FORMULA_START = ("=", "+", "-", "@")
NOT_IMPORTED = "not run: the submission did not import"


def clean_text(text, single_line=False):
    """`text` without control characters (newlines and tabs kept).

    Args:
        text: any value; it is converted with `str`.
        single_line: also turn newlines and tabs into spaces.
    """
    text = _CONTROL.sub("", str(text))
    if single_line:
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return text


def csv_cell(text):
    """A text cell safe for spreadsheets: one line, never a formula."""
    text = clean_text(text, single_line=True)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


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
        load_error: why the submission did not import, or `""`; it is
            graded (every check fails) and the reason is said once.
    """

    submission: str
    lab: str
    seed: int = 0
    checks: list = dataclasses.field(default_factory=list)
    protections: dict = dataclasses.field(default_factory=dict)
    output: str = ""
    error: str = ""
    load_error: str = ""

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
                "name": clean_text(check.name, single_line=True),
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.status == "passed" else "failed",
                "output": clean_text(check.output),
                "visibility": "after_published" if check.hidden else "visible",
            }
            for check in self.checks
        ]
        output = self.error or ""
        if self.load_error:
            output += ("\n" if output else "") + self.load_error
        if self.output:
            output += (
                ("\n" if output else "")
                + "Output of the submission (truncated):\n"
                + self.output
            )
        return {
            "score": self.score,
            "max_score": self.max_score,
            "output": clean_text(output),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {
                "lab": self.lab,
                "seed": self.seed,
                "protections": {
                    clean_text(k): clean_text(v)
                    for k, v in self.protections.items()
                },
                "isolation": clean_text(
                    self.protections.get("isolation", "none (not run)")
                ),
                "status": clean_text(self.status),
            },
        }


def _score(value):
    return f"{value:g}"


def format_report(result):
    """A human-readable per-check report with the score and the protections."""
    one = functools.partial(clean_text, single_line=True)
    lines = [f"lab {result.lab}: {one(result.submission)}"]
    if result.error:
        lines.append(f"  not graded: {one(result.error)}")
    if result.load_error:
        lines.append(f"  {one(result.load_error)}")
    width = max([len(one(check.name)) for check in result.checks] + [10])
    for check in result.checks:
        mark = "PASS" if check.status == "passed" else "FAIL"
        lines.append(
            f"  {mark}  {one(check.name):<{width}}  {_score(check.score)}/"
            f"{_score(check.max_score)}"
        )
        output = clean_text(check.output)
        if check.status != "passed" and output and output != NOT_IMPORTED:
            first = output.splitlines()[0] if output.strip() else output
            lines.append(f"        {first[:300]}")
    lines.append(f"score: {_score(result.score)}/{_score(result.max_score)}")
    if result.protections:
        lines.append(
            "sandbox: "
            + "; ".join(
                f"{one(name)}: {one(value)}"
                for name, value in result.protections.items()
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

    The `sha256` column is the digest of the graded files, so that a
    submission changed since its grade can be told apart.

    Reads an existing file so that a rerun resumes, and rewrites the whole
    file atomically each time a row is added. Every text cell is one line
    without control characters and never starts a spreadsheet formula.

    Args:
        path: the CSV file.
    """

    FIXED = ("submission", "score", "max_score", "status", "sha256")

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

    def done(self, name, sha256=None):
        """Whether `name` has a graded row (of the content `sha256`)."""
        row = self.rows.get(csv_cell(name))
        return (
            row is not None
            and row.get("status") == "graded"
            and (sha256 is None or row.get("sha256") == sha256)
        )

    def add(self, name, result, sha256=""):
        """Adds or replaces the row of submission `name` and saves the file.

        Args:
            name: the row key.
            result: its `SubmissionResult`.
            sha256: the digest of the graded content (see
                `api.content_digest`), or `""`.
        """
        row = {
            "submission": csv_cell(name),
            "score": _score(result.score),
            "max_score": _score(result.max_score),
            "status": csv_cell(result.status),
            "sha256": csv_cell(sha256),
        }
        for check in result.checks:
            column = csv_cell(check.name)
            if column not in self.columns and column not in self.FIXED:
                self.columns.append(column)
            row.setdefault(column, _score(check.score))
        self.rows[row["submission"]] = row
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
