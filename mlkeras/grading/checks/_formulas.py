"""NumPy formulas of the Keras computations the NumPy labs' checks compare
with.

The checks of the NumPy-only labs take their expected values from these
functions, so that running them never imports Keras or a backend (a check
then answers in a fraction of a second). Each formula reproduces what the
named Keras function, layer or callback computes, defaults and clipping
included, in float64; `tests/grading/test_check_references.py` compares
every one with Keras itself on random inputs.
"""

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon()


# Activations (keras.activations).


def relu(x):
    """`keras.activations.relu`."""
    return np.maximum(x, 0.0)


def leaky_relu(x, negative_slope=0.2):
    """`keras.activations.leaky_relu`."""
    return np.where(x > 0, x, negative_slope * x)


def sigmoid(x):
    """`keras.activations.sigmoid`, without overflow for large `|x|`."""
    x = np.asarray(x, dtype="float64")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x):
    """`keras.activations.tanh`."""
    return np.tanh(x)


def softmax(x, axis=-1):
    """`keras.activations.softmax`."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def silu(x):
    """`keras.activations.silu` (swish): `x * sigmoid(x)`."""
    return x * sigmoid(x)


def gelu(x):
    """`keras.activations.gelu` with its tanh approximation."""
    inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + np.tanh(inner))


# Losses (keras.losses, one value per sample).


def mean_squared_error(y_true, y_pred):
    """`keras.losses.mean_squared_error`."""
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`keras.losses.mean_absolute_error`."""
    return np.mean(np.abs(y_pred - y_true), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`keras.losses.mean_squared_logarithmic_error`."""
    first = np.log(np.maximum(y_pred, EPSILON) + 1.0)
    second = np.log(np.maximum(y_true, EPSILON) + 1.0)
    return np.mean(np.square(first - second), axis=-1)


def binary_crossentropy(y_true, y_pred):
    """`keras.losses.binary_crossentropy` on probabilities (clipped)."""
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    bce = y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)
    return -np.mean(bce, axis=-1)


def categorical_crossentropy(y_true, y_pred):
    """`keras.losses.categorical_crossentropy` on probabilities."""
    p = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
    p = np.clip(p, EPSILON, 1.0 - EPSILON)
    return -np.sum(y_true * np.log(p), axis=-1)


def sparse_categorical_crossentropy(labels, y_pred):
    """`keras.losses.sparse_categorical_crossentropy` on probabilities."""
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    chosen = np.take_along_axis(p, np.asarray(labels)[..., None], axis=-1)
    return np.log(np.sum(p, axis=-1)) - np.log(chosen[..., 0])


def kl_divergence(y_true, y_pred):
    """`keras.losses.kl_divergence`."""
    y_true = np.clip(y_true, EPSILON, 1.0)
    y_pred = np.clip(y_pred, EPSILON, 1.0)
    return np.sum(y_true * np.log(y_true / y_pred), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`keras.losses.cosine_similarity`: minus the cosine of the angle."""

    def normalize(x):
        squares = np.sum(np.square(x), axis=axis, keepdims=True)
        return x / np.sqrt(np.maximum(squares, 1e-12))

    return -np.sum(normalize(y_true) * normalize(y_pred), axis=axis)


# Optimizers (keras.optimizers): the weights after each step.


def sgd_trajectory(w, grads, learning_rate=0.01, momentum=0.0):
    """`keras.optimizers.SGD` (not Nesterov) applied to each gradient."""
    w, velocity, trajectory = np.array(w, "float64"), np.zeros(w.shape), []
    for grad in grads:
        if momentum:
            velocity = momentum * velocity - learning_rate * grad
            w = w + velocity
        else:
            w = w - learning_rate * grad
        trajectory.append(w)
    return trajectory


def rmsprop_trajectory(w, grads, learning_rate=0.001, rho=0.9):
    """`keras.optimizers.RMSprop` (not centered, no momentum)."""
    w, avg_sq, trajectory = np.array(w, "float64"), np.zeros(w.shape), []
    for grad in grads:
        avg_sq = rho * avg_sq + (1.0 - rho) * np.square(grad)
        w = w - learning_rate * grad / np.sqrt(avg_sq + EPSILON)
        trajectory.append(w)
    return trajectory


def adam_trajectory(w, grads, learning_rate=0.001, beta_1=0.9, beta_2=0.999):
    """`keras.optimizers.Adam` (not AMSGrad) applied to each gradient."""
    w, trajectory = np.array(w, "float64"), []
    m, v = np.zeros(w.shape), np.zeros(w.shape)
    for step, grad in enumerate(grads, start=1):
        m = m + (grad - m) * (1.0 - beta_1)
        v = v + (np.square(grad) - v) * (1.0 - beta_2)
        alpha = (
            learning_rate * np.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
        )
        w = w - alpha * m / (np.sqrt(v) + EPSILON)
        trajectory.append(w)
    return trajectory


# Regularisation (keras.regularizers, keras.callbacks.EarlyStopping).


def l1_penalty(w, l1):
    """`keras.regularizers.L1(l1)(w)`."""
    return float(l1 * np.sum(np.abs(w)))


def l2_penalty(w, l2):
    """`keras.regularizers.L2(l2)(w)` (no factor 1/2)."""
    return float(l2 * np.sum(np.square(w)))


def early_stopping_stops(history, patience, min_delta=0.0, mode="min"):
    """Whether `keras.callbacks.EarlyStopping` stops training on `history`.

    Replays the callback's rule epoch by epoch: a value improves on the best
    one when it beats it by more than `min_delta` (the comparison done in
    float32, as the callback does), an improvement resets the wait, and
    training stops once `patience` epochs in a row brought none (never
    after the first epoch).
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max'. Received: mode={mode}")
    delta = -abs(min_delta) if mode == "min" else abs(min_delta)
    best, wait = None, 0
    for value in history:
        value = float(value)
        wait += 1
        if best is None:
            improved = True
        else:
            shifted, reference = np.float32(value - delta), np.float32(best)
            improved = (
                shifted < reference if mode == "min" else shifted > reference
            )
        if improved:
            best, wait = value, 0
            continue
        if wait >= patience:
            return True
    return False


# Normalisation (keras.layers.BatchNormalization).


def batchnorm(
    x, gamma, beta, moving_mean, moving_var, epsilon, momentum, *, training
):
    """`keras.layers.BatchNormalization` on `(batch, features)` inputs.

    Returns:
        `(y, new_moving_mean, new_moving_var)`: in training the batch's
        mean and (biased) variance normalise `x` and update the moving
        statistics; at inference the moving statistics normalise `x` and
        stay as they are.
    """
    if training:
        mean, var = np.mean(x, axis=0), np.var(x, axis=0)
        moving_mean = moving_mean * momentum + mean * (1.0 - momentum)
        moving_var = moving_var * momentum + var * (1.0 - momentum)
    else:
        mean, var = moving_mean, moving_var
    y = (x - mean) / np.sqrt(var + epsilon) * gamma + beta
    return y, np.asarray(moving_mean), np.asarray(moving_var)


# Convolution and pooling (keras.layers.Conv2D, keras.ops.conv/max_pool).


def _out_size(size, window, stride, padding):
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def conv2d_output_shape(shape, kernel, filters, stride=1, padding="valid"):
    """`keras.layers.Conv2D(...).compute_output_shape` for `(h, w, c)`."""
    height, width = (_out_size(n, kernel, stride, padding) for n in shape[:2])
    return (height, width, filters)


def _same_padding(size, window, stride):
    total = max(
        (_out_size(size, window, stride, "same") - 1) * stride + window - size,
        0,
    )
    return total // 2, total - total // 2


def _windows(x, window, stride):
    """Slides a `(wh, ww)` window over `(batch, h, w, c)` inputs ("valid").

    Returns:
        `(size, views)`: `size` the output's `(height, width)`, `views`
        maps each offset `(i, j)` inside the window, row by row, to the
        strided view of `x` holding the input at that offset of every
        window position, of shape `(batch, height, width, c)`.
    """
    height, width = (
        _out_size(n, k, stride, "valid") for n, k in zip(x.shape[1:3], window)
    )
    views = {
        (i, j): x[
            :,
            i : i + stride * (height - 1) + 1 : stride,
            j : j + stride * (width - 1) + 1 : stride,
        ]
        for i in range(window[0])
        for j in range(window[1])
    }
    return (height, width), views


def conv2d(x, kernel, stride=1, padding="valid"):
    """`keras.ops.conv` (channels last) of `(batch, h, w, c)` inputs with a
    `(kh, kw, c, filters)` kernel: a cross-correlation."""
    kh, kw = kernel.shape[:2]
    if padding == "same":
        x = np.pad(
            x,
            [
                (0, 0),
                _same_padding(x.shape[1], kh, stride),
                _same_padding(x.shape[2], kw, stride),
                (0, 0),
            ],
        )
    size, views = _windows(x, (kh, kw), stride)
    out = np.zeros((x.shape[0], *size, kernel.shape[-1]))
    for (i, j), view in views.items():
        out += view @ kernel[i, j]
    return out


def max_pool2d(x, pool_size, stride):
    """`keras.ops.max_pool` with `padding="valid"` on `(batch, h, w, c)`."""
    size, views = _windows(x, (pool_size, pool_size), stride)
    out = np.full((x.shape[0], *size, x.shape[3]), -np.inf)
    for view in views.values():
        out = np.maximum(out, view)
    return out


# Recurrent cells (keras.layers.*Cell, mlkeras.layers.PeepholeLSTMCell).


def simple_rnn_step(x, h, W, U, b):
    """`keras.layers.SimpleRNNCell` (tanh) with kernel `W`, recurrent
    kernel `U` and bias `b`: the new state."""
    return np.tanh(x @ W + h @ U + b)


def lstm_step(x, h, c, W, U, b, peepholes=None):
    """`keras.layers.LSTMCell` (gates i, f, c, o; sigmoid and tanh), or
    with `peepholes` (rows: input, forget, output) the step of
    `mlkeras.layers.PeepholeLSTMCell`. Returns `(h, c)`."""
    z_i, z_f, z_c, z_o = np.split(x @ W + h @ U + b, 4, axis=-1)
    p_i, p_f, p_o = (
        np.zeros((3, h.shape[-1])) if peepholes is None else peepholes
    )
    i = sigmoid(z_i + p_i * c)
    f = sigmoid(z_f + p_f * c)
    new_c = f * c + i * np.tanh(z_c)
    o = sigmoid(z_o + p_o * new_c)
    return o * np.tanh(new_c), new_c


def gru_step(x, h, W, U, b):
    """`keras.layers.GRUCell` (`reset_after=True`, gates z, r, h) with a
    `(2, 3 * units)` bias (input bias, recurrent bias): the new state."""
    x_z, x_r, x_h = np.split(x @ W + b[0], 3, axis=-1)
    h_z, h_r, h_h = np.split(h @ U + b[1], 3, axis=-1)
    z = sigmoid(x_z + h_z)
    r = sigmoid(x_r + h_r)
    candidate = np.tanh(x_h + r * h_h)
    return z * h + (1.0 - z) * candidate


# Gradients, derived by hand (checked against automatic differentiation).


def logistic_loss_gradient(w, b, X, y):
    """The gradient `(dw, db)` of the mean logistic loss
    `mean(-y log p - (1 - y) log(1 - p))`, `p = sigmoid(X w + b)`."""
    error = (sigmoid(X @ w + b) - y) / len(y)
    return X.T @ error, float(np.sum(error))


def global_norm(arrays):
    """The L2 norm of all the arrays' entries taken together."""
    return float(np.sqrt(sum(np.sum(np.square(a)) for a in arrays)))


_ACTIVATIONS = {
    "sigmoid": (sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "relu": (relu, lambda z, a: (z > 0).astype("float64")),
}


def layer_gradient_norms(weights, biases, x, activation):
    """The norm of the gradient of `sum(network(x)) / len(x)` with respect
    to each layer's weight matrix, for the network
    `h = activation(h @ W + b)` layer after layer."""
    act, derivative = _ACTIVATIONS[activation]
    inputs, pre, out = [], [], np.asarray(x, "float64")
    for W, b in zip(weights, biases):
        inputs.append(out)
        pre.append(out @ W + b)
        out = act(pre[-1])
    upstream, norms = np.full(out.shape, 1.0 / len(x)), []
    for W, h_in, z in zip(weights[::-1], inputs[::-1], pre[::-1]):
        dz = upstream * derivative(z, act(z))
        norms.append(np.linalg.norm(h_in.T @ dz))
        upstream = dz @ W.T
    return np.array(norms[::-1])


def rnn_bptt(x, W, U, b, v):
    """The gradient of `sum(h_T @ v)` for the tanh RNN
    `h_t = tanh(x_t W + h_{t-1} U + b)`, `h_0 = 0`, over `x` of shape
    `(batch, steps, features)`: `(dW, dU, db, dx)`."""
    batch, steps = x.shape[:2]
    states = [np.zeros((batch, U.shape[0]))]
    for t in range(steps):
        states.append(np.tanh(x[:, t] @ W + states[-1] @ U + b))
    dW, dU, db = np.zeros(W.shape), np.zeros(U.shape), np.zeros(b.shape)
    dx = np.zeros(x.shape)
    upstream = np.broadcast_to(v, (batch, len(v))).astype("float64")
    for t in reversed(range(steps)):
        dz = upstream * (1.0 - states[t + 1] ** 2)
        dW += x[:, t].T @ dz
        dU += states[t].T @ dz
        db += dz.sum(axis=0)
        dx[:, t] = dz @ W.T
        upstream = dz @ U.T
    return dW, dU, db, dx


# Attention (keras.layers.Attention, mlkeras.layers).


def dot_attention(query, keys, values):
    """`keras.layers.Attention()` (dot scores, no scale) for one query per
    sample: `query (batch, d)`, `keys (batch, steps, d)`. Returns
    `(context, weights)`."""
    weights = softmax(np.einsum("bd,btd->bt", query, keys), axis=-1)
    return np.einsum("bt,btv->bv", weights, values), weights


def additive_score(query, keys, W_q, W_k, v):
    """Bahdanau's score `tanh(q W_q + k W_k) v` of each key."""
    return np.tanh((query @ W_q)[:, None, :] + keys @ W_k) @ v


def sinusoidal_encoding(length, depth, max_wavelength=10000):
    """`mlkeras.layers.sinusoidal_encoding`: channel `2i` holds
    `sin(p / max_wavelength ** (2i / depth))`, channel `2i + 1` its cosine."""
    positions = np.arange(length, dtype="float64")[:, None]
    channels = np.arange(depth)
    rates = max_wavelength ** (-(channels - channels % 2) / depth)
    angles = positions * rates
    return np.where(channels % 2 == 0, np.sin(angles), np.cos(angles))


def scaled_dot_product_attention(query, key, value, mask=None):
    """`mlkeras.layers.scaled_dot_product_attention`: `(output, weights)`,
    masked keys getting weight exactly zero."""
    logits = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -1e9)
    weights = softmax(logits, axis=-1)
    if mask is not None:
        weights = np.where(mask, weights, 0.0)
    return weights @ value, weights


def multi_head_attention(
    query, value, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, num_heads
):
    """`mlkeras.layers.MultiHeadAttention(num_heads, key_dim)` called on
    `(query, value)` (key = value), with its kernels flattened to
    `(d_in, num_heads * key_dim)` and `(num_heads * value_dim, d_out)`.
    Returns `(output, scores)`, scores of shape `(batch, heads, t, s)`."""

    def heads(x, kernel, bias):
        projected = x @ kernel + bias
        batch, steps, _ = projected.shape
        split = projected.reshape(batch, steps, num_heads, -1)
        return split.transpose(0, 2, 1, 3)

    q, k, v = (
        heads(query, W_q, b_q),
        heads(value, W_k, b_k),
        heads(value, W_v, b_v),
    )
    attended, scores = scaled_dot_product_attention(q, k, v)
    batch, _, steps, _ = attended.shape
    merged = attended.transpose(0, 2, 1, 3).reshape(batch, steps, -1)
    return merged @ W_o + b_o, scores


# Initialisers (keras.initializers): the spread of their draws.


def glorot_uniform_limit(fan_in, fan_out):
    """The bound of `keras.initializers.GlorotUniform`'s draws, uniform in
    `+-sqrt(6 / (fan_in + fan_out))`."""
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def glorot_uniform_std(fan_in, fan_out):
    """The standard deviation of `keras.initializers.GlorotUniform`'s draws:
    `glorot_uniform_limit(fan_in, fan_out) / sqrt(3)`, that is
    `sqrt(2 / (fan_in + fan_out))`."""
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def he_normal_std(fan_in):
    """The standard deviation of `keras.initializers.HeNormal`'s draws: a
    normal truncated at two deviations, widened so that its spread is
    `sqrt(2 / fan_in)`."""
    return float(np.sqrt(2.0 / fan_in))
