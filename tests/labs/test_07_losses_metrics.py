"""Lab 07: hand-written losses equal Keras's; KL's
properties; loss vs metric.
"""

import numpy as np
import pytest

from mlkeras import labs

LOSSES = (
    "MSE",
    "MAE",
    "MSLE",
    "BCE",
    "BCE from logits",
    "CCE",
    "CCE from logits",
    "sparse CCE",
    "KL divergence",
)


def lab07_results(run_lab_quick):
    return run_lab_quick("07")[2]


@pytest.fixture(scope="module")
def lab07():
    return labs.load_lab_module(labs.find_lab("07"))


def test_every_hand_written_loss_equals_keras_losses(run_lab_quick):
    comparison = lab07_results(run_lab_quick)["keras_comparison"]
    assert set(comparison) == set(LOSSES)
    for name, row in comparison.items():
        assert row["mean_by_hand"] > 0, name
        assert row["max_abs_diff"] < 1e-5 * max(1.0, row["mean_keras"]), name


def test_sparse_and_one_hot_categorical_crossentropy_agree(run_lab_quick):
    assert lab07_results(run_lab_quick)["sparse_vs_onehot_max_abs_diff"] < 1e-6


def test_kl_divergence_is_non_negative_zero_only_at_equality(run_lab_quick):
    kl = lab07_results(run_lab_quick)["kl"]
    assert kl["kl_min_over_random_pairs"] > 0
    assert kl["kl_self_max"] < 1e-9
    assert kl["kl_mean_asymmetry"] > 0.05
    assert kl["kl_equals_cross_entropy_minus_entropy"] < 1e-6
    path = list(kl["kl_along_blend"].values())
    assert all(a > b for a, b in zip(path, path[1:]))
    assert path[-1] < 1e-9


def test_mse_prefers_the_mean_and_mae_the_median(run_lab_quick):
    rewards = lab07_results(run_lab_quick)["rewards"]
    assert (
        abs(rewards["best_constant_mse"] - rewards["outlier_data_mean"]) < 0.02
    )
    assert (
        abs(rewards["best_constant_mae"] - rewards["outlier_data_median"]) < 0.2
    )
    assert (
        rewards["msle_under_predict_half"]
        > 2 * rewards["msle_over_predict_half"]
    )
    assert abs(rewards["grad_wrt_logit_bce_confidently_wrong"]) > 100 * abs(
        rewards["grad_wrt_logit_mse_confidently_wrong"]
    )


def test_accuracy_and_loss_move_differently_during_training(run_lab_quick):
    results = lab07_results(run_lab_quick)
    same = results["same_accuracy"]
    assert same["confident"]["accuracy"] == same["hesitant"]["accuracy"]
    assert abs(same["confident"]["bce"] - same["hesitant"]["bce"]) > 0.05
    watch = results["disagreements"]
    train = watch["train"]
    # The training loss falls in epochs where the accuracy stays put or drops.
    assert train["loss_down_accuracy_not_up"] >= 0.2 * train["epochs_compared"]
    val = watch["validation"]
    assert (
        val["loss_down_accuracy_not_up"] + val["loss_up_accuracy_not_down"] >= 3
    )
    training = results["training"]
    assert training["loss"][-1] < 0.5 * training["loss"][0]


def test_kl_divergence_by_hand_matches_its_definition(lab07):
    p = np.array([[0.5, 0.5, 0.0]])
    q = np.array([[0.25, 0.25, 0.5]])
    # The zero entry of p contributes (almost, after clipping) nothing; the
    # two halves give log(2) / 2 each.
    np.testing.assert_allclose(
        lab07.kl_divergence(p, q), [np.log(2)], atol=1e-5
    )


def test_binary_crossentropy_from_logits_is_finite_for_huge_logits(lab07):
    loss = lab07.binary_crossentropy_from_logits(
        np.array([[1.0, 0.0]]), np.array([[-1000.0, 1000.0]])
    )
    np.testing.assert_allclose(loss, [1000.0])
