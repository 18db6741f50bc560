"""Checks for lab 09 (regularisation): penalties against `keras.regularizers`
and the stopping rule against `keras.callbacks.EarlyStopping`, replayed on
random loss curves."""

import numpy as np
import pytest

from mlkeras.grading.checks._reference import keras, random_shape, to_numpy
from mlkeras.grading.expect import assert_number, assert_type


def _weights(rng):
    return rng.normal(size=random_shape(rng, (1, 2, 3)))


def _keras_penalty(regularizer, weights):
    return float(to_numpy(regularizer(weights.astype("float64"))))


def test_l1_penalty_matches_keras(submission, rng):
    w, l1 = _weights(rng), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.l1_penalty(w, l1=l1),
        _keras_penalty(keras().regularizers.L1(l1), w),
        rtol=1e-5,
        name="L1 penalty",
    )


def test_l2_penalty_matches_keras(submission, rng):
    w, l2 = _weights(rng), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.l2_penalty(w, l2=l2),
        _keras_penalty(keras().regularizers.L2(l2), w),
        rtol=1e-5,
        name="L2 penalty",
    )


def test_elastic_net_penalty_matches_keras(submission, rng):
    w = _weights(rng)
    l1, l2 = float(rng.uniform(0.001, 0.1)), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.elastic_net_penalty(w, l1=l1, l2=l2),
        _keras_penalty(keras().regularizers.L1L2(l1=l1, l2=l2), w),
        rtol=1e-5,
        name="elastic-net penalty",
    )


class _Model:
    stop_training = False


def _keras_stops(history, patience, min_delta, mode):
    callback = keras().callbacks.EarlyStopping(
        monitor="loss", patience=patience, min_delta=min_delta, mode=mode
    )
    model = _Model()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(history):
        callback.on_epoch_end(epoch, {"loss": float(value)})
        if model.stop_training:
            return True
    return False


def _curves(rng, mode, count=12):
    curves = []
    for _ in range(count):
        length = int(rng.integers(3, 15))
        trend = (
            -np.sort(rng.uniform(0, 1, size=length))
            if rng.random() < 0.5
            else rng.uniform(0, 1, size=length)
        )
        curves.append(trend if mode == "min" else -trend)
    return curves


@pytest.mark.parametrize("mode", ["min", "max"])
def test_should_stop_agrees_with_keras_early_stopping(submission, rng, mode):
    for history in _curves(rng, mode):
        patience = int(rng.integers(1, 4))
        min_delta = float(rng.choice([0.0, 0.01, 0.1]))
        answer = submission.should_stop(
            [float(v) for v in history],
            patience,
            min_delta=min_delta,
            mode=mode,
        )
        assert_type(answer, bool, name="should_stop result")
        expected = _keras_stops(history, patience, min_delta, mode)
        assert_number(
            int(answer),
            int(expected),
            rtol=0,
            atol=0,
            name=f"should_stop({np.round(history, 3).tolist()}, "
            f"patience={patience}, "
            f"min_delta={min_delta}, mode={mode!r}) (1 = stop)",
        )
