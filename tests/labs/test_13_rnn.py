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
        run_lab_quick):
    results = lab13_results(run_lab_quick)
    assert results["bptt_max_relative_diff"] < 1e-4
    ratios = results["spectral_norm_gradient_ratio_at_49_steps"]
    np.testing.assert_allclose(ratios["linear s=0.9"], 0.9 ** 49, rtol=1e-6)
    np.testing.assert_allclose(ratios["linear s=1.0"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(ratios["linear s=1.1"], 1.1 ** 49, rtol=1e-6)
    assert ratios["tanh s=1.0"] < 1e-2


def test_simple_rnn_fails_the_adding_problem_where_gated_layers_succeed(
        run_lab_quick):
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
        2 * bidirectional["forward_features"])
    stateful = results["stateful"]
    assert stateful["stateful_chunks_vs_whole_max_abs_diff"] < 1e-5
    assert stateful["reset_between_chunks_vs_whole_max_abs_diff"] > 1e-3


def test_both_lstms_learn_to_time_the_interval(run_lab_quick):
    timing = lab13_results(run_lab_quick)["timing"]
    for kind in ("LSTM", "PeepholeLSTM"):
        # A model that never switches on, or switches on at the start,
        # is many steps off; both learn to switch within a step.
        assert timing[kind]["within_one_step"] > 0.9, kind
        assert timing[kind]["mean_abs_timing_error"] < 1.0, kind


def test_adding_and_timing_figures_are_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("13")
    for name in ("adding_problem_and_gradients", "timing_task"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000, name


def test_hand_bptt_matches_a_finite_difference(lab13):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2))
    y = rng.normal(size=(3, 1))
    weights = [rng.normal(size=(2, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.5,
               rng.normal(size=4) * 0.1, rng.normal(size=(4, 1)),
               rng.normal(size=1)]

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
    np.testing.assert_allclose(grads["recurrent_kernel"][2, 3], numeric,
                               rtol=1e-3, atol=1e-7)
    assert shares[0] == 0.0 and len(shares) == 5


def test_timing_task_target_switches_on_when_the_interval_ends(lab13):
    x, y, end = lab13.make_timing_task(50, 20, (3, 7), seed=1)
    start = np.argmax(x.max(axis=-1), axis=1)
    channel = np.argmax(x.max(axis=1), axis=-1)
    np.testing.assert_array_equal(end - start, np.array([3, 7])[channel])
    np.testing.assert_array_equal(lab13.switch_step(y[..., 0]), end)
