"""Lab 15: positional encoding, the sqrt(d_k) scaling, masks, and a small
transformer that reverses digits only with positional encoding."""

import numpy as np
import pytest

from mlkeras import labs


def lab15_results(run_lab_quick):
    return run_lab_quick("15")[2]


@pytest.fixture(scope="module")
def lab15():
    return labs.load_lab_module(labs.find_lab("15"))


def test_encoding_dot_product_falls_with_distance_and_ignores_position(
    run_lab_quick,
):
    results = lab15_results(run_lab_quick)
    assert results["pe_by_hand_max_abs_diff"] < 1e-4
    dots = np.array(results["pe_mean_dot_by_distance"])
    np.testing.assert_allclose(dots[0], 32.0, rtol=1e-5)  # depth / 2
    # Steep fall over the first steps, then a slow, slightly wavy decline.
    assert np.all(np.diff(dots[:6]) < 0), dots[:6]
    assert dots[4:8].mean() > dots[8:16].mean() > dots[16:32].mean()
    assert np.all(dots[8:] < 0.75 * dots[0])
    assert results["pe_max_spread_over_positions"] < 1e-3
    assert results["pe_nearest_row_is_itself"] is True
    assert results["pe_shift_by_5_linear_fit_max_error"] < 1e-3


def test_unscaled_softmax_saturates_as_d_k_grows_and_scaled_does_not(
    run_lab_quick,
):
    rows = lab15_results(run_lab_quick)["softmax_saturation"]
    depths = [r["d_k"] for r in rows]
    assert depths == sorted(depths) and depths[-1] >= 256
    for r in rows:
        np.testing.assert_allclose(
            r["unscaled_logit_std"], np.sqrt(r["d_k"]), rtol=0.1
        )
        np.testing.assert_allclose(r["scaled_logit_std"], 1.0, rtol=0.1)
    unscaled_max = [r["unscaled_max_weight"] for r in rows]
    assert np.all(np.diff(unscaled_max) > 0)
    assert unscaled_max[-1] > 0.9
    scaled_max = [r["scaled_max_weight"] for r in rows]
    assert max(scaled_max) - min(scaled_max) < 0.05
    assert (
        rows[-1]["unscaled_jacobian_norm"]
        < 0.3 * rows[-1]["scaled_jacobian_norm"]
    )


def test_masked_keys_get_zero_weight_and_rows_sum_to_one(run_lab_quick):
    masks = lab15_results(run_lab_quick)["masks"]
    assert masks["unmasked_weight_on_pad_keys"] > 0.05
    assert masks["padding_weight_on_pad_keys"] == 0.0
    assert masks["causal_weight_above_diagonal"] == 0.0
    assert masks["combined_weight_on_masked"] == 0.0
    assert abs(masks["row_sums_min"] - 1.0) < 1e-5
    assert abs(masks["row_sums_max"] - 1.0) < 1e-5


def test_transformer_reverses_digits_only_with_positional_encoding(
    run_lab_quick,
):
    results = lab15_results(run_lab_quick)
    with_pe = results["reversal_with_positional_encoding"]
    without_pe = results["reversal_without_positional_encoding"]
    assert with_pe["token_accuracy"] >= 0.95
    assert with_pe["sequence_accuracy"] >= 0.7
    assert with_pe["params"] == without_pe["params"]
    assert without_pe["token_accuracy"] < 0.6
    assert without_pe["sequence_accuracy"] < 0.05
    # Some head looks at the mirrored position far more than uniformly.
    assert results["reversal_best_mirror_attention"] > 0.5


def test_figures_are_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("15")
    for name in (
        "positional_encoding",
        "scaling",
        "masks",
        "reversal_attention",
    ):
        assert (out_dir / f"{name}.png").stat().st_size > 1000, name


def test_encoding_by_hand_alternates_sine_and_cosine(lab15):
    table = lab15.encoding_by_hand(10, 6)
    p = np.arange(10)
    np.testing.assert_allclose(table[:, 0], np.sin(p))
    np.testing.assert_allclose(table[:, 1], np.cos(p))
    np.testing.assert_allclose(table[:, 4], np.sin(p / 10000 ** (4 / 6)))
    np.testing.assert_allclose(np.sum(table**2, axis=1), 3.0)
