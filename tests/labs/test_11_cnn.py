"""Lab 11: conv shapes follow the formulas; pooling; a CNN beats a same-size
MLP.
"""

import numpy as np
import pytest

from mlkeras import labs


def lab11_results(run_lab_quick):
    return run_lab_quick("11")[2]


@pytest.fixture(scope="module")
def lab11():
    return labs.load_lab_module(labs.find_lab("11"))


def test_every_conv_output_shape_equals_the_formula(run_lab_quick):
    results = lab11_results(run_lab_quick)
    assert results["shapes_matched"] == results["shapes_checked"] >= 40
    layers = {row["layer"] for row in results["shapes"]}
    assert {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose"} <= layers
    paddings = {(row["layer"], row["padding"]) for row in results["shapes"]}
    assert ("Conv2D", "valid") in paddings and ("Conv2D", "same") in paddings
    assert len({row["stride"] for row in results["shapes"]}) >= 3


def test_conv2d_is_the_hand_written_cross_correlation(run_lab_quick):
    conv = lab11_results(run_lab_quick)["convolution"]
    assert conv["conv2d_valid_max_abs_diff"] < 1e-5
    assert conv["conv2d_same_max_abs_diff"] < 1e-5
    assert conv["conv2d_valid_shape"] == [6, 6]
    assert conv["conv2d_same_shape"] == [8, 8]
    assert conv["valid_windows_per_corner_pixel"] == 1
    assert conv["same_windows_per_corner_pixel"] == 4
    assert conv["causal_outputs_changed_before_t0"] == 0
    assert conv["same_outputs_changed_before_t0"] > 0


def test_max_and_average_pooling_match_keras_and_tolerate_shifts(run_lab_quick):
    pool = lab11_results(run_lab_quick)["pooling"]
    grid = np.array(pool["example_input"])
    blocks = grid.reshape(2, 2, 2, 2).swapaxes(1, 2).reshape(2, 2, 4)
    np.testing.assert_array_equal(pool["max_pool"], blocks.max(axis=-1))
    np.testing.assert_allclose(pool["average_pool"], blocks.mean(axis=-1))
    assert pool["max_pool_max_abs_diff"] == 0
    assert pool["average_pool_max_abs_diff"] < 1e-6
    assert pool["pooling_params"] == 0 < pool["strided_conv_params"]
    assert pool["same_pool_3_stride_2_on_7x7"] == [4, 4]
    assert pool["shift_change_max_pool_2"] < pool["shift_change_raw"]
    assert pool["shift_change_max_pool_4"] < pool["shift_change_max_pool_2"]


def test_cnn_beats_an_mlp_of_the_same_size(run_lab_quick):
    results = lab11_results(run_lab_quick)
    difference = abs(results["cnn_params"] - results["mlp_params"])
    assert difference < 0.05 * results["cnn_params"]
    # Quick mode trains for a few epochs only; full mode reaches >= 95 %.
    assert results["cnn_test_accuracy"] >= 0.9
    assert results["cnn_test_accuracy"] >= results["mlp_test_accuracy"] - 0.03
    assert (
        results["cnn_shifted_test_accuracy"]
        > results["mlp_shifted_test_accuracy"] + 0.1
    )


def test_augmentation_helps_a_small_training_set_on_moved_digits(run_lab_quick):
    results = lab11_results(run_lab_quick)
    assert results["augmentation_mean_pixel_change"] > 0.01
    small = results["small_training_set"]
    assert (
        small["augmentation"]["shifted_test_accuracy"]
        > small["no augmentation"]["shifted_test_accuracy"] + 0.1
    )
    assert small["augmentation"]["test_accuracy"] > 0.7


def test_kernel_and_feature_map_figures_are_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("11")
    for name in ("learned_kernels", "feature_maps", "augmentation"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000, name


def test_output_length_formulas(lab11):
    assert lab11.conv_output_length(32, 5, 1, "valid") == 28
    assert lab11.conv_output_length(32, 3, 2, "same") == 16
    assert lab11.conv_output_length(10, 3, 1, "valid", dilation=2) == 6
    assert lab11.transpose_output_length(4, 3, 2, "valid") == 9
    assert lab11.transpose_output_length(4, 3, 2, "same") == 8


def test_pool_2d_takes_block_maxima(lab11):
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(
        lab11.pool_2d(x, 2, np.max), [[5.0, 7.0], [13.0, 15.0]]
    )
