import keras
import numpy as np
import pytest

from mlkeras.transfer.build import build_transfer_model
from mlkeras.transfer.fine_tune import fine_tune
from mlkeras.transfer.freezing import get_base
from tests.transfer import make_tiny_base


def _numpy(x):
    return np.array(keras.ops.convert_to_numpy(x))


class _Recorder(keras.callbacks.Callback):
    """Snapshots every weight when each fit starts and ends, and the
    optimizer's learning rate at every epoch, read from the optimizer."""

    def __init__(self):
        super().__init__()
        self.snapshots = []
        self.learning_rates = []

    def _snapshot(self):
        self.snapshots.append({id(w): _numpy(w) for w in self.model.weights})

    def on_train_begin(self, logs=None):
        self._snapshot()

    def on_train_end(self, logs=None):
        self._snapshot()

    def on_epoch_begin(self, epoch, logs=None):
        self.learning_rates.append(
            float(_numpy(self.model.optimizer.learning_rate))
        )


def _changed(recorder, phase, weights):
    """Whether each weight moved during phase 0 or 1."""
    before, after = (
        recorder.snapshots[2 * phase],
        recorder.snapshots[2 * phase + 1],
    )
    return [not np.array_equal(before[id(w)], after[id(w)]) for w in weights]


def _data(n=32, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, size=(n, 16, 16, 3)).astype("float32")
    return x, (np.arange(n) % classes).astype("int32")


def test_phases_train_the_intended_layers_at_their_learning_rates():
    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    base = get_base(model)
    recorder = _Recorder()
    x, y = _data()
    history = fine_tune(
        model,
        (x, y),
        _data(8, seed=1),
        head_epochs=2,
        fine_tune_epochs=2,
        head_learning_rate=1e-2,
        fine_tune_learning_rate=1e-4,
        unfreeze_last=3,
        callbacks=[recorder],
        batch_size=8,
    )

    head = model.get_layer("predictions").weights
    early = base.get_layer("conv0").weights + base.get_layer("conv1").weights
    late = base.get_layer("conv2").weights
    norms = [
        w
        for layer in base.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    ]
    # Phase one: only the head moves.
    assert all(_changed(recorder, 0, head))
    assert not any(_changed(recorder, 0, base.weights))
    # Phase two: the head and the last block's convolution move; earlier
    # layers and every BatchNormalization weight and statistic do not.
    assert all(_changed(recorder, 1, head))
    assert all(_changed(recorder, 1, late))
    assert not any(_changed(recorder, 1, early))
    assert not any(_changed(recorder, 1, norms))

    np.testing.assert_allclose(
        recorder.learning_rates, [1e-2, 1e-2, 1e-4, 1e-4], rtol=1e-6
    )
    np.testing.assert_allclose(
        history.history["learning_rate"], recorder.learning_rates, rtol=1e-6
    )
    assert history.epoch == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history.history[key]) == 4, key


def test_history_joins_the_two_fits_in_order():
    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    x, y = _data(16)
    losses = []

    class LossLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            losses.append(logs["loss"])

    history = fine_tune(
        model,
        (x, y),
        None,
        head_epochs=1,
        fine_tune_epochs=2,
        callbacks=[LossLogger()],
    )
    assert history.history["loss"] == pytest.approx(losses)
    assert "val_loss" not in history.history


def test_two_classes_default_to_binary_crossentropy():
    model = build_transfer_model(make_tiny_base(), 2, weights=None)
    x, y = _data(16, classes=2)
    fine_tune(model, (x, y), None, head_epochs=1, fine_tune_epochs=0)
    assert isinstance(model.loss, keras.losses.BinaryCrossentropy)
    assert not get_base(model).trainable


def test_without_head_epochs_the_whole_base_is_tuned():
    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    recorder = _Recorder()
    x, y = _data(16)
    history = fine_tune(
        model,
        (x, y),
        None,
        head_epochs=0,
        fine_tune_epochs=1,
        callbacks=[recorder],
    )
    base = get_base(model)
    assert all(_changed(recorder, 0, base.get_layer("conv0").weights))
    assert history.history["learning_rate"] == [1e-5]


def test_takes_a_dataset_and_an_optimizer_instance():
    import tensorflow as tf

    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    x, y = _data(16)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    recorder = _Recorder()
    fine_tune(
        model,
        data,
        data,
        head_epochs=1,
        fine_tune_epochs=1,
        optimizer=keras.optimizers.SGD(momentum=0.5),
        head_learning_rate=0.05,
        fine_tune_learning_rate=0.005,
        callbacks=[recorder],
    )
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == 0.5
    np.testing.assert_allclose(
        recorder.learning_rates, [0.05, 0.005], rtol=1e-6
    )


@pytest.mark.slow
def test_fine_tunes_a_keras_application():
    model = build_transfer_model(
        "MobileNetV3Small", 3, input_shape=(32, 32, 3), weights=None
    )
    base = get_base(model)
    stats = [w for w in base.weights if "moving" in w.path]
    before = [_numpy(w) for w in stats]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(8, 32, 32, 3)).astype("float32")
    history = fine_tune(
        model,
        (x, np.arange(8) % 3),
        None,
        head_epochs=1,
        fine_tune_epochs=1,
        unfreeze_last=10,
        batch_size=8,
    )
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["loss"]))
    for a, w in zip(before, stats):
        np.testing.assert_array_equal(a, _numpy(w))
    trainable_base = [
        layer.name for layer in base.layers if layer.trainable and layer.weights
    ]
    assert trainable_base and all(
        name in [layer.name for layer in base.layers[-10:]]
        for name in trainable_base
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"head_epochs": -1}, "head_epochs=-1"),
        ({"fine_tune_epochs": 1.5}, "fine_tune_epochs=1.5"),
        ({"head_epochs": 0, "fine_tune_epochs": 0}, "At least one phase"),
        ({"head_learning_rate": 0}, "head_learning_rate=0"),
        ({"fine_tune_learning_rate": -1e-5}, "fine_tune_learning_rate=-1e-05"),
    ],
)
def test_bad_arguments_are_named_in_the_error(kwargs, message):
    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    arguments = {"head_epochs": 1, "fine_tune_epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        fine_tune(model, _data(8), None, **arguments)


def test_rejects_a_non_model_and_a_bad_tuple():
    with pytest.raises(ValueError, match="model="):
        fine_tune("model", _data(8), None, 1, 1)
    model = build_transfer_model(make_tiny_base(), 3, weights=None)
    with pytest.raises(ValueError, match="length 3"):
        fine_tune(model, (1, 2, 3), None, 1, 1)
