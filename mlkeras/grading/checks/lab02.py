"""Checks for lab 02 (feed-forward): architecture facts of the student's
Keras model and accuracy of a trained one on held-out data that only the
grader can score (the labels never enter the sandbox)."""

import numpy as np
import pytest

from mlkeras.grading.checks._reference import (
    dense_params,
    top_level_classes,
    two_moons,
)
from mlkeras.grading.expect import assert_array, assert_true, assert_type
from mlkeras.grading.proxy import RemoteModel


def _model(submission, rng):
    input_dim, num_classes = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    hidden = [int(n) for n in rng.integers(3, 17, size=int(rng.integers(1, 4)))]
    model = submission.build_mlp(input_dim, hidden, num_classes)
    assert_type(model, RemoteModel, name="build_mlp result (a keras.Model)")
    return model, input_dim, hidden, num_classes


@pytest.mark.call_timeout(180)
def test_build_mlp_has_the_requested_layers_and_parameters(submission, rng):
    model, input_dim, hidden, num_classes = _model(submission, rng)
    classes = top_level_classes(model.facts)
    assert_true(
        classes == ["Dense"] * (len(hidden) + 1),
        "values",
        f"wrong architecture: expected {len(hidden) + 1} Dense layers, "
        f"got {classes}",
    )
    expected = dense_params([input_dim, *hidden, num_classes])
    assert_true(
        model.facts.get("params") == expected,
        "values",
        f"wrong parameter count: expected {expected}, "
        f"got {model.facts.get('params')}",
    )
    assert_true(
        model.facts.get("output_shape") == [None, num_classes],
        "shape",
        f"wrong shape: output {model.facts.get('output_shape')}, expected "
        f"[None, {num_classes}]",
    )


@pytest.mark.call_timeout(180)
def test_build_mlp_outputs_class_probabilities(submission, rng):
    model, input_dim, _, num_classes = _model(submission, rng)
    x = rng.normal(size=(16, input_dim)).astype("float32")
    probabilities = model.predict(x)
    assert_array(
        probabilities,
        np.zeros((16, num_classes), "float32"),
        dtype=np.floating,
        values=False,
        name="predictions",
    )
    assert_array(
        probabilities.sum(axis=1),
        np.ones(16),
        dtype=None,
        rtol=1e-4,
        atol=1e-4,
        name="row sums of the predicted probabilities",
    )


@pytest.mark.call_timeout(240)
def test_trained_classifier_is_accurate_on_held_out_data(submission, rng):
    X, y = two_moons(rng, 1200)
    model = submission.train_classifier(X[:800], y[:800], 2)
    assert_type(
        model, RemoteModel, name="train_classifier result (a keras.Model)"
    )
    predictions = model.predict(X[800:])
    assert_array(
        predictions,
        np.zeros((400, 2), "float32"),
        dtype=np.floating,
        values=False,
        name="predictions",
    )
    accuracy = float(np.mean(predictions.argmax(axis=1) == y[800:]))
    assert_true(
        accuracy >= 0.85,
        "values",
        f"wrong values: held-out accuracy {accuracy:.1%}, below the "
        f"required 85%",
    )
