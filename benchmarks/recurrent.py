"""Train-step time of `PeepholeLSTM` against `keras.layers.LSTM`, swept.

One run times a sweep of points: batch size, sequence length and units,
the entry point (`fit` or `train_on_batch`), `jit_compile` ("auto", True
or False) and the backend (TensorFlow and JAX, each in a child process of
its own, since Keras fixes its backend at import). At every point the
layers sit in the same small model (sequence of 32 features, or
`--features`, -> recurrent layer -> Dense(1), mean squared error, Adam),
built from the same seed and trained on the same data in the same process:

- `keras.layers.LSTM` (the reference),
- `PeepholeLSTM` with its default `use_fused_backprop="auto"`,
- `PeepholeLSTM(use_fused_backprop=False)`, automatic differentiation of
  the loop, which shows what the hand-written backward pass saves and
  whether "auto" picks the faster path (leave it out with
  `--no-autodiff`).

The arms alternate in rounds (one timed block of steps each, their order
rotating) and each point reports the median over rounds of the paired
ratio (the arm's block time over the adjacent Keras block), of the wall
time and of the CPU time of the process (all threads; less disturbed by
other programs on a shared machine). A `fit` block is one `fit` of whole
epochs over 32 batches, enough of them that what a `fit` call costs once
(building its dataset and iterator) is a small part of the block; a
`train_on_batch` block calls it on one batch repeatedly. The last lines
give the median ratio per backend and over all points.

    python benchmarks/recurrent.py                  # the default sweep
    python benchmarks/recurrent.py --rounds 3       # quicker, noisier
    python benchmarks/recurrent.py --threads 1      # the work, one thread
    python benchmarks/recurrent.py --backends jax \\
        --points "64,100,128,fit,auto;16,400,64,train_on_batch,True"
    python benchmarks/recurrent.py --backends jax --features 256 \\
        --points "128,256,512,train_on_batch,True"   # the GPU setting

A point is `batch,steps,units,entry,jit_compile`. On a CPU, Keras resolves
`jit_compile="auto"` to False on TensorFlow and to True on JAX.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from arguments import non_negative_int, positive_float, positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FEATURES = 32  # input features, unless --features says otherwise
_FIT_BATCHES = 32  # batches in one epoch of a `fit` block
ARMS = ("keras_lstm", "peephole_lstm", "peephole_lstm_autodiff")

# The default sweep: (backend, batch, steps, units, entry, jit_compile).
DEFAULT_POINTS = {
    "tensorflow": [
        (64, 100, 128, "fit", "auto"),
        (64, 100, 128, "train_on_batch", "auto"),
        (16, 20, 64, "train_on_batch", "auto"),
        (256, 20, 128, "fit", "auto"),
        (16, 400, 64, "fit", "auto"),
        (16, 20, 512, "train_on_batch", "auto"),
        (256, 100, 64, "train_on_batch", "auto"),
        (64, 100, 128, "train_on_batch", True),
        (16, 20, 64, "fit", True),
    ],
    "jax": [
        (64, 100, 128, "fit", "auto"),
        (64, 100, 128, "train_on_batch", "auto"),
        (16, 20, 64, "train_on_batch", "auto"),
        (16, 400, 64, "fit", "auto"),
        (256, 20, 128, "train_on_batch", "auto"),
        (16, 20, 64, "train_on_batch", False),
    ],
}


def parse_points(text):
    """`batch,steps,units,entry,jit;...` -> a list of point tuples.

    Raises `ValueError` naming the first point that is not of that form.
    """
    points = []
    for item in text.split(";"):
        fields = item.split(",")
        if len(fields) != 5:
            raise ValueError(
                f"a point is batch,steps,units,entry,jit_compile; got {item!r}"
            )
        batch, steps, units, entry, jit = fields
        try:
            sizes = tuple(int(v) for v in (batch, steps, units))
        except ValueError:
            sizes = ()
        if len(sizes) != 3 or min(sizes) < 1:
            raise ValueError(
                "batch, steps and units must be positive integers; "
                f"got {item!r}"
            )
        if entry not in ("fit", "train_on_batch"):
            raise ValueError(
                f"entry must be fit or train_on_batch; got {item!r}"
            )
        if jit not in ("auto", "True", "False"):
            raise ValueError(
                f"jit_compile must be auto, True or False; got {item!r}"
            )
        jit = {"auto": "auto", "True": True, "False": False}[jit]
        points.append((*sizes, entry, jit))
    return points


def format_points(points):
    return ";".join(",".join(str(v) for v in point) for point in points)


def build_model(keras, arm, batch, steps, units, jit_compile, features):
    """A compiled model whose recurrent layer is `arm`."""
    from mlkeras.layers import PeepholeLSTM

    layer = {
        "keras_lstm": lambda: keras.layers.LSTM(units),
        "peephole_lstm": lambda: PeepholeLSTM(units),
        "peephole_lstm_autodiff": lambda: PeepholeLSTM(
            units, use_fused_backprop=False
        ),
    }[arm]()
    inputs = keras.Input((steps, features), batch_size=batch)
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        jit_compile=jit_compile,
    )
    return model


def time_point(keras, point, arms, rounds, block_seconds, features):
    """Per arm, one (wall, CPU) seconds per train step for each round."""
    import numpy as np

    batch, steps, units, entry, jit = point
    rng = np.random.default_rng(0)
    # A `fit` block runs whole epochs over all 32 batches (the warm-up, a
    # few); `train_on_batch` runs on the first batch.
    x = rng.normal(size=(_FIT_BATCHES * batch, steps, features))
    x = x.astype("float32")
    y = rng.normal(size=(_FIT_BATCHES * batch, 1)).astype("float32")
    models = {}
    for arm in arms:
        keras.utils.set_random_seed(0)
        models[arm] = build_model(
            keras, arm, batch, steps, units, jit, features
        )

    def train_on_batch(model, repeats):
        for _ in range(repeats):
            loss = model.train_on_batch(x[:batch], y[:batch])
        float(loss)  # waits for the last step
        return repeats

    def run(arm, repeats):
        model = models[arm]
        if entry == "fit":
            batches = min(repeats, _FIT_BATCHES)
            epochs = max(1, repeats // _FIT_BATCHES)
            n = batches * batch
            model.fit(x[:n], y[:n], batch_size=batch, epochs=epochs, verbose=0)
            return batches * epochs
        return train_on_batch(model, repeats)

    for arm in arms:  # traces, compiles and warms up
        run(arm, 4)
    # The size of a block comes from the reference's step alone, without
    # what a `fit` call costs once.
    reference = models[arms[0]]
    train_on_batch(reference, 1)  # may trace once more
    start = time.perf_counter()
    steps_run = train_on_batch(reference, 4)
    per_step = (time.perf_counter() - start) / steps_run
    repeats = max(1, round(block_seconds / per_step))
    if entry == "fit":
        repeats = _FIT_BATCHES * max(1, round(repeats / _FIT_BATCHES))
    times = {arm: [] for arm in arms}
    for index in range(rounds):
        shift = index % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            done = run(arm, repeats)
            times[arm].append(
                (
                    (time.perf_counter() - wall) / done,
                    (time.process_time() - cpu) / done,
                )
            )
    return times


def child(args):
    """Runs the points on this process's backend; prints JSON lines."""
    if args.threads and args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    assert keras.backend.backend() == args.backend, keras.backend.backend()
    arms = ARMS[:2] if args.no_autodiff else ARMS
    for point in parse_points(args.points):
        times = time_point(
            keras, point, arms, args.rounds, args.block, args.features
        )
        print(json.dumps({"point": point, "times": times}), flush=True)


