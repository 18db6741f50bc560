"""`freeze`, `unfreeze` and `get_base`: which weights a fine-tune may change.

Keras needs a `compile()` after any change to `trainable` before the change
affects `fit()`; `fine_tune` does that for you.
"""

import keras

from mlkeras.transfer.inference_mode import InferenceMode


def _all_layers(layer):
    """The layer and every layer nested in it, depth first."""
    if hasattr(layer, "_flatten_layers"):
        return list(layer._flatten_layers(include_self=True, recursive=True))
    found = [layer]
    for child in getattr(layer, "layers", []):
        found.extend(_all_layers(child))
    return found


def get_base(model):
    """Returns the pretrained base inside a transfer model.

    That is the nested `keras.Model` holding the most weights, looking
    inside `InferenceMode` wrappers too (a model from `build_transfer_model`
    holds the base, wrapped, and perhaps a weightless augmentation
    `Sequential`). A model without nested models is its own base.

    Args:
        model: a `keras.Model`.

    Returns:
        The base, a `keras.Model`.

    Example:

    >>> model = build_transfer_model("MobileNetV3Small", 3, weights=None,
    ...                              input_shape=(32, 32, 3))
    >>> get_base(model).name
    'MobileNetV3Small'
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model={model!r}"
        )
    inner = [
        layer.layer if isinstance(layer, InferenceMode) else layer
        for layer in model.layers
    ]
    nested = [layer for layer in inner if isinstance(layer, keras.Model)]
    if not nested:
        return model
    return max(nested, key=lambda layer: len(layer.weights))


def freeze(model):
    """Freezes the base of a transfer model (or a whole plain model).

    Sets `trainable = False` on the base that `get_base` finds, which
    freezes every layer in it; the head keeps its setting. Recompile the
    model afterwards.

    Args:
        model: a model from `build_transfer_model`, or any `keras.Model`
            (without nested models, all of it is frozen).

    Returns:
        `model`, for chaining.

    Example:

    >>> model = freeze(model)
    >>> model.compile("adam", loss=head_loss(3))
    """
    get_base(model).trainable = False
    return model


def _check_layer_choice(base, last_n_layers, from_layer):
    if last_n_layers is not None and from_layer is not None:
        raise ValueError(
            "Pass `last_n_layers` or `from_layer`, not both. Received: "
            f"last_n_layers={last_n_layers!r}, from_layer={from_layer!r}"
        )
    count = len(base.layers)
    if last_n_layers is not None:
        if (
            isinstance(last_n_layers, bool)
            or not isinstance(last_n_layers, int)
            or last_n_layers < 1
        ):
            raise ValueError(
                "`last_n_layers` must be a positive integer. Received: "
                f"last_n_layers={last_n_layers!r}"
            )
        return max(count - last_n_layers, 0)
    if from_layer is None:
        return 0
    if isinstance(from_layer, str):
        names = [layer.name for layer in base.layers]
        if from_layer not in names:
            raise ValueError(
                f"The base {base.name!r} has no layer named {from_layer!r}. "
                f"Received: from_layer={from_layer!r}"
            )
        return names.index(from_layer)
    if (
        isinstance(from_layer, bool)
        or not isinstance(from_layer, int)
        or not -count <= from_layer < count
    ):
        raise ValueError(
            "`from_layer` must be a layer name or an index into the base's "
            f"{count} layers. Received: from_layer={from_layer!r}"
        )
    return from_layer % count


def unfreeze(
    model, last_n_layers=None, from_layer=None, keep_batchnorm_frozen=True
):
    """Makes (part of) the base of a transfer model trainable again.

    The whole model becomes trainable, then the base's layers before the
    cut are frozen again. With `keep_batchnorm_frozen`, every
    BatchNormalization layer in the base is set non-trainable; in Keras 3 a
    non-trainable BatchNormalization also runs in inference mode, so its
    moving mean and variance stay those of the pretraining data. Updating
    them on a small new data set is the classic fine-tuning mistake that
    wipes out what the base learned. Recompile the model afterwards, with a
    low learning rate.

    Args:
        model: a model from `build_transfer_model`, or any `keras.Model`.
        last_n_layers: unfreeze only the last this many layers of the base
            (counted in `base.layers`). Defaults to `None`.
        from_layer: unfreeze the base from this layer (a name or an index
            into `base.layers`) onward. Defaults to `None`; with neither
            argument the whole base is unfrozen.
        keep_batchnorm_frozen: keep the base's BatchNormalization layers
            frozen. Defaults to `True`.

    Returns:
        `model`, for chaining.

    Example:

    >>> model = unfreeze(model, last_n_layers=20)
    >>> model.compile(keras.optimizers.Adam(1e-5), loss=head_loss(3))
    """
    base = get_base(model)
    cut = _check_layer_choice(base, last_n_layers, from_layer)
    if not isinstance(keep_batchnorm_frozen, bool):
        raise ValueError(
            "`keep_batchnorm_frozen` must be True or False. Received: "
            f"keep_batchnorm_frozen={keep_batchnorm_frozen!r}"
        )
    model.trainable = True
    base.trainable = True
    for layer in base.layers[:cut]:
        layer.trainable = False
    if keep_batchnorm_frozen:
        for layer in _all_layers(base):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return model
