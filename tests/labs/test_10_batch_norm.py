"""Lab 10: batch norm from scratch equals Keras's; it speeds up training."""

import numpy as np
import pytest

from mlkeras import labs


def lab10_results(run_lab_quick):
    return run_lab_quick("10")[2]


@pytest.fixture(scope="module")
def lab10():
    return labs.load_lab_module(labs.find_lab("10"))


@pytest.mark.parametrize("case", ["keras_dense", "keras_conv"])
def test_numpy_batch_norm_matches_keras_in_training_and_inference(
    run_lab_quick, case
):
    row = lab10_results(run_lab_quick)[case]
    assert row["train_max_abs_diff"] < 1e-4
    assert row["moving_stats_max_abs_diff"] < 1e-4
    assert row["inference_max_abs_diff"] < 1e-4


def test_gamma_and_beta_can_undo_the_normalization(run_lab_quick):
    results = lab10_results(run_lab_quick)
    assert results["undo_max_abs_diff_from_input"] < 1e-9
    assert results["normalized_mean_max_abs"] < 1e-9
    assert results["normalized_std_max_dev_from_1"] < 1e-3


def test_a_batch_of_one_comes_out_as_beta_in_training_mode(run_lab_quick):
    assert (
        lab10_results(run_lab_quick)["batch_of_one_max_abs_diff_from_beta"]
        < 1e-9
    )


def test_batch_norm_reaches_the_target_loss_in_fewer_epochs(run_lab_quick):
    training = lab10_results(run_lab_quick)["training"]
    plain, bn = training["plain"], training["batch norm"]
    assert bn["epochs_to_target"] is not None
    assert plain["epochs_to_target"] is None or (
        bn["epochs_to_target"] < plain["epochs_to_target"]
    )
    assert bn["loss"][-1] < plain["loss"][-1]


def test_moving_averages_are_used_at_inference(lab10):
    layer = lab10.NumpyBatchNorm(2, momentum=0.5)
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean, [1.0, 10.0])
    np.testing.assert_allclose(layer.moving_variance, [1.0, 50.5])
    out = layer(np.array([[1.0, 10.0]]), training=False)
    np.testing.assert_allclose(out, [[0.0, 0.0]], atol=1e-12)


def test_statistics_are_per_channel_for_images(lab10):
    layer = lab10.NumpyBatchNorm(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 5, 3)) * [1.0, 5.0, 0.1] + [0.0, -2.0, 7.0]
    y = layer(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-9)
    # Unit variance, except for what epsilon holds back on the small channel.
    variance = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(
        y.std(axis=(0, 1, 2)), np.sqrt(variance / (variance + layer.epsilon))
    )
    assert abs(y[..., 1].std() - 1) < 1e-3


def test_layer_norm_by_hand_equals_keras_in_both_modes(run_lab_quick):
    checks = run_lab_quick("10")[2]["layer_norm"]
    assert checks["train_max_abs_diff"] < 1e-5
    assert checks["inference_max_abs_diff"] < 1e-5


def test_batch_norm_depends_on_the_batch_and_layer_norm_does_not(
    run_lab_quick,
):
    rows = run_lab_quick("10")[2]["batch_size_dependence"]
    bn = [r["batch_norm_spread"] for r in rows]
    assert np.all(np.diff(bn) < 0), bn  # less spread in larger batches
    assert bn[0] > 0.3
    assert max(r["layer_norm_spread"] for r in rows) < 1e-5


def test_layer_norm_by_hand_normalizes_each_example(lab10):
    x = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]])
    y = lab10.layer_norm_by_hand(x, np.ones(3), np.zeros(3), epsilon=0.0)
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=1), 1.0)
