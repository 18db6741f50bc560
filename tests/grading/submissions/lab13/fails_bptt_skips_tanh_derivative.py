"""Lab 13, wrong: backpropagation through time forgets tanh's derivative on
the way back to the earlier states."""

import numpy as np


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def rnn_step(x, h, W, U, b):
    return np.tanh(x @ W + h @ U + b)


def lstm_step(x, h, c, W, U, b):
    zi, zf, zc, zo = np.split(x @ W + h @ U + b, 4, axis=-1)
    c = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zc)
    return _sigmoid(zo) * np.tanh(c), c


def gru_step(x, h, W, U, b):
    xz, xr, xh = np.split(x @ W + b[0], 3, axis=-1)
    hz, hr, hh = np.split(h @ U + b[1], 3, axis=-1)
    z, r = _sigmoid(xz + hz), _sigmoid(xr + hr)
    return z * h + (1 - z) * np.tanh(xh + r * hh)


def peephole_lstm_step(x, h, c, W, U, b, P):
    zi, zf, zc, zo = np.split(x @ W + h @ U + b, 4, axis=-1)
    i, f = _sigmoid(zi + P[0] * c), _sigmoid(zf + P[1] * c)
    c = f * c + i * np.tanh(zc)
    return _sigmoid(zo + P[2] * c) * np.tanh(c), c


def _forward(x, W, U, b):
    states = [np.zeros((x.shape[0], U.shape[0]))]
    for t in range(x.shape[1]):
        states.append(np.tanh(x[:, t] @ W + states[-1] @ U + b))
    return states


def rnn_bptt(x, W, U, b, v):
    states = _forward(x, W, U, b)
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dx = np.zeros_like(x)
    dh = np.tile(v, (x.shape[0], 1))  # dL/dh_T
    for t in range(x.shape[1], 0, -1):
        dz = dh * (1 - states[t] ** 2)  # through tanh
        dW += x[:, t - 1].T @ dz
        dU += states[t - 1].T @ dz
        db += dz.sum(axis=0)
        dx[:, t - 1] = dz @ W.T
        dh = dh @ U.T  # skips tanh's derivative
    return dW, dU, db, dx


def gradient_norms_through_time(x, W, U, b, v):
    dx = rnn_bptt(x, W, U, b, v)[3]
    return np.linalg.norm(dx, axis=-1).mean(axis=0)
