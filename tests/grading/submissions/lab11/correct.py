"""A correct lab 11 submission."""

import math

import numpy as np


def _out(size, kernel, stride, padding):
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def conv2d_output_shape(input_shape, kernel_size, filters, stride=1, padding="valid"):
    h, w, _ = input_shape
    return (_out(h, kernel_size, stride, padding), _out(w, kernel_size, stride, padding),
            filters)


def conv2d(x, kernel, stride=1, padding="valid"):
    kh, kw, _, c_out = kernel.shape
    n, h, w, _ = x.shape
    if padding == "same":
        oh, ow = _out(h, kh, stride, "same"), _out(w, kw, stride, "same")
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = _out(h, kh, stride, "valid"), _out(w, kw, stride, "valid")
    out = np.zeros((n, oh, ow, c_out))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out


def max_pool2d(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    oh, ow = (h - pool_size) // stride + 1, (w - pool_size) // stride + 1
    out = np.empty((n, oh, ow, c), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = x[:, i * stride:i * stride + pool_size,
                                j * stride:j * stride + pool_size, :].max(axis=(1, 2))
    return out
