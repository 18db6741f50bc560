"""`ModelInfo`: what mlkeras knows about one `keras.applications` model."""

import dataclasses
from typing import Callable, Optional

import keras

from mlkeras.transfer import registry


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Facts about one `keras.applications` model, as read-only data.

    The ImageNet figures are those of the course notes' applications table
    (the Keras documentation's numbers); models the table does not list
    have `None` there.

    Args:
        name: the constructor's name, e.g. `"ResNet50"`.
        family: the architecture family, e.g. `"ResNet"`.
        module: the public sub-module of `keras.applications` that holds the
            model's `preprocess_input`, e.g. `"resnet"`.
        constructor: the `keras.applications` function that builds it.
        preprocess_input: the module's `preprocess_input` function.
        preprocessing: how the model wants pixels in [0, 255] prepared:
            `"caffe"`, `"tf"`, `"torch"` or `"builtin"` (see
            `mlkeras.transfer.registry`).
        default_input_size: the side, in pixels, of the images its ImageNet
            weights were trained on, and the size Keras builds when given no
            `input_shape` (except MobileNetV3, whose constructor leaves the
            size open).
        min_input_size: the smallest side it accepts.
        size_mb: size of the ImageNet weights file in MB.
        top1_accuracy: ImageNet top-1 validation accuracy, a fraction.
        top5_accuracy: ImageNet top-5 validation accuracy, a fraction.
        parameters: parameter count with the classifier, rounded to 0.1M.
        depth: topological depth as the Keras documentation counts it.
        cpu_ms: milliseconds per inference step on CPU.
        gpu_ms: milliseconds per inference step on GPU.

    Example:

    >>> info = model_info("Xception")
    >>> info.default_input_shape, info.preprocessing, info.top1_accuracy
    ((299, 299, 3), 'tf', 0.79)
    """

    name: str
    family: str
    module: str
    constructor: Callable
    preprocess_input: Callable
    preprocessing: str
    default_input_size: int
    min_input_size: int
    size_mb: Optional[float] = None
    top1_accuracy: Optional[float] = None
    top5_accuracy: Optional[float] = None
    parameters: Optional[int] = None
    depth: Optional[int] = None
    cpu_ms: Optional[float] = None
    gpu_ms: Optional[float] = None

    @property
    def default_input_shape(self):
        """`(size, size, 3)` at the default size, channels last."""
        return (self.default_input_size, self.default_input_size, 3)

    @property
    def min_input_shape(self):
        """`(size, size, 3)` at the minimum size, channels last."""
        return (self.min_input_size, self.min_input_size, 3)

    @property
    def has_figures(self):
        """Whether the applications table lists this model."""
        return self.parameters is not None


def model_info(name):
    """Returns the `ModelInfo` of a `keras.applications` model.

    Args:
        name: a name from `list_models()`, matched without regard to case.

    Returns:
        A frozen `ModelInfo`.

    Raises:
        ValueError: for an unknown name; the message suggests close names.

    Example:

    >>> model_info("densenet121").preprocessing
    'torch'
    """
    name = registry.resolve_name(name)
    module, family, default_size, min_size, mode = registry.MODELS[name]
    figures = registry.FIGURES.get(name)
    extra = {}
    if figures is not None:
        fields = (
            "size_mb",
            "top1_accuracy",
            "top5_accuracy",
            "parameters",
            "depth",
            "cpu_ms",
            "gpu_ms",
        )
        extra = dict(zip(fields, figures))
    return ModelInfo(
        name=name,
        family=family,
        module=module,
        constructor=getattr(keras.applications, name),
        preprocess_input=getattr(keras.applications, module).preprocess_input,
        preprocessing=mode,
        default_input_size=default_size,
        min_input_size=min_size,
        **extra,
    )
