"""Wrong solutions to the exercises on each lab's main idea fail the check
named after their mistake (the correct solutions and the empty starters are
covered, lab by lab, in test_exercises.py)."""

import pathlib

import pytest

from mlkeras import grading

HERE = pathlib.Path(__file__).parent / "submissions"


@pytest.mark.parametrize(
    "lab, name, check",
    [
        (
            "04",
            "fails_gradient_not_averaged",
            "logistic_loss_gradient_matches_autodiff",
        ),
        (
            "05",
            "fails_norms_skip_activation_derivative",
            "layer_gradient_norms_match_the_graders_measurement[sigmoid]",
        ),
        (
            "09",
            "fails_dropout_not_rescaled",
            "dropout_scales_kept_units_by_1_over_1_minus_rate",
        ),
        (
            "09",
            "fails_dropout_at_inference",
            "dropout_is_identity_at_inference",
        ),
        (
            "13",
            "fails_bptt_skips_tanh_derivative",
            "rnn_bptt_matches_autodiff",
        ),
        (
            "15",
            "fails_merge_heads_without_transpose",
            "merge_heads_inverts_split_heads",
        ),
    ],
)
def test_wrong_solution_fails_the_check_its_name_says(lab, name, check):
    result = grading.check(HERE / f"lab{lab}" / f"{name}.py", lab=lab, seed=11)
    outcome = {c.name: c for c in result.checks}
    assert outcome[check].status == "failed"
    assert "wrong values" in outcome[check].output
    # Only the functions with the mistake fail.
    failed = {c.name for c in result.checks if c.status != "passed"}
    assert check in failed and len(failed) < len(result.checks)
