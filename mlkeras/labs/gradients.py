"""Gradients with respect to a model's inputs, on any backend that has them.

Keras has no backend-neutral way to take the gradient of a loss with
respect to a model's *inputs*, which the recurrent lab needs to show how
much of the loss reaches each time step. This module hides the two
backend-specific versions behind one function.
"""

import keras


def mse_gradients(model, x, y):
    """MSE gradients of `model` with respect to its inputs and its weights.

    Args:
        model: a built Keras model.
        x: the inputs, a NumPy array.
        y: the targets, a NumPy array shaped like the model's output.

    Returns:
        `(d_inputs, d_weights)` as NumPy arrays, the weights' gradients in
        the order of `model.trainable_variables`.

    Raises:
        NotImplementedError: on a backend other than TensorFlow and JAX.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        d_x, d_w = _tensorflow_gradients(model, x, y)
    elif backend == "jax":
        d_x, d_w = _jax_gradients(model, x, y)
    else:
        raise NotImplementedError(
            "Input gradients are available on the TensorFlow and JAX "
            f"backends only. Received: backend={backend!r}"
        )
    to_numpy = keras.ops.convert_to_numpy
    return to_numpy(d_x), [to_numpy(g) for g in d_w]


def _tensorflow_gradients(model, x, y):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.square(model(x) - y))
    d_x, *d_w = tape.gradient(loss, [x] + model.trainable_variables)
    return d_x, d_w


def _jax_gradients(model, x, y):
    import jax

    def loss_fn(trainable, inputs):
        out, _ = model.stateless_call(
            trainable,
            [v.value for v in model.non_trainable_variables],
            inputs,
        )
        return keras.ops.mean(keras.ops.square(out - y))

    d_w, d_x = jax.grad(loss_fn, argnums=(0, 1))(
        [v.value for v in model.trainable_variables], x
    )
    return d_x, d_w
