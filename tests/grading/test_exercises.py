"""Tests of mlkeras.grading.exercises and every shipped exercise's checks.

For each exercise: the correct solution passes every check, the empty
starter passes none, and each wrong solution fails the check its file name
says (and the starter-like parts fail as NotImplementedError).
"""

import pathlib

import pytest

from mlkeras import grading
from mlkeras.grading import exercises

HERE = pathlib.Path(__file__).parent / "submissions"
KERAS_LABS = {"02", "12", "16"}  # import Keras in the sandbox: ~20 s each here


def _labs(fast_keras_lab):
    return [
        pytest.param(
            e.lab,
            marks=[pytest.mark.slow]
            if e.lab in KERAS_LABS and e.lab != fast_keras_lab
            else [],
        )
        for e in exercises.list_exercises()
    ]


@pytest.mark.parametrize("lab", _labs(fast_keras_lab="12"))
def test_correct_solution_passes_every_check(lab):
    result = grading.check(HERE / f"lab{lab}" / "correct.py", lab=lab, seed=11)
    failed = {c.name: c.output for c in result.checks if c.status != "passed"}
    assert failed == {} and result.max_score > 0


@pytest.mark.parametrize("lab", _labs(fast_keras_lab=None))
def test_empty_starter_scores_zero(lab):
    result = grading.check(
        exercises.find_exercise(lab).starter_path, lab=lab, seed=11
    )
    assert result.score == 0
    assert all("NotImplementedError" in c.output for c in result.checks)


@pytest.mark.parametrize(
    "lab, name, check",
    [
        ("01", "fails_step_at_zero", "step_is_one_from_zero_upwards"),
        (
            "04",
            "fails_minibatches_not_shuffled",
            "minibatches_shuffle_reproducibly_by_seed",
        ),
        ("05", "fails_clip_zero_gradients", "clip_keeps_zero_gradients_zero"),
        (
            "07",
            "fails_bce_without_clipping",
            "binary_crossentropy_is_finite_for_certain_predictions",
        ),
        (
            "06",
            "fails_he_normal_not_truncated",
            "he_normal_is_truncated_at_two_deviations",
        ),
    ],
)
def test_wrong_solution_fails_the_check_its_name_says(lab, name, check):
    result = grading.check(HERE / f"lab{lab}" / f"{name}.py", lab=lab, seed=11)
    outcome = {c.name: c for c in result.checks}
    assert outcome[check].status == "failed"
    assert "wrong values" in outcome[check].output


def test_exercise_ids_are_accepted_in_several_spellings():
    for spelling in ("3", "03", "lab03", "03_activations"):
        assert exercises.find_exercise(spelling).lab == "03"
    with pytest.raises(exercises.UnknownExerciseError, match="lab='42'"):
        exercises.find_exercise("42")


def test_lab_is_inferred_from_the_file_name():
    assert exercises.infer_lab("homework/lab03.py") == "03"
    assert exercises.infer_lab("07_losses.py") == "07"
    assert exercises.infer_lab("answers.py") is None


def test_every_lab_has_an_exercise():
    assert [e.lab for e in exercises.list_exercises()] == [
        f"{n:02d}" for n in range(1, 17)
    ]


def test_keras_model_exercises_allow_keras():
    assert exercises.find_exercise("02").forbidden_imports == ()


def test_numpy_exercises_forbid_the_frameworks():
    assert "keras" in exercises.find_exercise("03").forbidden_imports
    assert "torch" in exercises.find_exercise("03").forbidden_imports
