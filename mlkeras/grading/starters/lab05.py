"""Lab 05 exercise: measuring vanishing gradients layer by layer, gradient
norms and clipping by the global norm, in NumPy.

NumPy only (importing keras, tensorflow, torch or jax fails in the grader).
Check your work with `mlkeras check lab05.py`.
"""

import numpy as np


def global_norm(grads):
    """The L2 norm of all gradients taken together.

    Args:
        grads: a list of float arrays (any shapes).

    Returns:
        A float: sqrt(sum over arrays of sum(g ** 2)).
    """
    raise NotImplementedError


def clip_by_global_norm(grads, max_norm):
    """Rescales all gradients together so their global norm is at most max_norm.

    If the global norm n exceeds max_norm, multiply every array by
    max_norm / n; otherwise return them unchanged. All-zero gradients must
    stay zero (no division by zero).

    Args:
        grads: a list of float arrays.
        max_norm: a positive float.

    Returns:
        A list of arrays with the same shapes and dtypes as `grads`.
    """
    raise NotImplementedError


def layer_gradient_norms(weights, biases, x, activation):
    """Measures the gradient that reaches each layer of a deep network.

    The network applies h = act(h @ W + b) for every (W, b) in order,
    starting from h = x, with the same activation after every layer. The
    loss is L = sum(h_last) / n, the sum of the last layer's outputs
    averaged over the n rows of x. Backpropagate by hand (the chain rule,
    one factor per layer) and return the norm of dL/dW for every layer:
    with the sigmoid the early layers' norms are orders of magnitude
    smaller than the last ones'. The grader compares your numbers with its
    own measurement on a network you do not see.

    Args:
        weights: a list of float arrays, W_l of shape (d_{l-1}, d_l).
        biases: a list of float arrays, b_l of shape (d_l,).
        x: float array (n, d_0).
        activation: `"sigmoid"`, `"tanh"` or `"relu"`.

    Returns:
        A float array (number of layers,): the Frobenius norm of dL/dW_l.
    """
    raise NotImplementedError
