"""Lab 13 exercise: one time step of the recurrent cells, and
backpropagation through time, in NumPy.

Weights use Keras's layouts, so the grader can load them into Keras's cells
(and mlkeras's `PeepholeLSTMCell`) and compare: `x` is (batch, input_dim),
`h` and `c` are (batch, units), `W` is the input kernel, `U` the recurrent
kernel, and gates are stacked along the last axis of `W`, `U` and `b`.
NumPy only (importing keras, tensorflow, torch or jax fails in the
grader). Check your work with `mlkeras check lab13.py`.
"""

import numpy as np


def rnn_step(x, h, W, U, b):
    """SimpleRNN: tanh(x @ W + h @ U + b); W (d, u), U (u, u), b (u,).

    Returns:
        The new h, shape (batch, units).
    """
    raise NotImplementedError


def lstm_step(x, h, c, W, U, b):
    """LSTM with gates stacked as [input, forget, candidate, output]:
    W (d, 4u), U (u, 4u), b (4u,). z = x @ W + h @ U + b; i = sigmoid(z_i),
    f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o); c' = f * c + i * g;
    h' = o * tanh(c').

    Returns:
        `(h', c')`.
    """
    raise NotImplementedError


def gru_step(x, h, W, U, b):
    """GRU as Keras builds it by default (reset_after=True), gates stacked
    as [update z, reset r, candidate]: W (d, 3u), U (u, 3u), b (2, 3u).
    xz, xr, xh = split(x @ W + b[0]); hz, hr, hh = split(h @ U + b[1]);
    z = sigmoid(xz + hz); r = sigmoid(xr + hr); n = tanh(xh + r * hh);
    h' = z * h + (1 - z) * n.

    Returns:
        The new h.
    """
    raise NotImplementedError


def peephole_lstm_step(x, h, c, W, U, b, P):
    """LSTM with diagonal peepholes (Gers and Schmidhuber, 2000). W, U, b as
    in lstm_step; P (3, u) holds the input, forget and output peepholes:
    i = sigmoid(z_i + P[0] * c), f = sigmoid(z_f + P[1] * c),
    c' = f * c + i * tanh(z_c), o = sigmoid(z_o + P[2] * c'), h' = o * tanh(c').

    Returns:
        `(h', c')`.
    """
    raise NotImplementedError


def rnn_bptt(x, W, U, b, v):
    """Backpropagation through time for a tanh RNN, by hand.

    The network runs h_t = tanh(x_t @ W + h_{t-1} @ U + b) from h_0 = 0
    over the T steps of x and scores its last state: L = sum(h_T @ v), the
    sum over the batch. Run the forward pass keeping every h_t, then walk
    back from t = T to 1, carrying dL/dh_t through tanh's derivative and
    U, and accumulate the gradients. The grader compares them with
    automatic differentiation.

    Args:
        x: (batch, T, input_dim); W: (input_dim, units); U: (units, units);
        b: (units,); v: (units,).

    Returns:
        `(dW, dU, db, dx)`: gradients of L shaped like W, U, b and x.
    """
    raise NotImplementedError


def gradient_norms_through_time(x, W, U, b, v):
    """Measures how far back the gradient reaches.

    For the network and loss of `rnn_bptt`, the mean over the batch of
    ||dL/dx_t||, for every step t. The grader compares your numbers with
    its own measurement on a network and data you do not see.

    Returns:
        A float array (T,).
    """
    raise NotImplementedError
