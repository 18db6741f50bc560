"""The exercise of every lab: where its starter and checks live, and its limits.

An exercise is a starter file (`starters/labNN.py`: signatures and docstrings
that state the task, bodies that raise `NotImplementedError`) and a check
module (`checks/labNN.py`: pytest tests that call the student's functions
through the `submission` fixture). In a NumPy-only exercise the sandbox's
site-packages holds NumPy alone, so the deep-learning frameworks cannot be
imported whatever the submission does.
"""

import dataclasses
import pathlib
import re

_HERE = pathlib.Path(__file__).resolve().parent
FRAMEWORKS = ("keras", "tensorflow", "torch", "jax", "jaxlib", "flax")


class UnknownExerciseError(ValueError):
    """Raised when a lab identifier matches no exercise."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One lab's exercise.

    Attributes:
        lab: the two-digit lab number, e.g. `"03"`.
        slug: the lab's name, e.g. `"activations"`.
        numpy_only: whether importing Keras, TensorFlow, PyTorch or JAX is
            forbidden in the submission.
        call_timeout: seconds per call.
        wall_clock: seconds for the whole submission.
        memory_bytes: the memory cap.
        max_processes: the process and thread cap.
    """

    lab: str
    slug: str
    numpy_only: bool = True
    call_timeout: float = 10.0
    wall_clock: float = 120.0
    memory_bytes: int = 2 * 2**30
    max_processes: int = 64

    @property
    def lab_id(self):
        """The full identifier, e.g. `"03_activations"`."""
        return f"{self.lab}_{self.slug}"

    @property
    def starter_path(self):
        """The starter file shipped with the package."""
        return _HERE / "starters" / f"lab{self.lab}.py"

    @property
    def checks_path(self):
        """The public check module."""
        return _HERE / "checks" / f"lab{self.lab}.py"

    @property
    def available(self):
        """Whether its starter and checks are shipped."""
        return self.starter_path.is_file() and self.checks_path.is_file()

    @property
    def forbidden_imports(self):
        """The modules the submission may not import."""
        return FRAMEWORKS if self.numpy_only else ()

    @property
    def packages(self):
        """The site-packages visible in the sandbox (`None`: all)."""
        return ("numpy",) if self.numpy_only else None

    def checks_load_keras(self, hidden=None):
        """Whether grading it may import Keras in the grader.

        A Keras lab's checks do, and `hidden` checks may (they are any
        code); the checks of a NumPy lab compute their references with
        NumPy alone.
        """
        return bool(hidden) or not self.numpy_only


# Keras-model exercises import TensorFlow in the child: it needs more
# address space (TensorFlow maps large virtual regions at import), more
# threads and more time than a NumPy exercise.
_KERAS = dict(
    numpy_only=False,
    call_timeout=180.0,
    wall_clock=600.0,
    memory_bytes=16 * 2**30,
    max_processes=512,
)

EXERCISES = {
    exercise.lab: exercise
    for exercise in (
        Exercise("01", "perceptron"),
        Exercise("02", "feedforward", **_KERAS),
        Exercise("03", "activations"),
        Exercise("04", "gradient_descent"),
        Exercise("05", "gradient_problems"),
        Exercise("06", "weight_init"),
        Exercise("07", "losses_metrics"),
        Exercise("08", "optimizers"),
        Exercise("09", "regularization"),
        Exercise("10", "batch_norm"),
        Exercise("11", "cnn"),
        Exercise("12", "residual", **_KERAS),
        Exercise("13", "rnn"),
        Exercise("14", "seq2seq_attention"),
        Exercise("15", "transformer"),
        Exercise("16", "transfer_learning", **_KERAS),
    )
}


def list_exercises():
    """The available exercises, in lab order."""
    return [
        EXERCISES[lab] for lab in sorted(EXERCISES) if EXERCISES[lab].available
    ]


def find_exercise(lab_id):
    """Finds an exercise from `"3"`, `"03"`, `"lab03"` or `"03_activations"`.

    Raises:
        UnknownExerciseError: no exercise matches.
    """
    text = str(lab_id).strip().lower()
    match = re.fullmatch(r"(?:lab)?0*(\d{1,2})(?:_[a-z0-9_]+)?", text)
    if match:
        lab = f"{int(match.group(1)):02d}"
        if lab in EXERCISES:
            exercise = EXERCISES[lab]
            if (
                "_" not in text or text.endswith(exercise.slug)
            ) and exercise.available:
                return exercise
    raise UnknownExerciseError(
        f"no exercise for lab {lab_id!r}; available: "
        f"{', '.join(e.lab for e in list_exercises())}. "
        f"Received: lab={lab_id!r}"
    )


LAB_MARKER = re.compile(r"#\s*mlkeras-lab:\s*(\d{1,2})\b")


def _marked_lab(path):
    """The lab named by a `# mlkeras-lab: NN` line near the top, or `None`."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(4096).decode("utf-8", "replace")
    except OSError:
        return None
    match = LAB_MARKER.search(head)
    return f"{int(match.group(1)):02d}" if match else None


def infer_lab(path):
    """Guesses the lab of a submission.

    A starter written by `mlkeras exercise` starts with a
    `# mlkeras-lab: NN` line, so it keeps its lab under any name; otherwise
    the lab comes from a file name such as `lab03.py` or `03_relu.py`.
    """
    if pathlib.Path(path).is_file() and not pathlib.Path(path).is_symlink():
        marked = _marked_lab(path)
        if marked in EXERCISES and EXERCISES[marked].available:
            return marked
    stem = pathlib.Path(path).stem.lower()
    match = re.search(r"lab[_-]?(\d{1,2})(?!\d)", stem) or re.match(
        r"(\d{2})(?!\d)", stem
    )
    if (
        match
        and f"{int(match.group(1)):02d}" in EXERCISES
        and EXERCISES[f"{int(match.group(1)):02d}"].available
    ):
        return f"{int(match.group(1)):02d}"
    return None


def reference_solution(lab_id):
    """The lab's reference solution in a source checkout, or `None`.

    The package never ships solutions; a checkout keeps them in
    `tests/grading/submissions/labNN/correct.py`.
    """
    exercise = find_exercise(lab_id)
    path = (
        _HERE.parent.parent
        / "tests"
        / "grading"
        / "submissions"
        / f"lab{exercise.lab}"
        / "correct.py"
    )
    return path if path.is_file() else None


def starter_source(lab_id):
    """The text of a lab's starter file.

    Its first line, `# mlkeras-lab: NN`, records the lab, so that
    `mlkeras check` finds it whatever the file is named.
    """
    exercise = find_exercise(lab_id)
    text = exercise.starter_path.read_text(encoding="utf-8")
    return f"# mlkeras-lab: {exercise.lab}\n{text}"
