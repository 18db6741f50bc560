import fnmatch
import re

import keras
import numpy as np
import pytest

from mlkeras.transfer import registry
from mlkeras.transfer.registry import list_models


def _keras_constructor_names():
    # Independent of registry.installed_constructors: every public function
    # of keras.applications whose name is CamelCase.
    return sorted(
        n
        for n in vars(keras.applications)
        if re.fullmatch(r"[A-Z]\w*", n)
        and callable(vars(keras.applications)[n])
    )


def test_list_models_covers_every_installed_keras_constructor():
    assert list_models() == _keras_constructor_names()
    assert registry.installed_constructors() == _keras_constructor_names()


@pytest.mark.skipif(
    not keras.__version__.startswith("3.15"),
    reason="the count of 40 is that of Keras 3.15",
)
def test_keras_3_15_has_forty_models():
    assert len(list_models()) == 40


@pytest.mark.parametrize(
    "pattern",
    [
        "resnet*",
        "RESNET*",
        "*V2*",
        "*net?",
        "efficientnetb[0-3]",
        "vgg1?",
        "xyz*",
    ],
)
def test_list_models_filters_by_pattern_ignoring_case(pattern):
    expected = [
        n
        for n in _keras_constructor_names()
        if fnmatch.fnmatchcase(n.lower(), pattern.lower())
    ]
    assert list_models(pattern) == expected


def test_list_models_pattern_examples():
    assert list_models("resnet*v2") == [
        "ResNet101V2",
        "ResNet152V2",
        "ResNet50V2",
    ]
    assert list_models("ConvNeXt*") == list_models("convnext*")
    assert len(list_models("convnext*")) == 5
    assert list_models("nothing-like-this") == []


def test_list_models_rejects_a_non_string_pattern():
    with pytest.raises(ValueError, match="pattern=3"):
        list_models(3)


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_registry_module_holds_the_constructor_and_preprocess_input(name):
    module_name = registry.MODELS[name][0]
    module = getattr(keras.applications, module_name)
    constructor = getattr(keras.applications, name)
    # The constructor is defined in the module of that name (some modules,
    # such as mobilenet_v3, do not re-export it publicly).
    assert constructor.__module__.rsplit(".", 1)[-1] == module_name
    assert callable(module.preprocess_input)


def _reference_mode(module):
    """Which mode a module's preprocess_input implements, by its numbers."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")
    out = np.asarray(module.preprocess_input(x.copy()))
    candidates = {
        "builtin": x,
        "tf": x / 127.5 - 1,
        "torch": (x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
        "caffe": x[..., ::-1] - [103.939, 116.779, 123.68],
    }
    return [
        m
        for m, ref in candidates.items()
        if ref.shape == out.shape and np.allclose(out, ref, atol=1e-4)
    ]


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_registry_preprocessing_mode_matches_the_module_function(name):
    module_name, _, _, _, mode = registry.MODELS[name]
    assert _reference_mode(getattr(keras.applications, module_name)) == [mode]


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_keras_rejects_inputs_below_the_registry_minimum(name):
    # Keras checks the size before it builds any layer, so this is cheap;
    # that the minimum itself is accepted is shown by test_build.
    _, _, _, min_size, _ = registry.MODELS[name]
    constructor = getattr(keras.applications, name)
    with pytest.raises(ValueError, match=f"at least {min_size}"):
        constructor(
            include_top=False,
            weights=None,
            input_shape=(min_size - 1, min_size - 1, 3),
        )


def test_figures_only_name_known_models_and_have_seven_numbers():
    assert set(registry.FIGURES) <= set(registry.MODELS)
    assert len(registry.FIGURES) == 18
    for name, figures in registry.FIGURES.items():
        assert len(figures) == 7, name
        size_mb, top1, top5, params, depth, cpu, gpu = figures
        assert 0 < top1 < top5 < 1, name
        assert params % 100_000 == 0 and depth > 0 and cpu > gpu > 0, name


def test_resolve_name_ignores_case_and_suggests_close_names():
    assert registry.resolve_name("mobilenetv2") == "MobileNetV2"
    with pytest.raises(ValueError, match="Did you mean 'ResNet50'") as info:
        registry.resolve_name("ResNet51")
    assert "Received: name='ResNet51'" in str(info.value)
    with pytest.raises(ValueError, match="EfficientNetB0"):
        registry.resolve_name("EficientNetB0")


def test_resolve_name_without_close_names_still_points_to_list_models():
    with pytest.raises(ValueError, match="list_models") as info:
        registry.resolve_name("qqqqqqqq")
    assert "Did you mean" not in str(info.value)


def test_resolve_name_rejects_a_non_string():
    with pytest.raises(ValueError, match="name=None"):
        registry.resolve_name(None)
