"""Checks for lab 12 (residual networks): architecture facts of the
student's residual and plain Keras models."""

import numpy as np
import pytest

from mlkeras.grading.checks._reference import dense_params, top_level_classes
from mlkeras.grading.expect import assert_array, assert_true, assert_type
from mlkeras.grading.proxy import RemoteModel


def _sizes(rng):
    return (
        int(rng.integers(2, 9)),
        int(rng.integers(4, 17)),
        int(rng.integers(2, 5)),
        int(rng.integers(2, 6)),
    )


def _expected_params(input_dim, width, blocks, num_classes):
    return (
        dense_params([input_dim, width])
        + blocks * 2 * dense_params([width, width])
        + dense_params([width, num_classes])
    )


@pytest.mark.call_timeout(180)
def test_residual_mlp_has_one_add_per_block_and_the_right_size(submission, rng):
    input_dim, width, blocks, num_classes = _sizes(rng)
    model = submission.build_residual_mlp(input_dim, width, blocks, num_classes)
    assert_type(
        model, RemoteModel, name="build_residual_mlp result (a keras.Model)"
    )
    classes = top_level_classes(model.facts)
    assert_true(
        classes.count("Add") == blocks,
        "values",
        f"wrong architecture: expected {blocks} Add layers, "
        f"got {classes.count('Add')}",
    )
    assert_true(
        classes.count("Dense") == 2 * blocks + 2,
        "values",
        f"wrong architecture: expected {2 * blocks + 2} Dense layers, "
        f"got {classes.count('Dense')}",
    )
    expected = _expected_params(input_dim, width, blocks, num_classes)
    assert_true(
        model.facts.get("params") == expected,
        "values",
        f"wrong parameter count: expected {expected}, "
        f"got {model.facts.get('params')}",
    )
    x = rng.normal(size=(8, input_dim)).astype("float32")
    probabilities = model.predict(x)
    assert_array(
        probabilities.sum(axis=1)
        if isinstance(probabilities, np.ndarray)
        else probabilities,
        np.ones(8),
        dtype=None,
        rtol=1e-4,
        atol=1e-4,
        name="row sums of the predicted probabilities",
    )


@pytest.mark.call_timeout(180)
def test_plain_mlp_matches_the_residual_one_without_skips(submission, rng):
    input_dim, width, blocks, num_classes = _sizes(rng)
    model = submission.build_plain_mlp(input_dim, width, blocks, num_classes)
    assert_type(
        model, RemoteModel, name="build_plain_mlp result (a keras.Model)"
    )
    classes = top_level_classes(model.facts)
    assert_true(
        "Add" not in classes,
        "values",
        "wrong architecture: the plain network has Add layers",
    )
    expected = _expected_params(input_dim, width, blocks, num_classes)
    assert_true(
        model.facts.get("params") == expected,
        "values",
        f"wrong parameter count: expected {expected}, "
        f"got {model.facts.get('params')}",
    )
    assert_true(
        model.facts.get("output_shape") == [None, num_classes],
        "shape",
        f"wrong shape: output {model.facts.get('output_shape')}",
    )
