"""Lab 02 proves what it teaches: width helps, linear depth does not."""

import importlib.util
import pathlib

import numpy as np
import pytest

LAB_ID = "02_feedforward"
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(run_lab_quick):
    """The session's one quick run of this lab: (process, out_dir, results)."""
    return run_lab_quick(LAB_ID)


def load_lab_module():
    spec = importlib.util.spec_from_file_location(
        "lab_02", REPO_ROOT / "labs" / f"{LAB_ID}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab_prints_a_summary_and_saves_its_figures(lab):
    proc, out_dir, _ = lab
    assert "Summary:" in proc.stdout
    for name in ("width.png", "depth_without_activation.png"):
        assert (out_dir / name).stat().st_size > 1000


def test_trained_error_falls_as_the_hidden_layer_widens(lab):
    _, _, results = lab
    errors = [results["trained_mse_by_width"][str(w)] for w in (1, 4, 16, 64)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 100, errors


def test_hand_built_staircase_error_falls_with_width(lab):
    _, _, results = lab
    errors = [results["handmade_mse_by_width"][str(w)] for w in (1, 4, 16, 64)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


def test_deep_network_without_activations_fits_like_one_dense_layer(lab):
    _, _, results = lab
    single = results["single_dense_mse"]
    np.testing.assert_allclose(results["deep_linear_mse"], single, rtol=1e-3)
    np.testing.assert_allclose(single, results["least_squares_mse"], rtol=1e-3)
    np.testing.assert_allclose(
        results["deep_linear_collapsed_slope"],
        results["single_dense_slope"],
        atol=1e-3,
    )
    assert results["deep_linear_collapse_max_abs_diff"] < 1e-4
    # The same depth with tanh is far better: the activations are what count.
    assert results["deep_tanh_mse"] < single / 10


def test_hand_counted_parameters_equal_keras_counts(lab):
    _, _, results = lab
    assert len(results["parameter_counts"]) >= 3
    for entry in results["parameter_counts"]:
        sizes = entry["layers"]
        expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        assert entry["by_hand"] == entry["keras"] == expected, entry


def test_hand_forward_pass_matches_keras(lab):
    _, _, results = lab
    # relu([1, -2] @ W1 + b1) @ W2 + b2 with the lab's weights, by hand.
    assert results["forward_pass_hand"] == pytest.approx(0.825)
    assert results["forward_pass_max_abs_diff"] < 1e-5


def test_parameter_count_helper_matches_keras_for_other_shapes():
    import keras

    module = load_lab_module()
    for sizes in [(3, 1), (5, 7, 2), (10, 1, 10, 1)]:
        model = keras.Sequential(
            [keras.Input((sizes[0],))]
            + [keras.layers.Dense(units) for units in sizes[1:]]
        )
        assert module.count_parameters_by_hand(sizes) == model.count_params()


def test_staircase_weights_follow_the_function():
    module = load_lab_module()
    kernel, bias, out_kernel, out_bias = module.staircase_weights(
        200, -1.0, 1.0, np.square
    )
    x = np.linspace(-0.95, 0.95, 101)[:, None]
    hidden = 0.5 * (1.0 + np.tanh(0.5 * (x @ kernel + bias)))  # sigmoid
    approx = hidden @ out_kernel + out_bias
    np.testing.assert_allclose(approx[:, 0], x[:, 0] ** 2, atol=0.02)
