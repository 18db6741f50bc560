"""`PeepholeLSTMCell`: one LSTM step whose gates see the cell state."""

import keras
from keras import ops


def _check_units(units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(
            f"`units` must be a positive integer. Received: units={units!r}"
        )


def _check_rate(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0.0 <= value < 1.0)
    ):
        raise ValueError(
            f"`{name}` must be a float in [0, 1). Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="mlkeras")
class PeepholeLSTMCell(keras.layers.Layer):
    """One step of a long short-term memory cell with diagonal peepholes.

    A plain LSTM's gates look only at the input and the previous output
    `h`. Gers, Schraudolph and Schmidhuber (2002) let the gates also look
    at the cell state `c` through one weight per unit (a "peephole"), which
    helps the cell time its own contents, for example to count or to emit
    spikes at precise intervals. For inputs `x`, previous output `h` and
    previous cell state `c`, one step computes

    ```
    i   = recurrent_activation(x W_i + h U_i + p_i * c + b_i)
    f   = recurrent_activation(x W_f + h U_f + p_f * c + b_f)
    c'  = f * c + i * activation(x W_c + h U_c + b_c)
    o   = recurrent_activation(x W_o + h U_o + p_o * c' + b_o)
    h'  = o * activation(c')
    ```

    where `*` multiplies element by element. Note that the output gate
    looks at the *new* cell state `c'`, as in the paper: the output gate is
    computed after the cell has been updated, so it can see what it is
    about to expose. Some texts (the course notes among them) write the
    output gate with the previous state `c`; that variant lets all three
    gates be computed at once but hides the current step's update from the
    output gate. With all peephole vectors at zero the cell is exactly
    `keras.layers.LSTMCell`.

    The weights are `kernel` `(input_dim, 4 * units)`, `recurrent_kernel`
    `(units, 4 * units)` and `bias` `(4 * units,)` with the gates in
    Keras's order i, f, c, o (so they can be copied from or to a
    `keras.layers.LSTMCell`), then `input_peephole`, `forget_peephole` and
    `output_peephole`, `(units,)` each.

    Use `mlkeras.layers.PeepholeLSTM` to run the cell over a sequence: it
    projects the inputs of all time steps with one matrix product before
    the recurrence and draws the dropout masks once per sequence. The cell
    also works inside `keras.layers.RNN`; there, with dropout, it draws new
    masks at every step, which the JAX backend does not allow inside a
    compiled loop (`fit` fails): use `PeepholeLSTM` for dropout.

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
            initialization (Jozefowicz et al., 2015). Defaults to `True`.
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
        recurrent_dropout: Fraction of the previous output `h` to drop
            before the recurrent product, in `[0, 1)`. Defaults to `0.0`.
        seed: Integer seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A 2D tensor `(batch, input_dim)`, one time step.
        states: A list `[h, c]` of two tensors `(batch, units)`: the
            previous output and the previous cell state.
        training: Whether dropout is applied. Defaults to `False`.

    Returns:
        A tuple `(h, [h, c])`: the new output `(batch, units)` and the new
        states.

    Example:

    >>> cell = mlkeras.layers.PeepholeLSTMCell(4)
    >>> layer = keras.layers.RNN(cell, return_sequences=True)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 4)

    References:
        - [Gers, Schraudolph & Schmidhuber, 2002](
          https://www.jmlr.org/papers/v3/gers02a.html), "Learning precise
          timing with LSTM recurrent networks", JMLR 3.
        - [Hochreiter & Schmidhuber, 1997](
          https://doi.org/10.1162/neco.1997.9.8.1735), "Long short-term
          memory", Neural Computation 9(8).
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
        **kwargs,
    ):
        _check_units(units)
        _check_rate("dropout", dropout)
        _check_rate("recurrent_dropout", recurrent_dropout)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int)
        ):
            raise ValueError(
                f"`seed` must be an integer or None. Received: seed={seed!r}"
            )
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.peephole_regularizer = keras.regularizers.get(peephole_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.peephole_constraint = keras.constraints.get(peephole_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = [units, units]
        self.output_size = units
        # Set by `PeepholeLSTM` while it runs the cell over a sequence: the
        # step inputs are then the projections `x W + b` of all four gates,
        # and the recurrent dropout mask is drawn once per sequence.
        self._projected_inputs = False
        self._sequence_recurrent_mask = None
        self._sequence_weights = None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The last dimension of the inputs of `PeepholeLSTMCell` must "
                f"be known. Received: input_shape={input_shape}"
            )
        units = self.units
        self.kernel = self.add_weight(
            shape=(input_dim, 4 * units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(units, 4 * units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            if self.unit_forget_bias:

                def bias_initializer(shape, dtype=None):
                    del shape
                    base = self.bias_initializer
                    return ops.concatenate(
                        [
                            base((units,), dtype=dtype),
                            keras.initializers.Ones()((units,), dtype=dtype),
                            base((2 * units,), dtype=dtype),
                        ]
                    )
            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(
                shape=(4 * units,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.input_peephole, self.forget_peephole, self.output_peephole = (
            self.add_weight(
                shape=(units,),
                name=f"{gate}_peephole",
                initializer=self.peephole_initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
            for gate in ("input", "forget", "output")
        )

    def project_inputs(self, inputs, input_mask=None):
        """Returns `inputs W + b`, the input part of all four gates.

        Args:
            inputs: A tensor `(..., input_dim)`: one step or a sequence.
            input_mask: Optional dropout mask multiplied with `inputs`,
                broadcastable to them.

        Returns:
            A tensor `(..., 4 * units)`.
        """
        if input_mask is not None:
            inputs = inputs * input_mask
        projected = ops.matmul(inputs, ops.cast(self.kernel, inputs.dtype))
        if self.use_bias:
            projected = projected + ops.cast(self.bias, inputs.dtype)
        return projected

    def recurrent_weights(self, dtype, batch_size=None):
        """Returns `(recurrent_kernel, p_i, p_f, p_o)` cast to `dtype`.

        Args:
            dtype: The compute dtype of the step.
            batch_size: When given, the peephole vectors are broadcast to
                `(batch_size, units)`. A loop that reuses them at every step
                then multiplies tensors of equal shapes, and the gradients of
                the peepholes are summed over the batch once, after the
                loop, instead of at every step.

        Returns:
            A tuple of four tensors.
        """
        peepholes = [
            ops.cast(p, dtype)
            for p in (
                self.input_peephole,
                self.forget_peephole,
                self.output_peephole,
            )
        ]
        if batch_size is not None:
            peepholes = [
                ops.broadcast_to(p, (batch_size, self.units)) for p in peepholes
            ]
        return (ops.cast(self.recurrent_kernel, dtype), *peepholes)

    def recurrent_step(
        self, projected, states, recurrent_mask=None, weights=None
    ):
        """Runs the recurrent part of one step on projected inputs.

        Args:
            projected: `x W + b` of this step, `(batch, 4 * units)`.
            states: `[h, c]`, the previous output and cell state.
            recurrent_mask: Optional dropout mask multiplied with `h`.
            weights: Optional result of `recurrent_weights`; read from the
                variables when `None`.

        Returns:
            A tuple `(h, [h, c])` with the new output and states.
        """
        h_prev, c_prev = states[0], states[1]
        if weights is None:
            weights = self.recurrent_weights(projected.dtype)
        recurrent_kernel, p_i, p_f, p_o = weights
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        z = projected + ops.matmul(h_in, recurrent_kernel)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + p_i * c_prev)
        f = self.recurrent_activation(z_f + p_f * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + p_o * c)
        h = o * self.activation(c)
        return h, [h, c]

    def _dropout_mask(self, like, rate):
        ones = ops.ones_like(like)
        return keras.random.dropout(ones, rate, seed=self.seed_generator)

    def call(self, inputs, states, training=False):
        if self._projected_inputs:
            return self.recurrent_step(
                inputs,
                states,
                self._sequence_recurrent_mask,
                self._sequence_weights,
            )
        input_mask = None
        recurrent_mask = None
        if training and self.dropout > 0.0:
            input_mask = self._dropout_mask(inputs, self.dropout)
        if training and self.recurrent_dropout > 0.0:
            recurrent_mask = self._dropout_mask(
                states[0], self.recurrent_dropout
            )
        projected = self.project_inputs(inputs, input_mask)
        return self.recurrent_step(projected, states, recurrent_mask)

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
            for _ in range(2)
        ]

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "use_bias": self.use_bias,
                "kernel_initializer": serialize(self.kernel_initializer),
                "recurrent_initializer": serialize(self.recurrent_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "peephole_initializer": serialize(self.peephole_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "recurrent_regularizer": serialize(self.recurrent_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "peephole_regularizer": serialize(self.peephole_regularizer),
                "kernel_constraint": serialize(self.kernel_constraint),
                "recurrent_constraint": serialize(self.recurrent_constraint),
                "bias_constraint": serialize(self.bias_constraint),
                "peephole_constraint": serialize(self.peephole_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config
