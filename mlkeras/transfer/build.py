"""`build_transfer_model`: a pretrained base with a new classification head."""

import os
import urllib.error

import keras

from mlkeras.transfer.errors import WeightsUnavailableError
from mlkeras.transfer.inference_mode import InferenceMode
from mlkeras.transfer.losses import _check_num_classes
from mlkeras.transfer.model_info import model_info
from mlkeras.transfer.preprocessing import ImagenetPreprocessing
from mlkeras.transfer.registry import PREPROCESSING_MODES

_POOLINGS = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "max": keras.layers.GlobalMaxPooling2D,
}


def _spatial_axes(data_format):
    return (0, 1) if data_format == "channels_last" else (1, 2)


def _channel_axis(data_format):
    return 2 if data_format == "channels_last" else 0


def _check_input_shape(input_shape, info, data_format):
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(
            d is None or (isinstance(d, int) and d > 0) for d in input_shape
        )
    ):
        raise ValueError(
            "`input_shape` must be a tuple of 3 positive integers (height, "
            "width, channels) or None for a free height or width. Received: "
            f"input_shape={input_shape!r}"
        )
    if info is None:
        return tuple(input_shape)
    smallest = info.min_input_size
    for axis in _spatial_axes(data_format):
        side = input_shape[axis]
        if side is not None and side < smallest:
            raise ValueError(
                f"{info.name} needs images of at least {smallest}x{smallest} "
                f"pixels. Received: input_shape={tuple(input_shape)}"
            )
    return tuple(input_shape)


def _check_weights(weights):
    if weights is None or weights == "imagenet":
        return weights
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be 'imagenet', None or the path of a weights "
            f"file. Received: weights={weights!r}"
        )
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The weights file {path!r} does not exist. Pass the path of a "
            "file saved with `base.save_weights(...)` (a '.weights.h5' file) "
            "or a Keras '.h5' weights file, or weights=None. Received: "
            f"weights={weights!r}"
        )
    return path


def _is_download_failure(error):
    if isinstance(error, (OSError, urllib.error.URLError)):
        return True
    return "URL fetch failure" in str(error)


def _load_weights(base, path, description):
    try:
        base.load_weights(path)
    except Exception as error:
        raise ValueError(
            f"Could not load the weights file {path!r} into {description}: "
            f"{error}. The file must come from the same architecture built "
            "with include_top=False. Received: weights=" + repr(path)
        ) from error


def _make_base(info, input_shape, weights):
    if weights != "imagenet":
        base = info.constructor(
            include_top=False, weights=None, input_shape=input_shape
        )
        if weights is not None:
            _load_weights(
                base,
                weights,
                f"{info.name} (include_top=False, input_shape={input_shape})",
            )
        return base
    try:
        return info.constructor(
            include_top=False, weights="imagenet", input_shape=input_shape
        )
    except Exception as error:
        if not _is_download_failure(error):
            raise
        cache = os.path.join(
            os.environ.get("KERAS_HOME", os.path.join("~", ".keras")), "models"
        )
        raise WeightsUnavailableError(
            f"The ImageNet weights of {info.name} are not in the Keras cache "
            f"({cache}) and could not be downloaded ({error}). Copy the "
            "weights file into that folder, pass the path of a local weights "
            "file as `weights`, or use weights=None for a randomly "
            "initialised base. Received: weights='imagenet'"
        ) from error


def _make_head_input(preprocessing, mode_default):
    if preprocessing is None:
        preprocessing = mode_default
    if isinstance(preprocessing, str):
        if preprocessing not in PREPROCESSING_MODES:
            raise ValueError(
                f"`preprocessing` must be one of {PREPROCESSING_MODES}, a "
                "Keras layer or None. Received: "
                f"preprocessing={preprocessing!r}"
            )
        if preprocessing == "builtin":
            return None
        return ImagenetPreprocessing(preprocessing, name="preprocessing")
    if not callable(preprocessing):
        raise ValueError(
            f"`preprocessing` must be one of {PREPROCESSING_MODES}, a Keras "
            f"layer or None. Received: preprocessing={preprocessing!r}"
        )
    return preprocessing


