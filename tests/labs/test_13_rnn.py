"""Lab 13: SimpleRNN fails the adding problem where gated layers succeed;
BPTT by hand; bidirectional, stateful and timing demonstrations."""

import numpy as np
import pytest

from mlkeras import labs


def lab13_results(run_lab_quick):
    return run_lab_quick("13")[2]


@pytest.fixture(scope="module")
def lab13():
    return labs.load_lab_module(labs.find_lab("13"))


def test_hand_written_steps_match_the_layers(run_lab_quick):
    steps = lab13_results(run_lab_quick)["steps_by_hand"]
    assert steps["simple_rnn_max_abs_diff"] < 1e-5
    assert steps["gru_max_abs_diff"] < 1e-5
    assert steps["peephole_output_gate_new_c_max_abs_diff"] < 1e-5
    # The notes' variant (output gate reads c_{t-1}) is a different cell.
    assert steps["peephole_output_gate_previous_c_max_abs_diff"] > 1e-3
    assert steps["peephole_zero_vs_keras_lstm_max_abs_diff"] < 1e-5


def test_bptt_by_hand_equals_autodiff_and_follows_the_spectral_norm(
    run_lab_quick,
):
    results = lab13_results(run_lab_quick)
    assert results["bptt_max_relative_diff"] < 1e-4
    ratios = results["spectral_norm_gradient_ratio_at_49_steps"]
    np.testing.assert_allclose(ratios["linear s=0.9"], 0.9**49, rtol=1e-6)
    np.testing.assert_allclose(ratios["linear s=1.0"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(ratios["linear s=1.1"], 1.1**49, rtol=1e-6)
    assert ratios["tanh s=1.0"] < 1e-2


def test_simple_rnn_fails_the_adding_problem_where_gated_layers_succeed(
    run_lab_quick,
):
    results = lab13_results(run_lab_quick)
    baseline = results["adding_baseline_mse"]
    assert 0.14 < baseline < 0.2
    mse = results["adding_test_mse"]
    assert mse["SimpleRNN"] > 0.8 * baseline
    for kind in ("LSTM", "GRU", "PeepholeLSTM"):
        assert mse[kind] < 0.1 * baseline, (kind, mse[kind])


def test_gradient_vanishes_through_time_for_simple_rnn_not_lstm(run_lab_quick):
    results = lab13_results(run_lab_quick)
    ratio = results["input_gradient_first_quarter_over_last"]
    assert ratio["SimpleRNN"] < 1e-3
    assert ratio["LSTM"] > 1000 * ratio["SimpleRNN"]
    curve = results["input_gradient_curves"]["SimpleRNN"]
    assert len(curve) == results["gradient_length"]


def test_topologies_bidirectional_and_stateful(run_lab_quick):
    results = lab13_results(run_lab_quick)
    shapes = results["topology_shapes"]
    assert shapes["many-to-one (adding problem)"] == [2, 1]
    assert shapes["many-to-many, synced (timing task)"] == [2, 7, 1]
    assert shapes["one-to-many (vector in, 5 steps out)"] == [2, 5, 1]
    assert shapes["many-to-many, encoder-decoder (7 in, 4 out)"] == [2, 4, 1]
    bidirectional = results["bidirectional"]
    assert bidirectional["forward_outputs_changed_before_t0"] == 0
    assert bidirectional["bidirectional_outputs_changed_before_t0"] == 8
    assert bidirectional["bidirectional_features"] == (
        2 * bidirectional["forward_features"]
    )
    stateful = results["stateful"]
    assert stateful["stateful_chunks_vs_whole_max_abs_diff"] < 1e-5
    assert stateful["reset_between_chunks_vs_whole_max_abs_diff"] > 1e-3


def test_peepholes_give_a_cleaner_timed_spike_on_the_same_budget(run_lab_quick):
    timing = lab13_results(run_lab_quick)["timing"]
    lstm, peephole = timing["LSTM"], timing["PeepholeLSTM"]
    for kind in ("LSTM", "PeepholeLSTM"):
        # Both put their highest output on the end step (a model that never
        # fires, or fires at the start spike, is several steps off).
        assert timing[kind]["mean_abs_timing_error"] < 0.5, kind
    # Same start, batches and budget: the peephole model's output is closer
    # to the silent-then-spike target (quick runs, seeds 0-4: 0.63-0.91 of
    # the LSTM's test MSE) and fires exactly on time at least as often.
    assert peephole["test_mse"] < 0.95 * lstm["test_mse"]
    assert peephole["exact_timing_accuracy"] >= lstm["exact_timing_accuracy"]


def test_adding_and_timing_figures_are_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("13")
    for name in ("adding_problem_and_gradients", "timing_task"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000, name


def test_hand_bptt_matches_a_finite_difference(lab13):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2))
    y = rng.normal(size=(3, 1))
    weights = [
        rng.normal(size=(2, 4)) * 0.5,
        rng.normal(size=(4, 4)) * 0.5,
        rng.normal(size=4) * 0.1,
        rng.normal(size=(4, 1)),
        rng.normal(size=1),
    ]

    def loss(w):
        h = np.zeros((3, 4))
        for t in range(5):
            h = lab13.simple_rnn_step(x[:, t], h, w[0], w[1], w[2])
        return np.mean((h @ w[3] + w[4] - y) ** 2)

    grads, shares = lab13.bptt_by_hand(x, y, *weights)
    eps = 1e-6
    bumped = [w.copy() for w in weights]
    bumped[1][2, 3] += eps
    numeric = (loss(bumped) - loss(weights)) / eps
    np.testing.assert_allclose(
        grads["recurrent_kernel"][2, 3], numeric, rtol=1e-3, atol=1e-7
    )
    assert shares[0] == 0.0 and len(shares) == 5


def test_timing_task_target_is_one_spike_when_the_interval_ends(lab13):
    x, y, end = lab13.make_timing_task(50, 20, (3, 7), seed=1)
    start = np.argmax(x.max(axis=-1), axis=1)
    channel = np.argmax(x.max(axis=1), axis=-1)
    np.testing.assert_array_equal(end - start, np.array([3, 7])[channel])
    np.testing.assert_array_equal(y[..., 0].sum(axis=1), np.ones(50))
    np.testing.assert_array_equal(np.argmax(y[..., 0], axis=1), end)


def test_timing_scores_reward_only_a_silent_output_with_an_exact_spike(lab13):
    _, y, end = lab13.make_timing_task(40, 20, (3, 7), seed=2)
    perfect = lab13.timing_scores(y[..., 0], y, end)
    assert perfect == {
        "exact_timing_accuracy": 1.0,
        "mean_abs_timing_error": 0.0,
        "spike_height": 1.0,
        "leak": 0.0,
        "test_mse": 0.0,
    }
    early = np.zeros_like(y[..., 0])
    early[np.arange(40), end - 1] = 1.0  # every interval is >= 3 steps
    early = lab13.timing_scores(early, y, end)
    assert early["exact_timing_accuracy"] == 0.0
    assert early["mean_abs_timing_error"] == 1.0
    assert early["spike_height"] == 0.0
    leaky = lab13.timing_scores(y[..., 0] * 0.6 + 0.3, y, end)
    assert leaky["exact_timing_accuracy"] == 1.0  # 0.3 < 0.5 < 0.9
    np.testing.assert_allclose(leaky["leak"], 0.3, rtol=1e-6)
    np.testing.assert_allclose(leaky["spike_height"], 0.9, rtol=1e-6)


def test_forget_bias_one_lets_the_gradient_reach_further_back(run_lab_quick):
    bias = run_lab_quick("13")[2]["forget_bias"]
    assert bias["reach_bias_1"] > 2 * bias["reach_bias_0"]
    # At the first step the gradient is orders of magnitude larger.
    assert (
        bias["first_step_gradient_bias_1"]
        > 1e3 * bias["first_step_gradient_bias_0"]
    )
    # The last step, next to the loss, barely depends on the bias.
    ratio = (
        bias["last_step_gradient_bias_1"] / bias["last_step_gradient_bias_0"]
    )
    assert 0.5 < ratio < 2
