"""Lab 04, wrong: minibatches keeps the original sample order."""

import numpy as np


def gd_step(w, grad, learning_rate):
    return w - learning_rate * grad


def minibatches(X, y, batch_size, seed):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def logistic_loss_gradient(w, b, X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    error = p - y  # dL/dz for each row, before averaging
    return X.T @ error / len(y), float(np.mean(error))
