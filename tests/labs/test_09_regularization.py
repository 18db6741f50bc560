"""Lab 09: L1 sparsity against L2 and elastic net, dropout, early stopping."""

import numpy as np
import pytest

from mlkeras import labs


def lab09_results(run_lab_quick):
    return run_lab_quick("09")[2]


@pytest.fixture(scope="module")
def lab09():
    return labs.load_lab_module(labs.find_lab("09"))


def test_keras_penalties_equal_the_formulas(run_lab_quick):
    results = lab09_results(run_lab_quick)
    for name in ("L1", "L2", "elastic net"):
        assert results["penalty_by_keras"][name] == pytest.approx(
            results["penalty_by_hand"][name], rel=1e-5
        ), name


def test_l1_zeroes_more_weights_than_elastic_net_and_elastic_net_more_than_l2(
    run_lab_quick,
):
    sparsity = lab09_results(run_lab_quick)["sparsity"]
    tolerance = lab09_results(run_lab_quick)["zero_tolerance"]
    counts = {}
    for name, entry in sparsity.items():
        # Recount from the weights themselves rather than trust the summary.
        weights = np.asarray(entry["weights"])
        counts[name] = int(np.sum(np.abs(weights) < tolerance))
        assert counts[name] == entry["zero_weights"], name
    assert counts["L1"] > counts["elastic net"] > counts["L2"]
    # Most of the 35 irrelevant weights are zero under L1, few under L2.
    assert counts["L1"] >= 25
    assert counts["L2"] <= 20
    # L1 selects features: all five that matter survive.
    assert sparsity["L1"]["relevant_kept"] == 5
    # L2 still shrinks the weight vector as a whole.
    assert sparsity["L2"]["weight_l2_norm"] < sparsity["none"]["weight_l2_norm"]


def test_dropout_narrows_the_train_validation_gap(run_lab_quick):
    nets = lab09_results(run_lab_quick)["dropout"]
    plain, dropped = nets["no dropout"], nets["dropout 0.5"]
    # The plain network over-fits: its loss on new points is well above its
    # loss on its own 100.
    assert plain["loss_gap"] > 0.1
    assert dropped["loss_gap"] < 0.8 * plain["loss_gap"]
    assert dropped["val_loss"] < plain["val_loss"]


def test_early_stopping_stops_and_restores_the_best_epoch(run_lab_quick):
    early = lab09_results(run_lab_quick)["early_stopping"]
    assert early["stop_reason"] is not None
    assert early["epochs_run"] < early["max_epochs"]
    assert early["stopped_epoch"] == early["epochs_run"] - 1
    history = early["val_loss_history"]
    assert early["best_epoch"] == int(np.argmin(history))
    assert early["epochs_run"] - 1 - early["best_epoch"] == early["patience"]
    assert early["best"] == pytest.approx(min(history))
    # The weights in the model after fit are the best epoch's.
    assert early["restored_matches_best"]
    assert early["val_loss_after_restore"] == pytest.approx(
        min(history), rel=1e-4
    )
    assert early["val_loss_after_restore"] < early["last_val_loss_seen"]


def test_regularization_figure_is_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("09")
    assert (out_dir / "regularization.png").stat().st_size > 10000


def test_side_by_side_heads_train_like_separate_models(lab09):
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([1.0, 0.0, -2.0]))[:, None].astype("float32")
    regularizers = {"none": None, "L1": keras.regularizers.L1(0.05)}
    together = lab09.fit_linear(x, y, regularizers, epochs=3, seed=0)
    for name, regularizer in regularizers.items():
        alone = lab09.fit_linear(x, y, {name: regularizer}, epochs=3, seed=0)
        # Zero start, same batches: a head trained beside another ends
        # where it ends alone.
        np.testing.assert_allclose(
            together[name], alone[name], rtol=1e-4, atol=1e-6
        )
    assert not np.allclose(together["none"], together["L1"])


def test_dropout_masks_scales_and_is_identity_at_inference(run_lab_quick):
    checks = run_lab_quick("09")[2]["dropout_mechanism"]
    rate = checks["rate"]
    assert abs(checks["dropped_fraction"] - rate) < 4 * checks["binomial_std"]
    assert checks["kept_scale_max_error"] < 1e-5
    assert checks["by_hand_max_abs_diff"] < 1e-5
    assert abs(checks["mean_ratio"] - 1.0) < 0.01
    assert checks["inference_max_abs_diff"] == 0.0


def test_dropout_by_hand_zeroes_and_rescales(lab09):
    x = np.full((2, 3), 2.0, dtype="float32")
    keep = np.array([[True, False, True], [False, False, True]])
    out = lab09.dropout_by_hand(x, keep, 0.5)
    np.testing.assert_array_equal(out, np.where(keep, 4.0, 0.0))


def test_averaging_masked_networks_approaches_the_inference_network(
    run_lab_quick,
):
    ensemble = run_lab_quick("09")[2]["dropout_ensemble"]
    diffs = [r["mean_abs_diff_from_inference"] for r in ensemble["rows"]]
    assert diffs[-1] < diffs[0]
    assert diffs[-1] < 0.05
    assert (
        abs(ensemble["rows"][-1]["accuracy"] - ensemble["inference_accuracy"])
        < 0.02
    )
