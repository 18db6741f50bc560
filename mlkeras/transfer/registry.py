"""The `keras.applications` models as data, and `list_models`.

Two tables live here. `MODELS` describes every constructor that Keras 3.15
ships: the public sub-module of `keras.applications` that holds its
`preprocess_input`, its family, its default and minimum input size, and how
it wants its pixels prepared. `FIGURES` holds the published ImageNet figures
that the course notes' applications table lists (the Keras documentation's
numbers: size of the weights file, top-1 and top-5 accuracy, parameter count
rounded to 0.1M, depth, and milliseconds per inference step on CPU and GPU).

Preprocessing modes, for pixels given in [0, 255]:

- "caffe": RGB is reordered to BGR and the ImageNet channel means are
  subtracted, no scaling (VGG, ResNet v1).
- "tf": scaled to [-1, 1] (Xception, Inception, MobileNet v1/v2, ResNet v2,
  NASNet).
- "torch": scaled to [0, 1], then each channel is normalised by the ImageNet
  mean and standard deviation (DenseNet).
- "builtin": the model holds its own preprocessing layers and takes raw
  pixels (ConvNeXt, EfficientNet, EfficientNetV2, MobileNetV3).
"""

import difflib
import fnmatch

import keras

PREPROCESSING_MODES = ("caffe", "tf", "torch", "builtin")

# name: (public module, family, default input size, minimum input size,
#        preprocessing mode)
MODELS = {
    "ConvNeXtTiny": ("convnext", "ConvNeXt", 224, 32, "builtin"),
    "ConvNeXtSmall": ("convnext", "ConvNeXt", 224, 32, "builtin"),
    "ConvNeXtBase": ("convnext", "ConvNeXt", 224, 32, "builtin"),
    "ConvNeXtLarge": ("convnext", "ConvNeXt", 224, 32, "builtin"),
    "ConvNeXtXLarge": ("convnext", "ConvNeXt", 224, 32, "builtin"),
    "DenseNet121": ("densenet", "DenseNet", 224, 32, "torch"),
    "DenseNet169": ("densenet", "DenseNet", 224, 32, "torch"),
    "DenseNet201": ("densenet", "DenseNet", 224, 32, "torch"),
    "EfficientNetB0": ("efficientnet", "EfficientNet", 224, 32, "builtin"),
    "EfficientNetB1": ("efficientnet", "EfficientNet", 240, 32, "builtin"),
    "EfficientNetB2": ("efficientnet", "EfficientNet", 260, 32, "builtin"),
    "EfficientNetB3": ("efficientnet", "EfficientNet", 300, 32, "builtin"),
    "EfficientNetB4": ("efficientnet", "EfficientNet", 380, 32, "builtin"),
    "EfficientNetB5": ("efficientnet", "EfficientNet", 456, 32, "builtin"),
    "EfficientNetB6": ("efficientnet", "EfficientNet", 528, 32, "builtin"),
    "EfficientNetB7": ("efficientnet", "EfficientNet", 600, 32, "builtin"),
    "EfficientNetV2B0": (
        "efficientnet_v2",
        "EfficientNetV2",
        224,
        32,
        "builtin",
    ),
    "EfficientNetV2B1": (
        "efficientnet_v2",
        "EfficientNetV2",
        240,
        32,
        "builtin",
    ),
    "EfficientNetV2B2": (
        "efficientnet_v2",
        "EfficientNetV2",
        260,
        32,
        "builtin",
    ),
    "EfficientNetV2B3": (
        "efficientnet_v2",
        "EfficientNetV2",
        300,
        32,
        "builtin",
    ),
    "EfficientNetV2S": (
        "efficientnet_v2",
        "EfficientNetV2",
        384,
        32,
        "builtin",
    ),
    "EfficientNetV2M": (
        "efficientnet_v2",
        "EfficientNetV2",
        480,
        32,
        "builtin",
    ),
    "EfficientNetV2L": (
        "efficientnet_v2",
        "EfficientNetV2",
        480,
        32,
        "builtin",
    ),
    "InceptionResNetV2": (
        "inception_resnet_v2",
        "InceptionResNetV2",
        299,
        75,
        "tf",
    ),
    "InceptionV3": ("inception_v3", "InceptionV3", 299, 75, "tf"),
    "MobileNet": ("mobilenet", "MobileNet", 224, 32, "tf"),
    "MobileNetV2": ("mobilenet_v2", "MobileNetV2", 224, 32, "tf"),
    "MobileNetV3Small": ("mobilenet_v3", "MobileNetV3", 224, 32, "builtin"),
    "MobileNetV3Large": ("mobilenet_v3", "MobileNetV3", 224, 32, "builtin"),
    "NASNetMobile": ("nasnet", "NASNet", 224, 32, "tf"),
    "NASNetLarge": ("nasnet", "NASNet", 331, 32, "tf"),
    "ResNet50": ("resnet", "ResNet", 224, 32, "caffe"),
    "ResNet101": ("resnet", "ResNet", 224, 32, "caffe"),
    "ResNet152": ("resnet", "ResNet", 224, 32, "caffe"),
    "ResNet50V2": ("resnet_v2", "ResNetV2", 224, 32, "tf"),
    "ResNet101V2": ("resnet_v2", "ResNetV2", 224, 32, "tf"),
    "ResNet152V2": ("resnet_v2", "ResNetV2", 224, 32, "tf"),
    "VGG16": ("vgg16", "VGG", 224, 32, "caffe"),
    "VGG19": ("vgg19", "VGG", 224, 32, "caffe"),
    "Xception": ("xception", "Xception", 299, 71, "tf"),
}

