"""Tests of EarlyStopping: parity with Keras's callback, then each extension."""

import warnings

import keras
import numpy as np
import pytest

from mlkeras.callbacks import EarlyStopping
from tests.backends import run_tests_on_backend


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


class _WeightTaggedModel:
    """The little of a model that early stopping touches, without Keras's cost.

    Used where hundreds of sequences are played: its one weight is whatever
    `_tag` last wrote, so restored weights name an epoch as with a real model.
    """

    def __init__(self):
        self.stop_training = False
        self.metrics = []
        self._weights = [np.zeros((2, 1), "float32")]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w) for w in weights]


def _tag(model, epoch):
    """Gives the model weights that say which epoch they come from."""
    model.set_weights(
        [
            np.full(w.shape, float(epoch), dtype=w.dtype)
            for w in model.get_weights()
        ]
    )


def _drive(callback, values, monitor="val_loss", model=None):
    """Plays `values` as one fit's epoch logs; returns (last epoch, weights).

    Before each epoch's end the weights are set to the epoch number, so the
    weights left after `on_train_end` name the epoch that was restored.
    """
    model = model or _tiny_model()
    model.stop_training = False
    callback.set_model(model)
    _tag(model, -1)
    callback.on_train_begin()
    last = None
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        _tag(model, epoch)
        callback.on_epoch_end(epoch, {monitor: value, "loss": 1.0})
        last = epoch
        if model.stop_training:
            break
    callback.on_train_end()
    return last, float(model.get_weights()[0].ravel()[0])


