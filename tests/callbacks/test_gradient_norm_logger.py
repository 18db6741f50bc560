"""Tests of GradientNormLogger against gradients computed by hand."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from unittest import mock

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from mlkeras.callbacks import GradientNormLogger, gradient_norm_logger
from tests.backends import REPO_ROOT, run_tests_on_backend

BACKEND = keras.backend.backend()


def _data(n=48, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    return x, y


def _model(optimizer=None, jit_compile=False, hidden_init="glorot_uniform"):
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(
                8,
                activation="tanh",
                name="hidden",
                kernel_initializer=hidden_init,
            ),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(
        optimizer or keras.optimizers.SGD(0.1), "mse", jit_compile=jit_compile
    )
    return model


def _reference_gradients(model, weights, x, y):
    """Gradients of the mean squared error at `weights`, computed by hand."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        twin = keras.models.clone_model(model)
        twin.set_weights(weights)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(twin(x) - y))
        grads = tape.gradient(loss, twin.trainable_variables)
        return [g.numpy().astype("float64") for g in grads]
    import jax

    def loss_fn(trainable):
        y_pred, _ = model.stateless_call(
            trainable, [v.value for v in model.non_trainable_variables], x
        )
        return jax.numpy.mean(jax.numpy.square(y_pred - y))

    grads = jax.grad(loss_fn)([jax.numpy.asarray(w) for w in weights])
    return [np.asarray(g, dtype="float64") for g in grads]


def _norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a)) for a in arrays)))


def _replay(model, weights, x, y, batch_size, steps, lr, clipnorm=None):
    """Runs plain SGD by hand; returns the unclipped norms of every step."""
    weights = [np.asarray(w, dtype="float64") for w in weights]
    records = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        grads = _reference_gradients(
            model, [w.astype("float32") for w in weights], xb, yb
        )
        records.append(grads)
        if clipnorm is not None:
            grads = [
                g * clipnorm / max(np.linalg.norm(g), clipnorm) for g in grads
            ]
        weights = [w - lr * g for w, g in zip(weights, grads)]
    return records


@pytest.mark.parametrize(
    "jit_compile, clipnorm", [(False, 1e-3), (True, 1e-3), (True, None)]
)
def test_norms_equal_hand_computed_norms_of_every_applied_step(
    jit_compile, clipnorm
):
    x, y = _data()
    model = _model(keras.optimizers.SGD(0.1, clipnorm=clipnorm), jit_compile)
    initial = model.get_weights()
    logger = GradientNormLogger()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )

    records = _replay(model, initial, x, y, 16, 6, 0.1, clipnorm)
    assert logger.history["step"] == [1, 2, 3, 4, 5, 6]
    assert logger.history["epoch"] == [0, 0, 0, 1, 1, 1]
    expected_global = [_norm(g) for g in records]
    expected_hidden = [_norm(g[:2]) for g in records]
    expected_out = [_norm(g[2:]) for g in records]
    np.testing.assert_allclose(
        logger.history["grad_norm"], expected_global, rtol=1e-5
    )
    np.testing.assert_allclose(
        logger.history["grad_norm/hidden"], expected_hidden, rtol=1e-5
    )
    np.testing.assert_allclose(
        logger.history["grad_norm/out"], expected_out, rtol=1e-5
    )
    if clipnorm is not None:
        # The clipped gradients would all have norm <= clipnorm per variable.
        assert min(logger.history["grad_norm/out"]) > 10 * clipnorm


def test_norm_is_taken_before_global_clipnorm_with_adam():
    x, y = _data()
    model = _model(keras.optimizers.Adam(0.01, global_clipnorm=0.01))
    initial = model.get_weights()
    logger = GradientNormLogger()
    model.fit(
        x,
        y,
        batch_size=48,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )
    first = _reference_gradients(model, initial, x, y)
    assert _norm(first) > 0.1
    np.testing.assert_allclose(
        logger.history["grad_norm"][0], _norm(first), rtol=1e-5
    )
    # Later steps see the weights Adam moved, so their gradients differ.
    assert len(set(logger.history["grad_norm"])) == 3


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1)),
        lambda: keras.optimizers.SGD(0.1, loss_scale_factor=64.0),
    ],
    ids=["dynamic_loss_scale", "static_loss_scale_factor"],
)
def test_norms_are_of_the_unscaled_gradients_with_loss_scaling(make_optimizer):
    x, y = _data()
    model = _model(make_optimizer())
    initial = model.get_weights()
    logger = GradientNormLogger()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )
    records = _replay(model, initial, x, y, 16, 3, 0.1)
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(g) for g in records], rtol=1e-5
    )


def test_norms_under_mixed_precision_match_float32_gradients():
    # float16 activations with Keras's automatic loss scaling: the logged
    # norms are of the unscaled gradients, in float32.
    x, y = _data()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _model()
    finally:
        keras.config.set_dtype_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    initial = model.get_weights()
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=48, epochs=1, verbose=0, callbacks=[logger])
    reference = _model()
    reference.set_weights(initial)
    first = _reference_gradients(reference, initial, x, y)
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(first)], rtol=5e-3
    )
    np.testing.assert_allclose(
        logger.history["grad_norm/out"], [_norm(first[2:])], rtol=5e-3
    )


