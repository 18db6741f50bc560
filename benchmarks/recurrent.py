"""Train-step time of `PeepholeLSTM` against `keras.layers.LSTM`.

The layers sit in the same small model (sequence -> recurrent layer ->
Dense(1), mean squared error, Adam) and are trained on the same batch in
the same process. The measurement alternates between the models (one
timed block of steps each, several rounds) and reports the median time
per train step and the ratio peephole / Keras. A third model runs
`PeepholeLSTMCell` through `keras.layers.RNN`, which projects the inputs
inside the loop at every step, for comparison with the layer's one
projection before the loop, and a fourth the layer with its hand-written
backward pass switched off (automatic differentiation of the loop, as the
layer does with a mask), to show what that pass saves.

Each side is measured with `jit_compile=False` (Keras's default on a CPU
with TensorFlow) and `jit_compile=True` (XLA). The headline ratio compares
the peephole layer at its faster setting with Keras's LSTM at *its* faster
setting, so neither side is handicapped.

    python benchmarks/recurrent.py                 # the issue's CPU setting
    python benchmarks/recurrent.py --rounds 3      # quicker, noisier
    python benchmarks/recurrent.py --threads 1     # the work, one thread
    KERAS_BACKEND=jax python benchmarks/recurrent.py --batch 128 \\
        --steps 256 --features 256 --units 512 --jit on \\
        --kinds keras_lstm,keras_lstm_no_cudnn,peephole_lstm,\\
peephole_cell_in_rnn                               # the GPU setting

`keras_lstm` lets Keras choose cuDNN where it can (a GPU); the
`keras_lstm_no_cudnn` arm forbids it, which on a CPU changes nothing.

The Keras backend is whatever `KERAS_BACKEND` says (TensorFlow by default).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mlkeras.layers import PeepholeLSTM, PeepholeLSTMCell  # noqa: E402


def build_model(kind, args, jit_compile):
    """Returns a compiled model whose recurrent layer is `kind`."""
    layer = {
        "keras_lstm": lambda: keras.layers.LSTM(args.units),
        "keras_lstm_no_cudnn": lambda: keras.layers.LSTM(
            args.units, use_cudnn=False
        ),
        "peephole_lstm": lambda: PeepholeLSTM(args.units),
        "peephole_lstm_autodiff": lambda: PeepholeLSTM(
            args.units, use_fused_backprop=False
        ),
        # The naive way: the cell stepped by keras.layers.RNN, projecting
        # the inputs inside the loop at every step.
        "peephole_cell_in_rnn": lambda: keras.layers.RNN(
            PeepholeLSTMCell(args.units)
        ),
    }[kind]()
    inputs = keras.Input((args.steps, args.features), batch_size=args.batch)
    hidden = layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        jit_compile=jit_compile,
    )
    return model


def time_block(model, x, y, iterations):
    """Wall and CPU seconds per train step, over `iterations` steps.

    The CPU time (all threads of this process) measures the work done and
    is less sensitive than the wall time to other programs on the machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        loss = model.train_on_batch(x, y)
    float(loss)  # wait for the last step
    return (
        (time.perf_counter() - wall) / iterations,
        (time.process_time() - cpu) / iterations,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="interleaved rounds; the median is reported",
    )
    parser.add_argument(
        "--iterations", type=int, default=10, help="train steps per timed block"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--jit", choices=("both", "on", "off"), default="both")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow only: run every operation on this many threads "
        "(intra- and inter-op); 1 measures the work done, without two "
        "cores waiting on each other; 0 keeps TensorFlow's default",
    )
    parser.add_argument(
        "--kinds",
        default="keras_lstm,peephole_lstm,peephole_lstm_autodiff,"
        "peephole_cell_in_rnn",
        help="comma-separated models to time; "
        "keras_lstm and peephole_lstm are needed for the ratios",
    )
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be 0 or more, got {args.threads}")
    if args.threads:
        if keras.backend.backend() != "tensorflow":
            parser.error(
                "--threads applies to the TensorFlow backend only; "
                f"the backend is {keras.backend.backend()!r}"
            )
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.steps, args.features))
    x = x.astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")

    jit_settings = {"both": (False, True), "on": (True,), "off": (False,)}[
        args.jit
    ]
    models = {}
    kinds = args.kinds.split(",")
    for kind in kinds:
        for jit in jit_settings:
            keras.utils.set_random_seed(0)
            model = build_model(kind, args, jit)
            for _ in range(args.warmup):
                model.train_on_batch(x, y)
            models[(kind, jit)] = model

    times = {key: [] for key in models}
    for _ in range(args.rounds):
        for key, model in models.items():
            times[key].append(time_block(model, x, y, args.iterations))
    medians = {
        key: tuple(statistics.median(t[i] for t in value) for i in (0, 1))
        for key, value in times.items()
    }

    print(
        f"backend={keras.backend.backend()} batch={args.batch} "
        f"steps={args.steps} features={args.features} units={args.units} "
        f"float32, {args.rounds} rounds x {args.iterations} steps, "
        f"{os.cpu_count()} CPUs"
        + (f", {args.threads} TensorFlow threads" if args.threads else "")
    )
    print(
        "| layer | jit_compile | wall ms per train step "
        "| CPU ms per train step |"
    )
    print("| --- | --- | --- | --- |")
    for (kind, jit), (wall, cpu) in medians.items():
        print(f"| {kind} | {jit} | {1000 * wall:.1f} | {1000 * cpu:.1f} |")
    for index, label in ((0, "wall"), (1, "CPU")):

        def best(kind):
            return min(v[index] for (k, _), v in medians.items() if k == kind)

        for jit in jit_settings:
            ratio = (
                medians[("peephole_lstm", jit)][index]
                / medians[("keras_lstm", jit)][index]
            )
            print(
                f"{label} ratio peephole / keras, both "
                f"jit_compile={jit}: {ratio:.2f}"
            )
        print(
            f"{label} ratio peephole / keras, each at its faster "
            f"setting: {best('peephole_lstm') / best('keras_lstm'):.2f}"
        )
        for kind, name in (
            ("peephole_cell_in_rnn", "cell in keras.layers.RNN"),
            ("keras_lstm_no_cudnn", "keras without cuDNN"),
        ):
            if kind in kinds:
                print(
                    f"{label} ratio {name} / keras, each at its faster "
                    f"setting: {best(kind) / best('keras_lstm'):.2f}"
                )
        if "peephole_lstm_autodiff" in kinds:
            ratio = best("peephole_lstm") / best("peephole_lstm_autodiff")
            print(
                f"{label} ratio peephole / peephole without the "
                f"hand-written backward pass, each at its faster setting: "
                f"{ratio:.2f}"
            )
    return medians


if __name__ == "__main__":
    main()
