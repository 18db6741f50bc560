"""Lab 03 proves what it teaches about activation functions."""

import numpy as np
import pytest

LAB_ID = "03_activations"


@pytest.fixture(scope="module")
def lab(run_lab_quick):
    """The session's one quick run of this lab: (process, out_dir, results)."""
    return run_lab_quick(LAB_ID)


def test_lab_prints_a_summary_and_plots_functions_with_derivatives(lab):
    proc, out_dir, results = lab
    assert "Summary:" in proc.stdout
    for name in ("activations_and_derivatives.png", "swish_gelu_relu.png"):
        assert (out_dir / name).stat().st_size > 1000
    expected = {
        "ReLU",
        "Leaky ReLU",
        "PReLU",
        "sigmoid",
        "tanh",
        "Swish (SiLU)",
        "GELU",
    }
    assert expected <= set(results["activations"])


def test_sigmoid_slope_peaks_at_a_quarter_and_tanh_at_one(lab):
    _, _, results = lab
    assert results["sigmoid_max_derivative"] == pytest.approx(0.25, abs=1e-6)
    assert results["tanh_max_derivative"] == pytest.approx(1.0, abs=1e-6)
    for name in ("sigmoid", "tanh"):
        assert results["activations"][name]["argmax_derivative"] == (
            pytest.approx(0.0, abs=0.01)
        )


def test_measured_derivatives_match_the_formulas(lab):
    _, _, results = lab
    for name, stats in results["activations"].items():
        assert stats["analytic_vs_measured"] < 1e-5, name


def test_stack_without_activation_is_additive_and_with_one_is_not(lab):
    _, _, results = lab
    errors = results["additivity_error"]
    assert errors["None"] < 1e-4
    assert errors["relu"] > 0.01 and errors["tanh"] > 0.01


def test_too_large_step_kills_relu_units_but_not_leaky_or_prelu(lab):
    _, _, results = lab
    relu = results["dying"]["ReLU"]
    assert relu["dead_at_init"] == 0
    assert relu["dead_after_big_step"] > 0
    assert relu["dead_at_end"] >= 0.1
    # A dead ReLU unit gets no gradient, so none can come back.
    assert relu["revived"] == 0
    for name in ("Leaky ReLU", "PReLU"):
        other = results["dying"][name]
        assert other["dead_after_big_step"] == 0
        assert other["dead_at_end"] == 0
        assert other["final_loss"] < relu["final_loss"], name


def test_softmax_sums_to_one_and_stays_finite_for_huge_logits(lab):
    _, _, results = lab
    assert results["softmax_sum"] == pytest.approx(1.0, abs=1e-6)
    assert results["softmax_huge_finite"]
    assert results["softmax_huge_sum"] == pytest.approx(1.0, abs=1e-6)
    # Shift invariance: [1000, 999, 998] behaves like [2, 1, 0].
    reference = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()
    np.testing.assert_allclose(
        results["softmax_huge_logits"], reference, atol=1e-6
    )
    assert not results["naive_softmax_huge_finite"]


def test_sigmoid_outputs_do_not_sum_to_one(lab):
    _, _, results = lab
    assert abs(results["sigmoid_sum"] - 1.0) > 0.5
    assert results["sigmoid_multilabel_above_half"] == 2
    assert results["raw_ratio_min"] < 0
    assert results["softmax_two_logits_vs_sigmoid"] < 1e-9


def test_swish_and_gelu_dip_below_zero_and_are_smooth_unlike_relu(lab):
    _, _, results = lab
    smooth = results["smooth_relatives"]
    # Known minima: Swish -0.2785 at x = -1.2785, GELU -0.1700 at x = -0.7518.
    assert smooth["Swish"]["minimum"] == pytest.approx(-0.2785, abs=1e-3)
    assert smooth["GELU"]["minimum"] == pytest.approx(-0.1700, abs=1e-3)
    assert smooth["ReLU"]["minimum"] == 0
    assert smooth["ReLU"]["slope_jump_at_0"] == pytest.approx(1.0, abs=1e-6)
    for name in ("Swish", "GELU"):
        assert abs(smooth[name]["slope_jump_at_0"]) < 0.01
        assert smooth[name]["gap_to_relu_at_3"] < 0.2
