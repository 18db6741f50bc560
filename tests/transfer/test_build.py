import os
import socket

import keras
import numpy as np
import pytest

from mlkeras.transfer import registry
from mlkeras.transfer.build import build_transfer_model
from mlkeras.transfer.errors import WeightsUnavailableError
from mlkeras.transfer.freezing import get_base
from mlkeras.transfer.model_info import model_info
from mlkeras.transfer.preprocessing import ImagenetPreprocessing
from tests.transfer import make_tiny_base

# The smallest member of every family in the registry.
FAMILY_REPRESENTATIVES = {
    "ConvNeXt": "ConvNeXtTiny",
    "DenseNet": "DenseNet121",
    "EfficientNet": "EfficientNetB0",
    "EfficientNetV2": "EfficientNetV2B0",
    "InceptionResNetV2": "InceptionResNetV2",
    "InceptionV3": "InceptionV3",
    "MobileNet": "MobileNet",
    "MobileNetV2": "MobileNetV2",
    "MobileNetV3": "MobileNetV3Small",
    "NASNet": "NASNetMobile",
    "ResNet": "ResNet50",
    "ResNetV2": "ResNet50V2",
    "VGG": "VGG16",
    "Xception": "Xception",
}


@pytest.fixture
def fresh_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _pixels(shape, seed=0):
    return (
        np.random.default_rng(seed)
        .uniform(0, 255, size=shape)
        .astype("float32")
    )


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_every_family_has_a_representative():
    families = {family for _, family, _, _, _ in registry.MODELS.values()}
    assert set(FAMILY_REPRESENTATIVES) == families
    for family, name in FAMILY_REPRESENTATIVES.items():
        assert model_info(name).family == family


@pytest.mark.parametrize("name", sorted(FAMILY_REPRESENTATIVES.values()))
def test_family_builds_at_its_minimum_size_and_preprocesses_once(
    name, fresh_session
):
    info = model_info(name)
    model = build_transfer_model(
        name, 3, input_shape=info.min_input_shape, weights=None, dropout=0.0
    )
    assert model.input_shape == (None, *info.min_input_shape)
    assert model.output_shape == (None, 3)
    x = _pixels((2, *info.min_input_shape))
    out = _numpy(model(x))

    # Reference: Keras's own preprocess_input on the raw pixels, the base,
    # a global average, then the dense softmax, in NumPy.
    features = _numpy(
        get_base(model)(info.preprocess_input(x.copy()), training=False)
    )
    kernel, bias = model.get_layer("predictions").get_weights()
    expected = _softmax(features.mean(axis=(1, 2)) @ kernel + bias)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_two_classes_get_one_sigmoid_unit():
    model = build_transfer_model(make_tiny_base(), 2, weights=None, dropout=0.0)
    assert model.output_shape == (None, 1)
    head = model.get_layer("predictions")
    assert head.units == 1
    x = _pixels((4, 16, 16, 3))
    features = _numpy(get_base(model)(x, training=False)).mean(axis=(1, 2))
    kernel, bias = head.get_weights()
    expected = 1 / (1 + np.exp(-(features @ kernel + bias)))
    np.testing.assert_allclose(_numpy(model(x)), expected, rtol=1e-5)


def test_more_classes_get_a_softmax_of_that_width():
    model = build_transfer_model(make_tiny_base(), 5, weights=None)
    assert model.output_shape == (None, 5)
    out = _numpy(model(_pixels((3, 16, 16, 3))))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    assert (out > 0).all()


def test_max_pooling_takes_the_spatial_maximum():
    model = build_transfer_model(
        make_tiny_base(), 3, weights=None, pooling="max", dropout=0.0
    )
    x = _pixels((2, 16, 16, 3))
    features = _numpy(get_base(model)(x, training=False)).max(axis=(1, 2))
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(
        _numpy(model(x)), _softmax(features @ kernel + bias), rtol=1e-5
    )


def _set_moving_statistics(base, seed=0):
    rng = np.random.default_rng(seed)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            mean, var = layer.moving_mean, layer.moving_variance
            mean.assign(rng.normal(size=mean.shape).astype("float32"))
            var.assign(rng.uniform(0.5, 2.0, size=var.shape).astype("float32"))


