"""`PeepholeLSTM`: a peephole LSTM over whole sequences, Keras-style."""

import keras
from keras import ops

from mlkeras.layers.peephole_lstm_backprop import peephole_lstm_sequence
from mlkeras.layers.peephole_lstm_cell import PeepholeLSTMCell

_CELL_ARGUMENTS = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "peephole_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "peephole_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "peephole_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)


@keras.saving.register_keras_serializable(package="mlkeras")
class PeepholeLSTM(keras.layers.RNN):
    """Long short-term memory layer with peephole connections.

    Runs `mlkeras.layers.PeepholeLSTMCell` over a sequence: the input,
    forget and output gates also see the cell state through one weight per
    unit (Gers, Schraudolph & Schmidhuber, 2002). The output gate sees the
    *updated* cell state `c_t`, as in the paper, while the input and forget
    gates see `c_{t-1}`; see the cell's documentation for the formulas and
    for the variant with `c_{t-1}` in the output gate. With all peephole
    vectors at zero, the layer computes exactly what `keras.layers.LSTM`
    computes with the same `kernel`, `recurrent_kernel` and `bias`.

    The input part of the gates, `x_t W + b`, does not depend on the
    recurrence, so the layer computes it for all time steps with one
    matrix product before the loop (as cuDNN does); the loop then carries
    only `h_{t-1} U`, the peepholes and the gate activations. Without a
    mask, without recurrent dropout in training, with the default `tanh`
    and `sigmoid`, not unrolled, and on TensorFlow or JAX, the layer also
    differentiates the loop by a hand-written backward pass instead of
    automatic differentiation (see `use_fused_backprop`): it keeps only
    the states each step starts from and its gates, and needs fewer
    operations per step. On TensorFlow a sequence of up to 32 steps runs
    without a loop, and a longer one two steps per loop iteration. Masks,
    `go_backwards`, `stateful`, `initial_state` and `unroll` behave as in
    `keras.layers.RNN`. With dropout, one mask over the input features and
    one over `h` are drawn per sequence and reused at every step, the
    variational dropout of Gal & Ghahramani (2016) that Keras's LSTM uses
    too; the four gates share each mask (Keras's LSTM draws one `h` mask
    per gate when `recurrent_dropout` is set).

    Paper: https://www.jmlr.org/papers/v3/gers02a.html

    Args:
        units: Positive integer, size of the output and of the cell state.
        activation: Activation of the candidate cell state and of the
            output. Defaults to `"tanh"`.
        recurrent_activation: Activation of the three gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the gates have a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Defaults
            to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        peephole_initializer: Initializer of the three peephole vectors.
            Defaults to `"glorot_uniform"`.
        unit_forget_bias: Whether to add 1 to the forget gate's bias at
            initialization. Defaults to `True`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults
            to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        peephole_regularizer: Regularizer of each peephole vector. Defaults
            to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint on `recurrent_kernel`. Defaults to
            `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        peephole_constraint: Constraint on each peephole vector. Defaults
            to `None`.
        dropout: Fraction of the input features to drop, in `[0, 1)`.
            Defaults to `0.0`.
        recurrent_dropout: Fraction of `h` to drop before the recurrent
            product, in `[0, 1)`. Defaults to `0.0`.
        seed: Integer seed of the dropout masks. Defaults to `None`.
        return_sequences: Whether to return the output of every step
            instead of the last one. Defaults to `False`.
        return_state: Whether to also return the last `h` and `c`.
            Defaults to `False`.
        go_backwards: Whether to run over the sequence from its end; the
            returned sequence is then in reversed order. Defaults to
            `False`.
        stateful: Whether the last states of a batch are the initial
            states of the next one (needs a fixed batch size; clear them
            with `reset_states()`). Defaults to `False`.
        unroll: Whether to unroll the loop into straight-line code (faster
            for short sequences, more memory). Defaults to `False`.
        use_fused_backprop: Whether to differentiate the loop by the
            hand-written backward pass described above: `"auto"` uses it
            wherever it applies and falls back to automatic
            differentiation elsewhere; `True` always uses it and raises a
            `ValueError` at a call it cannot compute (a mask, recurrent
            dropout in training, other activations, `unroll=True`, a
            backend other than TensorFlow and JAX); `False` never uses it.
            The results agree to float rounding either way. On a CPU the
            hand-written pass is the faster one at most sizes. On JAX it
            is a custom VJP, which JAX differentiates in reverse mode only:
            for `jax.jvp`, `jax.jacfwd` or forward-over-reverse Hessian
            products, pass `False`. Defaults to `"auto"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional list `[h, c]` of two tensors
            `(batch, units)`. Defaults to zeros (or, when `stateful`, to
            the states left by the previous batch).
        mask: Optional boolean tensor `(batch, timesteps)`; `False` skips a
            step: the states are carried over and the output repeats the
            previous one. Right- and left-padded masks both work.
        training: Whether dropout is applied.

    Returns:
        The last output `(batch, units)`, or all outputs
        `(batch, timesteps, units)` when `return_sequences=True`; with
        `return_state=True`, a list `[output, h, c]`.

    Example:

    >>> layer = mlkeras.layers.PeepholeLSTM(8, return_sequences=True)
    >>> layer(np.zeros((4, 10, 3), "float32")).shape
    (4, 10, 8)
    >>> model = keras.Sequential([
    ...     keras.Input((None, 3)),
    ...     keras.layers.Masking(),
    ...     mlkeras.layers.PeepholeLSTM(16),
    ...     keras.layers.Dense(1),
    ... ])

    References:
        - [Gers, Schraudolph & Schmidhuber, 2002](
          https://www.jmlr.org/papers/v3/gers02a.html), "Learning precise
          timing with LSTM recurrent networks", JMLR 3.
        - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1512.05287), "A
          theoretically grounded application of dropout in recurrent
          neural networks".
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="glorot_uniform",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        peephole_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        peephole_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_fused_backprop="auto",
        **kwargs,
    ):
        if use_fused_backprop not in ("auto", True, False) or (
            isinstance(use_fused_backprop, (int, float))
            and not isinstance(use_fused_backprop, bool)
        ):
            raise ValueError(
                "`use_fused_backprop` must be 'auto', True or False. "
                f"Received: use_fused_backprop={use_fused_backprop!r}"
            )
        # The cell validates its own arguments before anything is built.
        cell = PeepholeLSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            peephole_initializer=peephole_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            peephole_regularizer=peephole_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            peephole_constraint=peephole_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="peephole_lstm_cell",
        )
        kwargs.pop("cell", None)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.use_fused_backprop = use_fused_backprop

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                "`PeepholeLSTM` expects inputs of rank 3, "
                "(batch, timesteps, features). "
                f"Received: sequences.shape={tuple(sequences_shape)}"
            )
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if len(sequences.shape) != 3:
            raise ValueError(
                "`PeepholeLSTM` expects inputs of rank 3, "
                "(batch, timesteps, features). "
                f"Received: sequences.shape={tuple(sequences.shape)}"
            )
        if mask is not None:
            mask = keras.tree.flatten(mask)[0]
            expected = tuple(sequences.shape[:2])
            found = tuple(mask.shape)
            if len(found) != 2 or any(
                a is not None and b is not None and a != b
                for a, b in zip(found, expected)
            ):
                raise ValueError(
                    "`mask` must have shape (batch, timesteps) = "
                    f"{expected}, matching the inputs. "
                    f"Received: mask.shape={found}"
                )
        # As `keras.layers.LSTM` does, the layer computes in its own dtype
        # whatever the inputs' (integers, or float32 given to
        # `stateless_call` under a mixed policy).
        sequences = ops.cast(sequences, self.compute_dtype)
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        input_mask = None
        recurrent_mask = None
        if training and cell.dropout > 0.0:
            input_mask = ops.expand_dims(
                cell._dropout_mask(sequences[:, 0, :], cell.dropout), 1
            )
        if training and cell.recurrent_dropout > 0.0:
            recurrent_mask = cell._dropout_mask(
                initial_state[0], cell.recurrent_dropout
            )
        if self._use_fused(sequences, mask, recurrent_mask):
            return self._fused_inner_loop(sequences, initial_state, input_mask)
        # One product for the input part of every step and gate.
        projected = cell.project_inputs(sequences, input_mask)
        # The cell reads these while `RNN.inner_loop` runs it step by step.
        cell._projected_inputs = True
        cell._sequence_recurrent_mask = recurrent_mask
        cell._sequence_weights = cell.recurrent_weights(
            projected.dtype, ops.shape(sequences)[0]
        )
        try:
            return super().inner_loop(
                projected, initial_state, mask=mask, training=training
            )
        finally:
            cell._projected_inputs = False
            cell._sequence_recurrent_mask = None
            cell._sequence_weights = None

    def _use_fused(self, sequences, mask, recurrent_mask):
        """Whether this call runs `peephole_lstm_sequence`."""
        if self.use_fused_backprop is False:
            return False
        cell = self.cell
        usable = (
            mask is None
            and recurrent_mask is None
            and not self.unroll
            and keras.backend.backend() in ("tensorflow", "jax")
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
        )
        if self.use_fused_backprop is True:
            if not usable:
                raise ValueError(
                    "`use_fused_backprop=True` needs no mask, no recurrent "
                    "dropout in training, the tanh and sigmoid "
                    "activations, `unroll=False` and the TensorFlow or JAX "
                    "backend; pass 'auto' to fall back to automatic "
                    "differentiation elsewhere. "
                    f"Received: use_fused_backprop={self.use_fused_backprop}"
                )
            return True
        return usable

    def _fused_inner_loop(self, sequences, initial_state, input_mask):
        cell = self.cell
        # Time-major from the start: the transpose is of the narrow inputs,
        # and the projection comes out in the order the loop reads it.
        sequences = ops.transpose(sequences, (1, 0, 2))
        if input_mask is not None:
            sequences = sequences * ops.transpose(input_mask, (1, 0, 2))
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=0)
        dtype = sequences.dtype
        kernel = ops.cast(cell.kernel, dtype)
        bias = (
            ops.cast(cell.bias, dtype)
            if cell.use_bias
            else ops.zeros((4 * cell.units,), dtype=dtype)
        )
        weights = cell.recurrent_weights(dtype, ops.shape(sequences)[1])
        # `RNN.call` has cast the states to the compute dtype already.
        outputs, h, c = peephole_lstm_sequence(
            sequences,
            kernel,
            bias,
            *weights,
            *initial_state,
            return_sequences=self.return_sequences,
        )
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, 2))
        else:
            outputs = ops.expand_dims(h, 1)
        return h, outputs, [h, c]

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for name in _CELL_ARGUMENTS:
            config[name] = cell_config[name]
        config["use_fused_backprop"] = self.use_fused_backprop
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _cell_property(name):
    def getter(self):
        return getattr(self.cell, name)

    getter.__doc__ = f"The cell's `{name}`."
    return property(getter)


for _name in _CELL_ARGUMENTS:
    setattr(PeepholeLSTM, _name, _cell_property(_name))
del _name
