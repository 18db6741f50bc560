"""The NumPy formulas behind the NumPy labs' checks, against Keras itself.

`mlkeras.grading.checks._formulas` stands in for Keras in the checks (so a
check never imports it); each formula here is compared with the Keras
function, layer, optimizer or callback it replaces, on random inputs of
several shapes and parameter values, and the hand-derived gradients with
automatic differentiation.
"""

import keras
import numpy as np
import pytest
from keras import ops

from mlkeras import layers as mlkeras_layers
from mlkeras.grading.checks import _formulas as F

# Keras reads TensorFlow variables through NumPy's old `__array__` protocol.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning"
)

SHAPES = [(7,), (3, 5), (2, 3, 4)]


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


# TensorFlow computes float64 inputs in float64; JAX (without x64) and
# PyTorch's defaults round them to float32 first.
FULL_PRECISION = keras.backend.backend() == "tensorflow"


def _close(got, want, rtol=1e-6, atol=1e-9):
    if not FULL_PRECISION:
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-6)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _gradients(loss_fn, *args):
    """The gradient of the scalar `loss_fn(*args)` (float64, backend
    autodiff) with respect to each argument."""
    values = [np.asarray(a, dtype="float64") for a in args]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(v) for v in values]
        with tf.GradientTape() as tape:
            loss = loss_fn(*variables)
        return [g.numpy() for g in tape.gradient(loss, variables)]
    if backend == "jax":
        import jax

        with jax.enable_x64(True):
            grads = jax.grad(loss_fn, argnums=tuple(range(len(values))))(
                *values
            )
        return [np.asarray(g, dtype="float64") for g in grads]
    pytest.skip(f"no float64 autodiff on the {backend} backend")


