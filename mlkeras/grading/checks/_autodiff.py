"""Gradients by automatic differentiation, for the checks' references.

The function to differentiate is written with `keras.ops`; its gradient is
taken by the active backend (TensorFlow or JAX), in the grader's process
only.
"""

import numpy as np

from mlkeras.grading.checks._reference import keras


def gradients(loss_fn, *args):
    """The gradient of the scalar `loss_fn(*args)` with respect to each arg.

    Args:
        loss_fn: a function of float64 tensors that returns a scalar,
            written with `keras.ops`.
        *args: NumPy arrays, the point at which to differentiate.

    Returns:
        A list of float64 NumPy arrays shaped like `args`.
    """
    backend = keras().backend.backend()
    values = [np.asarray(a, dtype="float64") for a in args]
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(v) for v in values]
        with tf.GradientTape() as tape:
            loss = loss_fn(*variables)
        grads = tape.gradient(loss, variables)
        return [np.asarray(g.numpy(), dtype="float64") for g in grads]
    if backend == "jax":
        import jax

        with jax.enable_x64(True):
            grads = jax.grad(
                lambda *a: loss_fn(*a), argnums=tuple(range(len(values)))
            )(*values)
        return [np.asarray(g, dtype="float64") for g in grads]
    raise NotImplementedError(
        "Reference gradients need the TensorFlow or JAX backend. "
        f"Received: backend={backend!r}"
    )
