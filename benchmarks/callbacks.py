"""Times `model.fit` with `GradientNormLogger` against a plain `model.fit`.

The logger runs in its most expensive setting: a record at every step, one
norm per layer. Two models are timed, an MLP and a small CNN, on the CPU.
Each measurement builds and compiles a fresh model from the same seed and
times one whole `fit` (tracing included, as a user pays it), with the plain
and the logged run interleaved and their order alternating, so machine load
falls on both alike. The script prints the median fit time over repeats and
the overhead, median(logged) / median(plain) - 1: of the whole fit's wall
time, of its CPU time (this process, all threads: much less disturbed by
other work on a shared machine), and of the CPU time of the epochs after
the first (steady state, no tracing); and the median over repeats of the
wall-time ratio of the two runs of one repeat (paired), which cancels slow
drifts in machine load.

    python benchmarks/callbacks.py                  # TensorFlow, CPU
    KERAS_BACKEND=jax python benchmarks/callbacks.py
    python benchmarks/callbacks.py --repeats 3 --epochs 2   # a quick look
    KERAS_BACKEND=jax python benchmarks/callbacks.py --verbose 2 --models MLP

Default setting: 9 repeats, 10 epochs, batch 64; MLP 8192 x 64 -> 256 -> 256
-> 10; CNN 2048 x 28 x 28 x 1 -> conv 16 -> conv 32 -> pool -> 10.
"""

import argparse
import contextlib
import io
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mlkeras.callbacks import GradientNormLogger  # noqa: E402


def mlp():
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10),
    ])


def cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])


def data(name, rng):
    n, shape = (8192, (64,)) if name == "MLP" else (2048, (28, 28, 1))
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = rng.integers(0, 10, size=n)
    return x, y


class EpochTimer(keras.callbacks.Callback):
    """CPU time of each epoch: the ones after the first exclude tracing."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.process_time() - self._start)


def time_fit(build, x, y, epochs, batch_size, logged, verbose=0):
    """Returns (wall, CPU) seconds of the fit and CPU of epochs 2 to N."""
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = EpochTimer()
    callbacks = [timer] + ([GradientNormLogger()] if logged else [])
    start, cpu_start = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(x, y, epochs=epochs, batch_size=batch_size,
                  verbose=verbose, callbacks=callbacks)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    if logged:
        steps = callbacks[1].history["step"]
        assert len(steps) == epochs * -(-len(x) // batch_size), steps[-1:]
    return elapsed, cpu, sum(timer.times[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", default="MLP,CNN")
    parser.add_argument(
        "--verbose", type=int, default=0,
        help="fit's verbose for both arms (output discarded). With 0 and no "
             "batch-level callback, Keras's JAX fit runs callbacks "
             "asynchronously; the logger (like the progress bar) makes them "
             "synchronous, which --verbose 2 shows apart from the rest.")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    print(f"backend: {keras.backend.backend()}, repeats: {args.repeats}, "
          f"epochs: {args.epochs}, batch: {args.batch_size}, "
          f"fit verbose: {args.verbose}")
    print()
    print("| model | steps | plain fit, wall (s) | with logger, wall (s) "
          "| overhead, wall | overhead, CPU time | overhead, CPU time after "
          "epoch 1 | overhead, wall, paired |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, build in (("MLP", mlp), ("CNN", cnn)):
        if name not in args.models.split(","):
            continue
        x, y = data(name, rng)
        runs = {False: [], True: []}
        # One untimed run of each warms up imports and kernels.
        for logged in (False, True):
            time_fit(build, x, y, 1, args.batch_size, logged, args.verbose)
        for repeat in range(args.repeats):
            order = (False, True) if repeat % 2 == 0 else (True, False)
            for logged in order:
                runs[logged].append(time_fit(build, x, y, args.epochs,
                                             args.batch_size, logged,
                                             args.verbose))

        def median(logged, column):
            return statistics.median(r[column] for r in runs[logged])

        def overhead(column):
            return f"{100 * (median(True, column) / median(False, column) - 1):+.1f} %"

        # The two runs of a repeat ran next to each other, so the median of
        # their ratios cancels slow drifts in machine load.
        paired = statistics.median(
            logged[0] / plain[0] for logged, plain in zip(runs[True],
                                                         runs[False]))
        steps = args.epochs * -(-len(x) // args.batch_size)
        print(f"| {name} | {steps} | {median(False, 0):.2f} | "
              f"{median(True, 0):.2f} | {overhead(0)} | {overhead(1)} | "
              f"{overhead(2)} | {100 * (paired - 1):+.1f} % |")


if __name__ == "__main__":
    main()
