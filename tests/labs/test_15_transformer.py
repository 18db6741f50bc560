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


def test_multi_head_attention_by_hand_equals_the_layer(run_lab_quick):
    by_hand = lab15_results(run_lab_quick)["multi_head_by_hand"]
    assert by_hand["output_max_abs_diff"] < 1e-5
    assert by_hand["weights_max_abs_diff"] < 1e-6


def test_multi_head_by_hand_matches_a_fresh_layer(lab15):
    from mlkeras.layers import MultiHeadAttention

    rng = np.random.default_rng(3)
    query = rng.normal(size=(2, 4, 12)).astype("float32")
    value = rng.normal(size=(2, 6, 12)).astype("float32")
    layer = MultiHeadAttention(num_heads=3, key_dim=5, value_dim=2)
    out, scores = layer(query, value, return_attention_scores=True)
    by_hand, weights = lab15.multi_head_by_hand(layer, query, value)
    np.testing.assert_allclose(by_hand, np.asarray(out), atol=1e-5)
    np.testing.assert_allclose(weights, np.asarray(scores), atol=1e-6)


def test_encoder_decoder_reverses_with_causal_and_padding_masks(
    run_lab_quick,
):
    results = lab15_results(run_lab_quick)
    seq2seq = results["encoder_decoder_reversal"]
    assert seq2seq["token_accuracy"] >= 0.9
    assert seq2seq["sequence_accuracy"] >= 0.5
    masks = results["decoder_masks"]
    assert masks["self_attention_weight_above_diagonal"] == 0.0
    assert masks["padded_cross_attention_weight_on_pad"] == 0.0
    # Cross-attention lines each target position up with its source.
    assert masks["cross_attention_mirror_weight"] > 0.5
    _, out_dir, _ = run_lab_quick("15")
    path = out_dir / "encoder_decoder_attention.png"
    assert path.stat().st_size > 1000