def _random_case(rng):
    """A random monitored sequence and Keras-compatible arguments."""
    n = int(rng.integers(1, 25))
    pool = rng.normal(size=max(1, n // 2))
    values = rng.normal(size=n).cumsum() * 0.3 + rng.normal(size=n) * 0.1
    repeat = rng.random(n) < 0.2  # ties and plateaus
    values[repeat] = rng.choice(pool, size=int(repeat.sum()))
    kwargs = {
        "patience": int(rng.integers(0, 5)),
        "min_delta": float(rng.choice([0.0, rng.uniform(0, 0.3)])),
        "mode": str(rng.choice(["min", "max", "auto"])),
        "baseline": (None if rng.random() < 0.5 else float(rng.normal())),
        "restore_best_weights": bool(rng.random() < 0.6),
        "start_from_epoch": int(rng.choice([0, 0, 1, 3])),
    }
    nan = rng.random(n) < 0.08
    # Keras's NaN-first bug (a NaN first monitored value becomes "best") is
    # the one documented difference.
    nan[: kwargs["start_from_epoch"] + 1] = False
    values[nan] = np.nan
    return [float(v) for v in values], kwargs


def test_same_stop_epoch_and_restored_weights_as_keras_on_random_sequences():
    rng = np.random.default_rng(1234)
    stops = 0
    for case in range(300):
        values, kwargs = _random_case(rng)
        ours = EarlyStopping(**kwargs)
        theirs = keras.callbacks.EarlyStopping(**kwargs)
        got = _drive(ours, values, model=_WeightTaggedModel())
        want = _drive(theirs, values, model=_WeightTaggedModel())
        context = f"case {case}: {kwargs} {values}"
        assert got == want, context
        assert ours.stopped_epoch == theirs.stopped_epoch, context
        assert ours.best_epoch == theirs.best_epoch, context
        assert ours.wait == theirs.wait, context
        if theirs.best is None:
            assert ours.best is None, context
        else:
            assert ours.best == pytest.approx(float(theirs.best)), context
        stops += theirs.stopped_epoch > 0
    # The sample covers both outcomes.
    assert 50 < stops < 250


def test_same_epochs_and_weights_as_keras_inside_a_real_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = x @ np.array([[1.0], [-2.0]], dtype="float32") + rng.normal(
        size=(64, 1)
    ).astype("float32")
    x_val, y_val = x[:16], -y[:16]  # validation loss soon rises
    start = _tiny_model().get_weights()
    results = []
    for cls in (EarlyStopping, keras.callbacks.EarlyStopping):
        model = _tiny_model()
        model.set_weights(start)
        stopper = cls(patience=2, restore_best_weights=True)
        history = model.fit(
            x,
            y,
            validation_data=(x_val, y_val),
            epochs=30,
            batch_size=64,
            shuffle=False,
            verbose=0,
            callbacks=[stopper],
        )
        results.append(
            (
                len(history.history["loss"]),
                stopper.best_epoch,
                [w.tolist() for w in model.get_weights()],
            )
        )
    assert results[0] == results[1]
    assert results[0][0] < 30


def test_first_value_nan_is_never_best_unlike_keras():
    values = [float("nan"), 3.0, 2.0, 2.5, 2.6, 2.7]
    theirs = keras.callbacks.EarlyStopping(
        patience=2, restore_best_weights=True
    )
    _, keras_weights = _drive(theirs, values)
    assert np.isnan(theirs.best) and keras_weights == 0.0  # the NaN epoch

    ours = EarlyStopping(patience=2, restore_best_weights=True)
    last, weights = _drive(ours, values)
    assert ours.best == 2.0 and ours.best_epoch == 2
    assert weights == 2.0
    assert last == 4 and ours.stopped_epoch == 4


def test_relative_min_delta_needs_a_fraction_of_best():
    values = [10.0, 9.95, 9.85, 9.84, 9.83, 9.0]
    ours = EarlyStopping(min_delta=0.01, min_delta_mode="relative", patience=2)
    last, _ = _drive(ours, values)
    # 9.95 misses 10 * (1 - 0.01) = 9.9; 9.85 beats it; 9.84 and 9.83 miss
    # 9.85 * 0.99 = 9.7515, so patience runs out at epoch 4.
    assert ours.best_epoch == 2 and ours.best == 9.85
    assert last == 4 and ours.stopped_epoch == 4
    absolute = EarlyStopping(min_delta=0.01, patience=2)
    _drive(absolute, values)
    # Absolutely, every step but 9.84 gains over 0.01: no stop.
    assert absolute.best_epoch == 5 and absolute.stop_reason is None

    rising = [1.0, 1.5, 1.52, 1.53]
    up = EarlyStopping(
        monitor="val_accuracy",
        min_delta=0.1,
        min_delta_mode="relative",
        patience=1,
        mode="max",
    )
    last, _ = _drive(up, rising, monitor="val_accuracy")
    assert up.best == 1.5 and last == 2


def _ema(values, factor):
    out, smoothed = [], None
    for v in values:
        smoothed = (
            v if smoothed is None else factor * smoothed + (1 - factor) * v
        )
        out.append(smoothed)
    return out


@pytest.mark.parametrize("factor", [0.3, 0.8])
def test_smoothing_equals_keras_on_the_moving_average(factor):
    rng = np.random.default_rng(7)
    for _ in range(40):
        values = list(
            np.cumsum(rng.normal(size=20)) * 0.2 + rng.normal(size=20)
        )
        ours = EarlyStopping(
            patience=3, smoothing=factor, restore_best_weights=True
        )
        theirs = keras.callbacks.EarlyStopping(
            patience=3, restore_best_weights=True
        )
        assert _drive(ours, values, model=_WeightTaggedModel()) == _drive(
            theirs, _ema(values, factor), model=_WeightTaggedModel()
        )
        assert ours.best == pytest.approx(float(theirs.best))


def test_smoothing_damps_a_single_noisy_dip():
    values = [1.0, 0.9, 0.3, 0.85, 0.86, 0.87, 0.88]
    plain = EarlyStopping(patience=3)
    smooth = EarlyStopping(patience=3, smoothing=0.9)
    _drive(plain, values)
    _drive(smooth, values)
    assert plain.best_epoch == 2
    assert smooth.best_epoch == 6  # the average keeps falling slowly


def test_stop_on_nonfinite_stops_at_once_and_restores_best_weights():
    values = [1.0, 0.5, 0.7, float("inf"), 0.1]
    ours = EarlyStopping(patience=10, stop_on_nonfinite=True)
    last, weights = _drive(ours, values)
    assert last == 3 and ours.stopped_epoch == 3
    assert weights == 1.0  # epoch 1 was best; restored without asking
    assert "non-finite" in ours.stop_reason

    first_bad = EarlyStopping(stop_on_nonfinite=True)
    last, weights = _drive(first_bad, [float("nan"), 1.0])
    assert last == 0 and weights == -1.0  # the weights from before training


def test_nonfinite_values_only_count_against_patience_by_default():
    values = [1.0, float("nan"), float("nan"), 0.5]
    ours = EarlyStopping(patience=3)
    last, _ = _drive(ours, values)
    assert last == 3 and ours.stop_reason is None and ours.best == 0.5


def test_stopping_threshold_stops_once_better_than_the_target():
    ours = EarlyStopping(patience=10, stopping_threshold=0.3, verbose=1)
    last, _ = _drive(ours, [1.0, 0.5, 0.29, 0.1])
    assert last == 2 and ours.stopped_epoch == 2
    assert "stopping_threshold" in ours.stop_reason

    up = EarlyStopping(
        monitor="val_accuracy", patience=10, stopping_threshold=0.9
    )
    last, _ = _drive(up, [0.5, 0.95, 0.97], monitor="val_accuracy")
    assert last == 1


def test_divergence_threshold_stops_once_worse_than_the_limit():
    ours = EarlyStopping(
        patience=10, divergence_threshold=2.0, restore_best_weights=True
    )
    last, weights = _drive(ours, [1.0, 0.8, 1.9, 2.5, 0.1])
    assert last == 3 and weights == 1.0
    assert "diverged" in ours.stop_reason and ours.best == 0.8


def test_verbose_prints_the_stop_reason(capsys):
    ours = EarlyStopping(patience=1, verbose=1, restore_best_weights=True)
    _drive(ours, [1.0, 2.0, 3.0])
    printed = capsys.readouterr().out
    assert ours.stop_reason in printed
    assert "did not improve for 1 epochs" in ours.stop_reason
    assert "best epoch: 1" in printed


def test_missing_monitor_warns_with_available_keys_or_raises_when_strict():
    with pytest.warns(UserWarning, match="Available keys: loss"):
        last, _ = _drive(EarlyStopping(monitor="val_auc"), [1.0, 2.0])
    assert last == 1
    with pytest.raises(KeyError, match="val_auc"):
        _drive(EarlyStopping(monitor="val_auc", strict=True), [1.0])


def test_one_instance_is_reset_between_fits():
    ours = EarlyStopping(patience=1, stop_on_nonfinite=True)
    _drive(ours, [1.0, float("nan")])
    assert ours.stop_reason is not None
    last, _ = _drive(ours, [3.0, 2.0, 1.0])
    assert last == 2
    assert ours.stop_reason is None and ours.stopped_epoch == 0
    assert ours.best == 1.0 and ours.best_epoch == 2


def test_auto_mode_maximises_accuracy_metrics():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    ours = EarlyStopping(monitor="val_accuracy", patience=0)
    last, _ = _drive(
        ours, [0.5, 0.6, 0.55], monitor="val_accuracy", model=model
    )
    assert ours.best == 0.6 and last == 2
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        _drive(EarlyStopping(monitor="val_thing"), [1.0], monitor="val_thing")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"patience": -1}, "patience"),
        ({"patience": 1.5}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"mode": "minimum"}, "mode"),
        ({"min_delta_mode": "percent"}, "min_delta_mode"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"stopping_threshold": float("nan")}, "stopping_threshold"),
        ({"divergence_threshold": "big"}, "divergence_threshold"),
        ({"start_from_epoch": -2}, "start_from_epoch"),
        ({"monitor": ""}, "monitor"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        EarlyStopping(**kwargs)


def test_no_warning_when_the_monitor_is_present():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _drive(EarlyStopping(patience=1), [1.0, 0.5, 0.7, 0.8])


# Keras's own test cases (keras/src/callbacks/early_stopping_test.py), run on
# Keras's callback as the reference and on ours. None of them calls a private
# method of Keras's callback, so none is left out.
BOTH = pytest.mark.parametrize(
    "cls",
    [keras.callbacks.EarlyStopping, EarlyStopping],
    ids=["reference", "ours"],
)


def _dense_pair():
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(1, activation="relu"),
            keras.layers.Dense(1, activation="relu"),
        ]
    )


