"""A whole peephole LSTM sequence with a hand-written backward pass.

`PeepholeLSTM` uses this for its common case (no mask, no recurrent
dropout, tanh and sigmoid activations, TensorFlow or JAX). Automatic
differentiation of the step loop keeps every intermediate of every step
and runs the gradients of all of them; here the forward loop keeps only
what the backward pass needs (the states each step starts from and the
four gate activations), and the
backward loop is written out (backpropagation through time):

    dh    = dh_from_output + dh_from_next_step
    dc   += dh * (o * (1 - tanh(c)^2) + tanh(c) * o * (1 - o) * p_o)
    dz    = [dc * g * i (1 - i), dc * c_prev * f (1 - f),
             dc * i (1 - g^2), dh * tanh(c) * o (1 - o)]
    dh_from_next_step = dz U^T
    dc_prev = dc * (f + g i (1 - i) p_i + c_prev f (1 - f) p_f)

Everything in it that does not depend on the incoming gradient is a factor
the loop can compute ahead, so the chain from one step to the next is four
element-wise operations and one matrix product. The gradients of `U`, of
the input kernel and bias and of the peepholes are sums over the steps,
accumulated inside the loop where they overlap with that chain.

The input part of the gates is one matrix product of the whole sequence
before the forward loop. The bias rides along in it as one more input that
is always one, which spares a pass over the `(steps, batch, 4 * units)`
tensor. The gradients of the kernel and bias are summed in the backward
loop like those of `U`; only the gradient of the inputs is one matrix
product after it.

Both loops run through `keras.layers.RNN.inner_loop` (a `tf.while_loop`
with parallel iterations on TensorFlow, `lax.scan` on JAX). Their only
input is the step index; the step reads its time-major slices by index.
"""

import keras
from keras import ops


class _StepFunction:
    """The cell interface `keras.layers.RNN` needs, around a function."""

    def __init__(self, function, state_size):
        self.function = function
        self.state_size = state_size

    def call(self, inputs, states):
        return self.function(inputs, states)

    __call__ = call


def _loop(step, steps, initial_state, reverse=False):
    """Runs `step(t, states) -> (outputs, states)` over t = 0 .. steps - 1.

    Returns the outputs stacked time-major, in the order the steps ran
    (last step first when `reverse`), and the final states.
    """
    index = ops.arange(steps, dtype="int32")
    if reverse:
        index = ops.flip(index, axis=0)
    # `RNN` swaps the batch and time axes of its inputs and outputs. With a
    # batch of one (and each output flattened to one row) the swap moves
    # only an axis of length one, which needs no copy.
    index = ops.reshape(index, (1, -1, 1))
    batch_size = ops.shape(initial_state[0])[0]

    widths = []  # each output's static width, to restore after the loop

    def flat_step(t, states):
        outputs, states = step(ops.reshape(t, ()), states)
        widths[:] = [o.shape[-1] or -1 for o in outputs]
        return tuple(ops.reshape(o, (1, -1)) for o in outputs), states

    loop = keras.layers.RNN(
        _StepFunction(flat_step, [ops.shape(s)[-1] for s in initial_state]),
        return_sequences=True)
    _, outputs, states = loop.inner_loop(index, list(initial_state),
                                         mask=None)
    outputs = tuple(ops.reshape(o, (steps, batch_size, width))
                    for o, width in zip(outputs, widths))
    return outputs, states


