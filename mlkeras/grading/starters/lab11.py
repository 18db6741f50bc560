"""Lab 11 exercise: 2-D convolution and max pooling, in NumPy.

Images are channels-last: `x` has shape (batch, height, width, channels),
a kernel has shape (kernel_h, kernel_w, in_channels, out_channels). As in
Keras (and unlike the textbook definition) a "convolution" does not flip
the kernel: it is a cross-correlation. NumPy only (importing keras,
tensorflow, torch or jax fails in the grader). Check your work with
`mlkeras check lab11.py`.
"""

import numpy as np


def conv2d_output_shape(
    input_shape, kernel_size, filters, stride=1, padding="valid"
):
    """The output shape of a Conv2D layer for one image.

    Args:
        input_shape: `(height, width, channels)`.
        kernel_size: an int (square kernel).
        filters: output channels.
        stride: an int. Defaults to `1`.
        padding: `"valid"` (no padding) or `"same"` (output size is
            ceil(size / stride)). Defaults to `"valid"`.

    Returns:
        A tuple of three ints `(out_height, out_width, filters)`.
    """
    raise NotImplementedError


def conv2d(x, kernel, stride=1, padding="valid"):
    """A 2-D convolution without bias, as `keras.ops.conv`.

    With "same" padding, pad with zeros so that the output size is
    ceil(size / stride), putting the extra row/column (if the total padding
    is odd) at the bottom/right.

    Returns:
        An array of shape (batch, out_height, out_width, out_channels).
    """
    raise NotImplementedError


def max_pool2d(x, pool_size=2, stride=2):
    """Max pooling with "valid" padding, as `keras.ops.max_pool`.

    Returns:
        An array of shape (batch, out_height, out_width, channels).
    """
    raise NotImplementedError