# name: (size MB, top-1, top-5, parameters, depth, CPU ms, GPU ms), as the
# course notes' applications table gives them (accuracies as fractions).
FIGURES = {
    "Xception": (88, 0.790, 0.945, 22_900_000, 81, 109.4, 8.1),
    "VGG16": (528, 0.713, 0.901, 138_400_000, 16, 69.5, 4.2),
    "VGG19": (549, 0.713, 0.900, 143_700_000, 19, 84.8, 4.4),
    "ResNet50": (98, 0.749, 0.921, 25_600_000, 107, 58.2, 4.6),
    "ResNet50V2": (98, 0.760, 0.930, 25_600_000, 103, 45.6, 4.4),
    "ResNet101": (171, 0.764, 0.928, 44_700_000, 209, 89.6, 5.2),
    "ResNet101V2": (171, 0.772, 0.938, 44_700_000, 205, 72.7, 5.4),
    "ResNet152": (232, 0.766, 0.931, 60_400_000, 311, 127.4, 6.5),
    "ResNet152V2": (232, 0.780, 0.942, 60_400_000, 307, 107.5, 6.6),
    "InceptionV3": (92, 0.779, 0.937, 23_900_000, 189, 42.2, 6.9),
    "InceptionResNetV2": (215, 0.803, 0.953, 55_900_000, 449, 130.2, 10.0),
    "MobileNet": (16, 0.704, 0.895, 4_300_000, 55, 22.6, 3.4),
    "MobileNetV2": (14, 0.713, 0.901, 3_500_000, 105, 25.9, 3.8),
    "DenseNet121": (33, 0.750, 0.923, 8_100_000, 242, 77.1, 5.4),
    "DenseNet169": (57, 0.762, 0.932, 14_300_000, 338, 96.4, 6.7),
    "DenseNet201": (80, 0.774, 0.936, 20_200_000, 402, 127.2, 6.7),
    "NASNetMobile": (23, 0.744, 0.919, 5_300_000, 389, 27.0, 6.7),
    "NASNetLarge": (343, 0.825, 0.960, 88_900_000, 533, 344.5, 20.0),
}

# The table rounds parameter counts to 0.1M.
PARAMETER_ROUNDING = 50_000


def installed_constructors():
    """Names of the model constructors the installed `keras.applications` has.

    Returns:
        A sorted list of names such as `"ResNet50"`: every public callable of
        `keras.applications` whose name starts with a capital letter.
    """
    return sorted(
        name
        for name in dir(keras.applications)
        if name[:1].isupper() and callable(getattr(keras.applications, name))
    )


def list_models(pattern="*"):
    """Lists the `keras.applications` models that mlkeras can build.

    The names are those of the installed Keras's constructors that the
    registry describes (all 40 of Keras 3.15), filtered by a shell-style
    wildcard pattern that ignores case, as `timm.list_models` does.

    Args:
        pattern: an `fnmatch` pattern such as `"efficientnet*"` or
            `"*v2*"`. Defaults to `"*"` (every model).

    Returns:
        A sorted list of constructor names.

    Example:

    >>> list_models("resnet*v2")
    ['ResNet101V2', 'ResNet152V2', 'ResNet50V2']
    """
    if not isinstance(pattern, str):
        raise ValueError(
            f"`pattern` must be a string such as 'resnet*'. Received: "
            f"pattern={pattern!r}"
        )
    wanted = pattern.lower()
    return [
        name
        for name in installed_constructors()
        if name in MODELS and fnmatch.fnmatchcase(name.lower(), wanted)
    ]


def resolve_name(name):
    """Returns the registry's spelling of `name`, matched without case.

    Raises:
        ValueError: when no listed model has that name; the message suggests
            the closest names.
    """
    if not isinstance(name, str):
        raise ValueError(
            f"`name` must be the name of a keras.applications model, such as "
            f"'ResNet50'. Received: name={name!r}"
        )
    known = list_models()
    by_lower = {model.lower(): model for model in known}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(
        name.lower(), list(by_lower), n=3, cutoff=0.5
    )
    hint = (
        f" Did you mean {', '.join(repr(by_lower[c]) for c in close)}?"
        if close
        else ""
    )
    raise ValueError(
        f"Unknown model {name!r}.{hint} `mlkeras.transfer.list_models()` "
        f"lists all {len(known)}. Received: name={name!r}"
    )
