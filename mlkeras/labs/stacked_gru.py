"""Several GRUs that run through one recurrent loop: a speed-up for the labs.

The sequence-to-sequence lab compares seven encoder-decoders. Each is a
plain GRU model, but tracing fourteen recurrent loops and their gradients
would take most of the lab's running time. `StackedGRU` runs all the
encoders (or all the decoders) in one loop; each member keeps its own
weights, so training them together on a summed loss trains each as if it
were alone.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mlkeras_lab14")
class StackedGRU(keras.layers.Layer):
    """`members` independent GRUs that run through one loop over time.

    Member m reads its own slice of the input features and has its own
    weights, stacked along a leading member axis. Each step is, for
    every member, Keras's GRU (`reset_after=True`, gate order z, r, h):
    `z = sigmoid(x W_z + b_z + h U_z + c_z)`, `r` likewise,
    `h~ = tanh(x W_h + b_h + r * (h U_h + c_h))`,
    `h' = z * h + (1 - z) * h~`.
    The members never mix, so training them together on a summed loss
    is training each on its own loss. Running them in one loop makes
    TensorFlow build one recurrent loop (and one gradient loop) instead
    of one per model, which is where most of a small seq2seq model's
    graph-building time goes. The input's share of the gates, `x W + b`,
    does not depend on the state, so it is computed for every step at
    once before the loop.

    Args:
        members: number of GRUs.
        units: state size of each GRU.

    Call arguments:
        inputs: `(batch, steps, members * input_dim)`; member m reads
            features `m * input_dim` to `(m + 1) * input_dim`.
        initial_state: optional `(batch, members * units)`; zeros if
            omitted.

    Returns:
        `(states, last_state)`: `(batch, steps, members * units)` and
        `(batch, members * units)`, member m in columns `m * units` to
        `(m + 1) * units`.
    """

    def __init__(self, members, units, **kwargs):
        if int(members) < 1:
            raise ValueError(
                "`members` must be a positive integer. "
                f"Received: members={members}"
            )
        if int(units) < 1:
            raise ValueError(
                f"`units` must be a positive integer. Received: units={units}"
            )
        super().__init__(**kwargs)
        self.members = int(members)
        self.units = int(units)

    @staticmethod
    def _per_member(initializer):
        # Each member's matrix gets the initializer Keras's GRU gives
        # it, drawn for the member's own shape.
        def init(shape, dtype=None):
            return ops.stack(
                [initializer()(shape[1:], dtype=dtype) for _ in range(shape[0])]
            )

        return init

    def build(self, inputs_shape, initial_state_shape=None):
        if inputs_shape[-1] % self.members:
            raise ValueError(
                f"The input width must be a multiple of members="
                f"{self.members}. Received: inputs_shape={inputs_shape}"
            )
        self.input_dim = inputs_shape[-1] // self.members
        m, u = self.members, self.units
        self.kernel = self.add_weight(
            (m, self.input_dim, 3 * u),
            name="kernel",
            initializer=self._per_member(keras.initializers.GlorotUniform),
        )
        self.recurrent_kernel = self.add_weight(
            (m, u, 3 * u),
            name="recurrent_kernel",
            initializer=self._per_member(keras.initializers.Orthogonal),
        )
        self.bias = self.add_weight(
            (m, 2, 3 * u), name="bias", initializer="zeros"
        )

    def call(self, inputs, initial_state=None):
        m, u = self.members, self.units
        batch, steps = ops.shape(inputs)[0], ops.shape(inputs)[1]
        x = ops.reshape(inputs, (batch, steps, m, self.input_dim))
        # Inside the loop the state is member-major, (members, batch,
        # units), so each step is one batched matmul over the members.
        # The input's share, (steps, members, batch, 3 * units), is
        # computed for all steps before the loop.
        from_x = (
            ops.einsum("btmi,mij->tmbj", x, self.kernel)
            + self.bias[None, :, None, 0]
        )
        if initial_state is None:
            h = ops.zeros((m, batch, u), dtype=inputs.dtype)
        else:
            h = ops.transpose(
                ops.reshape(initial_state, (batch, m, u)), (1, 0, 2)
            )

        def step(h, x_t):
            from_h = (
                ops.matmul(h, self.recurrent_kernel) + self.bias[:, None, 1]
            )
            x_z, x_r, x_h = ops.split(x_t, 3, axis=-1)
            h_z, h_r, h_h = ops.split(from_h, 3, axis=-1)
            z = ops.sigmoid(x_z + h_z)
            r = ops.sigmoid(x_r + h_r)
            h = z * h + (1 - z) * ops.tanh(x_h + r * h_h)
            return h, h

        last, states = ops.scan(step, h, from_x)
        states = ops.transpose(states, (2, 0, 1, 3))
        return (
            ops.reshape(states, (batch, steps, m * u)),
            ops.reshape(ops.transpose(last, (1, 0, 2)), (batch, m * u)),
        )

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        width = self.members * self.units
        return ((*inputs_shape[:2], width), (inputs_shape[0], width))

    def get_config(self):
        config = super().get_config()
        config.update({"members": self.members, "units": self.units})
        return config
