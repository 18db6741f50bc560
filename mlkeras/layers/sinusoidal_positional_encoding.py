"""Sinusoidal positional encoding (Vaswani et al., 2017) in float32."""

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


def _channel_rates(depth, max_wavelength, layout):
    """Per-channel angular rates (float32) and which channels are sines.

    Pair i turns at the rate max_wavelength ** (-2i / depth); `depth` is
    static, so the rates are exact float64 numbers rounded once to float32.
    """
    num_sin = (depth + 1) // 2  # one sin channel per pair, plus the odd one
    num_cos = depth // 2
    pair_rates = np.power(
        float(max_wavelength),
        -2.0 * np.arange(num_sin, dtype="float64") / depth,
    )
    if layout == "concatenated":
        rates = np.concatenate([pair_rates, pair_rates[:num_cos]])
        is_sine = np.arange(depth) < num_sin
    else:  # sin, cos, sin, cos, ..., and a last sine when depth is odd
        rates = pair_rates[np.arange(depth) // 2]
        is_sine = np.arange(depth) % 2 == 0
    return rates.astype("float32"), is_sine


def _encode_positions(positions, depth, max_wavelength, layout):
    """The float32 encoding of `positions`, shaped `positions.shape + (depth,)`.

    `positions` is a float32 tensor of any shape; `depth` must be static.
    """
    rates, is_sine = _channel_rates(depth, max_wavelength, layout)
    angles = ops.expand_dims(positions, -1) * ops.convert_to_tensor(rates)
    return ops.where(
        ops.convert_to_tensor(is_sine), ops.sin(angles), ops.cos(angles)
    )


def _encoding_table(length, depth, max_wavelength, start_index, layout):
    """The float32 (length, depth) table in either channel layout.

    `length` and `start_index` may be Python integers or scalar tensors (a
    dynamic sequence length, a decoding step); `depth` must be static.
    """
    positions = ops.cast(ops.arange(0, length, dtype="int32"), "float32")
    positions = positions + ops.cast(start_index, "float32")
    # Each trigonometric function only on its own channels (half the work of
    # `_encode_positions`), then the channels put in order.
    rates, is_sine = _channel_rates(depth, max_wavelength, "concatenated")
    num_sin = int(is_sine.sum())
    num_cos = depth - num_sin
    angles = ops.expand_dims(positions, 1) * ops.expand_dims(
        ops.convert_to_tensor(rates[:num_sin]), 0
    )
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
            "`length` must be a non-negative integer. "
            f"Received: length={length}"
        )
    return _encoding_table(
        length, depth, max_wavelength, start_index, "interleaved"
    )


@keras.saving.register_keras_serializable(package="mlkeras")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Adds the sinusoidal position encoding of Vaswani et al. to its inputs.

    Called on a `(batch, sequence, features)` tensor, the layer returns
    `inputs + sinusoidal_encoding(sequence, features)`, so it goes straight
    after an `Embedding` in a `Sequential` model. Inputs of any rank >= 2 are
    accepted: the sequence axis is the one before the last (features), and
    every axis before it shares the same positions. The table has no maximum
    length: it is computed for the length it is called on. It is computed in
    float32 and cast to the compute dtype only at the end, so under
    `mixed_bfloat16` or `mixed_float16` the encoding of position 4000 is as
    accurate as that of position 4. Keras masks pass through unchanged.

    With `add_to_inputs=False` the layer returns the encoding alone,
    broadcast to the shape of `inputs`, as keras-hub's `SinePositionEncoding`
    does (same channel order and values).

    Paper: [Attention Is All You Need](https://arxiv.org/abs/1706.03762).

    Args:
        max_wavelength: the longest wavelength, in positions, divided by
            `2 pi`. Defaults to `10000`.
        layout: channel order. `"interleaved"` puts sin and cos of each
            frequency side by side (sin, cos, sin, cos, ...), as in the paper;
            `"concatenated"` puts all sines first and then all cosines, as the
            TensorFlow tutorial does. Defaults to `"interleaved"`.
        add_to_inputs: return `inputs + encoding` when `True`, the encoding
            alone (in the compute dtype) when `False`. Defaults to `True`.
        **kwargs: base layer arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: a tensor of shape `(..., sequence, features)`, of rank 2 or
            more, whose last dimension is known.
        start_index: position of the first step of `inputs`, a Python integer
            or a scalar integer tensor; during step-by-step decoding, pass the
            index of the current step. Defaults to `0`.
        positions: explicit positions instead of `start_index`, for packed
            sequences (positions restart at each packed example) or decoding
            at given offsets. An integer (or float) tensor of shape
            `(sequence,)`, `(batch, sequence)`, or `inputs.shape[:-1]`.
            Defaults to `None`: positions `start_index, start_index + 1, ...`.

    Returns:
        A tensor of the same shape as `inputs`.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input(shape=(None,), dtype="int32"),
    ...     keras.layers.Embedding(1000, 64, mask_zero=True),
    ...     SinusoidalPositionalEncoding(),
    ... ])
    >>> tuple(model(np.ones((2, 10), "int32")).shape)
    (2, 10, 64)
    >>> layer = SinusoidalPositionalEncoding()
    >>> packed = np.array([[0, 1, 2, 0, 1]])  # two examples in one row
    >>> tuple(layer(np.zeros((1, 5, 8)), positions=packed).shape)
    (1, 5, 8)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        max_wavelength=10000,
        layout="interleaved",
        add_to_inputs=True,
        **kwargs,
    ):
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
        if not isinstance(add_to_inputs, bool):
            raise ValueError(
                "`add_to_inputs` must be True or False. "
                f"Received: add_to_inputs={add_to_inputs}"
            )
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.layout = layout
        self.add_to_inputs = add_to_inputs
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "`inputs` must have rank 2 or more, (..., sequence, "
                f"features). Received: inputs.shape={tuple(input_shape)}"
            )
        if input_shape[-1] is None:
            raise ValueError(
                "The last dimension of `inputs` (features) must be known. "
                f"Received: inputs.shape={tuple(input_shape)}"
            )
        self.built = True

    def call(self, inputs, start_index=0, positions=None):
        depth = inputs.shape[-1]
        if positions is None:
            table = _encoding_table(
                ops.shape(inputs)[-2],
                depth,
                self.max_wavelength,
                start_index,
                self.layout,
            )
        else:
            positions = self._standardize_positions(
                positions, len(inputs.shape), start_index
            )
            table = _encode_positions(
                positions, depth, self.max_wavelength, self.layout
            )
        if self.add_to_inputs:
            return inputs + ops.cast(table, inputs.dtype)
        table = ops.cast(table, self.compute_dtype)
        return ops.broadcast_to(table, ops.shape(inputs))

    def _standardize_positions(self, positions, input_rank, start_index):
        if not (isinstance(start_index, int) and start_index == 0):
            raise ValueError(
                "Pass either `positions` or `start_index`, not both. "
                f"Received: start_index={start_index}"
            )
        positions = ops.cast(ops.convert_to_tensor(positions), "float32")
        rank = len(positions.shape)
        if rank == 2 and input_rank > 3:
            # (batch, sequence): the same positions along the middle axes.
            for _ in range(input_rank - 3):
                positions = ops.expand_dims(positions, 1)
        elif rank not in (1, 2, input_rank - 1):
            raise ValueError(
                "`positions` must have shape (sequence,), (batch, sequence) "
                "or inputs.shape[:-1]. "
                f"Received: positions.shape={tuple(positions.shape)}"
            )
        return positions

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "layout": self.layout,
                "add_to_inputs": self.add_to_inputs,
            }
        )
        return config