@BOTH
def test_keras_case_mode_sets_monitor_op_for_every_metric_kind(cls):
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 5)), rng.random((10, 1))
    model = _dense_pair()
    model.compile(
        loss="mae",
        optimizer="adam",
        # F1Score on one output logs a value of shape (1,).
        metrics=["mse", "acc", "accuracy", "hinge", keras.metrics.F1Score()],
    )
    cases = [
        ("max", "val_mse", keras.ops.greater),
        ("min", "val_loss", keras.ops.less),
        ("auto", "val_mse", keras.ops.less),
        ("auto", "loss", keras.ops.less),
        ("auto", "acc", keras.ops.greater),
        ("auto", "val_accuracy", keras.ops.greater),
        ("auto", "hinge", keras.ops.less),
        ("auto", "f1_score", keras.ops.greater),
        ("auto", "val_f1_score", keras.ops.greater),
    ]
    for mode, monitor, expected in cases:
        stopper = cls(patience=0, monitor=monitor, mode=mode)
        model.fit(
            x,
            y,
            batch_size=5,
            validation_data=(x, y),
            callbacks=[stopper],
            epochs=2,
            verbose=0,
        )
        assert stopper.monitor_op is expected, monitor
    with pytest.raises(ValueError):
        model.fit(
            x,
            y,
            batch_size=5,
            callbacks=[cls(monitor="unknown")],
            epochs=2,
            verbose=0,
        )