def test_a_step_skipped_by_the_loss_scale_optimizer_is_nan_without_warning():
    # A scale of 2**116 makes the first loss-scaled gradients overflow: the
    # optimizer skips those steps and halves its scale until they fit. The
    # squares of the scaled gradients of the later steps would overflow
    # too, were they not unscaled first.
    x, y = _data()
    model = _model(
        keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(0.01), initial_scale=2.0**116
        )
    )
    logger = GradientNormLogger(exploding_threshold=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(
            x, y * 1e3, batch_size=4, epochs=2, verbose=0, callbacks=[logger]
        )
    rows = np.array([logger.history[key] for key in logger.keys]).T
    skipped = np.isnan(rows[:, 0])
    applied = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    assert len(rows) == 24
    assert 0 < skipped.sum() == 24 - applied
    assert np.isnan(rows[skipped]).all()
    assert np.isfinite(rows[~skipped]).all()


def test_applied_gradients_whose_norm_overflows_are_inf_not_skipped():
    # Finite gradients of about 1e20, whose squares overflow float32: the
    # optimizer applies them (at a learning rate that keeps the weights
    # finite), and the logger reports an exploding norm.
    x, y = _data()
    model = _model(
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e-45))
    )
    logger = GradientNormLogger()
    with pytest.warns(UserWarning, match="norm is inf at step 1"):
        model.fit(
            x, y * 1e21, batch_size=16, epochs=1, verbose=0, callbacks=[logger]
        )
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 3
    assert logger.history["grad_norm"] == [np.inf] * 3


def test_warns_when_the_loss_scale_optimizer_skips_a_whole_epoch():
    x, y = _data()
    y[0] = np.nan
    model = _model(
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
    )
    logger = GradientNormLogger()
    with pytest.warns(UserWarning, match="applied none of them") as record:
        model.fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[logger])
    assert sum("Exploding" in str(w.message) for w in record) == 1
    assert np.isnan(logger.history["grad_norm"]).all()


def test_per_variable_norms_are_keyed_by_variable_path():
    x, y = _data()
    model = _model()
    initial = model.get_weights()
    logger = GradientNormLogger(per_variable=True)
    model.fit(x, y, batch_size=48, epochs=1, verbose=0, callbacks=[logger])
    paths = [v.path for v in model.trainable_variables]
    assert logger.names == paths
    grads = _reference_gradients(model, initial, x, y)
    for path, grad in zip(paths, grads):
        np.testing.assert_allclose(
            logger.history[f"grad_norm/{path}"][0],
            np.linalg.norm(grad),
            rtol=1e-5,
        )


@pytest.mark.parametrize("summed_by", ["masked sum", "segment sum"])
@pytest.mark.parametrize("per_variable", [False, True])
def test_norms_of_large_and_small_gradients_in_one_model(
    per_variable, summed_by
):
    """JAX takes a large gradient's norm by a dot product of its own and
    adds up the squares of the small ones together, per group by a masked
    sum or, for a larger grid, by a segment sum; every kind must give the
    hand-computed norms, per layer and per variable."""
    x, y = _data()
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(1000, activation="tanh", name="wide"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.01), "mse", jit_compile=BACKEND == "jax"
    )
    sizes = [int(np.prod(v.shape)) for v in model.trainable_variables]
    limit = gradient_norm_logger._SMALL_GRADIENT_SIZE
    assert min(sizes) < limit <= max(sizes)
    # One entry per small gradient's element or large gradient, times the
    # global column and one per group.
    entries = sum(s if s < limit else 1 for s in sizes) * (
        len(sizes) + 1 if per_variable else 3
    )
    if summed_by == "masked sum":
        mask_entries = gradient_norm_logger._GROUP_MASK_ENTRIES
        assert entries <= mask_entries
    else:
        mask_entries = entries - 1
    initial = model.get_weights()
    logger = GradientNormLogger(per_variable=per_variable)
    with mock.patch.object(
        gradient_norm_logger, "_GROUP_MASK_ENTRIES", mask_entries
    ):
        model.fit(x, y, batch_size=48, epochs=1, verbose=0, callbacks=[logger])

    grads = _reference_gradients(model, initial, x, y)
    if per_variable:
        names = [v.path for v in model.trainable_variables]
        expected = [_norm([g]) for g in grads]
    else:
        names = ["wide", "out"]
        expected = [_norm(grads[:2]), _norm(grads[2:])]
    assert logger.names == names
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(grads)], rtol=1e-5
    )
    for name, value in zip(names, expected):
        np.testing.assert_allclose(
            logger.history[f"grad_norm/{name}"], [value], rtol=1e-5
        )


