"""Times mlkeras's MultiHeadAttention and positional encoding against peers.

1. Forward + backward step of `mlkeras.layers.MultiHeadAttention` against
   `keras.layers.MultiHeadAttention` (same weights), self-attention.
   Also times our two kernels against each other (the fused
   `keras.ops.dot_product_attention` and the explicit einsum path), which is
   how `_FUSED_IS_FASTER` in `mlkeras/layers/multi_head_attention.py` was set.
2. `SinusoidalPositionalEncoding` against keras-hub's `SinePositionEncoding`
   formula (re-implemented below, recomputed on every call, added to the
   inputs), forward only.

Every candidate runs in the same process, interleaved, and the script prints
the median over repeats of the time per step and the ratio ours / peer.

    python benchmarks/attention.py                      # TensorFlow, CPU
    KERAS_BACKEND=jax python benchmarks/attention.py
    KERAS_BACKEND=jax python benchmarks/attention.py --batch 16 --seq 2048 \
        --d-model 1024 --heads 16 --dtype bfloat16      # the GPU setting

Default setting: batch 32, sequence 256, d_model 256, 8 heads, float32.
"""

import argparse
import os
import statistics
import time

from arguments import positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from mlkeras.layers import (
    MultiHeadAttention,  # noqa: E402
    SinusoidalPositionalEncoding,  # noqa: E402
)
from mlkeras.layers import multi_head_attention as mha_module  # noqa: E402

BACKEND = keras.backend.backend()


