"""Lab 05 exercise: gradient norms and clipping by the global norm, in NumPy.

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
