"""A correct lab 01 submission."""

import numpy as np


def step(z):
    return (np.asarray(z) >= 0).astype(np.int64)


def perceptron_predict(X, w, b):
    return step(X @ w + b)


def perceptron_train(X, y, learning_rate=0.1, epochs=20):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for i in range(len(X)):
            error = y[i] - perceptron_predict(X[i:i + 1], w, b)[0]
            w = w + learning_rate * error * X[i]
            b = b + learning_rate * error
    return w, float(b)
