"""Lab 12: at equal depth a residual network trains further than a plain one."""

import numpy as np
import pytest

from mlkeras import labs


def lab12_results(run_lab_quick):
    return run_lab_quick("12")[2]


@pytest.fixture(scope="module")
def lab12():
    return labs.load_lab_module(labs.find_lab("12"))


def test_residual_network_reaches_a_lower_loss_at_equal_depth(run_lab_quick):
    results = lab12_results(run_lab_quick)
    assert results["depth"] >= 20
    assert results["same_parameter_count"] is True
    assert results["residual_final_loss"] < 0.6 * results["plain_final_loss"]
    residual = results["runs"][f"residual {results['depth']}"]
    plain = results["runs"][f"plain {results['depth']}"]
    assert residual["test_accuracy"] > plain["test_accuracy"] + 0.2


def test_gradient_norms_are_logged_for_every_layer(run_lab_quick):
    results = lab12_results(run_lab_quick)
    depth = results["depth"]
    for run in results["runs"].values():
        if run["depth"] != depth:
            continue
        for key in (
            "grad_norm_per_layer_first_step",
            "grad_norm_per_layer_last_epoch",
        ):
            norms = np.array(run[key])
            assert norms.shape == (depth,)
            assert np.all(np.isfinite(norms)) and np.all(norms > 0)


def test_skips_carry_more_gradient_to_the_first_layer(run_lab_quick):
    runs = lab12_results(run_lab_quick)["runs"]
    depth = lab12_results(run_lab_quick)["depth"]
    residual, plain = runs[f"residual {depth}"], runs[f"plain {depth}"]
    assert (
        residual["grad_norm_first_layer_first_step"]
        > 5 * plain["grad_norm_first_layer_first_step"]
    )
    assert (
        residual["first_to_last_ratio_first_step"]
        > plain["first_to_last_ratio_first_step"]
    )


def test_plain_and_residual_networks_have_the_same_layers(lab12):
    plain = lab12.build_network(5, residual=False)
    residual = lab12.build_network(5, residual=True)
    assert plain.count_params() == residual.count_params()
    dense = [layer.name for layer in residual.layers if "dense" in layer.name]
    assert len(dense) == 5
    assert (
        len([layer for layer in residual.layers if "skip" in layer.name]) == 5
    )


def test_a_residual_layer_with_zero_weights_is_the_identity(lab12):
    model = lab12.build_network(4, residual=True)
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    projection = model.get_layer("projection")
    before = np.asarray(projection(x.reshape(3, 64)))
    for i in range(4):
        layer = model.get_layer(f"dense_{i:02d}")
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    hidden = model.get_layer("skip_03").output
    import keras

    features = keras.Model(model.inputs[0], hidden)
    np.testing.assert_allclose(np.asarray(features(x)), before, atol=1e-6)
