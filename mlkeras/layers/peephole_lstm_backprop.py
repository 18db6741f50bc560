"""A whole peephole LSTM sequence with a hand-written backward pass.

`PeepholeLSTM` uses this for its common case (no mask, no recurrent
dropout, tanh and sigmoid activations, TensorFlow or JAX). Automatic
differentiation of the step loop keeps every intermediate of every step
and runs the gradients of all of them; here the forward loop keeps only
what the backward pass needs (the states each step starts from and the
four gate activations), and the backward loop is written out
(backpropagation through time):

    dh    = dh_from_output + dh_from_next_step
    dc   += dh * (o * (1 - tanh(c)^2) + tanh(c) * o * (1 - o) * p_o)
    dz    = [dc * g * i (1 - i), dc * c_prev * f (1 - f),
             dc * i (1 - g^2), dh * tanh(c) * o (1 - o)]
    dh_from_next_step = dz U^T
    dc_prev = dc * (f + g i (1 - i) p_i + c_prev f (1 - f) p_f)

Everything in it that does not depend on the incoming gradient is a factor
the loop can compute ahead, so the chain from one step to the next is a
few element-wise operations and one matrix product. The gradients of `U`,
of the input kernel and bias and of the peepholes are sums over the steps,
accumulated inside the loop where they overlap with that chain. Where the
steps run without a loop (see below), they are instead one matrix product
(or one reduction) each over the whole sequence after the backward pass,
which is faster for wide layers.

The input part of the gates is one matrix product of the whole sequence
before the forward loop. The bias rides along in it as one more input that
is always one, which spares a pass over the `(steps, batch, 4 * units)`
tensor. The gradients of the kernel and bias are summed in the backward
loop like those of `U`; only the gradient of the inputs is one matrix
product after it.

Both loops run through `keras.layers.RNN.inner_loop` (a `tf.while_loop`
with parallel iterations on TensorFlow, `lax.scan` on JAX). Their only
input is the step index; the step reads its time-major slices by index.

On TensorFlow without XLA, whose loops cost several control operations
per loop variable and iteration, a sequence of at most 32 steps (known when
the step is traced) runs without a loop, one step after the other, each
gate's input part and the incoming gradient cut into steps by one unstack
each. A longer one runs two steps per loop iteration, which halves what
the loop itself costs per step; with an odd number of steps the last one
runs after the forward loop and before the backward one. Where a step's
state is small (batch size times units at most 4096, taking Keras's
default batch size of 32 where the batch size is unknown), each forward
iteration stacks the twelve tensors its two steps keep into one, which
the loop carries for a fraction of what twelve cost; for a larger state
the copy costs more than that saves. There each gate's pre-activation is
also a tensor of its own (the input part from one batched product with a
weight per gate, the recurrent part from four products of `units` columns
each): TensorFlow runs the four independent products side by side on two
or more cores, and no step splits the gate axis of one larger product (a
split that took longer than the product at batch 256, 64 units). On one
core this is as fast as one product.

TensorFlow's graph optimizer rewrites a chain of three or more additions
(`a + b + c`, or a sum that one loop iteration adds two steps' terms to)
into one n-ary sum, which in these loops ran as an accumulation through a
temporary variable and cost several times the additions it replaced: at
batch 256 and 64 units, a tenth of the whole train step. So the peepholes
enter the gates negated, as `z - (-p) c`, and the weight gradients are
summed negated, each step subtracting its term: a subtraction ends every
such chain.

XLA (JAX, or a TensorFlow step compiled with `jit_compile=True`) compiles
the loop body once; there a plain loop of one step per iteration is
faster, at every length: a short sequence written out step by step took up
to twice as long under XLA.
"""

import keras
from keras import ops

# On TensorFlow, sequences of up to this many steps run without a loop.
_INLINE_STEPS = 32
# On TensorFlow, a loop packs what its steps keep (see `_Schedule`) while a
# step's state has at most this many values (batch size times units).
_PACK_VALUES = 4096


def _in_tensorflow_xla():
    """Whether TensorFlow is tracing a function it compiles with XLA.

    Without TensorFlow's (internal) query this says no, which only costs
    speed: both schedules compute the same values.
    """
    import tensorflow as tf

    internal = getattr(tf, "__internal__", None)
    query = getattr(internal, "get_enclosing_xla_context", None)
    return query is not None and query() is not None


class _StepFunction:
    """The cell interface `keras.layers.RNN` needs, around a function."""

    def __init__(self, function, state_size):
        self.function = function
        self.state_size = state_size

    def call(self, inputs, states):
        return self.function(inputs, states)

    __call__ = call


