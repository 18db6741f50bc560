"""Lab 14 shows attention lifting a date-translation encoder-decoder, and
reversed input helping a model without attention when source and target
run in the same order.

The claim tests read the numbers of the shared `--quick` run; the helper
tests check the lab's attention layer, its stacked GRU and its bookkeeping
against NumPy and Keras's own GRU.
"""

import numpy as np
import pytest

from mlkeras import labs

SCORES = ("dot", "additive", "cosine")
VARIANTS = (
    ("plain", "plain_reversed") + SCORES + ("dayfirst", "dayfirst_reversed")
)


def lab14_results(run_lab_quick):
    return run_lab_quick("14")[2]


@pytest.fixture(scope="module")
def lab14():
    return labs.load_lab_module(labs.find_lab("14"))


def test_every_attention_score_raises_exact_match_over_no_attention(
    run_lab_quick,
):
    metrics = lab14_results(run_lab_quick)["metrics"]
    plain = metrics["plain"]["exact_match"]
    for score in SCORES:
        assert metrics[score]["exact_match"] >= plain + 0.25, (score, metrics)
    assert max(metrics[s]["exact_match"] for s in SCORES) >= 0.6
    # Without attention most characters are still right, so the gap is the
    # whole-date accuracy the fixed context vector cannot reach.
    assert metrics["plain"]["greedy_char_accuracy"] >= 0.4


def test_attention_weights_are_concentrated_on_the_matching_source_field(
    run_lab_quick,
):
    alignment = lab14_results(run_lab_quick)["attention"]
    for score in SCORES:
        a = alignment[score]
        assert a["mean_max_weight"] >= 3 * a["uniform_weight"], (score, a)
        assert a["year_mass"] >= 2 * a["year_mass_uniform"], (score, a)
    assert max(alignment[s]["year_mass"] for s in SCORES) >= 0.7
    # The day is two characters among ten to thirty: harder to hit, and at
    # least one score must put well over its share of weight there.
    assert (
        max(
            alignment[s]["day_mass"] / alignment[s]["day_mass_uniform"]
            for s in SCORES
        )
        >= 2.5
    ), alignment


def test_greedy_decoding_matches_teacher_forcing_until_its_first_mistake(
    run_lab_quick,
):
    metrics = lab14_results(run_lab_quick)["metrics"]
    gaps = []
    for v in VARIANTS:
        m = metrics[v]
        # A whole sequence is right free-running exactly when it is right
        # with the true prefix fed in: same inputs up to the first error.
        assert m["exact_match"] == pytest.approx(
            m["teacher_forced_exact_match"], abs=1e-12
        ), v
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


def test_reversing_the_input_helps_without_attention_on_the_same_order_task(
    run_lab_quick,
):
    # Day-first sources -> DD-MM-YYYY: source and target run in the same
    # order, and reversing the source puts the day (the first output) last,
    # next to the decoder. Seeds 0-2 in quick mode gave character accuracy
    # gains of 0.11-0.20 and day gains of 0.49-0.63, with the reversed model
    # ahead after every epoch.
    reversal = lab14_results(run_lab_quick)["reversal"]
    forward, flipped = reversal["dayfirst"], reversal["dayfirst_reversed"]
    assert flipped["char_accuracy"] >= forward["char_accuracy"] + 0.06, reversal
    assert (
        flipped["first_field_accuracy"] >= forward["first_field_accuracy"] + 0.3
    ), reversal
    assert flipped["final_loss"] < forward["final_loss"], reversal
    assert flipped["mean_loss"] < forward["mean_loss"], reversal
    epochs = len(flipped["teacher_forced_accuracy_by_epoch"])
    assert flipped["epochs_ahead"] >= epochs - 1, reversal


def test_reversing_the_input_hurts_when_the_source_already_runs_opposite(
    run_lab_quick,
):
    # Most sources put the year last and the ISO target starts with it:
    # reversing moves the year away from the decoder. Seeds 0-2 in quick
    # mode: character accuracy 0.04-0.15 lower, year 0.12-0.43 lower.
    reversal = lab14_results(run_lab_quick)["reversal"]
    forward, flipped = reversal["plain"], reversal["plain_reversed"]
    assert forward["char_accuracy"] >= flipped["char_accuracy"] + 0.02, reversal
    assert (
        forward["first_field_accuracy"]
        >= flipped["first_field_accuracy"] + 0.05
    ), reversal


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
        wq, wk, v = (
            layer.query_kernel.numpy(),
            layer.value_kernel.numpy(),
            layer.score_vector.numpy(),
        )
        hidden = np.tanh((query @ wq)[:, :, None, :] + (value @ wk)[:, None])
        scores = hidden @ v
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ value, weights


