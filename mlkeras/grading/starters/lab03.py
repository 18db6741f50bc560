"""Lab 03 exercise: activation functions and their derivatives, in NumPy.

Fill in every function below with NumPy only (importing keras, tensorflow,
torch or jax fails in the grader). Each takes a float array `x` of any shape
and returns a new array of the same shape and dtype as `x`.

Check your work with `mlkeras check lab03.py`.
"""

import numpy as np


def relu(x):
    """max(x, 0), element-wise."""
    raise NotImplementedError


def leaky_relu(x, alpha=0.01):
    """x where x >= 0, alpha * x where x < 0."""
    raise NotImplementedError


def sigmoid(x):
    """1 / (1 + exp(-x)); must not overflow or return NaN for |x| up to 1000."""
    raise NotImplementedError


def tanh(x):
    """The hyperbolic tangent (do not call np.tanh: use exponentials)."""
    raise NotImplementedError


def softmax(z, axis=-1):
    """exp(z) / sum(exp(z)) along `axis`.

    Must stay finite for large logits (e.g. 1000): subtract the maximum
    along `axis` first.
    """
    raise NotImplementedError


def swish(x):
    """x * sigmoid(x) (also called SiLU)."""
    raise NotImplementedError


def gelu(x):
    """GELU with the tanh approximation:
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))."""
    raise NotImplementedError


def relu_grad(x):
    """The derivative of relu: 1 where x > 0, else 0 (0 at x == 0)."""
    raise NotImplementedError


def sigmoid_grad(x):
    """The derivative of sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    raise NotImplementedError


def tanh_grad(x):
    """The derivative of tanh at x: 1 - tanh(x)**2."""
    raise NotImplementedError