def build_transfer_model(
    name,
    num_classes,
    input_shape=None,
    weights="imagenet",
    pooling="avg",
    dropout=0.2,
    augmentation=None,
    trainable_base=False,
    preprocessing=None,
):
    """Builds a classifier from a pretrained `keras.applications` base.

    The model takes raw pixel values in [0, 255]. Inside it, in order: the
    optional augmentation (active only in training), the preprocessing the
    base was trained with (done once, here; models such as EfficientNet
    hold their own), the base without its ImageNet classifier, wrapped in
    the layer `"base"` (an `InferenceMode`) that always calls it with
    `training=False`, so that its BatchNormalization layers keep using
    their moving statistics, and its dropout stays off, even when the base
    is unfrozen later; then a global pooling, dropout, and a new
    classifier: one sigmoid unit for two classes, a softmax over
    `num_classes` otherwise. `head_loss` returns the
    matching loss. The model is returned uncompiled.

    Args:
        name: a name from `list_models()` (case does not matter), or a
            `keras.Model` of your own to use as the base (its output should
            be a feature map or a feature vector). A model of your own keeps
            its weights unless `weights` names a file to load into it, and
            gets no preprocessing unless `preprocessing` asks for one.
        num_classes: number of classes, at least 2.
        input_shape: shape of one image, e.g. `(160, 160, 3)`. Defaults to
            the model's default input shape (the base's own input shape for
            a model of your own). Height and width must be at least the
            model's `min_input_size`.
        weights: `"imagenet"` (downloaded by Keras on first use, then read
            from its cache), `None` (random initialisation) or the path of a
            weights file holding the base's weights (saved with
            `base.save_weights("base.weights.h5")` or a Keras "notop" `.h5`
            file), for offline use. Defaults to `"imagenet"`.
        pooling: `"avg"` or `"max"` global pooling over the base's feature
            map. Defaults to `"avg"`.
        dropout: dropout rate before the classifier, in [0, 1); 0 adds no
            dropout layer. Defaults to `0.2`.
        augmentation: a Keras layer (e.g. a `keras.Sequential` of
            `RandomFlip` and `RandomRotation`) or a list of layers applied to
            the raw pixels. Defaults to `None`.
        trainable_base: whether the base's weights start trainable. Defaults
            to `False`.
        preprocessing: `"caffe"`, `"tf"`, `"torch"`, `"builtin"` (none) or a
            Keras layer applied to the raw pixels. Defaults to `None`: the
            mode the registry gives for a named model, no preprocessing for
            a model of your own.

    Returns:
        An uncompiled `keras.Model` mapping images to class probabilities.

    Raises:
        ValueError: for an unknown name (with the closest names), an input
            smaller than the model's minimum, `num_classes` below 2, or a
            weights file that does not fit the base.
        FileNotFoundError: when `weights` is a path that does not exist.
        WeightsUnavailableError: when the ImageNet weights are not cached
            and cannot be downloaded.

    Example:

    >>> model = build_transfer_model("MobileNetV3Small", num_classes=3,
    ...                              input_shape=(96, 96, 3), weights=None)
    >>> model.compile("adam", loss=head_loss(3), metrics=["accuracy"])
    >>> model.output_shape
    (None, 3)
    """
    _check_num_classes(num_classes)
    if pooling not in _POOLINGS:
        raise ValueError(
            f"`pooling` must be 'avg' or 'max'. Received: pooling={pooling!r}"
        )
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, (int, float))
        or not 0 <= dropout < 1
    ):
        raise ValueError(
            "`dropout` must be a number in [0, 1). "
            f"Received: dropout={dropout!r}"
        )
    if not isinstance(trainable_base, bool):
        raise ValueError(
            "`trainable_base` must be True or False. Received: "
            f"trainable_base={trainable_base!r}"
        )
    if isinstance(augmentation, (list, tuple)):
        augmentation = keras.Sequential(list(augmentation), name="augmentation")
    if augmentation is not None and not callable(augmentation):
        raise ValueError(
            "`augmentation` must be a Keras layer, a list of layers or None. "
            f"Received: augmentation={augmentation!r}"
        )
    weights = _check_weights(weights)
    data_format = keras.config.image_data_format()

    if isinstance(name, keras.Model):
        base = name
        if weights == "imagenet":
            raise ValueError(
                "A base model of your own has no ImageNet weights: pass "
                "weights=None to keep the weights it has, or the path of a "
                "weights file to load into it. Received: weights='imagenet'"
            )
        if input_shape is None:
            input_shape = tuple(base.input_shape[1:])
        input_shape = _check_input_shape(input_shape, None, data_format)
        if weights is not None:
            _load_weights(base, weights, f"the model {base.name!r}")
        preprocess = _make_head_input(preprocessing, "builtin")
    else:
        info = model_info(name)
        if input_shape is None:
            size = info.default_input_size
            input_shape = (
                (size, size, 3)
                if data_format == "channels_last"
                else (3, size, size)
            )
        input_shape = _check_input_shape(input_shape, info, data_format)
        if (
            weights == "imagenet"
            and input_shape[_channel_axis(data_format)] != 3
        ):
            raise ValueError(
                "ImageNet weights need RGB images with 3 channels. Received: "
                f"input_shape={input_shape}"
            )
        preprocess = _make_head_input(preprocessing, info.preprocessing)
        base = _make_base(info, input_shape, weights)

    base.trainable = trainable_base
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = inputs
    if augmentation is not None:
        x = augmentation(x)
    if preprocess is not None:
        x = preprocess(x)
    x = InferenceMode(base, name="base")(x)
    if len(x.shape) == 4:
        x = _POOLINGS[pooling](data_format=data_format, name="pooling")(x)
    elif len(x.shape) != 2:
        raise ValueError(
            "The base must output a feature map (batch, height, width, "
            "channels) or a feature vector (batch, features). Received: a "
            f"base with output shape {tuple(x.shape)}"
        )
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    if num_classes == 2:
        outputs = keras.layers.Dense(
            1, activation="sigmoid", name="predictions"
        )(x)
    else:
        outputs = keras.layers.Dense(
            num_classes, activation="softmax", name="predictions"
        )(x)
    return keras.Model(inputs, outputs, name=f"{base.name}_transfer")