@pytest.mark.parametrize("trainable_base", [False, True])
def test_base_runs_in_inference_mode_even_when_training(trainable_base):
    base = make_tiny_base()
    _set_moving_statistics(base)
    model = build_transfer_model(
        base, 3, weights=None, dropout=0.0, trainable_base=trainable_base
    )
    assert base.trainable is trainable_base
    x = _pixels((8, 16, 16, 3))
    np.testing.assert_allclose(
        _numpy(model(x, training=True)),
        _numpy(model(x, training=False)),
        rtol=1e-6,
    )
    moving = [
        _numpy(w) for w in base.non_trainable_weights if "moving" in w.path
    ]
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    after = [
        _numpy(w) for w in base.non_trainable_weights if "moving" in w.path
    ]
    for a, b in zip(moving, after):
        np.testing.assert_array_equal(a, b)


def test_custom_base_keeps_its_input_shape_and_gets_no_preprocessing():
    base = make_tiny_base((12, 12, 3))
    model = build_transfer_model(base, 3, weights=None, dropout=0.0)
    assert model.input_shape == (None, 12, 12, 3)
    assert get_base(model) is base
    assert not any(
        isinstance(layer, ImagenetPreprocessing) for layer in model.layers
    )
    x = _pixels((2, 12, 12, 3))
    features = _numpy(base(x, training=False)).mean(axis=(1, 2))
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(
        _numpy(model(x)), _softmax(features @ kernel + bias), rtol=1e-5
    )


def test_custom_base_takes_a_preprocessing_mode_or_layer():
    x = _pixels((2, 16, 16, 1))
    base = make_tiny_base((16, 16, 1))
    scaled = build_transfer_model(
        base,
        3,
        weights=None,
        dropout=0.0,
        preprocessing=keras.layers.Rescaling(1 / 255.0),
    )
    tf_mode = build_transfer_model(
        base, 3, weights=None, dropout=0.0, preprocessing="tf"
    )
    tf_mode.get_layer("predictions").set_weights(
        scaled.get_layer("predictions").get_weights()
    )
    kernel, bias = scaled.get_layer("predictions").get_weights()
    for model, prepared in ((scaled, x / 255.0), (tf_mode, x / 127.5 - 1)):
        features = _numpy(base(prepared, training=False)).mean(axis=(1, 2))
        np.testing.assert_allclose(
            _numpy(model(x)),
            _softmax(features @ kernel + bias),
            rtol=1e-4,
            atol=1e-6,
        )


def test_augmentation_comes_first_and_only_acts_in_training():
    base = make_tiny_base()
    model = build_transfer_model(
        base,
        3,
        weights=None,
        dropout=0.0,
        augmentation=[keras.layers.RandomFlip("horizontal", seed=1)],
    )
    assert model.layers[1].name == "augmentation"
    assert get_base(model) is base
    x = _pixels((2, 16, 16, 3))
    kernel, bias = model.get_layer("predictions").get_weights()

    def log_probabilities(images):
        features = _numpy(base(images, training=False)).mean(axis=(1, 2))
        logits = features.astype("float64") @ kernel + bias
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    # Compared as logarithms: a probability near 1e-15 carries the float32
    # rounding of its logit (about 1e-5) as a relative error.
    expected = log_probabilities(x)
    np.testing.assert_allclose(
        np.log(_numpy(model(x, training=False)).astype("float64")),
        expected,
        atol=1e-3,
    )
    # A flip at inference would move them far more than that.
    flipped = log_probabilities(x[:, :, ::-1])
    assert np.max(np.abs(flipped - expected)) > 0.1


def test_saved_transfer_model_loads_without_custom_objects(tmp_path):
    model = build_transfer_model(
        make_tiny_base(), 3, weights=None, preprocessing="caffe"
    )
    x = _pixels((2, 16, 16, 3))
    path = os.path.join(tmp_path, "transfer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-6)


def _perturb(model, seed=3):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = rng.normal(0.0, 0.1, size=weight.shape).astype("float32")
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value)