def keras_hub_formula(inputs, max_wavelength=10000):
    """keras-hub's sine encoding, written again: every op in the compute dtype.

    All channels get an angle position * min_freq ** (2 * (c // 2) / depth);
    even channels keep its sine, odd ones its cosine, chosen by 0/1 masks.
    """
    dtype = inputs.dtype
    length, depth = ops.shape(inputs)[-2], ops.shape(inputs)[-1]
    positions = ops.cast(ops.arange(length), dtype)
    channel = ops.arange(depth)
    min_freq = ops.cast(1.0 / max_wavelength, dtype)
    exponent = ops.cast(2 * (channel // 2), dtype) / ops.cast(depth, dtype)
    rates = ops.power(min_freq, exponent)
    angles = positions[:, None] * rates[None, :]
    odd = ops.cast(channel % 2, dtype)
    table = ops.sin(angles) * (1 - odd) + ops.cos(angles) * odd
    return ops.broadcast_to(table, ops.shape(inputs))


def compile_step(fn, variables_of):
    """Compiles `fn(x)` to a backend function that runs one step.

    With `variables_of` (a layer) the step is forward + backward: the
    gradient of mean(fn(x) ** 2) with respect to the layer's trainable
    variables and `x`. Without it, forward only.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        if variables_of is None:
            return tf.function(fn)

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_mean(tf.cast(fn(x), "float32") ** 2)
            return tape.gradient(loss, [x, *variables_of.trainable_variables])

        return step
    if BACKEND == "jax":
        import jax

        if variables_of is None:
            return jax.jit(fn)
        layer = variables_of
        trainable = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(weights, x):
            y, _ = layer.stateless_call(weights, fixed, x, x)
            return ops.mean(ops.cast(y, "float32") ** 2)

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda x: grad(trainable, x)
    raise SystemExit(f"no step for the {BACKEND} backend in this script")


def block(result):
    for leaf in keras.tree.flatten(result):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
        else:
            np.asarray(leaf)


def race(candidates, x, repeats, steps):
    """Times every candidate `steps` times per repeat, interleaved."""
    times = {name: [] for name in candidates}
    for fn in candidates.values():  # trace and warm up
        block(fn(x))
        block(fn(x))
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(steps):
                result = fn(x)
            block(result)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def attention_race(args, x):
    d_model = x.shape[-1]
    key_dim = d_model // args.heads
    peer = keras.layers.MultiHeadAttention(args.heads, key_dim)
    ours = MultiHeadAttention(args.heads, key_dim)
    peer(x, x)
    ours(x, x)
    ours.set_weights(peer.get_weights())
    candidates = {
        "keras.layers.MultiHeadAttention": compile_step(
            lambda q: peer(q, q), peer
        ),
        "mlkeras MultiHeadAttention": compile_step(lambda q: ours(q, q), ours),
    }
    # Our two kernels, forced: the fused op and the explicit path.
    forced = {}
    for fused in (True, False):
        layer = MultiHeadAttention(args.heads, key_dim)
        layer(x, x)
        layer.set_weights(peer.get_weights())
        forced[fused] = layer
    saved = dict(mha_module._FUSED_IS_FASTER)
    where = (BACKEND, mha_module._device_kind())
    try:
        for fused, layer in forced.items():
            mha_module._FUSED_IS_FASTER[where] = fused
            name = "ours, fused kernel" if fused else "ours, explicit kernel"
            step = compile_step(lambda q, lyr=layer: lyr(q, q), layer)
            block(step(x))  # trace now, while the choice is forced
            candidates[name] = step
    finally:
        mha_module._FUSED_IS_FASTER.clear()
        mha_module._FUSED_IS_FASTER.update(saved)
    return race(candidates, x, args.repeats, args.steps)


def encoding_race(args, x):
    ours = SinusoidalPositionalEncoding()
    candidates = {
        "keras-hub formula, recomputed": compile_step(
            lambda q: q + keras_hub_formula(q), None
        ),
        "mlkeras SinusoidalPositionalEncoding": compile_step(ours, None),
    }
    return race(candidates, x, args.repeats, args.steps * 20)


def encoding_accuracy(lengths=(512, 2048, 4096), depth=256):
    """Largest error against float64 when the inputs are bfloat16 zeros."""
    from mlkeras.layers.sinusoidal_positional_encoding import _encoding_table

    rows = []
    for length in lengths:
        positions = np.arange(length, dtype="float64")[:, None]
        channel = np.arange(depth)
        angles = positions / 10000.0 ** (2 * (channel // 2) / depth)
        exact = np.where(channel % 2 == 0, np.sin(angles), np.cos(angles))
        zeros = ops.zeros((1, length, depth), "bfloat16")
        hub = zeros + keras_hub_formula(zeros)
        ours = zeros + ops.cast(
            _encoding_table(length, depth, 10000, 0, "interleaved"), "bfloat16"
        )
        rows.append(
            [length]
            + [
                float(
                    np.abs(
                        ops.convert_to_numpy(ops.cast(t, "float32"))[0] - exact
                    ).max()
                )
                for t in (hub, ours)
            ]
        )
    print("\nPositional encoding, largest error in bfloat16 (depth 256)")
    print("| positions | keras-hub formula | mlkeras |")
    print("| ---: | ---: | ---: |")
    for length, hub, ours in rows:
        print(f"| {length} | {hub:.4f} | {ours:.4f} |")


def report(title, medians, peer):
    print(f"\n{title}")
    print(f"| candidate | median ms | ratio to {peer} |")
    print("| --- | ---: | ---: |")
    for name, seconds in medians.items():
        print(
            f"| {name} | {seconds * 1e3:.2f} | {seconds / medians[peer]:.3f} |"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--seq", type=positive_int, default=256)
    parser.add_argument("--d-model", type=positive_int, default=256)
    parser.add_argument("--heads", type=positive_int, default=8)
    parser.add_argument(
        "--dtype", default="float32", choices=["float32", "bfloat16", "float16"]
    )
    parser.add_argument("--repeats", type=positive_int, default=7)
    parser.add_argument("--steps", type=positive_int, default=3)
    parser.add_argument("--skip-encoding", action="store_true")
    args = parser.parse_args(argv)
    if args.heads > args.d_model:
        parser.error(
            "--heads: at most --d-model heads (each needs a key dimension "
            f"of at least 1); got --heads={args.heads} with "
            f"--d-model={args.d_model}"
        )
    if args.dtype != "float32":
        keras.config.set_dtype_policy(f"mixed_{args.dtype}")
    devices = keras.distribution.list_devices()
    print(
        f"backend {BACKEND}, devices {devices}, dtype {args.dtype}, "
        f"batch {args.batch}, seq {args.seq}, d_model {args.d_model}, "
        f"heads {args.heads}; median of {args.repeats} repeats of "
        f"{args.steps} steps"
    )
    x = keras.random.normal((args.batch, args.seq, args.d_model), seed=0)
    x = ops.cast(x, keras.config.dtype_policy().compute_dtype)
    medians = attention_race(args, x)
    flops = 3 * (
        4 * args.batch * args.seq * args.d_model**2
        + 4 * args.batch * args.seq**2 * args.d_model
    )
    report(
        "MultiHeadAttention, forward + backward",
        medians,
        "keras.layers.MultiHeadAttention",
    )
    best = min(medians.values())
    print(
        f"(about {flops / best / 1e12:.3f} TFLOP/s for the fastest, "
        f"counting 3x the forward matmul FLOPs)"
    )
    if not args.skip_encoding:
        report(
            "Positional encoding, forward (inputs + table)",
            encoding_race(args, x),
            "keras-hub formula, recomputed",
        )
        encoding_accuracy()
    return medians


if __name__ == "__main__":
    main()
