"""Lab 16: a base pretrained offline, reused from its weights file, beats
training from scratch with few labels; feature extraction vs fine-tuning."""

import keras
import numpy as np
import pytest

from mlkeras import labs, transfer


def lab16_run(run_lab_quick):
    return run_lab_quick("16")


@pytest.fixture(scope="module")
def lab16():
    return labs.load_lab_module(labs.find_lab("16"))


def test_applications_table_comes_from_model_info(run_lab_quick):
    results = lab16_run(run_lab_quick)[2]
    table = {row["name"]: row for row in results["applications_table"]}
    # The 18 models of the course notes' table, with two of its rows as given
    # there (Xception: 88 MB, 79.0 %, 22.9M; NASNetLarge: 82.5 %, 88.9M).
    assert len(table) == 18
    assert (
        table["Xception"]["size_mb"],
        table["Xception"]["top1"],
        table["Xception"]["parameters"],
    ) == (88, 0.79, 22_900_000)
    assert table["NASNetLarge"]["top1"] == 0.825
    assert table["NASNetLarge"]["parameters"] == 88_900_000
    assert results["most_accurate"] == "NASNetLarge"
    assert results["smallest"] == "MobileNetV2"
    assert results["applications_listed"] == len(transfer.list_models())
    for name, row in table.items():
        info = transfer.model_info(name)
        assert row["depth"] == info.depth
        assert row["preprocessing"] == info.preprocessing
    assert all(
        row["name"] not in table for row in results["applications_not_in_table"]
    )


def test_preprocessing_examples_match_the_modes(run_lab_quick):
    prep = lab16_run(run_lab_quick)[2]["preprocessing_examples"]
    # "tf" maps [0, 255] to [-1, 1]; "builtin" leaves pixels alone; "caffe"
    # reorders to BGR and subtracts the ImageNet means (no scaling).
    assert prep["MobileNetV2"]["black"] == [-1.0, -1.0, -1.0]
    assert prep["MobileNetV2"]["red"] == [1.0, -1.0, -1.0]
    assert prep["EfficientNetB0"]["red"] == [255.0, 0.0, 0.0]
    caffe = prep["VGG16"]
    assert caffe["mode"] == "caffe"
    np.testing.assert_allclose(
        np.array(caffe["red"]) - np.array(caffe["black"]),
        [0, 0, 255],
        atol=0.02,
    )


def test_base_is_pretrained_checked_and_saved_under_out(run_lab_quick, lab16):
    _, out_dir, results = lab16_run(run_lab_quick)
    assert results["source_test_accuracy"] >= 0.9
    path = out_dir / results["weights_file"]
    assert path.stat().st_size == results["weights_file_bytes"] > 10_000
    # The saved file holds a base that build_transfer_model can load again.
    model = transfer.build_transfer_model(
        lab16.make_base(), 3, weights=str(path)
    )
    assert results["loaded_weights_max_diff"] == 0
    assert model.count_params() == results["base_parameters"] + 32 * 3 + 3


def test_transferred_base_beats_training_from_scratch(run_lab_quick):
    results = lab16_run(run_lab_quick)[2]
    assert results["labelled_images"] <= 20
    scratch = results["scratch_test_accuracy"]
    assert results["feature_extraction_test_accuracy"] >= scratch + 0.05
    assert results["fine_tuning_test_accuracy"] >= scratch + 0.05
    assert results["fine_tuning_test_accuracy"] >= 0.85


def test_feature_extraction_freezes_and_fine_tuning_changes_only_kernels(
    run_lab_quick, lab16
):
    results = lab16_run(run_lab_quick)[2]
    assert results["extraction_kernel_change"] == 0
    assert results["extraction_batchnorm_change"] == 0
    assert results["fine_tuning_kernel_change"] > 1e-4
    assert results["fine_tuning_batchnorm_change"] == 0
    assert results["trainable_base_weights_in_fine_tuning"] == 3
    head, tune = results["epochs"]
    # Phase two runs at the lower rate, read back from the history.
    assert lab16.FINE_TUNE_LEARNING_RATE < lab16.HEAD_LEARNING_RATE
    assert results["learning_rate"] == (
        [lab16.HEAD_LEARNING_RATE] * head
        + [lab16.FINE_TUNE_LEARNING_RATE] * tune
    )
    # Fine-tuning keeps what feature extraction reached (small tolerance).
    assert (
        results["fine_tuning_test_accuracy"]
        >= results["feature_extraction_test_accuracy"] - 0.05
    )


def test_unscaled_pixels_break_the_model(run_lab_quick):
    results = lab16_run(run_lab_quick)[2]
    assert results["unscaled_test_accuracy"] <= 0.6
    assert results["test_accuracy"] - results["unscaled_test_accuracy"] >= 0.25


def test_figures_are_saved(run_lab_quick):
    _, out_dir, _ = lab16_run(run_lab_quick)
    for name in ("applications", "source_and_target", "transfer_vs_scratch"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000


def test_largest_change_separates_kernels_from_batchnorm_statistics(lab16):
    before = {
        "conv1/kernel": np.zeros(3),
        "bn1/moving_mean": np.zeros(2),
        "bn1/gamma": np.ones(2),
    }
    after = {
        "conv1/kernel": np.array([0.0, -0.5, 0.2]),
        "bn1/moving_mean": np.array([0.0, 0.1]),
        "bn1/gamma": np.array([1.0, 3.0]),
    }
    assert lab16.largest_change(before, after, "kernel") == 0.5
    assert lab16.largest_change(before, after, "bn") == 2.0


def test_accuracy_reads_sigmoid_and_softmax_outputs(lab16):
    x = np.array([[-2.0], [0.5], [3.0]], dtype="float32")
    y = np.array([0, 1, 0])
    sigmoid = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                1, activation="sigmoid", kernel_initializer="ones"
            ),
        ]
    )
    # Probabilities 0.12, 0.62, 0.95 -> classes 0, 1, 1: two of three right.
    assert lab16.accuracy(sigmoid, x, y) == pytest.approx(2 / 3)
    softmax = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                2,
                activation="softmax",
                kernel_initializer=keras.initializers.Constant([[1.0, -1.0]]),
            ),
        ]
    )
    # Logits (x, -x): class 0 wins for x > 0 -> predictions 1, 0, 0.
    assert lab16.accuracy(softmax, x, y) == pytest.approx(1 / 3)
