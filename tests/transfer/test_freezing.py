import keras
import numpy as np
import pytest

from mlkeras.transfer.build import build_transfer_model
from mlkeras.transfer.freezing import freeze, get_base, unfreeze
from tests.transfer import make_tiny_base


def _transfer_model(**kwargs):
    return build_transfer_model(make_tiny_base(), 3, weights=None, **kwargs)


def _ids(weights):
    return sorted(id(w) for w in weights)


def _is_bn(layer):
    return isinstance(layer, keras.layers.BatchNormalization)


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_get_base_finds_the_wrapped_base_of_a_transfer_model():
    base = make_tiny_base()
    model = build_transfer_model(base, 3, weights=None)
    assert get_base(model) is base


def test_get_base_prefers_the_base_over_a_weightless_augmentation_model():
    base = make_tiny_base()
    model = build_transfer_model(
        base,
        3,
        weights=None,
        augmentation=keras.Sequential([keras.layers.RandomFlip()]),
    )
    assert get_base(model) is base


def test_get_base_of_a_plain_model_is_the_model_itself():
    base = make_tiny_base()
    assert get_base(base) is base


def test_get_base_rejects_a_non_model():
    with pytest.raises(ValueError, match="model="):
        get_base(keras.layers.Dense(2))


def test_freeze_leaves_only_the_head_trainable():
    model = _transfer_model()
    assert freeze(model) is model
    head = model.get_layer("predictions")
    assert _ids(model.trainable_weights) == _ids([head.kernel, head.bias])
    assert not get_base(model).trainable


def test_unfreeze_everything_but_batchnorm():
    model = freeze(_transfer_model())
    assert unfreeze(model) is model
    base = get_base(model)
    expected = [
        w
        for layer in base.layers
        if not _is_bn(layer)
        for w in layer.trainable_weights
    ]
    head = model.get_layer("predictions")
    assert _ids(model.trainable_weights) == _ids(
        expected + [head.kernel, head.bias]
    )
    for layer in base.layers:
        assert layer.trainable is (not _is_bn(layer)), layer.name


@pytest.mark.parametrize("n", [1, 3, 4, 7, 100])
def test_unfreeze_last_n_layers_counts_from_the_end_of_the_base(n):
    model = freeze(_transfer_model())
    unfreeze(model, last_n_layers=n)
    layers = get_base(model).layers
    first_open = max(len(layers) - n, 0)
    for index, layer in enumerate(layers):
        open_ = index >= first_open and not _is_bn(layer)
        assert layer.trainable is open_, (n, layer.name)
    assert model.get_layer("predictions").trainable


@pytest.mark.parametrize("from_layer", ["conv1", 4, -6])
def test_unfreeze_from_a_named_or_indexed_layer(from_layer):
    model = freeze(_transfer_model())
    unfreeze(model, from_layer=from_layer)
    names = [layer.name for layer in get_base(model).layers]
    assert names.index("conv1") == 4 and len(names) == 10
    open_names = [
        layer.name for layer in get_base(model).layers if layer.trainable
    ]
    assert open_names == ["conv1", "relu1", "conv2", "relu2"]


def test_unfreeze_can_unfreeze_batchnorm_when_asked():
    model = freeze(_transfer_model())
    unfreeze(model, keep_batchnorm_frozen=False)
    assert all(layer.trainable for layer in get_base(model).layers)


def _plain_classifier(base):
    # No InferenceMode wrapper: the outer training flag reaches the base.
    inputs = keras.Input(base.input_shape[1:])
    features = keras.layers.GlobalAveragePooling2D()(base(inputs))
    return keras.Model(inputs, keras.layers.Dense(3)(features))


@pytest.mark.parametrize("keep", [True, False])
def test_frozen_batchnorm_runs_in_inference_mode_when_training(keep):
    base = make_tiny_base()
    rng = np.random.default_rng(0)
    for layer in base.layers:
        if _is_bn(layer):
            layer.moving_mean.assign(
                rng.normal(size=layer.moving_mean.shape).astype("float32")
            )
    model = unfreeze(_plain_classifier(base), keep_batchnorm_frozen=keep)
    x = rng.uniform(0, 255, size=(8, 16, 16, 3)).astype("float32")
    same = np.allclose(
        _numpy(model(x, training=True)),
        _numpy(model(x, training=False)),
        rtol=1e-6,
    )
    assert same is keep


def test_unfreeze_freezes_every_batchnorm_of_a_keras_application():
    base = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    unfreeze(base)
    norms = [layer for layer in base.layers if _is_bn(layer)]
    assert len(norms) > 30
    assert not any(layer.trainable for layer in norms)
    assert all(layer.trainable for layer in base.layers if not _is_bn(layer))
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 32, 32, 3))
    np.testing.assert_allclose(
        _numpy(base(x.astype("float32"), training=True)),
        _numpy(base(x.astype("float32"), training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"last_n_layers": 2, "from_layer": "conv1"}, "not both"),
        ({"last_n_layers": 0}, "last_n_layers=0"),
        ({"last_n_layers": True}, "last_n_layers=True"),
        ({"last_n_layers": 2.0}, "last_n_layers=2.0"),
        ({"from_layer": "conv9"}, "from_layer='conv9'"),
        ({"from_layer": 10}, "from_layer=10"),
        ({"from_layer": 1.5}, "from_layer=1.5"),
        ({"keep_batchnorm_frozen": "yes"}, "keep_batchnorm_frozen='yes'"),
    ],
)
def test_unfreeze_names_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        unfreeze(_transfer_model(), **kwargs)