@pytest.mark.parametrize("shape", SHAPES)
def test_activations_match_keras(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(scale=3.0, size=shape)
    x.flat[0] = 0.0
    act = keras.activations
    _close(F.relu(x), _np(act.relu(x)))
    for slope in (0.01, 0.3):
        _close(
            F.leaky_relu(x, slope), _np(act.leaky_relu(x, negative_slope=slope))
        )
    _close(F.sigmoid(x), _np(act.sigmoid(x)))
    _close(F.tanh(x), _np(act.tanh(x)))
    _close(F.silu(x), _np(act.silu(x)))
    _close(F.gelu(x), _np(act.gelu(x, approximate=True)))
    for axis in range(-1, len(shape) - 1):
        _close(F.softmax(x, axis), _np(act.softmax(x, axis=axis)))


def test_activations_match_keras_at_extreme_inputs():
    x = np.array([[-1000.0, 1000.0, -50.0, 50.0], [700.0, -700.0, 0.0, 1.0]])
    _close(F.sigmoid(x), _np(keras.activations.sigmoid(x)))
    z = np.array([[900.0, 901.0, 899.0], [-1500.0, -1501.0, -1499.0]])
    _close(F.softmax(z), _np(keras.activations.softmax(z)))


def _probabilities(rng, n, k):
    logits = rng.normal(size=(n, k))
    e = np.exp(logits)
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("n, k", [(4, 2), (9, 5)])
def test_losses_match_keras(n, k):
    rng = np.random.default_rng(n * k)
    losses = keras.losses
    a, b = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    _close(F.mean_squared_error(a, b), _np(losses.mean_squared_error(a, b)))
    _close(F.mean_absolute_error(a, b), _np(losses.mean_absolute_error(a, b)))
    a, b = rng.uniform(0, 5, (n, k)), rng.uniform(0, 5, (n, k))
    a[0, 0] = 0.0
    _close(
        F.mean_squared_logarithmic_error(a, b),
        _np(losses.mean_squared_logarithmic_error(a, b)),
    )
    y = rng.integers(0, 2, size=(n, k)).astype("float64")
    predictions = [rng.uniform(0.02, 0.98, (n, k))]
    if FULL_PRECISION:  # in float32, 1 - epsilon is rounded before the log
        predictions.append(y[::-1].copy())
    for p in predictions:
        _close(
            F.binary_crossentropy(y, p),
            _np(losses.binary_crossentropy(y, p)),
            rtol=1e-5,
        )
    labels = rng.integers(0, k, size=n)
    onehot, p = np.eye(k)[labels], _probabilities(rng, n, k)
    if FULL_PRECISION:  # a clipped zero; float32 backends clip elsewhere
        p[0, 0] = 0.0
    _close(
        F.categorical_crossentropy(onehot, p),
        _np(losses.categorical_crossentropy(onehot, p)),
    )
    _close(
        F.sparse_categorical_crossentropy(labels, p),
        _np(losses.sparse_categorical_crossentropy(labels, p)),
    )
    q = _probabilities(rng, n, k)
    _close(F.kl_divergence(q, p), _np(losses.kl_divergence(q, p)))
    _close(
        F.cosine_similarity(a, b), _np(losses.cosine_similarity(a, b, axis=-1))
    )


def _keras_trajectory(optimizer, w, grads):
    variable = keras.Variable(w.astype("float32"))
    out = []
    for grad in grads:
        optimizer.apply([grad.astype("float32")], [variable])
        out.append(_np(variable))
    return out


@pytest.mark.parametrize("shape", [(5,), (3, 4)])
def test_optimizer_trajectories_match_keras(shape):
    rng = np.random.default_rng(shape[0])
    w = rng.normal(size=shape)
    grads = [rng.normal(size=shape) for _ in range(5)]
    opt = keras.optimizers
    cases = [
        (F.sgd_trajectory(w, grads, 0.3), opt.SGD(0.3)),
        (F.sgd_trajectory(w, grads, 0.1, 0.9), opt.SGD(0.1, momentum=0.9)),
        (F.sgd_trajectory(w, grads, 0.05, 0.6), opt.SGD(0.05, momentum=0.6)),
        (F.rmsprop_trajectory(w, grads, 0.01, 0.85), opt.RMSprop(0.01, 0.85)),
        (F.rmsprop_trajectory(w, grads), opt.RMSprop()),
        (
            F.adam_trajectory(w, grads, 0.02, 0.85, 0.995),
            opt.Adam(0.02, beta_1=0.85, beta_2=0.995),
        ),
        (F.adam_trajectory(w, grads), opt.Adam()),
    ]
    for expected, optimizer in cases:
        for got, want in zip(expected, _keras_trajectory(optimizer, w, grads)):
            _close(got, want, rtol=1e-5, atol=1e-6)


def test_penalties_match_keras_regularizers():
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        w = rng.normal(size=shape)
        regularizers = keras.regularizers
        _close(F.l1_penalty(w, 0.03), _np(regularizers.L1(0.03)(w)))
        _close(F.l2_penalty(w, 0.07), _np(regularizers.L2(0.07)(w)))
        _close(
            F.l1_penalty(w, 0.02) + F.l2_penalty(w, 0.05),
            _np(regularizers.L1L2(l1=0.02, l2=0.05)(w)),
        )


class _Model:
    stop_training = False


def _keras_stops(history, patience, min_delta, mode):
    callback = keras.callbacks.EarlyStopping(
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


def test_early_stopping_decisions_match_keras():
    rng = np.random.default_rng(3)
    curves = [
        [1.0, 1.0, 1.0],
        [1.0, 0.995, 0.99, 0.985, 0.98],  # steps below min_delta=0.01
        [0.5, 0.4, 0.41, 0.42, 0.3, 0.31, 0.32, 0.33],
        [0.2],
        [1.0, 1.0 - 1e-9],  # equal in float32: the callback sees no gain
    ]
    for _ in range(40):
        length = int(rng.integers(2, 15))
        if rng.random() < 0.5:
            curves.append(-np.sort(rng.uniform(0, 1, size=length)))
        else:
            curves.append(rng.uniform(0, 1, size=length))
    decisions = set()
    for history in curves:
        for mode in ("min", "max"):
            values = [float(v) for v in history]
            values = values if mode == "min" else [-v for v in values]
            for patience in (1, 2, 3):
                for min_delta in (0.0, 0.01, 0.1):
                    expected = _keras_stops(values, patience, min_delta, mode)
                    got = F.early_stopping_stops(
                        values, patience, min_delta, mode
                    )
                    assert got == expected, (values, patience, min_delta, mode)
                    decisions.add(expected)
    assert decisions == {True, False}


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_keras(training):
    rng = np.random.default_rng(int(training))
    for n, features in [(4, 2), (11, 5)]:
        x = rng.normal(loc=1.5, scale=2.0, size=(n, features))
        params = [
            rng.uniform(0.5, 2.0, features),
            rng.normal(size=features),
            rng.normal(size=features),
            rng.uniform(0.5, 2.0, features),
        ]
        eps, momentum = 1e-3, 0.8
        layer = keras.layers.BatchNormalization(
            momentum=momentum, epsilon=eps, dtype="float64"
        )
        layer.build(x.shape)
        layer.set_weights(params)
        y = _np(layer(x, training=training))
        got = F.batchnorm(x, *params, eps, momentum, training=training)
        for a, b in zip(
            got,
            (y, _np(layer.moving_mean), _np(layer.moving_variance)),
        ):
            _close(a, b)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_convolution_and_pooling_match_keras(padding):
    rng = np.random.default_rng(len(padding))
    cases = [(5, 1, 1), (9, 3, 2), (8, 2, 3), (7, 5, 2), (6, 2, 1), (10, 4, 3)]
    for size, kernel, stride in cases:  # odd paddings put more on the right
        layer = keras.layers.Conv2D(4, kernel, strides=stride, padding=padding)
        expected = layer.compute_output_shape((None, size, size + 3, 2))[1:]
        got = F.conv2d_output_shape(
            (size, size + 3, 2), kernel, 4, stride, padding=padding
        )
        assert got == tuple(expected)
        x = rng.normal(size=(2, size, size + 1, 3))
        k = rng.normal(size=(kernel, max(kernel - 1, 1), 3, 2))
        _close(
            F.conv2d(x, k, stride, padding),
            _np(ops.conv(x, k, strides=stride, padding=padding)),
            rtol=1e-5,
            atol=1e-5,
        )
        pool = min(kernel + 1, 3)
        _close(
            F.max_pool2d(x, pool, stride),
            _np(ops.max_pool(x, pool, strides=stride, padding="valid")),
        )


def _cell_states(cell, x, states, weights):
    cell.build(x.shape)
    cell.set_weights([w.astype("float32") for w in weights])
    _, new = cell(x.astype("float32"), [s.astype("float32") for s in states])
    return [_np(s) for s in new]


@pytest.mark.parametrize("batch, d, u", [(2, 3, 4), (3, 5, 2)])
def test_recurrent_cells_match_keras(batch, d, u):
    rng = np.random.default_rng(batch * d * u)
    x, h, c = (rng.normal(size=(batch, n)) for n in (d, u, u))
    tol = {"rtol": 1e-5, "atol": 1e-6}

    W, U, b = (
        rng.normal(size=(d, u)),
        rng.normal(size=(u, u)),
        rng.normal(size=u),
    )
    (want,) = _cell_states(keras.layers.SimpleRNNCell(u), x, [h], [W, U, b])
    _close(F.simple_rnn_step(x, h, W, U, b), want, **tol)

    W, U = rng.normal(size=(d, 4 * u)), rng.normal(size=(u, 4 * u)) * 0.5
    b, P = rng.normal(size=4 * u), rng.normal(size=(3, u))
    want = _cell_states(keras.layers.LSTMCell(u), x, [h, c], [W, U, b])
    for got, expected in zip(F.lstm_step(x, h, c, W, U, b), want):
        _close(got, expected, **tol)
    want = _cell_states(
        mlkeras_layers.PeepholeLSTMCell(u), x, [h, c], [W, U, b, *P]
    )
    for got, expected in zip(F.lstm_step(x, h, c, W, U, b, P), want):
        _close(got, expected, **tol)

    W, U = rng.normal(size=(d, 3 * u)), rng.normal(size=(u, 3 * u)) * 0.5
    b = rng.normal(size=(2, 3 * u))
    (want,) = _cell_states(keras.layers.GRUCell(u), x, [h], [W, U, b])
    _close(F.gru_step(x, h, W, U, b), want, **tol)


def test_logistic_gradient_and_global_norm_match_autodiff():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(17, 3)), (rng.random(17) < 0.5).astype("float64")
    w, b = rng.normal(size=3), np.float64(rng.normal())

    def loss(w, b):
        p = ops.sigmoid(ops.matmul(X, w) + b)
        return ops.mean(-y * ops.log(p) - (1 - y) * ops.log(1 - p))

    dw, db = _gradients(loss, w, b)
    got_dw, got_db = F.logistic_loss_gradient(w, b, X, y)
    _close(got_dw, dw, rtol=1e-10)
    _close(got_db, float(db), rtol=1e-10)
    arrays = [rng.normal(size=s) for s in SHAPES]
    _close(
        F.global_norm(arrays),
        np.linalg.norm(np.concatenate([a.ravel() for a in arrays])),
    )


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_layer_gradient_norms_match_autodiff(activation):
    rng = np.random.default_rng(len(activation))
    sizes = [3, 5, 5, 5, 5, 5, 5]
    weights = [
        rng.normal(size=(a, b)) / np.sqrt(a)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]
    biases = [rng.normal(size=b) * 0.1 for b in sizes[1:]]
    x = rng.normal(size=(9, 3))
    act = {
        "sigmoid": ops.sigmoid,
        "relu": ops.relu,
        "tanh": lambda z: 2 * ops.sigmoid(2 * z) - 1,
    }[activation]

    def loss(*ws):
        h = ops.convert_to_tensor(x)
        for W, b in zip(ws, biases):
            h = act(ops.matmul(h, W) + b)
        return ops.sum(h) / len(x)

    expected = [np.linalg.norm(g) for g in _gradients(loss, *weights)]
    _close(
        F.layer_gradient_norms(weights, biases, x, activation),
        expected,
        rtol=1e-10,
        atol=1e-14,
    )


@pytest.mark.parametrize("steps", [1, 6])
def test_rnn_bptt_matches_autodiff(steps):
    rng = np.random.default_rng(steps)
    batch, d, u = 3, 4, 5
    x = rng.normal(size=(batch, steps, d))
    W, U = rng.normal(size=(d, u)) * 0.5, rng.normal(size=(u, u)) / np.sqrt(u)
    b, v = rng.normal(size=u) * 0.1, rng.normal(size=u)

    def loss(x, W, U, b):
        h = ops.zeros((batch, u), dtype="float64")
        for t in range(steps):
            z = ops.matmul(x[:, t], W) + ops.matmul(h, U) + b
            h = 2 * ops.sigmoid(2 * z) - 1
        return ops.sum(ops.matmul(h, v))

    dx, dW, dU, db = _gradients(loss, x, W, U, b)
    for got, want in zip(F.rnn_bptt(x, W, U, b, v), (dW, dU, db, dx)):
        _close(got, want, rtol=1e-10, atol=1e-14)


def test_attention_scores_match_keras():
    rng = np.random.default_rng(5)
    for batch, steps, d in [(2, 3, 2), (4, 7, 5)]:
        query, keys = (
            rng.normal(size=(batch, d)),
            rng.normal(size=(batch, steps, d)),
        )
        values = rng.normal(size=(batch, steps, 3))
        context, weights = keras.layers.Attention()(
            [query[:, None, :], values, keys], return_attention_scores=True
        )
        got_context, got_weights = F.dot_attention(query, keys, values)
        _close(got_context, _np(context)[:, 0], rtol=1e-5, atol=1e-6)
        _close(got_weights, _np(weights)[:, 0], rtol=1e-5, atol=1e-6)
        broadcast = np.broadcast_to(query[:, None, :], keys.shape)
        _close(
            F.cosine_similarity(broadcast, keys),
            _np(keras.losses.cosine_similarity(broadcast, keys, axis=-1)),
        )
        W_q, W_k, v = (
            rng.normal(size=(d, 4)),
            rng.normal(size=(d, 4)),
            rng.normal(size=4),
        )
        hidden = ops.tanh(
            ops.expand_dims(ops.matmul(query, W_q), 1) + ops.matmul(keys, W_k)
        )
        _close(
            F.additive_score(query, keys, W_q, W_k, v),
            _np(ops.matmul(hidden, v)),
        )


def test_transformer_pieces_match_mlkeras_layers():
    rng = np.random.default_rng(6)
    for length, depth in [(3, 4), (37, 32)]:
        _close(
            F.sinusoidal_encoding(length, depth),
            _np(mlkeras_layers.sinusoidal_encoding(length, depth)),
            rtol=1e-4,
            atol=1e-5,
        )
    q, k = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    v = rng.normal(size=(2, 5, 3))
    for mask in (None, rng.random(size=(2, 3, 5)) < 0.6):
        if mask is not None:
            mask[0, 1] = False  # one query sees no key at all
        want = mlkeras_layers.scaled_dot_product_attention(q, k, v, mask=mask)
        for got, expected in zip(
            F.scaled_dot_product_attention(q, k, v, mask), want
        ):
            _close(got, _np(expected), rtol=1e-4, atol=1e-6)
    heads, key_dim = 3, 2
    query = rng.normal(size=(2, 4, 5)).astype("float32")
    value = rng.normal(size=(2, 6, 5)).astype("float32")
    layer = mlkeras_layers.MultiHeadAttention(
        heads, key_dim, bias_initializer="random_normal", seed=1
    )
    out, scores = layer(query, value, return_attention_scores=True)
    flat = []
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense):
        kernel, bias = (_np(w) for w in dense.weights)
        flat += [kernel.reshape(kernel.shape[0], -1), bias.reshape(-1)]
    kernel, bias = (_np(w) for w in layer.output_dense.weights)
    flat += [kernel.reshape(-1, kernel.shape[-1]), bias]
    got_out, got_scores = F.multi_head_attention(
        query.astype("float64"), value.astype("float64"), *flat, num_heads=heads
    )
    _close(got_out, _np(out), rtol=1e-4, atol=1e-5)
    _close(got_scores, _np(scores), rtol=1e-4, atol=1e-6)


def test_initializer_spreads_match_keras_draws():
    fan_in, fan_out = 400, 250
    glorot = _np(keras.initializers.GlorotUniform(seed=1)((fan_in, fan_out)))
    he = _np(keras.initializers.HeNormal(seed=2)((fan_in, fan_out)))
    # 100,000 draws: the sample spread is within 1% of the true one.
    assert abs(glorot.std() / F.glorot_uniform_std(fan_in, fan_out) - 1) < 0.01
    assert abs(he.std() / F.he_normal_std(fan_in) - 1) < 0.01