def peephole_lstm_sequence(inputs, kernel, bias, recurrent_kernel,
                           input_peephole, forget_peephole, output_peephole,
                           h, c, return_sequences=True):
    """Runs the peephole LSTM over a time-major input sequence.

    The input part of every step and gate, `x_t W + b`, is one matrix
    product before the loop, with the bias folded in as a row of `W` that
    meets a column of ones; the backward loop sums the gradient of that
    extended kernel step by step.

    Args:
        inputs: `(steps, batch, input_dim)`, in the order the steps run.
        kernel: `W`, `(input_dim, 4 * units)`, gates in the order i, f, c, o.
        bias: `b`, `(4 * units,)`.
        recurrent_kernel: `U`, `(units, 4 * units)`.
        input_peephole: `p_i`, `(batch, units)` (broadcast by the caller, so
            its gradient is a plain sum over steps).
        forget_peephole: `p_f`, `(batch, units)`.
        output_peephole: `p_o`, `(batch, units)`.
        h: the initial output, `(batch, units)`.
        c: the initial cell state, `(batch, units)`.
        return_sequences: whether to return every step's output.

    Returns:
        `(outputs, h, c)`: every step's output `(steps, batch, units)` (or
        `None` when `return_sequences` is `False`) and the last output and
        cell state. Differentiable in every argument.
    """

    @ops.custom_gradient
    def sequence(x, w, b, u, p_i, p_f, p_o, h_0, c_0):
        steps, batch_size = ops.shape(x)[0], ops.shape(x)[1]
        rows = steps * batch_size
        x_ones = ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)
        w_b = ops.concatenate([w, b[None]], axis=0)
        z_x = ops.reshape(ops.matmul(ops.reshape(x_ones, (rows, -1)), w_b),
                          (steps, batch_size, -1))
        # On TensorFlow every tensor the forward loop keeps costs a write
        # per step and a copy of the whole sequence after the loop, more
        # than one concatenation of the gates per step; `lax.scan` writes
        # its outputs in place, where the concatenation is an extra copy.
        pack_gates = keras.backend.backend() == "tensorflow"

        def forward(t, states):
            h_prev, c_prev = states
            z = z_x[t] + ops.matmul(h_prev, u)
            z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
            i = ops.sigmoid(z_i + p_i * c_prev)
            f = ops.sigmoid(z_f + p_f * c_prev)
            g = ops.tanh(z_c)
            c_t = f * c_prev + i * g
            o = ops.sigmoid(z_o + p_o * c_t)
            h_t = o * ops.tanh(c_t)
            # Each step keeps the states it started from: the backward pass
            # reads them as they are, and gets each c_t from the step after.
            gates = ((ops.concatenate([i, f, g, o], axis=-1),) if pack_gates
                     else (i, f, g, o))
            return (h_prev, c_prev, *gates), [h_t, c_t]

        (h_prevs, c_prevs, *gates), (h_last, c_last) = _loop(
            forward, steps, [h_0, c_0])
        outputs = (h_last, c_last)
        if return_sequences:
            hs = ops.concatenate([h_prevs[1:], h_last[None]], axis=0)
            outputs = (hs,) + outputs

        def grad(*args, upstream=None):
            if upstream is None:
                upstream = args[0] if len(args) == 1 else args
            upstream = [ops.zeros_like(like) if d is None else d
                        for d, like in zip(upstream, outputs)]
            d_hs = upstream[0] if return_sequences else None
            d_h_last, d_c_last = upstream[-2:]
            u_transposed = ops.transpose(u)

            def backward(t, states):
                dh, dc, c_t, d_u, d_w_b, d_p_i, d_p_f, d_p_o = states
                c_prev = c_prevs[t]
                if pack_gates:
                    i, f, g, o = ops.split(gates[0][t], 4, axis=-1)
                else:
                    i, f, g, o = (gate[t] for gate in gates)
                tanh_c = ops.tanh(c_t)
                m_i = g * i * (1.0 - i)
                m_f = c_prev * f * (1.0 - f)
                m_c = i * (1.0 - g * g)
                m_o = tanh_c * o * (1.0 - o)
                to_cell = o * (1.0 - tanh_c * tanh_c) + m_o * p_o
                to_prev_cell = f + m_i * p_i + m_f * p_f
                m = ops.concatenate([m_i, m_f, m_c, m_o], axis=-1)
                # The chain from this step's gradients to the previous step.
                if d_hs is not None:
                    dh = dh + d_hs[t]
                dc = dc + dh * to_cell
                dz = ops.concatenate([dc, dc, dc, dh], axis=-1) * m
                dh_prev = ops.matmul(dz, u_transposed)
                dc_prev = dc * to_prev_cell
                # Sums over the steps, off that chain.
                d_u = d_u + ops.matmul(ops.transpose(h_prevs[t]), dz)
                d_w_b = d_w_b + ops.matmul(ops.transpose(x_ones[t]), dz)
                d_p_i = d_p_i + dc * (m_i * c_prev)
                d_p_f = d_p_f + dc * (m_f * c_prev)
                d_p_o = d_p_o + dh * (m_o * c_t)
                return (dz,), [dh_prev, dc_prev, c_prev, d_u, d_w_b, d_p_i,
                               d_p_f, d_p_o]

            zeros = ops.zeros_like(p_i)
            (dz,), (dh_0, dc_0, _, d_u, d_w_b, d_p_i, d_p_f, d_p_o) = _loop(
                backward, steps,
                [d_h_last, d_c_last, c_last, ops.zeros_like(u),
                 ops.zeros_like(w_b), zeros, zeros, zeros],
                reverse=True)
            # The loop ran from the last step, so `dz` is in reverse order.
            dz = ops.reshape(dz, (rows, -1))
            d_x = ops.flip(
                ops.reshape(ops.matmul(dz, ops.transpose(w)),
                            (steps, batch_size, -1)),
                axis=0)
            return (d_x, d_w_b[:-1], d_w_b[-1], d_u, d_p_i, d_p_f, d_p_o,
                    dh_0, dc_0)

        return outputs, grad

    outputs = sequence(inputs, kernel, bias, recurrent_kernel, input_peephole,
                       forget_peephole, output_peephole, h, c)
    if return_sequences:
        return tuple(outputs)
    return (None, *outputs)