class _RootSquared(keras.layers.Layer):
    """`x * p * p` with `p = w ** 0.5` and `w = 0`: a zero output, and a
    NaN gradient of `w` (zero times the infinite derivative of the root)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="zeros", name="w")

    def call(self, x):
        root = keras.ops.power(self.w, 0.5)
        return x * root * root


@pytest.mark.parametrize("summed_by", ["masked sum", "segment sum"])
@pytest.mark.parametrize("kind", ["inf", "nan"])
def test_an_infinite_or_nan_layer_norm_leaves_the_others_finite(
    kind, summed_by
):
    """One layer's squared gradient norm overflows float32 (inf) or its
    gradient is NaN; the other layer's norm is still its own, computed by
    hand, and only the first layer and the global norm are inf or NaN."""
    rng = np.random.default_rng(0)
    x_big = rng.normal(size=(16, 1)).astype("float32")
    x_small = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    inputs = [keras.Input((1,)), keras.Input((3,))]
    if kind == "inf":
        # A zero kernel keeps the output finite while its gradient is
        # about 1e30, whose square overflows.
        x_big *= 1e30
        big = keras.layers.Dense(
            1, use_bias=False, kernel_initializer="zeros", name="big"
        )
    else:
        big = _RootSquared(name="big")
    small = keras.layers.Dense(1, name="small")
    model = keras.Model(
        inputs, keras.layers.Add()([big(inputs[0]), small(inputs[1])])
    )
    model.compile(
        keras.optimizers.SGD(1e-45), "mse", jit_compile=BACKEND == "jax"
    )
    kernel, bias = (np.asarray(w, "float64") for w in small.get_weights())
    logger = GradientNormLogger()
    limit = gradient_norm_logger._GROUP_MASK_ENTRIES
    if summed_by == "segment sum":
        limit = 0
    with (
        mock.patch.object(gradient_norm_logger, "_GROUP_MASK_ENTRIES", limit),
        pytest.warns(UserWarning, match=f"norm is {kind} at step 1"),
    ):
        model.fit(
            [x_big, x_small],
            y,
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[logger],
        )

    error = 2 * (x_small.astype("float64") @ kernel + bias - y) / len(y)
    expected = _norm([x_small.T @ error, error.sum(axis=0)])
    assert logger.names == ["big", "small"]
    for key in ("grad_norm", "grad_norm/big"):
        (value,) = logger.history[key]
        assert np.isnan(value) if kind == "nan" else value == np.inf, key
    np.testing.assert_allclose(
        logger.history["grad_norm/small"], [expected], rtol=1e-5
    )


@pytest.mark.parametrize("batch_logs", [False, True])
def test_norms_reach_history_csv_logger_and_batch_logs(tmp_path, batch_logs):
    x, y = _data()
    model = _model()
    logger = GradientNormLogger(batch_logs=batch_logs)
    batch_logs_seen = []
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs_seen.append(
            logs.get("grad_norm/out")
        )
    )
    csv_path = tmp_path / "epochs.csv"
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[logger, spy, keras.callbacks.CSVLogger(str(csv_path))],
    )
    recorded = logger.history["grad_norm/out"]
    assert len(recorded) == 6
    if batch_logs:
        assert batch_logs_seen == pytest.approx(recorded, rel=1e-6)
    else:
        # Only each epoch's last step (steps 3 and 6) carries the norms.
        assert batch_logs_seen[2] == pytest.approx(recorded[2], rel=1e-6)
        assert batch_logs_seen[5] == pytest.approx(recorded[5], rel=1e-6)
        assert [batch_logs_seen[i] for i in (0, 1, 3, 4)] == [None] * 4
    last_of_epoch = [
        logger.history["grad_norm"][2],
        logger.history["grad_norm"][5],
    ]
    assert history.history["grad_norm"] == pytest.approx(
        last_of_epoch, rel=1e-6
    )
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["grad_norm/hidden"]) for r in rows] == pytest.approx(
        [logger.history["grad_norm/hidden"][i] for i in (2, 5)], rel=1e-6
    )


def test_epoch_logs_get_the_norms_when_the_number_of_steps_is_unknown():
    x, y = _data()

    def batches():
        for start in range(0, len(x), 16):
            yield x[start : start + 16], y[start : start + 16]

    model = _model()
    logger = GradientNormLogger()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "input ran out of data"
        history = model.fit(
            batches(), epochs=1, shuffle=False, verbose=0, callbacks=[logger]
        )
    assert logger.history["step"] == [1, 2, 3]
    assert history.history["grad_norm"] == pytest.approx(
        [logger.history["grad_norm"][-1]], rel=1e-6
    )
    assert history.history["grad_norm/hidden"] == pytest.approx(
        [logger.history["grad_norm/hidden"][-1]], rel=1e-6
    )


def test_every_n_steps_records_only_multiples_of_n(tmp_path):
    x, y = _data(n=80)
    logger = GradientNormLogger(every_n_steps=3, csv_path=tmp_path / "g.csv")
    _model().fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )
    assert logger.history["step"] == [3, 6, 9]
    assert logger.history["epoch"] == [0, 1, 1]
    with open(tmp_path / "g.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "step",
        "epoch",
        "grad_norm",
        "grad_norm/hidden",
        "grad_norm/out",
    ]
    assert [int(r[0]) for r in rows[1:]] == [3, 6, 9]
    assert [float(r[2]) for r in rows[1:]] == logger.history["grad_norm"]


def test_norms_are_read_back_in_blocks_of_100_steps_and_at_epoch_end(tmp_path):
    # 240 steps in the epoch: blocks end at steps 100 and 200, the rest
    # arrives with the epoch's end.
    x, y = _data(n=480)
    model = _model()
    initial = model.get_weights()
    csv_path = tmp_path / "g.csv"
    logger = GradientNormLogger(csv_path=csv_path)
    seen = []

    def count(batch, logs):
        with open(csv_path) as f:
            rows = len(f.read().splitlines()) - 1
        seen.append((batch + 1, len(logger.history["step"]), rows))

    model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[
            logger,
            keras.callbacks.LambdaCallback(on_train_batch_end=count),
        ],
    )
    expected = [
        (step, 100 * (step // 100), 100 * (step // 100))
        for step in range(1, 240)
    ] + [(240, 240, 240)]
    assert seen == expected
    assert logger.history["step"] == list(range(1, 241))
    records = _replay(model, initial, x, y, 2, 240, 0.1, None)
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(g) for g in records], rtol=1e-4
    )


def test_sparse_records_survive_the_buffer_read_back_every_100_steps(tmp_path):
    # Records at every 7th of 240 steps. On TensorFlow the norms of the
    # last 100 steps are read back from the buffer at steps 100 and 200.
    x, y = _data(n=480)
    model = _model()
    initial = model.get_weights()
    csv_path = tmp_path / "g.csv"
    logger = GradientNormLogger(every_n_steps=7, csv_path=csv_path)
    written = {}

    def count(batch, logs):
        if batch + 1 in (99, 100):
            with open(csv_path) as f:
                written[batch + 1] = len(f.read().splitlines()) - 1

    model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[
            logger,
            keras.callbacks.LambdaCallback(on_train_batch_end=count),
        ],
    )
    steps = list(range(7, 241, 7))
    assert logger.history["step"] == steps
    # Without the buffer (JAX) the records wait for 100 of their own.
    assert written == {99: 0, 100: 14 if BACKEND == "tensorflow" else 0}
    records = _replay(model, initial, x, y, 2, 240, 0.1, None)
    np.testing.assert_allclose(
        logger.history["grad_norm"],
        [_norm(records[s - 1]) for s in steps],
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        logger.history["grad_norm/out"],
        [_norm(records[s - 1][2:]) for s in steps],
        rtol=1e-4,
    )


class _Pending:
    """Squared norms of a step that an asynchronous device may not finish."""

    def __init__(self, values, ready):
        self.values = np.asarray(values, dtype="float32")
        self.ready = ready

    def is_ready(self):
        return self.ready

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


def test_a_block_read_leaves_the_steps_still_running_for_a_later_read():
    # Within an epoch, a read takes the finished steps only, in step order;
    # once 200 records wait, it waits for all of them.
    x, y = _data()
    model = _model()
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger])
    logger._epoch_steps = None  # an epoch of unknown length: no epoch end
    first = logger._step + 1
    recorded = len(logger.history["step"])

    def step(ready):
        number = logger._step + 1
        packed = _Pending([number, 1.0, number - 1.0], ready)
        logger._after_step(
            {"loss": 0.0, gradient_norm_logger._PACKED_KEY: packed}
        )
        return len(logger.history["step"]) - recorded

    assert [step(True) for _ in range(99)] == [0] * 99
    assert step(False) == 99  # the 100th is still running
    # Nothing has finished since: every step tries again, none waits.
    assert [step(False) for _ in range(198)] == [99] * 198
    assert step(False) == 99 + 200
    steps = list(range(first, first + 299))
    assert logger.history["step"][recorded:] == steps
    np.testing.assert_allclose(
        logger.history["grad_norm"][recorded:], np.sqrt(steps), rtol=1e-6
    )
    np.testing.assert_allclose(
        logger.history["grad_norm/out"][recorded:],
        np.sqrt(np.asarray(steps) - 1.0),
        rtol=1e-6,
    )


def test_block_reads_while_steps_run_ahead_keep_every_record():
    # JAX's `fit` dispatches steps ahead of the device. Here the newest 30
    # steps count as still running at every read within the epoch, however
    # far the device is: the reads at steps 100 and 170 (on JAX) leave them
    # for later, and every step is still recorded once, in order, with its
    # own norms. (TensorFlow reads its buffer instead, which a finished
    # step has written.)
    x, y = _data(n=480)
    model = _model(jit_compile=True)
    initial = model.get_weights()
    logger = GradientNormLogger()
    counted = []

    def ready_count(unread):
        # Regardless of what the device has finished, so that the reads
        # fall at the same steps in every run; reading a step waits for it.
        counted.append(len(unread))
        return max(0, len(unread) - 30)

    with mock.patch.object(gradient_norm_logger, "_ready_count", ready_count):
        model.fit(
            x,
            y,
            batch_size=2,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[logger],
        )
    assert counted == ([100, 100] if BACKEND == "jax" else [])
    assert logger.history["step"] == list(range(1, 241))
    records = _replay(model, initial, x, y, 2, 240, 0.1, None)
    _assert_norms_of_steps(logger, records, 0)


@pytest.mark.parametrize(
    "steps_per_execution, batch_logs", [(1, False), (2, False), (1, True)]
)
def test_the_step_returns_only_kerass_logs_where_a_buffer_is_used(
    steps_per_execution, batch_logs
):
    # Every value a step returns costs time to hand over, so on TensorFlow
    # with one step per call the norms go to a buffer variable instead,
    # unless every step is read anyway.
    x, y = _data()
    model = _model()
    model.compile(
        keras.optimizers.SGD(0.1),
        "mse",
        steps_per_execution=steps_per_execution,
    )
    initial = model.get_weights()
    logger = GradientNormLogger(batch_logs=batch_logs)
    seen = []
    after_step = logger._after_step

    def spy(logs):
        seen.append(sorted(logs))
        return after_step(logs)

    logger._after_step = spy
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )
    buffered = (
        BACKEND == "tensorflow" and steps_per_execution == 1 and not batch_logs
    )
    expected = (
        ["loss"]
        if buffered
        else sorted(["loss", "_mlkeras_packed_gradient_norms"])
    )
    assert seen and all(keys == expected for keys in seen)
    steps = [1, 2, 3] if steps_per_execution == 1 else [2, 3]
    assert logger.history["step"] == steps
    records = _replay(model, initial, x, y, 16, 3, 0.1, None)
    np.testing.assert_allclose(
        logger.history["grad_norm"],
        [_norm(records[s - 1]) for s in steps],
        rtol=1e-5,
    )


def test_steps_per_execution_records_each_call_at_its_last_step():
    x, y = _data(n=80)  # 5 batches of 16: calls end at steps 2, 4 and 5
    model = _model()
    model.compile(keras.optimizers.SGD(0.1), "mse", steps_per_execution=2)
    initial = model.get_weights()
    logger = GradientNormLogger()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[logger],
    )
    assert logger.history["step"] == [2, 4, 5, 7, 9, 10]
    assert logger.history["epoch"] == [0, 0, 0, 1, 1, 1]
    records = _replay(model, initial, x, y, 16, 10, 0.1, None)
    np.testing.assert_allclose(
        logger.history["grad_norm"],
        [_norm(records[step - 1]) for step in (2, 4, 5, 7, 9, 10)],
        rtol=1e-5,
    )


def test_one_instance_serves_two_fits_and_the_model_is_restored():
    x, y = _data()
    model = _model()
    optimizer = model.optimizer
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[logger])
    model.fit(x, y, batch_size=48, epochs=1, verbose=0, callbacks=[logger])
    assert logger.history["step"] == [1]
    assert "apply" not in vars(optimizer)
    assert "train_step" not in vars(model)
    history = model.fit(x, y, batch_size=48, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss"]


def _counting_model(optimizer=None):
    """A model whose own `train_step` counts its Python executions.

    The step is compiled (a `tf.function` on TensorFlow, `jax.jit` on JAX),
    so each execution is one trace.
    """
    model = _model(optimizer, jit_compile=BACKEND == "jax")
    traces = []

    def own_train_step(*args, **kwargs):
        traces.append(1)
        return type(model).train_step(model, *args, **kwargs)

    object.__setattr__(model, "train_step", own_train_step)
    return model, traces


def _fit_counting_traces(model, traces, x, y, callbacks):
    before = len(traces)
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return len(traces) - before


def _assert_norms_of_steps(logger, records, first_step):
    steps = range(first_step, first_step + len(logger.history["step"]))
    expected = {
        "grad_norm": [_norm(records[s]) for s in steps],
        "grad_norm/hidden": [_norm(records[s][:2]) for s in steps],
        "grad_norm/out": [_norm(records[s][2:]) for s in steps],
    }
    for key, values in expected.items():
        np.testing.assert_allclose(logger.history[key], values, rtol=1e-5)


@pytest.mark.parametrize("plain_first", [False, True])
def test_a_second_fit_with_the_same_logger_does_not_trace_again(plain_first):
    x, y = _data()
    model, traces = _counting_model()
    initial = model.get_weights()
    logger = GradientNormLogger()
    if plain_first:
        plan = [None, logger, logger, None, logger]
    else:
        plan = [logger, logger, None, None, logger]
    counts = []
    checked = 0
    records = _replay(model, initial, x, y, 16, 3 * len(plan), 0.1)
    for index, callback in enumerate(plan):
        callbacks = [] if callback is None else [callback]
        counts.append(_fit_counting_traces(model, traces, x, y, callbacks))
        if callback is not None:
            # Nothing changes in what is logged: every fit's norms are
            # those of the steps it ran (3 per fit).
            assert logger.history["step"] == [1, 2, 3]
            _assert_norms_of_steps(logger, records, 3 * index)
            checked += 1
    assert checked == 3
    if plain_first:
        # Keras's own step and the logged one are traced once each.
        assert counts[0] >= 1 and counts[1] >= 1
        assert counts[2:] == [0, 0, 0]
    else:
        # Keras's own step, made but never called during the first fit,
        # is traced once by the first fit without the logger.
        assert counts[0] >= 1
        assert counts[1] == 0
        assert counts[2] == 1
        assert counts[3:] == [0, 0]
    assert "apply" not in vars(model.optimizer)


def test_recompiling_or_another_logger_traces_the_step_again():
    x, y = _data()
    model, traces = _counting_model()
    logger = GradientNormLogger()
    assert _fit_counting_traces(model, traces, x, y, [logger]) >= 1
    assert _fit_counting_traces(model, traces, x, y, [logger]) == 0

    # A new compile gives the model a new optimizer and step.
    model.compile(
        keras.optimizers.SGD(0.05), "mse", jit_compile=BACKEND == "jax"
    )
    weights = model.get_weights()
    assert _fit_counting_traces(model, traces, x, y, [logger]) >= 1
    records = _replay(model, weights, x, y, 16, 3, 0.05)
    _assert_norms_of_steps(logger, records, 0)
    assert _fit_counting_traces(model, traces, x, y, [logger]) == 0

    # Another logger (here with other groups) gets a step of its own.
    other = GradientNormLogger(per_variable=True)
    weights = model.get_weights()
    assert _fit_counting_traces(model, traces, x, y, [other]) >= 1
    records = _replay(model, weights, x, y, 16, 3, 0.05)
    assert other.names == [v.path for v in model.trainable_variables]
    np.testing.assert_allclose(
        other.history["grad_norm"], [_norm(r) for r in records], rtol=1e-5
    )
    np.testing.assert_allclose(
        other.history["grad_norm/" + other.names[0]],
        [_norm(r[:1]) for r in records],
        rtol=1e-5,
    )
    # So does the first one again, with its own groups.
    weights = model.get_weights()
    assert _fit_counting_traces(model, traces, x, y, [logger]) >= 1
    records = _replay(model, weights, x, y, 16, 3, 0.05)
    _assert_norms_of_steps(logger, records, 0)


def test_reading_the_norms_back_compiles_nothing_on_jax():
    # JAX compiles a function for every new shape it meets. Once the step
    # is compiled, fits whose epochs end after 3, 5 or 12 steps (so that
    # 3, 5 or 12 steps' norms are read back at once) compile nothing more.
    if BACKEND != "jax":
        pytest.skip("counts JAX's compilations")
    import jax

    x, y = _data()
    model = _model(jit_compile=True)
    logger = GradientNormLogger()
    model.fit(x[:8], y[:8], batch_size=4, verbose=0, callbacks=[logger])
    compiled = []

    def count(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(duration)

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for n in (12, 20, 48):
            weights = model.get_weights()
            model.fit(
                x[:n],
                y[:n],
                batch_size=4,
                epochs=2,
                shuffle=False,
                verbose=0,
                callbacks=[logger],
            )
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert compiled == []
    assert logger.history["step"] == list(range(1, 25))
    records = _replay(model, weights, x, y, 4, 24, 0.1)
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(g) for g in records], rtol=1e-4
    )


def test_a_failed_fit_is_cleaned_up_by_the_next_and_own_methods_survive():
    x, y = _data()
    model = _model()
    calls = []

    def own_train_step(*args, **kwargs):
        calls.append(1)
        return type(model).train_step(model, *args, **kwargs)

    object.__setattr__(model, "train_step", own_train_step)

    def crash(epoch, logs):
        raise RuntimeError("crash")

    logger = GradientNormLogger()
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(
            x,
            y,
            batch_size=48,
            epochs=2,
            verbose=0,
            callbacks=[
                logger,
                keras.callbacks.LambdaCallback(on_epoch_end=crash),
            ],
        )
    model.fit(x, y, batch_size=48, epochs=2, verbose=0, callbacks=[logger])
    assert logger.history["step"] == [1, 2]
    assert vars(model)["train_step"] is own_train_step
    assert calls  # the wrapped step was the model's own


def _crash_at_second_step():
    def crash(batch, logs):
        if batch == 1:
            raise RuntimeError("crash")

    return keras.callbacks.LambdaCallback(on_train_batch_end=crash)


def _assert_restored(model):
    assert "train_step" not in vars(model)
    assert "make_train_function" not in vars(model)
    assert "apply" not in vars(model.optimizer)
    assert "stateless_apply" not in vars(model.optimizer)


@pytest.mark.parametrize("next_call", ["fit", "train_on_batch"])
def test_a_failed_fit_is_ended_by_the_next_call_without_the_logger(
    tmp_path, next_call
):
    x, y = _data()
    model = _model()
    initial = model.get_weights()
    path = tmp_path / "norms.csv"
    logger = GradientNormLogger(csv_path=path)
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[logger, _crash_at_second_step()],
        )
    if next_call == "fit":
        history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert sorted(history.history) == ["loss"]
    else:
        logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
        assert sorted(logs) == ["loss"]
    _assert_restored(model)
    # The two steps of the failed fit were recorded, and the file closed.
    assert logger.history["step"] == [1, 2]
    records = _replay(model, initial, x, y, 16, 2, 0.1)
    np.testing.assert_allclose(
        logger.history["grad_norm"], [_norm(g) for g in records], rtol=1e-5
    )
    assert logger._csv_file is None
    with open(path, newline="") as f:
        assert [row[0] for row in csv.reader(f)] == ["step", "1", "2"]


@pytest.mark.parametrize("inner", ["train_on_batch", "fit"])
def test_a_step_run_by_a_callback_of_a_logged_fit_is_not_logged(inner):
    x, y = _data()
    model = _model()
    initial = model.get_weights()
    extra = x[:16] * 2.0, y[:16]

    def one_more_step(epoch, logs):
        if epoch == 1 and inner == "fit":
            model.fit(*extra, batch_size=16, epochs=1, verbose=0)
        elif epoch == 1:
            model.train_on_batch(*extra)

    logger = GradientNormLogger()
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[
            logger,
            keras.callbacks.LambdaCallback(on_epoch_begin=one_more_step),
        ],
    )
    assert logger.history["step"] == list(range(1, 10))
    assert len(history.history["grad_norm"]) == 3
    _assert_restored(model)
    # The logged norms are those of the fit's own nine steps, with the
    # extra step (on a batch of its own) between the third and the fourth.
    first = _replay(model, initial, x, y, 16, 3, 0.1)
    twin = _model()
    twin.set_weights(initial)
    twin.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    twin.train_on_batch(*extra)
    rest = _replay(model, twin.get_weights(), x, y, 16, 6, 0.1)
    np.testing.assert_allclose(
        logger.history["grad_norm"],
        [_norm(g) for g in first + rest],
        rtol=1e-4,
    )


def test_the_model_does_not_keep_its_logger_alive():
    import gc
    import weakref

    x, y = _data()
    model = _model()
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger])
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[logger, _crash_at_second_step()],
        )
    alive = weakref.ref(logger)
    del logger
    gc.collect()
    assert alive() is None
    # The next fit still takes the wrappers of the failed one off.
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss"]
    _assert_restored(model)


def test_a_logged_fit_keeps_no_copy_of_the_fit_frames_locals():
    # Reading the frame's `f_locals` would copy fit's locals into a dict
    # the frame keeps: one more reference to `x` (and to the data
    # iterator) for the rest of the fit.
    x, y = _data()
    model = _model()
    references = []

    def count(epoch, logs):
        references.append(sys.getrefcount(x))

    counter = keras.callbacks.LambdaCallback(on_epoch_begin=count)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[counter])
    logger = GradientNormLogger()
    model.fit(
        x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger, counter]
    )
    assert logger.history["step"] == [1, 2, 3]
    assert references[1] == references[0]


@pytest.mark.parametrize("inside", [None, "on_train_begin", "on_epoch_begin"])
def test_callbacks_driven_by_hand_around_train_on_batch_log_each_step(
    inside,
):
    x, y = _data()
    model = _model()
    # A step first, so that the model has a step function of its own.
    model.train_on_batch(x[:16], y[:16])
    initial = model.get_weights()
    logger = GradientNormLogger()

    def drive(*args):
        callbacks = keras.callbacks.CallbackList([logger], model=model)
        callbacks.on_train_begin()
        callbacks.on_epoch_begin(0)
        for index in range(3):
            batch = slice(16 * index, 16 * (index + 1))
            callbacks.on_train_batch_begin(index)
            logs = model.train_on_batch(x[batch], y[batch], return_dict=True)
            callbacks.on_train_batch_end(index, logs)
        callbacks.on_epoch_end(0)
        callbacks.on_train_end()

    if inside is None:
        drive()
    else:
        # From a callback of another model's `fit`, which is no `fit` of
        # this model's even though the class is the same.
        _model().fit(
            x,
            y,
            batch_size=48,
            epochs=1,
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(**{inside: drive})],
        )
    assert logger.history["step"] == [1, 2, 3]
    np.testing.assert_allclose(
        logger.history["grad_norm"],
        [_norm(g) for g in _replay(model, initial, x, y, 16, 3, 0.1)],
        rtol=1e-4,
    )
    _assert_restored(model)


def test_a_fit_that_cannot_open_its_csv_file_leaves_the_model_alone(
    tmp_path,
):
    x, y = _data()
    model = _model()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    logger = GradientNormLogger(csv_path=blocker / "norms.csv")
    with pytest.raises(OSError):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger])
    _assert_restored(model)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss"]


def test_two_loggers_in_one_fit_raise_and_leave_the_model_alone():
    x, y = _data()
    model = _model()
    first, second = GradientNormLogger(), GradientNormLogger()
    with pytest.raises(ValueError, match="Only one GradientNormLogger"):
        model.fit(
            x, y, batch_size=16, epochs=1, verbose=0, callbacks=[first, second]
        )
    _assert_restored(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[second])
    assert second.history["step"] == [1, 2, 3]
    _assert_restored(model)


@pytest.mark.parametrize("copy_with", ["deepcopy", "pickle"])
def test_a_logger_copies_before_and_after_a_fit(copy_with):
    import copy
    import pickle

    def duplicate(logger):
        if copy_with == "deepcopy":
            return copy.deepcopy(logger)
        return pickle.loads(pickle.dumps(logger))

    x, y = _data()
    fresh = duplicate(GradientNormLogger(every_n_steps=2, per_variable=True))
    assert (fresh.every_n_steps, fresh.per_variable) == (2, True)
    logger = GradientNormLogger()
    _model().fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[logger])
    twin = duplicate(logger)
    assert twin.history == logger.history
    for used in (twin, fresh):
        model = _model()
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[used])
        assert used.history["step"] == ([2] if used is fresh else [1, 2, 3])
        _assert_restored(model)


def test_warns_naming_the_layer_whose_gradient_vanishes():
    x, y = _data()
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(4, name="starved"),
            keras.layers.Dense(
                4, name="blocker", kernel_initializer="zeros", trainable=False
            ),
            keras.layers.Dense(1, name="head"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.01), "mse")
    logger = GradientNormLogger(exploding_threshold=None)
    with pytest.warns(UserWarning, match="Vanishing") as record:
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[logger])
    messages = [str(w.message) for w in record if "Vanishing" in str(w.message)]
    assert len(messages) == 1
    assert "starved" in messages[0] and "head" not in messages[0]
    assert max(logger.history["grad_norm/starved"]) < 1e-7


def test_warns_once_when_the_global_norm_explodes_or_is_not_finite():
    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="exceeds") as record:
        model.fit(
            x,
            y * 1e4,
            batch_size=16,
            epochs=2,
            verbose=0,
            callbacks=[GradientNormLogger(exploding_threshold=10.0)],
        )
    assert sum("Exploding" in str(w.message) for w in record) == 1

    y_bad = y.copy()
    y_bad[0] = np.nan
    logger = GradientNormLogger(exploding_threshold=None)
    with pytest.warns(UserWarning, match="is nan"):
        _model().fit(
            x, y_bad, batch_size=48, epochs=1, verbose=0, callbacks=[logger]
        )


def test_no_warning_for_healthy_training():
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _model().fit(
            x,
            y,
            batch_size=16,
            epochs=2,
            verbose=0,
            callbacks=[GradientNormLogger()],
        )


def test_plot_returns_a_log_scale_figure_with_one_line_per_layer():
    x, y = _data()
    logger = GradientNormLogger()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[logger])
    fig = logger.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["hidden", "out", "global"]
    np.testing.assert_allclose(
        ax.get_lines()[1].get_ydata(), logger.history["grad_norm/out"]
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"every_n_steps": 0}, "every_n_steps"),
        ({"every_n_steps": 1.5}, "every_n_steps"),
        ({"vanishing_threshold": -1.0}, "vanishing_threshold"),
        ({"exploding_threshold": 0}, "exploding_threshold"),
        ({"csv_path": 3}, "csv_path"),
        ({"csv_path": ""}, "csv_path"),
        ({"csv_path": os.curdir}, "csv_path"),
        ({"per_variable": "no"}, "per_variable"),
        ({"append": 1}, "append"),
        ({"batch_logs": "false"}, "batch_logs"),
        ({"verbose": -1}, "verbose"),
        ({"verbose": "loud"}, "verbose"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        GradientNormLogger(**kwargs)


def test_uncompiled_model_raises_clearly():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    logger = GradientNormLogger()
    logger.set_model(model)
    with pytest.raises(ValueError, match="model.optimizer"):
        logger.on_train_begin()


# One child process serves the two tests that need a fresh TensorFlow (its
# CPU must be split into two logical devices before TensorFlow starts) or a
# process to kill: it first compares MirroredStrategy with one device and
# writes the result as JSON, then trains "forever" with a CSV file, until the
# test kills it.
_CHILD_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from mlkeras.callbacks import GradientNormLogger

    result_path, csv_path = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")

    def make():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((5,)),
                                  keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(1)])
        # No clipnorm here: Keras clips each replica's gradient before the
        # all-reduce, so clipping would make the two trajectories differ.
        model.compile(keras.optimizers.SGD(0.1), "mse")
        return model

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = make()
    single = make()
    out = {"replicas": strategy.num_replicas_in_sync}
    for name, model in (("mirrored", mirrored), ("single", single)):
        logger = GradientNormLogger()
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                  callbacks=[logger])
        out[name] = [logger.history[k] for k in logger.keys]
    with open(result_path + ".tmp", "w") as f:
        json.dump(out, f)
    import os
    os.replace(result_path + ".tmp", result_path)

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4),
                              keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    slow = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: time.sleep(0.01))
    model.fit(x, y, batch_size=8, epochs=10000, verbose=0,
              callbacks=[GradientNormLogger(csv_path=csv_path), slow])
""")


