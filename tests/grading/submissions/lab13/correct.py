"""A correct lab 13 submission."""

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