@pytest.mark.parametrize("score", SCORES)
def test_attention_layer_matches_numpy_formula_and_ignores_padding(
    lab14, score
):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[False, False, True, True, True], [True] * 5])
    layer = lab14.attention_layer_class()(score, units=6)
    context, weights = layer(query, value, value_mask=mask)
    expected_context, expected_weights = numpy_attention(
        score, query, value, mask, layer
    )
    np.testing.assert_allclose(np.asarray(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(np.asarray(context), expected_context, atol=1e-5)
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


def test_stacked_gru_members_match_keras_gru_with_the_same_weights(lab14):
    import keras

    members, units, width = 3, 4, 5
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, members * width)).astype("float32")
    h0 = rng.normal(size=(2, members * units)).astype("float32")
    layer = lab14.stacked_gru_class()(members, units)
    layer(x, initial_state=h0)
    layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))
    states, last = (
        keras.ops.convert_to_numpy(t) for t in layer(x, initial_state=h0)
    )
    assert states.shape == (2, 6, members * units)
    np.testing.assert_allclose(last, states[:, -1], atol=1e-6)
    kernel, recurrent, bias = (
        w.numpy() for w in (layer.kernel, layer.recurrent_kernel, layer.bias)
    )
    for m in range(members):
        own_x = x[:, :, m * width : (m + 1) * width]
        own = slice(m * units, (m + 1) * units)
        gru = keras.layers.GRU(units, return_sequences=True, return_state=True)
        gru.build(own_x.shape)
        gru.set_weights([kernel[m], recurrent[m], bias[m]])
        expected, expected_last = gru(own_x, initial_state=h0[:, own])
        np.testing.assert_allclose(states[:, :, own], expected, atol=1e-5)
        np.testing.assert_allclose(last[:, own], expected_last, atol=1e-5)


def test_stacked_gru_members_start_from_independent_weights(lab14):
    layer = lab14.stacked_gru_class()(2, 3)
    layer.build((None, None, 8))
    kernel = layer.kernel.numpy()
    recurrent = layer.recurrent_kernel.numpy()
    assert kernel.shape == (2, 4, 9) and recurrent.shape == (2, 3, 9)
    assert not np.allclose(kernel[0], kernel[1])
    # Keras's GRU initialises the recurrent kernel orthogonally, per member.
    np.testing.assert_allclose(
        recurrent[1] @ recurrent[1].T, np.eye(3), atol=1e-5
    )


def test_stacked_gru_rejects_bad_arguments_and_round_trips_config(lab14):
    cls = lab14.stacked_gru_class()
    with pytest.raises(ValueError, match="members=0"):
        cls(0, 4)
    with pytest.raises(ValueError, match="units=0"):
        cls(2, 0)
    with pytest.raises(ValueError, match="members=3"):
        cls(3, 4).build((None, None, 8))
    clone = cls.from_config(cls(3, 5, name="gru").get_config())
    assert (clone.members, clone.units, clone.name) == (3, 5, "gru")


def test_day_first_pairs_write_the_same_date_day_first_on_both_sides(lab14):
    import datetime

    iso = ["2024-03-25", "1951-12-01", "2049-07-09"] * 10
    sources, targets = lab14.day_first_pairs(iso, seed=0)
    for date, source, target in zip(iso, sources, targets):
        day = datetime.date.fromisoformat(date)
        assert target == day.strftime("%d-%m-%Y")
        assert (
            lab14.field_spans(source)["day"][0]
            < lab14.field_spans(source)["year"][0]
        ), source
        assert source[slice(*lab14.field_spans(source)["day"])] == target[:2]
    # Every day-first format of the data set, and only those, is used.
    assert len(lab14.DAY_FIRST_FORMATS) == 7
    assert all(f.index("%d") < f.index("%Y") for f in lab14.DAY_FIRST_FORMATS)


def test_encode_task_reverses_the_source_and_shifts_the_target(lab14):
    from mlkeras.datasets import dates

    vocab = dates.CharVocabulary("0123456789- abc")
    encoded = lab14.encode_task(
        ["ab 1", "c 22"], ["01-02", "03-04"], vocab, vocab
    )
    np.testing.assert_array_equal(
        encoded[True][0][-4:], vocab.encode(["1 ba"], 4)[0]
    )
    np.testing.assert_array_equal(
        encoded[False][1][-4:], vocab.encode(["c 22"], 4)[0]
    )
    assert encoded[False].shape == (2, dates.SOURCE_LENGTH)
    assert encoded["decoder_input"][0, 0] == vocab.bos_id
    np.testing.assert_array_equal(
        encoded["decoder_input"][:, 1:], encoded["decoder_target"][:, :-1]
    )
    assert encoded["decoder_target"][0, -1] == vocab.eos_id


def test_padding_moves_to_the_left_keeping_the_characters_in_order(lab14):
    ids = np.array([[5, 6, 7, 0, 0], [1, 2, 3, 4, 5], [9, 0, 0, 0, 0]])
    np.testing.assert_array_equal(
        lab14.pad_on_the_left(ids),
        [[0, 0, 5, 6, 7], [1, 2, 3, 4, 5], [0, 0, 0, 0, 9]],
    )


def test_after_first_mistake_compares_only_the_positions_after_it(lab14):
    greedy = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1]], bool)
    teacher = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 0, 1]], bool)
    # Row 0 slips at 1 (then greedy 0, 1; teacher 1, 1); row 2 at 0
    # (then greedy 1, 1, 1; teacher 1, 0, 1); row 1 never slips.
    assert lab14.after_first_mistake(greedy, teacher) == (
        pytest.approx(4 / 5),
        pytest.approx(4 / 5),
    )
    assert lab14.after_first_mistake(
        np.ones((2, 3), bool), np.ones((2, 3), bool)
    ) == (None, None)


def test_field_spans_find_the_year_and_day_in_every_format(lab14):
    from mlkeras.datasets import dates

    sources, targets = dates.make_date_pairs(200, seed=3)
    for source, target in zip(sources, targets):
        spans = lab14.field_spans(source)
        assert source[slice(*spans["year"])] == target[:4], source
        assert source[slice(*spans["day"])] == target[8:], source
