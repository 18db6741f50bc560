"""Exercises, sandboxed checks and class grading for the course labs.

- `check(submission, lab=None, hidden=None, seed=None)`: run one lab's checks
  on one submission in a sandbox; returns a `SubmissionResult`.
- `grade(submissions, lab, out, hidden=None, jobs=1)`: grade a class, write
  `grades.csv` and Gradescope `results.json` files, resume when rerun.
- `starter_source(lab)`, `list_exercises()`, `find_exercise(lab)`.

Student code never runs in the grader's process: see `sandbox` and `codec`.
"""

from mlkeras.grading.api import CanaryError, check, grade
from mlkeras.grading.exercises import (
    find_exercise,
    list_exercises,
    starter_source,
)
from mlkeras.grading.results import CheckResult, SubmissionResult
from mlkeras.grading.sandbox import (
    IsolationError,
    Limits,
    Sandbox,
    SubmissionError,
)

__all__ = [
    "check",
    "grade",
    "find_exercise",
    "list_exercises",
    "starter_source",
    "CheckResult",
    "SubmissionResult",
    "Limits",
    "Sandbox",
    "SubmissionError",
    "IsolationError",
    "CanaryError",
]