@BOTH
@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_keras_case_patience_counts_epochs_without_improvement(cls, patience):
    stopper = cls(monitor="loss", patience=patience)
    stopper.set_model(keras.Sequential())
    stopper.model.compile(loss="mse", optimizer="sgd")
    stopper.on_train_begin()
    for epoch, loss in enumerate([10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6]):
        stopper.on_epoch_end(epoch, logs={"loss": loss})
        if stopper.model.stop_training:
            break
    assert stopper.stopped_epoch == max(patience, 1) + 2


@BOTH
def test_keras_case_one_instance_serves_two_fits(cls):
    rng = np.random.default_rng(1)
    data = rng.random((100, 1))
    labels = np.where(data > 0.5, 1, 0)
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, activation="relu"),
            keras.layers.Dense(1, activation="relu"),
        ]
    )
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    stopper = cls(monitor="mse", patience=3)
    for _ in range(2):
        history = model.fit(
            data, labels, callbacks=[stopper], verbose=0, epochs=20
        )
        assert len(history.epoch) >= 3


@BOTH
def test_keras_case_on_train_begin_clears_the_previous_run(cls):
    stopper = cls(monitor="loss", patience=3)
    stopper.set_model(keras.Sequential())
    stopper.on_train_begin()
    stopper.best, stopper.wait = 0.1, 3
    stopper.stopped_epoch, stopper.best_epoch = 5, 5
    stopper.best_weights = object()
    stopper.on_train_begin()
    assert stopper.best is None and stopper.best_weights is None
    assert stopper.wait == stopper.stopped_epoch == stopper.best_epoch == 0


@BOTH
def test_keras_case_baseline_and_start_from_epoch_in_a_fit(cls):
    rng = np.random.default_rng(2)
    x, y = rng.random((10, 5)), rng.random((10, 1))
    model = _dense_pair()
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    history = model.fit(
        x,
        y,
        callbacks=[cls(monitor="mse", patience=3, baseline=0.6)],
        verbose=0,
        epochs=20,
    )
    assert len(history.epoch) >= 3
    for patience in (3, 0):
        stopper = cls(monitor="mse", patience=patience, start_from_epoch=2)
        history = model.fit(x, y, callbacks=[stopper], verbose=0, epochs=20)
        assert len(history.epoch) >= patience + 2


class _EpochModel:
    """Keras's test stand-in: its weights are the number of an epoch."""

    def __init__(self):
        self.stop_training = False
        self.weights = -1

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights


@BOTH
@pytest.mark.parametrize(
    "kwargs, losses, stop_at, trained, restored",
    [
        # The best epoch (2) is restored after patience runs out.
        ({"patience": 2}, [0.2, 0.15, 0.1, 0.11, 0.12], None, 5, 2),
        # No epoch beats the baseline: stop after `patience` epochs and
        # restore the best of them.
        (
            {"patience": 5, "baseline": 0.5},
            [0.9, 0.8, 0.7, 0.71, 0.72, 0.73],
            None,
            5,
            2,
        ),
        # Another callback stops training: the best epoch is restored.
        (
            {"patience": 5, "baseline": 0.5},
            [0.9, 0.8, 0.7, 0.71, 0.72, 0.73],
            3,
            4,
            2,
        ),
    ],
)
def test_keras_case_restores_the_best_epoch_weights(
    cls, kwargs, losses, stop_at, trained, restored
):
    stopper = cls(monitor="val_loss", restore_best_weights=True, **kwargs)
    stopper.set_model(_EpochModel())
    stopper.on_train_begin()
    epochs = 0
    for epoch, loss in enumerate(losses):
        epochs += 1
        stopper.model.weights = epoch
        stopper.on_epoch_end(epoch, logs={"val_loss": loss})
        if epoch == stop_at:
            stopper.model.stop_training = True
        if stopper.model.stop_training:
            break
    stopper.on_train_end()
    assert epochs == trained
    assert stopper.model.get_weights() == restored


