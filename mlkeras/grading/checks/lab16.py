"""Checks for lab 16 (transfer learning): the frozen base, the new head's
size, the output shape, and partial unfreezing, from the architecture facts
of the student's Keras model."""

import pytest

from mlkeras.grading.expect import assert_true, assert_type
from mlkeras.grading.proxy import RemoteModel

BASE_CHANNELS = 1280  # MobileNetV2's last feature map, whatever alpha (<= 1)


def _model(submission, rng, name, *extra):
    num_classes = int(rng.integers(2, 11))
    model = getattr(submission, name)((64, 64, 3), num_classes, *extra)
    assert_type(model, RemoteModel, name=f"{name} result (a keras.Model)")
    return model, num_classes


def _base(facts):
    nested = [layer for layer in facts.get("layers", []) if "layers" in layer]
    assert_true(
        len(nested) == 1,
        "values",
        f"wrong architecture: expected one nested base model, "
        f"found {len(nested)}",
    )
    return nested[0]


@pytest.mark.call_timeout(240)
def test_frozen_base_leaves_only_the_head_trainable(submission, rng):
    model, num_classes = _model(submission, rng, "build_transfer_model")
    base = _base(model.facts)
    assert_true(
        not base["trainable"] and base["trainable_params"] == 0,
        "values",
        "wrong architecture: the base model is not frozen",
    )
    head = (BASE_CHANNELS + 1) * num_classes
    assert_true(
        model.facts.get("trainable_params") == head,
        "values",
        f"wrong parameter count: "
        f"{model.facts.get('trainable_params')} trainable, "
        f"expected only the head's {head}",
    )
    assert_true(
        model.facts.get("output_shape") == [None, num_classes],
        "shape",
        f"wrong shape: output {model.facts.get('output_shape')}",
    )


@pytest.mark.call_timeout(240)
def test_unfreeze_top_opens_only_the_last_layers(submission, rng):
    count = int(rng.integers(3, 12))
    model, _ = _model(submission, rng, "unfreeze_top", count)
    layers = _base(model.facts)["layers"]
    open_layers = [
        i
        for i, layer in enumerate(layers)
        if layer["trainable"] and layer["trainable_params"] > 0
    ]
    allowed = set(range(len(layers) - count, len(layers)))
    assert_true(
        open_layers and set(open_layers) <= allowed,
        "values",
        f"wrong architecture: trainable base layers at {open_layers}, "
        f"expected only "
        f"within the last {count}",
    )
    assert_true(
        all(
            not layer["trainable"]
            for layer in layers
            if layer["class"] == "BatchNormalization"
        ),
        "values",
        "wrong architecture: a BatchNormalization layer is trainable",
    )
