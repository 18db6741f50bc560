"""A correct lab 08 submission."""

import numpy as np


def sgd_momentum_step(w, grad, velocity, learning_rate=0.01, momentum=0.9):
    velocity = momentum * velocity - learning_rate * grad
    return w + velocity, velocity


def rmsprop_step(w, grad, avg_sq, learning_rate=0.001, rho=0.9, epsilon=1e-7):
    avg_sq = rho * avg_sq + (1 - rho) * grad ** 2
    return w - learning_rate * grad / np.sqrt(avg_sq + epsilon), avg_sq


def adam_step(w, grad, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
              epsilon=1e-7):
    m = m + (1 - beta_1) * (grad - m)
    v = v + (1 - beta_2) * (grad ** 2 - v)
    alpha = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    return w - alpha * m / (np.sqrt(v) + epsilon), m, v