# Every form Keras logs a metric in. Train metrics arrive as float32 tensors,
# validation metrics as Python floats, one-class F1Score as shape (1,).
LOGGED_FORMS = {
    "float": float,
    "numpy_0d": lambda v: np.asarray(v, "float32"),
    "numpy_1": lambda v: np.asarray([v], "float32"),
    "numpy_1x1": lambda v: np.asarray([[v]], "float64"),
    "tensor_0d": lambda v: keras.ops.convert_to_tensor(v, "float32"),
    "tensor_1": lambda v: keras.ops.convert_to_tensor([v], "float32"),
}


@pytest.mark.parametrize("form", sorted(LOGGED_FORMS))
def test_reference_parity_for_every_logged_form_of_a_value(form):
    wrap = LOGGED_FORMS[form]
    rng = np.random.default_rng(3)
    for _ in range(15):
        values, kwargs = _random_case(rng)
        values = [v for v in values if np.isfinite(v)] or [1.0]
        logged = [wrap(v) for v in values]
        ours = EarlyStopping(**kwargs)
        theirs = keras.callbacks.EarlyStopping(**kwargs)
        got = _drive(ours, logged, model=_WeightTaggedModel())
        want = _drive(theirs, logged, model=_WeightTaggedModel())
        assert got == want, (form, kwargs, values)
        assert ours.best_epoch == theirs.best_epoch
        assert ours.wait == theirs.wait


def test_reference_parity_when_values_differ_below_float32_precision():
    # Keras compares in float32: 1 - 1e-9 is no improvement on 1.
    values = [1.0, 1.0 - 1e-9, 1.0 - 2e-9, 0.5]
    ours, theirs = (
        EarlyStopping(patience=1),
        keras.callbacks.EarlyStopping(patience=1),
    )
    assert _drive(ours, values) == _drive(theirs, values)
    assert ours.stopped_epoch == theirs.stopped_epoch == 1


@BOTH
def test_reference_parity_with_a_monitor_op_set_before_training(cls):
    # An assigned comparison is used as it is, `min_delta` not negated.
    stopper = cls(monitor="val_loss", min_delta=0.1, patience=2)
    stopper.monitor_op = np.greater
    last, _ = _drive(stopper, [1.0, 1.2, 1.25, 1.4, 1.3, 1.35])
    assert stopper.monitor_op is np.greater
    assert (last, stopper.best_epoch) == (5, 3)


def test_min_delta_asks_for_a_gain_with_an_assigned_minimising_monitor_op():
    values = [1.0, 1.05, 1.08, 0.5]
    ours = EarlyStopping(min_delta=0.1, patience=1)
    ours.monitor_op = keras.ops.less
    last, _ = _drive(ours, values)
    assert (last, ours.best_epoch) == (1, 0)  # 1.05 is no improvement
    # Keras's callback keeps `min_delta` positive here, so a value up to
    # 0.1 worse counts as better.
    theirs = keras.callbacks.EarlyStopping(min_delta=0.1, patience=1)
    theirs.monitor_op = keras.ops.less
    _drive(theirs, values)
    assert theirs.best_epoch == 3 and theirs.stopped_epoch == 0


def test_one_class_f1_score_stops_a_fit_as_keras_does():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    start = None
    results = []
    for cls in (keras.callbacks.EarlyStopping, EarlyStopping):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
        )
        if start is None:
            start = model.get_weights()
        model.set_weights(start)
        model.compile(
            "sgd",
            "binary_crossentropy",
            metrics=[keras.metrics.F1Score(threshold=0.5)],
        )
        stopper = cls(
            monitor="val_f1_score", patience=1, restore_best_weights=True
        )
        history = model.fit(
            x,
            y,
            validation_data=(x, 1 - y),  # validation F1 falls
            epochs=20,
            batch_size=32,
            verbose=0,
            callbacks=[stopper],
        )
        assert np.shape(history.history["val_f1_score"][0]) == (1,)
        results.append(
            (
                len(history.epoch),
                stopper.best_epoch,
                [w.tolist() for w in model.get_weights()],
            )
        )
    assert results[0] == results[1]
    assert results[0][0] < 20


def test_several_values_raise_naming_the_monitor_shape_and_a_fix():
    per_class = np.array([0.5, 0.6, 0.7], "float32")
    with pytest.raises(ValueError) as error:
        _drive(
            EarlyStopping(monitor="val_f1_score", mode="max"),
            [per_class],
            monitor="val_f1_score",
        )
    message = str(error.value)
    assert "`val_f1_score`" in message and "(3,)" in message
    assert "average=" in message and "\n" not in message


def test_reference_cases_run_on_jax_backend():
    run_tests_on_backend(
        "jax", __file__, "-k", "keras_case or reference_parity"
    )