def _loop(step, steps, initial_state, reverse=False):
    """Runs `step(k, states) -> (outputs, states)` over k = 0 .. steps - 1.

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

    # Each output's shape, to restore after the loop; only the batch size
    # may be unknown.
    shapes = []

    def flat_step(k, states):
        outputs, states = step(ops.reshape(k, ()), states)
        shapes[:] = [[-1 if d is None else d for d in o.shape] for o in outputs]
        return tuple(ops.reshape(o, (1, -1)) for o in outputs), states

    loop = keras.layers.RNN(
        _StepFunction(flat_step, [ops.shape(s)[-1] for s in initial_state]),
        return_sequences=True,
    )
    _, outputs, states = loop.inner_loop(index, list(initial_state), mask=None)
    outputs = tuple(
        ops.reshape(o, (steps, *shape)) for o, shape in zip(outputs, shapes)
    )
    return outputs, states


class _Schedule:
    """Which step runs where when each loop iteration runs `unroll` steps.

    Step `unroll * k + j` runs as part `j` of iteration `k`, for the first
    `loops` iterations; the `rest` steps after them run outside the loop.
    A known number of steps up to `inline` runs outside the loop entirely.
    With an unknown number of steps, every step runs in the loop.

    With `pack`, each iteration stacks what its steps keep into one tensor,
    so the loop carries one output instead of one per kept tensor and step.
    That costs one copy of the kept tensors.
    """

    def __init__(self, steps, unroll, inline=0, pack=False):
        self.pack = pack
        self.width = None  # tensors kept per step, known after `forward`
        if isinstance(steps, int) and steps <= inline:
            self.unroll = 1
            self.loops, self.rest = 0, range(steps)
        elif isinstance(steps, int):
            self.unroll = unroll
            self.loops, rest = divmod(steps, unroll)
            self.rest = range(steps - rest, steps)
        else:
            self.unroll = 1
            self.loops, self.rest = steps, range(0)
        self.has_loop = not isinstance(self.loops, int) or self.loops > 0

    def forward(self, step, state):
        """Runs `step(t, state) -> (kept, state)` for t = 0 .. steps - 1.

        Returns `(kept, state)`. `kept` holds what the steps kept, as
        `(looped, rest)`: `looped` is what the loop returned (read it with
        `kept_at` and `kept_time_major`), `rest` has the tuple of each step
        after the loop.
        """
        looped = ()
        if self.has_loop:

            def iteration(k, state):
                kept = []
                for j in range(self.unroll):
                    kept_j, state = step(self.unroll * k + j, state)
                    kept.extend(kept_j)
                self.width = len(kept) // self.unroll
                if self.pack:
                    return (ops.stack(kept, axis=0),), state
                return tuple(kept), state

            looped, state = _loop(iteration, self.loops, state)
        rest = []
        for t in self.rest:
            kept_t, state = step(t, state)
            self.width = len(kept_t)
            rest.append(kept_t)
        return (looped, rest), state

    def kept_at(self, looped, k):
        """What the steps of iteration `k` kept: one tuple per part."""
        if self.pack:
            kept = ops.unstack(looped[0][k], axis=0)
        else:
            kept = [a[k] for a in looped]
        w = self.width
        return [tuple(kept[j * w : (j + 1) * w]) for j in range(self.unroll)]

    def kept_time_major(self, kept, n):
        """The `n`-th tensor each step kept, joined in step order."""
        looped, rest = kept
        parts = []
        if self.has_loop:
            for j in range(self.unroll):
                m = j * self.width + n
                parts.append(looped[0][:, m] if self.pack else looped[m])
        return self.time_major(parts, [kept_t[n] for kept_t in rest])

    def backward(self, step, kept, state):
        """Runs `step(t, kept_t, state) -> (output, state)` backwards.

        `kept` is what `forward` returned. Returns `(outputs, state)` with
        `outputs` as `(parts, rest)`: per part, the outputs stacked over
        the iterations *in the order they ran*, last first; per step after
        the loop, its output.
        """
        looped, kept_rest = kept
        rest = [None] * len(self.rest)
        for n in reversed(range(len(self.rest))):
            rest[n], state = step(self.rest[n], kept_rest[n], state)
        parts = []
        if self.has_loop:

            def iteration(k, state):
                outputs = [None] * self.unroll
                kept_k = self.kept_at(looped, k)
                for j in reversed(range(self.unroll)):
                    outputs[j], state = step(
                        self.unroll * k + j, kept_k[j], state
                    )
                return tuple(outputs), state

            parts, state = _loop(iteration, self.loops, state, reverse=True)
        return (parts, rest), state

    def time_major(self, parts, rest, reverse=False):
        """Joins one tensor per step, given as `(parts, rest)`, in step order.

        `reverse` says the parts are stacked last iteration first.
        """
        pieces = []
        if self.has_loop:
            if reverse:
                parts = [ops.flip(part, axis=0) for part in parts]
            if self.unroll == 1:
                pieces.append(parts[0])
            else:
                block = ops.stack(parts, axis=1)
                shape = ops.shape(block)
                pieces.append(
                    ops.reshape(block, (shape[0] * shape[1], *shape[2:]))
                )
        if rest:
            pieces.append(ops.stack(rest, axis=0))
        if len(pieces) == 1:
            return pieces[0]
        return ops.concatenate(pieces, axis=0)


def peephole_lstm_sequence(
    inputs,
    kernel,
    bias,
    recurrent_kernel,
    input_peephole,
    forget_peephole,
    output_peephole,
    h,
    c,
    return_sequences=True,
):
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
    # See the module docstring for why TensorFlow's loops differ.
    tensorflow_loops = (
        keras.backend.backend() == "tensorflow" and not _in_tensorflow_xla()
    )

    @ops.custom_gradient
    def sequence(x, w, b, u, p_i, p_f, p_o, h_0, c_0):
        steps, batch_size = ops.shape(x)[0], ops.shape(x)[1]
        rows = steps * batch_size
        if tensorflow_loops:
            batch_or_default = x.shape[1] or 32
            schedule = _Schedule(
                steps,
                unroll=2,
                inline=_INLINE_STEPS,
                pack=batch_or_default * u.shape[0] <= _PACK_VALUES,
            )
        else:
            schedule = _Schedule(steps, unroll=1)
        x_ones = ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)
        w_b = ops.concatenate([w, b[None]], axis=0)
        # Sizes spelled out rather than -1, which an empty batch leaves
        # undetermined.
        flat_x = ops.reshape(x_ones, (rows, ops.shape(x_ones)[-1]))
        if tensorflow_loops:
            # See the module docstring: one tensor per gate.
            units = ops.shape(u)[0]
            w_b_gates = ops.transpose(
                ops.reshape(w_b, (-1, 4, units)), (1, 0, 2)
            )
            z_x_all = ops.reshape(
                ops.matmul(flat_x[None], w_b_gates),
                (4, steps, batch_size, units),
            )
            z_x_gates = [z_x_all[n] for n in range(4)]
            u_gates = [u[:, n * units : (n + 1) * units] for n in range(4)]
            if not schedule.has_loop:
                z_x_gates = [ops.unstack(z_g, axis=0) for z_g in z_x_gates]

            def preactivations(t, h_prev):
                return [
                    z_g[t] + ops.matmul(h_prev, u_g)
                    for z_g, u_g in zip(z_x_gates, u_gates)
                ]
        else:
            z_x = ops.reshape(
                ops.matmul(flat_x, w_b),
                (steps, batch_size, ops.shape(w_b)[-1]),
            )

            def preactivations(t, h_prev):
                return ops.split(z_x[t] + ops.matmul(h_prev, u), 4, axis=-1)

        # See the module docstring: subtractions end chains of additions.
        neg_p_i, neg_p_f, neg_p_o = -p_i, -p_f, -p_o

        def forward(t, states):
            h_prev, c_prev = states
            z_i, z_f, z_c, z_o = preactivations(t, h_prev)
            i = ops.sigmoid(z_i - neg_p_i * c_prev)
            f = ops.sigmoid(z_f - neg_p_f * c_prev)
            g = ops.tanh(z_c)
            c_t = f * c_prev + i * g
            o = ops.sigmoid(z_o - neg_p_o * c_t)
            h_t = o * ops.tanh(c_t)
            # Each step keeps the states it started from: the backward pass
            # reads them as they are, and gets each c_t from the step after.
            return (h_prev, c_prev, i, f, g, o), [h_t, c_t]

        kept, (h_last, c_last) = schedule.forward(forward, [h_0, c_0])
        outputs = (h_last, c_last)
        if return_sequences:
            h_prevs = schedule.kept_time_major(kept, 0)
            hs = ops.concatenate([h_prevs[1:], h_last[None]], axis=0)
            outputs = (hs,) + outputs

        def grad(*args, upstream=None):
            if upstream is None:
                upstream = args[0] if len(args) == 1 else args
            upstream = [
                ops.zeros_like(like) if d is None else d
                for d, like in zip(upstream, outputs)
            ]
            d_hs = upstream[0] if return_sequences else None
            if d_hs is not None and not schedule.has_loop:
                d_hs = ops.unstack(d_hs, axis=0)
            d_h_last, d_c_last = upstream[-2:]
            u_t = ops.transpose(u)

            # Without a loop (a short sequence on TensorFlow) the sums over
            # the steps that give the weight gradients are one matrix
            # product each after the backward pass; in a loop they are
            # accumulated step by step, where they overlap with the chain.
            sums_in_loop = schedule.has_loop

            def backward(t, kept_t, states):
                dh, dc, c_t, *sums = states
                h_prev, c_prev, i, f, g, o = kept_t
                tanh_c = ops.tanh(c_t)
                m_i = g * i * (1.0 - i)
                m_f = c_prev * f * (1.0 - f)
                m_c = i * (1.0 - g * g)
                m_o = tanh_c * o * (1.0 - o)
                to_cell = o * (1.0 - tanh_c * tanh_c) + m_o * p_o
                to_prev_cell = (f - m_i * neg_p_i) + m_f * p_f
                # The chain from this step's gradients to the previous step.
                if d_hs is not None:
                    dh = dh + d_hs[t]
                dc = dc + dh * to_cell
                dz_gates = (dc * m_i, dc * m_f, dc * m_c, dh * m_o)
                dz = ops.concatenate(dz_gates, axis=-1)
                states = [ops.matmul(dz, u_t), dc * to_prev_cell, c_prev]
                if sums_in_loop:
                    # The sums are kept negated, each step subtracting its
                    # term, for the reason given in the module docstring.
                    neg_d_u, neg_d_w_b, neg_d_p_i, neg_d_p_f, neg_d_p_o = sums
                    states += [
                        neg_d_u - ops.matmul(ops.transpose(h_prev), dz),
                        neg_d_w_b - ops.matmul(ops.transpose(x_ones[t]), dz),
                        neg_d_p_i - dz_gates[0] * c_prev,
                        neg_d_p_f - dz_gates[1] * c_prev,
                        neg_d_p_o - dz_gates[3] * c_t,
                    ]
                return dz, states

            states = [d_h_last, d_c_last, c_last]
            if sums_in_loop:
                zeros = ops.zeros_like(p_i)
                states += [ops.zeros_like(u), ops.zeros_like(w_b)]
                states += [zeros, zeros, zeros]
            (dz_parts, dz_rest), states = schedule.backward(
                backward, kept, states
            )
            dh_0, dc_0, _, *sums = states
            w_t = ops.transpose(w)
            if sums_in_loop:
                d_u, d_w_b, d_p_i, d_p_f, d_p_o = [-neg for neg in sums]

                # The parts are joined after the product with W^T, which
                # narrows them from 4 * units to the input width.
                def to_inputs(dz):
                    shape = ops.shape(dz)
                    flat = ops.reshape(dz, (-1, shape[-1]))
                    return ops.reshape(
                        ops.matmul(flat, w_t), (*shape[:-1], ops.shape(w)[0])
                    )

                d_x = schedule.time_major(
                    [to_inputs(dz) for dz in dz_parts],
                    [to_inputs(dz) for dz in dz_rest],
                    reverse=True,
                )
            else:
                dz = schedule.time_major(dz_parts, dz_rest, reverse=True)
                flat_dz = ops.reshape(dz, (rows, ops.shape(dz)[-1]))
                d_x = ops.reshape(ops.matmul(flat_dz, w_t), ops.shape(x))
                h_prevs, c_prevs = (
                    schedule.kept_time_major(kept, n) for n in (0, 1)
                )
                c_ts = ops.concatenate([c_prevs[1:], c_last[None]], axis=0)
                d_u = ops.matmul(
                    ops.transpose(
                        ops.reshape(h_prevs, (rows, ops.shape(u)[0]))
                    ),
                    flat_dz,
                )
                d_w_b = ops.matmul(ops.transpose(flat_x), flat_dz)
                dz_i, dz_f, _, dz_o = ops.split(dz, 4, axis=-1)
                d_p_i = ops.sum(dz_i * c_prevs, axis=0)
                d_p_f = ops.sum(dz_f * c_prevs, axis=0)
                d_p_o = ops.sum(dz_o * c_ts, axis=0)
            return (
                d_x,
                d_w_b[:-1],
                d_w_b[-1],
                d_u,
                d_p_i,
                d_p_f,
                d_p_o,
                dh_0,
                dc_0,
            )

        return outputs, grad

    outputs = sequence(
        inputs,
        kernel,
        bias,
        recurrent_kernel,
        input_peephole,
        forget_peephole,
        output_peephole,
        h,
        c,
    )
    if return_sequences:
        return tuple(outputs)
    return (None, *outputs)