@pytest.fixture(scope="module")
def tensorflow_child(tmp_path_factory):
    if BACKEND != "tensorflow":
        pytest.skip("tf.distribute and the kill test run on TensorFlow")
    folder = tmp_path_factory.mktemp("child")
    paths = {
        "result": folder / "mirrored.json",
        "csv": folder / "norms.csv",
        "log": folder / "stderr.txt",
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    with open(paths["log"], "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD_SCRIPT,
                str(paths["result"]),
                str(paths["csv"]),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    yield proc, paths
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def _wait_for(condition, proc, paths, timeout=240):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(
                "the training process ended early:\n"
                + paths["log"].read_text()[-3000:]
            )
        if time.monotonic() > deadline:
            pytest.fail("the training process took too long")
        time.sleep(0.1)


def test_mirrored_strategy_over_two_cpus_logs_the_single_device_norm(
    tensorflow_child,
):
    proc, paths = tensorflow_child
    _wait_for(paths["result"].exists, proc, paths)
    out = json.loads(paths["result"].read_text())
    assert out["replicas"] == 2
    assert len(out["mirrored"][0]) == 4  # 2 epochs of 2 global batches
    np.testing.assert_allclose(out["mirrored"], out["single"], rtol=1e-5)


def test_csv_rows_written_before_a_kill_survive_intact(tensorflow_child):
    proc, paths = tensorflow_child
    path = paths["csv"]
    _wait_for(
        lambda: path.exists() and path.read_text().count("\n") > 10, proc, paths
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    lines = path.read_text().splitlines()
    assert len(lines) > 10
    rows = list(csv.reader(lines))
    assert rows[0][:3] == ["step", "epoch", "grad_norm"]
    assert len(rows[0]) == 5
    assert all(key.startswith("grad_norm/dense") for key in rows[0][3:])
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(1, len(body) + 1))
    for row in body:
        assert len(row) == 5
        norms = [float(v) for v in row[2:]]
        assert norms[0] == pytest.approx(np.hypot(norms[1], norms[2]), rel=1e-5)
    assert path.read_text().endswith("\n")


def test_logger_runs_on_jax_backend():
    # The backend-specific parts: the tapped step, its logs, the clean-up.
    run_tests_on_backend(
        "jax",
        __file__,
        "-k",
        "(hand_computed and 0.001) or dynamic_loss_scale or reach "
        "or two_fits or steps_per_execution or trace or compiles_nothing "
        "or skipped or failed_fit or two_loggers or copies or overflows "
        "or callback_of_a_logged_fit or by_hand or run_ahead",
    )