def test_local_weights_file_round_trip_gives_identical_outputs(
    tmp_path, fresh_session
):
    shape = model_info("MobileNetV3Small").min_input_shape
    first = build_transfer_model(
        "MobileNetV3Small", 3, input_shape=shape, weights=None
    )
    _perturb(get_base(first))
    path = os.path.join(tmp_path, "base.weights.h5")
    get_base(first).save_weights(path)

    second = build_transfer_model(
        "MobileNetV3Small", 3, input_shape=shape, weights=path
    )
    for a, b in zip(get_base(first).weights, get_base(second).weights):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))
    second.get_layer("predictions").set_weights(
        first.get_layer("predictions").get_weights()
    )
    x = _pixels((2, *shape))
    np.testing.assert_array_equal(_numpy(first(x)), _numpy(second(x)))


def test_custom_base_loads_a_weights_file(tmp_path):
    source = make_tiny_base()
    _perturb(source)
    path = os.path.join(tmp_path, "tiny.weights.h5")
    source.save_weights(path)
    target = make_tiny_base(name="other")
    model = build_transfer_model(target, 3, weights=path)
    assert get_base(model) is target
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


def test_weights_file_of_another_architecture_is_a_clear_error(tmp_path):
    path = os.path.join(tmp_path, "tiny.weights.h5")
    make_tiny_base().save_weights(path)
    inputs = keras.Input((16, 16, 3))
    other = keras.Model(inputs, keras.layers.Conv2D(2, 5)(inputs))
    with pytest.raises(ValueError, match="Could not load the weights file"):
        build_transfer_model(other, 3, weights=path)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = os.path.join(tmp_path, "nowhere.weights.h5")
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        build_transfer_model(
            "MobileNetV3Small", 3, input_shape=(32, 32, 3), weights=missing
        )
    assert missing in str(info.value)


def _weights_cached(fragment):
    cache = os.path.join(os.path.expanduser("~"), ".keras", "models")
    return os.path.isdir(cache) and any(
        fragment in f for f in os.listdir(cache)
    )


def test_imagenet_weights_offline_is_a_clear_error(monkeypatch):
    if _weights_cached("mobilenet_v3_small"):
        pytest.skip("the MobileNetV3Small weights are cached here")

    def no_network(*args, **kwargs):
        raise OSError("network disabled by the test")

    # Every connection attempt fails at once, so the test cannot hang.
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(
        WeightsUnavailableError, match="MobileNetV3Small.*weights=None"
    ) as info:
        build_transfer_model("MobileNetV3Small", 3, input_shape=(32, 32, 3))
    assert "Received: weights='imagenet'" in str(info.value)


def test_custom_base_with_imagenet_weights_is_an_error():
    with pytest.raises(ValueError, match="weights='imagenet'"):
        build_transfer_model(make_tiny_base(), 3)


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'MobileNetV2'"):
        build_transfer_model("MobileNetV22", 3, weights=None)


@pytest.mark.parametrize(
    "name,side", [("Xception", 70), ("InceptionV3", 74), ("VGG16", 31)]
)
def test_input_below_the_minimum_is_a_clear_error(name, side):
    with pytest.raises(ValueError, match=f"at least {side + 1}x{side + 1}"):
        build_transfer_model(
            name, 3, input_shape=(side, side + 40, 3), weights=None
        )


@pytest.mark.parametrize("num_classes", [1, 0, 2.0, None])
def test_num_classes_below_two_is_a_clear_error(num_classes):
    with pytest.raises(ValueError, match="num_classes="):
        build_transfer_model("VGG16", num_classes, weights=None)


def test_imagenet_weights_need_three_channels():
    with pytest.raises(ValueError, match="3 channels"):
        build_transfer_model("VGG16", 3, input_shape=(32, 32, 1))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"pooling": "sum"}, "pooling='sum'"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"dropout": -0.1}, "dropout=-0.1"),
        ({"trainable_base": "yes"}, "trainable_base='yes'"),
        ({"augmentation": 3}, "augmentation=3"),
        ({"weights": 3}, "weights=3"),
        ({"preprocessing": "bgr"}, "preprocessing='bgr'"),
        ({"input_shape": (32, 32)}, r"input_shape=\(32, 32\)"),
    ],
)
def test_bad_arguments_are_named_in_the_error(kwargs, message):
    kwargs = {"weights": None, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_transfer_model("VGG16", 3, **kwargs)
