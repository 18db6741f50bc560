"""Sinusoidal positional encoding (Vaswani et al., 2017), computed in float32."""

import keras
import numpy as np
from keras import ops

_LAYOUTS = ("interleaved", "concatenated")


def _check_encoding_args(depth, max_wavelength):
    if isinstance(depth, bool) or not isinstance(depth, int) or depth <= 0:
        raise ValueError(
            f"`depth` must be a positive integer. Received: depth={depth}"
        )
    if (
        isinstance(max_wavelength, bool)
        or not isinstance(max_wavelength, (int, float))
        or not max_wavelength > 0
    ):
        raise ValueError(
            "`max_wavelength` must be a positive number. "
            f"Received: max_wavelength={max_wavelength}"
        )


def _encoding_table(length, depth, max_wavelength, start_index, layout):
    """The float32 (length, depth) table in either channel layout.

    `length` and `start_index` may be Python integers or scalar tensors (a
    dynamic sequence length, a decoding step); `depth` must be static.
    """
    num_sin = (depth + 1) // 2  # one sin channel per pair, plus the odd one
    num_cos = depth // 2
    positions = ops.cast(ops.arange(0, length, dtype="int32"), "float32")
    positions = positions + ops.cast(start_index, "float32")
    # Pair i turns at the rate max_wavelength ** (-2i / depth); `depth` is
    # static, so the rates are exact float64 numbers rounded once to float32.
    rates = np.power(
        float(max_wavelength),
        -2.0 * np.arange(num_sin, dtype="float64") / depth,
    )
    rates = ops.convert_to_tensor(rates.astype("float32"))
    angles = ops.expand_dims(positions, 1) * ops.expand_dims(rates, 0)
    sines = ops.sin(angles)  # (length, num_sin)
    cosines = ops.cos(angles[:, :num_cos])  # (length, num_cos)
    if layout == "concatenated":
        return ops.concatenate([sines, cosines], axis=-1)
    if num_cos == 0:  # depth 1: a single sine channel
        return sines
    # Interleave: stack the full pairs, then append the odd sin channel.
    pairs = ops.stack([sines[:, :num_cos], cosines], axis=-1)
    table = ops.reshape(pairs, (-1, 2 * num_cos))
    if num_sin > num_cos:
        table = ops.concatenate([table, sines[:, num_cos:]], axis=-1)
    return table


def sinusoidal_encoding(length, depth, max_wavelength=10000, start_index=0):
    """Returns the sinusoidal position table of Vaswani et al. (2017).

    Row `p` encodes position `start_index + p`. Channel `2i` holds
    `sin(p / max_wavelength ** (2i / depth))` and channel `2i + 1` the cosine
    of the same angle, so each pair of channels turns at its own rate, from
    one radian per position down to one turn per `2 pi max_wavelength`
    positions. An odd `depth` is allowed: its last channel is a sine.
    The table is computed in float32, whatever the global dtype policy.

    Paper: [Attention Is All You Need](https://arxiv.org/abs/1706.03762).

    Args:
        length: number of positions (rows). A Python integer or a scalar
            integer tensor.
        depth: number of channels (columns), a positive Python integer.
        max_wavelength: the longest wavelength, in positions, divided by
            `2 pi`. Defaults to `10000`.
        start_index: position of the first row, for step-by-step decoding.
            A Python integer or a scalar integer tensor. Defaults to `0`.

    Returns:
        A float32 tensor of shape `(length, depth)`.

    Example:

    >>> table = sinusoidal_encoding(50, 16)
    >>> tuple(table.shape)
    (50, 16)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """
    _check_encoding_args(depth, max_wavelength)
    if isinstance(length, int) and (isinstance(length, bool) or length < 0):
        raise ValueError(
            f"`length` must be a non-negative integer. Received: length={length}"
        )
    return _encoding_table(
        length, depth, max_wavelength, start_index, "interleaved"
    )


@keras.saving.register_keras_serializable(package="mlkeras")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Adds the sinusoidal position encoding of Vaswani et al. to its inputs.

    Called on a `(batch, sequence, features)` tensor, the layer returns
    `inputs + sinusoidal_encoding(sequence, features)`, so it goes straight
    after an `Embedding` in a `Sequential` model. The table has no maximum
    length: it is computed for the length it is called on. It is computed in
    float32 and cast to the compute dtype only at the end, so under
    `mixed_bfloat16` or `mixed_float16` the encoding of position 4000 is as
    accurate as that of position 4. Keras masks pass through unchanged.

    Paper: [Attention Is All You Need](https://arxiv.org/abs/1706.03762).

    Args:
        max_wavelength: the longest wavelength, in positions, divided by
            `2 pi`. Defaults to `10000`.
        layout: channel order. `"interleaved"` puts sin and cos of each
            frequency side by side (sin, cos, sin, cos, ...), as in the paper;
            `"concatenated"` puts all sines first and then all cosines, as the
            TensorFlow tutorial does. Defaults to `"interleaved"`.
        **kwargs: base layer arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: a tensor of shape `(batch, sequence, features)`.
        start_index: position of the first step of `inputs`, a Python integer
            or a scalar integer tensor; during step-by-step decoding, pass the
            index of the current step. Defaults to `0`.

    Returns:
        A tensor of the same shape and dtype as `inputs`.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input(shape=(None,), dtype="int32"),
    ...     keras.layers.Embedding(1000, 64, mask_zero=True),
    ...     SinusoidalPositionalEncoding(),
    ... ])
    >>> tuple(model(np.ones((2, 10), "int32")).shape)
    (2, 10, 64)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(self, max_wavelength=10000, layout="interleaved", **kwargs):
        if (
            isinstance(max_wavelength, bool)
            or not isinstance(max_wavelength, (int, float))
            or not max_wavelength > 0
        ):
            raise ValueError(
                "`max_wavelength` must be a positive number. "
                f"Received: max_wavelength={max_wavelength}"
            )
        if layout not in _LAYOUTS:
            raise ValueError(
                f"`layout` must be one of {_LAYOUTS}. Received: layout={layout}"
            )
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.layout = layout
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`inputs` must have rank 3, (batch, sequence, features). "
                f"Received: inputs.shape={tuple(input_shape)}"
            )
        if input_shape[-1] is None:
            raise ValueError(
                "The last dimension of `inputs` (features) must be known. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )
        self.built = True

    def call(self, inputs, start_index=0):
        length = ops.shape(inputs)[1]
        table = _encoding_table(
            length,
            inputs.shape[-1],
            self.max_wavelength,
            start_index,
            self.layout,
        )
        return inputs + ops.cast(table, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_wavelength": self.max_wavelength, "layout": self.layout}
        )
        return config
