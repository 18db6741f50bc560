"""Lab 14 shows attention lifting a date-translation encoder-decoder.

The claim tests read the numbers of the shared `--quick` run; the helper
tests check the lab's attention layer and bookkeeping against NumPy.
"""

import numpy as np
import pytest

from mlkeras import labs

SCORES = ("dot", "additive", "cosine")
VARIANTS = ("plain", "plain_reversed") + SCORES


def lab14_results(run_lab_quick):
    return run_lab_quick("14")[2]


@pytest.fixture(scope="module")
def lab14():
    return labs.load_lab_module(labs.find_lab("14"))


def test_every_attention_score_raises_exact_match_over_no_attention(
        run_lab_quick):
    metrics = lab14_results(run_lab_quick)["metrics"]
    plain = metrics["plain"]["exact_match"]
    for score in SCORES:
        assert metrics[score]["exact_match"] >= plain + 0.25, (score, metrics)
    assert max(metrics[s]["exact_match"] for s in SCORES) >= 0.6
    # Without attention most characters are still right, so the gap is the
    # whole-date accuracy the fixed context vector cannot reach.
    assert metrics["plain"]["greedy_char_accuracy"] >= 0.4


def test_attention_weights_are_concentrated_on_the_matching_source_field(
        run_lab_quick):
    alignment = lab14_results(run_lab_quick)["attention"]
    for score in SCORES:
        a = alignment[score]
        assert a["mean_max_weight"] >= 3 * a["uniform_weight"], (score, a)
        assert a["year_mass"] >= 2 * a["year_mass_uniform"], (score, a)
    assert max(alignment[s]["year_mass"] for s in SCORES) >= 0.7
    # The day is two characters among ten to thirty: harder to hit, and at
    # least one score must put well over its share of weight there.
    assert max(alignment[s]["day_mass"] / alignment[s]["day_mass_uniform"]
               for s in SCORES) >= 2.5, alignment


def test_greedy_decoding_matches_teacher_forcing_until_its_first_mistake(
        run_lab_quick):
    metrics = lab14_results(run_lab_quick)["metrics"]
    gaps = []
    for v in VARIANTS:
        m = metrics[v]
        # A whole sequence is right free-running exactly when it is right
        # with the true prefix fed in: same inputs up to the first error.
        assert m["exact_match"] == pytest.approx(
            m["teacher_forced_exact_match"], abs=1e-12), v
        assert m["teacher_forced_char_accuracy"] >= m["greedy_char_accuracy"], v
        greedy = m["greedy_accuracy_after_first_mistake"]
        teacher = m["teacher_forced_accuracy_after_first_mistake"]
        if greedy is not None:
            assert teacher >= greedy, v
            gaps.append(teacher - greedy)
    # Feeding back its own mistakes costs the free-running decoder accuracy.
    assert np.mean(gaps) >= 0.03, gaps


def test_greedy_decoders_stop_at_eos_after_ten_characters(run_lab_quick):
    metrics = lab14_results(run_lab_quick)["metrics"]
    for v in VARIANTS:
        assert metrics[v]["stops_at_eos"] >= 0.95, v


def test_source_order_opposite_to_the_target_helps_without_attention(
        run_lab_quick):
    # Day-month-year sources already run opposite to the ISO target
    # (year-month-day): Sutskever's trick is built in, and reversing them
    # makes the source run in the target's order.
    reversal = lab14_results(run_lab_quick)["reversal"]
    written, flipped = reversal["plain"], reversal["plain_reversed"]
    assert (written["year_last_char_accuracy"]
            >= flipped["year_last_char_accuracy"] + 0.05), reversal
    metrics = lab14_results(run_lab_quick)["metrics"]
    assert (metrics["plain"]["teacher_forced_char_accuracy"]
            >= metrics["plain_reversed"]["teacher_forced_char_accuracy"]
            + 0.03), metrics


def test_attention_heatmap_and_accuracy_figures_are_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("14")
    for name in ("attention_heatmaps", "training_and_accuracy"):
        assert (out_dir / f"{name}.png").stat().st_size > 10000, name


def numpy_attention(score, query, value, mask, layer):
    if score == "dot":
        scores = query @ value.transpose(0, 2, 1)
    elif score == "cosine":
        q = query / np.linalg.norm(query, axis=-1, keepdims=True)
        k = value / np.linalg.norm(value, axis=-1, keepdims=True)
        scores = float(layer.sharpness.numpy()) * q @ k.transpose(0, 2, 1)
    else:
        wq, wk, v = (layer.query_kernel.numpy(), layer.value_kernel.numpy(),
                     layer.score_vector.numpy())
        hidden = np.tanh((query @ wq)[:, :, None, :] + (value @ wk)[:, None])
        scores = hidden @ v
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ value, weights


@pytest.mark.parametrize("score", SCORES)
def test_attention_layer_matches_numpy_formula_and_ignores_padding(lab14,
                                                                   score):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[False, False, True, True, True], [True] * 5])
    layer = lab14.attention_layer_class()(score, units=6)
    context, weights = layer(query, value, value_mask=mask)
    expected_context, expected_weights = numpy_attention(
        score, query, value, mask, layer)
    np.testing.assert_allclose(np.asarray(weights), expected_weights,
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(context), expected_context,
                               atol=1e-5)
    assert np.all(np.asarray(weights)[0, :, :2] == 0)


def test_attention_layer_rejects_unknown_score_and_round_trips_config(lab14):
    cls = lab14.attention_layer_class()
    with pytest.raises(ValueError, match="score='general'"):
        cls("general")
    with pytest.raises(ValueError, match="units=0"):
        cls("additive", units=0)
    layer = cls("additive", units=7, name="att")
    clone = cls.from_config(layer.get_config())
    assert (clone.score, clone.units, clone.name) == ("additive", 7, "att")


def test_padding_moves_to_the_left_keeping_the_characters_in_order(lab14):
    ids = np.array([[5, 6, 7, 0, 0], [1, 2, 3, 4, 5], [9, 0, 0, 0, 0]])
    np.testing.assert_array_equal(
        lab14.pad_on_the_left(ids),
        [[0, 0, 5, 6, 7], [1, 2, 3, 4, 5], [0, 0, 0, 0, 9]])


def test_after_first_mistake_compares_only_the_positions_after_it(lab14):
    greedy = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1]], bool)
    teacher = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 0, 1]], bool)
    # Row 0 slips at 1 (then greedy 0, 1; teacher 1, 1); row 2 at 0
    # (then greedy 1, 1, 1; teacher 1, 0, 1); row 1 never slips.
    assert lab14.after_first_mistake(greedy, teacher) == (
        pytest.approx(4 / 5), pytest.approx(4 / 5))
    assert lab14.after_first_mistake(np.ones((2, 3), bool),
                                     np.ones((2, 3), bool)) == (None, None)


def test_field_spans_find_the_year_and_day_in_every_format(lab14):
    from mlkeras.datasets import dates

    sources, targets = dates.make_date_pairs(200, seed=3)
    for source, target in zip(sources, targets):
        spans = lab14.field_spans(source)
        assert source[slice(*spans["year"])] == target[:4], source
        assert source[slice(*spans["day"])] == target[8:], source
