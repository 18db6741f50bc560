"""Lab 05: vanishing gradients, three fixes, exploding gradients, clipping."""

import math

import numpy as np
import pytest

from mlkeras import labs


def lab05_results(run_lab_quick):
    return run_lab_quick("05")[2]


@pytest.fixture(scope="module")
def lab05():
    return labs.load_lab_module(labs.find_lab("05"))


def test_sigmoid_first_layer_gradient_is_orders_of_magnitude_below_output(
    run_lab_quick,
):
    sigmoid = lab05_results(run_lab_quick)["vanishing"]["sigmoid"]
    assert sigmoid["first_to_last_ratio"] < 1e-3
    # The norm shrinks layer by layer on the way down.
    per_layer = sigmoid["per_layer_median_norm"]
    assert all(a < b for a, b in zip(per_layer[:-1], per_layer[1:]))
    assert sigmoid["verdict"] == "vanishing"
    assert sigmoid["logger_vanishing_warning"]


def test_relu_he_batchnorm_and_residual_each_raise_the_first_layer_gradient(
    run_lab_quick,
):
    results = lab05_results(run_lab_quick)
    sigmoid_ratio = results["sigmoid_first_to_last_ratio"]
    for kind in ("relu_he", "batchnorm", "residual"):
        run = results["vanishing"][kind]
        assert results["fix_first_layer_norm_gain"][kind] > 100, kind
        assert run["first_to_last_ratio"] > 100 * sigmoid_ratio, kind
        assert run["verdict"] == "healthy", kind
        assert not run["logger_vanishing_warning"], kind
        # Its first layer learns; the sigmoid network's hardly moves.
        assert (
            run["first_layer_relative_change"]
            > 100
            * results["vanishing"]["sigmoid"]["first_layer_relative_change"]
        ), kind


def test_large_initialisation_explodes_and_clipping_keeps_training_finite(
    run_lab_quick,
):
    explode = lab05_results(run_lab_quick)["exploding"]
    raw = explode["no clipping"]
    assert not raw["loss_finite"]
    assert raw["nonfinite_records"] > 0
    assert raw["verdict"] == "exploding" and raw["logger_exploding_warning"]
    for name in ("clipnorm=1.0", "clipvalue=0.5"):
        clipped = explode[name]
        assert clipped["loss_finite"] and clipped["weights_finite"], name
        assert clipped["nonfinite_records"] == 0, name
        assert math.isfinite(clipped["final_loss"]), name
        # The same large gradient arrives; only the step is capped.
        assert clipped["first_global_norm"] == pytest.approx(
            raw["first_global_norm"], rel=1e-3
        ), name


def test_gradient_norm_figure_is_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("05")
    assert (out_dir / "gradient_norms.png").stat().st_size > 10000


def test_diagnose_names_each_problem_from_a_history(lab05):
    steps = [1, 2, 3]
    healthy = {
        "grad_norm": [1.0, 1.0, 1.0],
        "grad_norm/dense_01": [0.5] * 3,
        "grad_norm/output": [1.0] * 3,
        "step": steps,
    }
    assert lab05.diagnose(healthy)["verdict"] == "healthy"
    vanishing = dict(healthy, **{"grad_norm/dense_01": [1e-6, 1e-5, 1e-6]})
    report = lab05.diagnose(vanishing)
    assert report["verdict"] == "vanishing"
    assert report["first_to_last_ratio"] == pytest.approx(1e-6)
    exploding = dict(healthy, grad_norm=[1.0, float("nan"), 2.0])
    report = lab05.diagnose(exploding)
    assert report["verdict"] == "exploding"
    assert report["nonfinite_records"] == 1
    big = dict(healthy, grad_norm=[1.0, 10 * lab05.EXPLODING, 2.0])
    assert lab05.diagnose(big)["verdict"] == "exploding"


def test_every_fix_network_has_the_named_hidden_layers(lab05):
    for kind in lab05.FIXES:
        model = lab05.build_mlp(kind, depth=3, width=4)
        names = [layer.name for layer in model.layers]
        assert {"dense_01", "dense_02", "dense_03", "output"} <= set(names)
        assert model.output_shape == (None, 10)
    with pytest.raises(ValueError, match="kind='bogus'"):
        lab05.build_mlp("bogus")


def test_clipping_shrinks_the_applied_norm_but_not_to_learning(run_lab_quick):
    results = run_lab_quick("05")[2]
    chance = results["chance_loss"]
    np.testing.assert_allclose(chance, np.log(10))
    for name in ("clipnorm=1.0", "clipvalue=0.5"):
        r = results["exploding"][name]
        before = np.asarray(r["norm_before_clipping"])
        after = np.asarray(r["norm_after_clipping"])
        assert before.shape == after.shape
        assert np.all(after <= before * (1 + 1e-4)), name
        assert r["median_norm_after_clipping"] < (
            0.1 * r["median_norm_before_clipping"]
        )
        # Finite, but still worse than guessing uniformly.
        assert r["weights_finite"] and r["final_loss"] > chance, name
    # clipnorm caps each variable's gradient at norm 1: 14 variables.
    clipped = results["exploding"]["clipnorm=1.0"]["norm_after_clipping"]
    assert max(clipped) <= np.sqrt(14) * (1 + 1e-4)