def run_backend(backend, points, args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    if backend == "jax":
        if args.threads == 1:
            env["XLA_FLAGS"] = (
                env.get("XLA_FLAGS", "")
                + " --xla_cpu_multi_thread_eigen=false"
                + " intra_op_parallelism_threads=1"
            )
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        backend,
        "--points",
        format_points(points),
        "--rounds",
        str(args.rounds),
        "--block",
        str(args.block),
        "--threads",
        str(args.threads),
        "--features",
        str(args.features),
    ]
    if args.no_autodiff:
        command.append("--no-autodiff")
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"the {backend} run failed:\n{result.stderr[-4000:]}")
    return [
        json.loads(line)
        for line in result.stdout.splitlines()
        if line.startswith("{")
    ]


def median_step(times, arm):
    return statistics.median(t[0] for t in times[arm])


def paired(times, arm, column):
    return statistics.median(
        a[column] / b[column] for a, b in zip(times[arm], times["keras_lstm"])
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default="tensorflow,jax",
        help="comma-separated backends, each run in a child process",
    )
    parser.add_argument(
        "--points",
        default=None,
        help="`batch,steps,units,entry,jit_compile;...` for every backend "
        "instead of the default sweep",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=9,
        help="interleaved rounds per point; medians are reported",
    )
    parser.add_argument(
        "--block",
        type=positive_float,
        default=0.4,
        help="about this many seconds per arm and round",
    )
    parser.add_argument(
        "--threads",
        type=non_negative_int,
        default=0,
        help="run every operation on this many threads (TensorFlow: intra- "
        "and inter-op; JAX: only 1 is supported, through XLA_FLAGS); "
        "0 keeps the backend's default",
    )
    parser.add_argument("--features", type=positive_int, default=FEATURES)
    parser.add_argument(
        "--no-autodiff",
        action="store_true",
        help="leave out the arm without the hand-written backward pass",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    given_points = None
    if args.points:
        try:
            given_points = parse_points(args.points)
        except ValueError as error:
            parser.error(f"--points: {error}")
    if args.child:
        args.backend = args.child
        return child(args)

    backends = args.backends.split(",")
    unknown = [name for name in backends if name not in DEFAULT_POINTS]
    if unknown:
        parser.error(
            f"--backends: unknown backend {unknown[0]!r}; choose from "
            f"{', '.join(DEFAULT_POINTS)}. Received: --backends={args.backends}"
        )
    if "jax" in backends and args.threads > 1:
        parser.error(
            "--threads: JAX runs on 1 thread or on its default, got "
            f"{args.threads}; for TensorFlow alone add --backends tensorflow"
        )
    started = time.perf_counter()
    rows = []
    for backend in backends:
        points = given_points or DEFAULT_POINTS[backend]
        for result in run_backend(backend, points, args):
            rows.append((backend, result))

    print(
        f"{len(rows)} points, {args.rounds} rounds, about {args.block} s per "
        f"arm and round, {args.features} input features, float32, "
        f"{os.cpu_count()} CPUs"
        + (f", {args.threads} threads" if args.threads else "")
    )
    print()
    autodiff = not args.no_autodiff
    print(
        "| backend | batch | steps | units | entry | jit_compile "
        "| LSTM ms/step | Peephole ms/step | ratio, wall | ratio, CPU "
        + ("| autodiff / LSTM, wall |" if autodiff else "|")
    )
    print("| --- " * (11 if autodiff else 10) + "|")
    ratios = {}
    for backend, result in rows:
        batch, steps, units, entry, jit = result["point"]
        times = result["times"]
        ratio = paired(times, "peephole_lstm", 0)
        ratios.setdefault(backend, []).append(ratio)
        cells = [
            backend,
            batch,
            steps,
            units,
            entry,
            jit,
            f"{1000 * median_step(times, 'keras_lstm'):.1f}",
            f"{1000 * median_step(times, 'peephole_lstm'):.1f}",
            f"{ratio:.2f}",
            f"{paired(times, 'peephole_lstm', 1):.2f}",
        ]
        if autodiff:
            cells.append(f"{paired(times, 'peephole_lstm_autodiff', 0):.2f}")
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print()
    every = [r for values in ratios.values() for r in values]
    for backend, values in ratios.items():
        print(
            f"median ratio, {backend}: {statistics.median(values):.2f} "
            f"({sum(r <= 1.1 for r in values)} of {len(values)} <= 1.1)"
        )
    print(
        f"median ratio, all: {statistics.median(every):.2f} "
        f"({sum(r <= 1.1 for r in every)} of {len(every)} <= 1.1); "
        f"{time.perf_counter() - started:.0f} s"
    )
    return rows


if __name__ == "__main__":
    main()
