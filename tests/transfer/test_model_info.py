import dataclasses

import keras
import pytest

from mlkeras.transfer import registry
from mlkeras.transfer.model_info import ModelInfo, model_info

# The models with the most layers (300 to 1,000) take 2 to 9 s each to
# build on two idle cores, four times that on a busy machine; they run with
# `pytest -m slow`.
_SLOW_TO_BUILD = {
    "NASNetLarge",
    "InceptionResNetV2",
    "ResNet152V2",
    "ResNet152",
    "ResNet101V2",
    "ResNet101",
    "DenseNet201",
    "DenseNet169",
    "DenseNet121",
    "NASNetMobile",
}


def _table_models():
    return [
        pytest.param(name, marks=pytest.mark.slow)
        if name in _SLOW_TO_BUILD
        else name
        for name in sorted(registry.FIGURES)
    ]


@pytest.fixture
def fresh_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


@pytest.mark.parametrize("name", _table_models())
def test_parameter_count_agrees_with_the_built_model(name, fresh_session):
    info = model_info(name)
    # The full ImageNet classifier at its default size, built symbolically:
    # no forward pass, and the count does not depend on a batch.
    model = info.constructor(weights=None, include_top=True)
    assert (
        abs(model.count_params() - info.parameters)
        <= registry.PARAMETER_ROUNDING
    )
    assert tuple(model.input_shape[1:]) == info.default_input_shape


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", sorted(set(registry.MODELS) - set(registry.FIGURES))
)
def test_default_input_shape_is_what_keras_builds(name, fresh_session):
    info = model_info(name)
    model = info.constructor(weights=None, include_top=True)
    if info.family == "MobileNetV3":
        # Keras leaves the size of MobileNetV3 open; its ImageNet weights
        # are those of 224x224 images, the registry's default.
        assert tuple(model.input_shape[1:]) == (None, None, 3)
        assert info.default_input_size == 224
    else:
        assert tuple(model.input_shape[1:]) == info.default_input_shape


def test_model_info_holds_the_table_figures():
    info = model_info("Xception")
    assert info == ModelInfo(
        name="Xception",
        family="Xception",
        module="xception",
        constructor=keras.applications.Xception,
        preprocess_input=keras.applications.xception.preprocess_input,
        preprocessing="tf",
        default_input_size=299,
        min_input_size=71,
        size_mb=88,
        top1_accuracy=0.790,
        top5_accuracy=0.945,
        parameters=22_900_000,
        depth=81,
        cpu_ms=109.4,
        gpu_ms=8.1,
    )
    assert info.default_input_shape == (299, 299, 3)
    assert info.min_input_shape == (71, 71, 3)
    assert info.has_figures


def test_models_missing_from_the_table_have_no_figures():
    info = model_info("EfficientNetB3")
    assert not info.has_figures
    assert (
        info.size_mb,
        info.top1_accuracy,
        info.top5_accuracy,
        info.parameters,
        info.depth,
        info.cpu_ms,
        info.gpu_ms,
    ) == (None,) * 7
    assert info.default_input_size == 300
    assert info.preprocessing == "builtin"


def test_model_info_is_frozen():
    info = model_info("VGG16")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.default_input_size = 32


def test_model_info_matches_names_without_case():
    assert model_info("densenet121") == model_info("DenseNet121")
    assert (
        model_info("densenet121").preprocess_input
        is keras.applications.densenet.preprocess_input
    )


def test_model_info_for_every_listed_model():
    from mlkeras.transfer import list_models

    infos = [model_info(name) for name in list_models()]
    assert [i.name for i in infos] == list_models()
    assert {i.preprocessing for i in infos} == set(registry.PREPROCESSING_MODES)
    assert all(i.min_input_size <= i.default_input_size for i in infos)


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean .*'VGG16'"):
        model_info("VGG17")
