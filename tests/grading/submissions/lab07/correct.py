"""A correct lab 07 submission."""

import numpy as np

EPSILON = 1e-7


def mse(y_true, y_pred):
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def mae(y_true, y_pred):
    return np.mean(np.abs(y_pred - y_true), axis=-1)


def msle(y_true, y_pred):
    a = np.log(np.maximum(y_pred, EPSILON) + 1.0)
    b = np.log(np.maximum(y_true, EPSILON) + 1.0)
    return np.mean((a - b) ** 2, axis=-1)


def binary_crossentropy(y_true, y_pred):
    p = np.clip(y_pred, EPSILON, 1 - EPSILON)
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p), axis=-1)


def categorical_crossentropy(y_true, y_pred):
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return -np.sum(y_true * np.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred):
    one_hot = np.eye(y_pred.shape[-1])[np.asarray(y_true, dtype=int)]
    return categorical_crossentropy(one_hot, y_pred)


def kl_divergence(y_true, y_pred):
    t = np.clip(y_true, EPSILON, 1)
    p = np.clip(y_pred, EPSILON, 1)
    return np.sum(t * np.log(t / p), axis=-1)
