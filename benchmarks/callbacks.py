"""Times `model.fit` with `GradientNormLogger` against a plain `model.fit`.

The logger records every step, one norm per layer, in two settings: its
default (norms read back from the device in blocks) and `batch_logs=True`
(read back at every step and put into the batch logs). A fourth arm,
"plain, second model", is a plain `fit` timed like the others: its
overheads are the noise floor of each table. Two models are
timed, an MLP and a small CNN, on the CPU. Each measurement builds and
compiles a fresh model from the same seed and times one whole `fit`
(tracing included, as a user pays it); the runs of the four arms are
interleaved and their order rotates, so machine load falls on all
alike. The script prints the median fit time over repeats and the
overhead, median(logged) / median(plain) - 1: of the whole fit's wall
time; of the median wall time of the epochs after the first (steady state,
no tracing; one slow epoch does not move it); of the CPU time of the
epochs after the first (this process, all threads: less disturbed by other
work on a shared machine); of the whole fit's CPU time (tracing included);
and the median over repeats of the wall-time and of the CPU-time ratio of
the runs of one repeat (paired), which cancels slow drifts in machine
load. Every timed fit starts after a full garbage collection (in the
repeated-fit table, every repeat), so that the earlier fits' models are
not collected inside it, which takes hundreds of milliseconds. On a shared
virtual machine a run can also stall, its wall time growing while its CPU
time does not; the CPU columns are the ones such a stall leaves alone.

A second table times repeated short fits, as when a model is trained by
one-epoch `fit` calls with an evaluation in between: each arm builds one
model per repeat and runs `--fits` one-epoch fits on it (the logged arms
with one logger each), the arms' fits alternating. A fit reuses the step
traced by the previous one, so this is where a logger that re-traced the
step at every `fit` would show; the table gives the total time of the
fits (the first one's tracing included) and the overhead as above, in
wall and in CPU time.

    python benchmarks/callbacks.py                  # TensorFlow, CPU
    KERAS_BACKEND=jax python benchmarks/callbacks.py
    python benchmarks/callbacks.py --repeats 3 --epochs 2 --step-rounds 5
    python benchmarks/callbacks.py --models MLP --repeats 5 --step-rounds 0
    python benchmarks/callbacks.py --repeats 1 --epochs 2 --parts
    KERAS_BACKEND=jax python benchmarks/callbacks.py --verbose 2 --models MLP

A third table isolates what the logger adds once per model: each round
builds a new model per arm and times its first one-epoch `fit`, in which
the step is traced and compiled; the table gives the median over rounds
of the difference to the plain arm's fit in the same round, in
milliseconds of wall and of CPU time (one epoch of steps included).

A fourth table times single training steps: each arm keeps one compiled
model and calls its train function and the callbacks' batch
hooks the way `fit` does, in blocks of steps, the arms' blocks alternating.
With no tracing and a drift that both arms share, its paired median
resolves differences of a few percent that the whole-fit figures on a
shared machine cannot. `--parts` adds two rows that split the
logger's cost: a plain step returning one more (constant) vector (what the
logger's TensorFlow step avoids by writing its norms into a buffer
variable; `batch_logs=True` still returns them), and the logger with its
norm computation replaced by a constant vector.

Default setting: 15 repeats, 5 epochs, batch 64; MLP 8192 x 64 -> 256 -> 256
-> 10; CNN 2048 x 28 x 28 x 1 -> conv 16 -> conv 32 -> pool -> 10. `--models`
also offers DEEP, 8192 x 64 -> 20 x 64 -> 10: 42 small variables, where
what the norms cost per variable shows.
"""

import argparse
import contextlib
import gc
import io
import os
import statistics
import time
from unittest import mock

from arguments import non_negative_int, positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mlkeras.callbacks import (
    GradientNormLogger,  # noqa: E402
    gradient_norm_logger,  # noqa: E402
)


def mlp():
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )


def deep():
    # Many small variables: the norms cost something per variable.
    return keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(64, activation="relu") for _ in range(20)]
        + [keras.layers.Dense(10)]
    )


MODELS = {"MLP": mlp, "CNN": cnn, "DEEP": deep}


def data(name, rng):
    if name == "CNN":
        n, shape = 2048, (28, 28, 1)
    else:
        n, shape = 8192, (64,)
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = rng.integers(0, 10, size=n)
    return x, y


def chosen_models(chosen):
    """(name, build, x, y) of each model named in `chosen`, in table order.

    Every table draws its data again from the same seed.
    """
    rng = np.random.default_rng(0)
    for name, build in MODELS.items():
        if name in chosen:
            yield (name, build, *data(name, rng))


class EpochTimer(keras.callbacks.Callback):
    """Wall and CPU time of each epoch: those after the first exclude
    tracing."""

    def on_train_begin(self, logs=None):
        self.wall = []
        self.cpu = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(time.process_time() - self._start[1])


# The arms: None is plain fit, a dict the logger's arguments. A second
# plain arm, timed like the others, gives each table its noise floor.
ARMS = {
    "plain": None,
    "default": {},
    "batch_logs=True": {"batch_logs": True},
    "plain, second model": None,
}


def time_fit(build, x, y, epochs, batch_size, logger_kwargs, verbose=0):
    """Returns the fit's wall seconds, the median wall seconds of epochs 2
    to N, the CPU seconds of epochs 2 to N and the fit's CPU seconds."""
    model = compiled_model(build)
    timer = EpochTimer()
    callbacks = [timer]
    if logger_kwargs is not None:
        callbacks.append(GradientNormLogger(**logger_kwargs))
    # The previous fits' models are garbage now; a full collection of
    # them inside the timed fit would cost it hundreds of milliseconds.
    gc.collect()
    start = time.perf_counter()
    start_cpu = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
            callbacks=callbacks,
        )
    elapsed = time.perf_counter() - start
    elapsed_cpu = time.process_time() - start_cpu
    if logger_kwargs is not None:
        steps = callbacks[1].history["step"]
        assert len(steps) == epochs * -(-len(x) // batch_size), steps[-1:]
    return (
        elapsed,
        statistics.median(timer.wall[1:] or timer.wall),
        sum(timer.cpu[1:] or timer.cpu),
        elapsed_cpu,
    )


def column_median(rows, column):
    """The median over repeats of one column of an arm's timings."""
    return statistics.median(row[column] for row in rows)


def paired_ratio(rows, plain_rows, column):
    """The median over repeats of the arm's `column` over the plain one's.

    Runs of one repeat ran next to each other, so the median of their
    ratios cancels slow drifts in machine load.
    """
    return statistics.median(
        row[column] / plain[column] for row, plain in zip(rows, plain_rows)
    )


def compiled_model(build):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def time_repeated_fits(build, x, y, fits, batch_size, repeats, verbose=0):
    """Per arm, the seconds of `fits` one-epoch fits on one model.

    Returns one (wall, CPU) pair of totals per repeat and arm; each repeat
    builds new models, and the arms' fits alternate, their order rotating.
    """
    arms = list(ARMS)
    totals = {arm: [] for arm in arms}
    for repeat in range(repeats):
        models = {arm: compiled_model(build) for arm in arms}
        loggers = {
            arm: None if kwargs is None else GradientNormLogger(**kwargs)
            for arm, kwargs in ARMS.items()
        }
        gc.collect()  # the previous repeat's models, as in `time_fit`
        spent = dict.fromkeys(arms, 0.0)
        spent_cpu = dict.fromkeys(arms, 0.0)
        for fit in range(fits):
            shift = (repeat + fit) % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                callbacks = [] if loggers[arm] is None else [loggers[arm]]
                start = time.perf_counter()
                start_cpu = time.process_time()
                with contextlib.redirect_stdout(io.StringIO()):
                    models[arm].fit(
                        x,
                        y,
                        epochs=1,
                        batch_size=batch_size,
                        verbose=verbose,
                        callbacks=callbacks,
                    )
                spent[arm] += time.perf_counter() - start
                spent_cpu[arm] += time.process_time() - start_cpu
                if loggers[arm] is not None:
                    steps = loggers[arm].history["step"]
                    assert len(steps) == -(-len(x) // batch_size)
        for arm in arms:
            totals[arm].append((spent[arm], spent_cpu[arm]))
    return totals


def time_fits(build, x, y, epochs, batch_size, rounds, verbose=0):
    """Per arm, one `time_fit` row per round, each of a new model.

    A model's first `fit` traces and compiles its step; the arms' fits
    alternate, their order rotating from round to round.
    """
    arms = list(ARMS)
    runs = {arm: [] for arm in arms}
    for repeat in range(rounds):
        shift = repeat % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            runs[arm].append(
                time_fit(build, x, y, epochs, batch_size, ARMS[arm], verbose)
            )
    return runs


# With --parts two more arms of the step table split the logger's cost: a
# plain step that returns one more (constant) vector, and the logger with
# its norm computation replaced by a constant vector.
PART_ARMS = {
    "plain + one extra output": (None, "extra_output"),
    "default, norms replaced by zeros": ({}, "zero_norms"),
}


def _zero_norms(grads, variables, group_of, n_groups, scale, backend):
    return keras.ops.zeros((n_groups + 1,), dtype="float32")


def step_times(build, x, y, batch_size, rounds, block, parts=False):
    """Microseconds per training step of each arm, one value per round.

    It drives `model.train_function` and the callbacks' batch hooks as
    Keras's `fit` does: on TensorFlow with a `tf.data` iterator, on JAX
    with the model's state passed from step to step (the device finishes
    each block of steps before its time is taken).
    """
    arms = {arm: (kwargs, None) for arm, kwargs in ARMS.items()}
    if parts:
        arms.update(PART_ARMS)
    steppers = {}
    for arm, (kwargs, variant) in arms.items():
        keras.utils.set_random_seed(0)
        model = build()
        model.compile(
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(
            x[: 2 * batch_size],
            y[: 2 * batch_size],
            batch_size=batch_size,
            epochs=1,
            verbose=0,
        )
        if variant == "extra_output":
            object.__setattr__(
                model, "train_step", _with_extra_output(model.train_step)
            )
        loggers = [] if kwargs is None else [GradientNormLogger(**kwargs)]
        callbacks = keras.callbacks.CallbackList(
            loggers,
            add_history=True,
            model=model,
            epochs=1,
            steps=None,
            verbose=0,
        )
        callbacks.on_train_begin()
        callbacks.on_epoch_begin(0)
        if kwargs is None:
            model.make_train_function(force=True)
        step = _Stepper(model, x, y, batch_size)
        if variant == "zero_norms":
            # A diagnostic only: the step is traced (by its first call)
            # while the logger's private norm function returns zeros.
            with mock.patch.object(
                gradient_norm_logger, "_squared_norms", _zero_norms
            ):
                step.run_one()
        steppers[arm] = (step, callbacks, variant)

    def run(arm, steps):
        step, callbacks, variant = steppers[arm]
        for index in range(steps):
            callbacks.on_train_batch_begin(index)
            logs = step.run_one()
            if variant == "extra_output":
                logs.pop("extra")
            callbacks.on_train_batch_end(index, logs)
        step.finish()

    for arm in arms:
        run(arm, 2 * block)  # warm-up
    times = {arm: [] for arm in arms}
    names = list(arms)
    for repeat in range(rounds):
        shift = repeat % len(names)
        for arm in names[shift:] + names[:shift]:
            start = time.perf_counter()
            run(arm, block)
            times[arm].append(1e6 * (time.perf_counter() - start) / block)
    for arm, (_, callbacks, variant) in steppers.items():
        callbacks.on_epoch_end(0)
        callbacks.on_train_end()
        for logger in callbacks.callbacks:
            if isinstance(logger, GradientNormLogger):
                # The zeros must be what the patched arm computed, and only
                # there: a check that the patch reached the traced step.
                zeros = not any(logger.history["grad_norm"])
                assert zeros == (variant == "zero_norms"), arm
    return times


def _with_extra_output(train_step):
    """A `train_step` whose logs hold one more (constant) vector."""

    def extra_output_step(*args, **kwargs):
        outputs = train_step(*args, **kwargs)
        extra = {"extra": keras.ops.zeros((4,))}
        if isinstance(outputs, tuple):  # JAX: (logs, state)
            return {**outputs[0], **extra}, outputs[1]
        return {**outputs, **extra}

    return extra_output_step


class _Stepper:
    """Calls a model's compiled train function once per `run_one`."""

    def __init__(self, model, x, y, batch_size):
        self.model = model
        if keras.backend.backend() == "jax":
            import jax

            self.jax = jax
            self.batches = [
                (
                    jax.numpy.asarray(x[i : i + batch_size]),
                    y[i : i + batch_size],
                )
                for i in range(0, len(x) - batch_size + 1, batch_size)
            ]
            self.index = 0
            self.state = (
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                [v.value for v in model.optimizer.variables],
                [v.value for v in model.metrics_variables],
            )
        else:
            import tensorflow as tf

            self.jax = None
            dataset = (
                tf.data.Dataset.from_tensor_slices((x, y))
                .batch(batch_size, drop_remainder=True)
                .repeat()
            )
            self.iterator = iter(dataset)

    def run_one(self):
        if self.jax is None:
            return self.model.train_function(self.iterator)
        batch = self.batches[self.index % len(self.batches)]
        self.index += 1
        logs, self.state = self.model.train_function(self.state, iter([batch]))
        return logs

    def finish(self):
        if self.jax is not None:
            self.jax.block_until_ready(self.state)


def print_overheads(lead, runs, columns):
    """Prints one table row per logged arm of `runs` (arm -> timings).

    The row starts with `lead`, then the plain and the arm's median wall
    time, the overhead of each of the first `columns` columns, and the
    paired overheads of the wall time (column 0) and of the CPU time (the
    last column).
    """
    plain = runs["plain"]
    for arm in list(ARMS)[1:]:
        cells = [
            arm,
            f"{column_median(plain, 0):.2f}",
            f"{column_median(runs[arm], 0):.2f}",
        ]
        for column in range(columns):
            ratio = column_median(runs[arm], column) / column_median(
                plain, column
            )
            cells.append(f"{100 * (ratio - 1):+.1f} %")
        for column in (0, columns - 1):
            paired = paired_ratio(runs[arm], plain, column)
            cells.append(f"{100 * (paired - 1):+.1f} %")
        print(f"{lead} {' | '.join(cells)} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=positive_int, default=15)
    parser.add_argument("--epochs", type=positive_int, default=5)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument(
        "--models",
        default="MLP,CNN",
        help=f"comma-separated, of {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="fit's verbose for all arms (output discarded). With 0 no "
        "callback has a batch hook (the logger has none), so Keras's "
        "JAX fit may run callbacks asynchronously; 1 adds the progress "
        "bar's batch hook, which makes them synchronous.",
    )
    parser.add_argument(
        "--fits",
        type=non_negative_int,
        default=5,
        help="one-epoch fits per model in the repeated-fit table (0: skip)",
    )
    parser.add_argument(
        "--first-fits",
        type=non_negative_int,
        default=15,
        help="rounds of the first-fit table (0: skip it)",
    )
    parser.add_argument(
        "--step-rounds",
        type=non_negative_int,
        default=40,
        help="rounds of the step table (0: skip it)",
    )
    parser.add_argument(
        "--step-block",
        type=positive_int,
        default=40,
        help="steps per arm and round in the step table",
    )
    parser.add_argument(
        "--parts",
        action="store_true",
        help="add the step table's arms that split the "
        "logger's cost (an extra output alone, the "
        "logger without its norm computation)",
    )
    args = parser.parse_args(argv)
    chosen = args.models.split(",")
    unknown = sorted(set(chosen) - set(MODELS))
    if unknown:
        parser.error(
            f"--models: unknown {', '.join(unknown)}; choose from "
            f"{', '.join(MODELS)}. Received: --models={args.models}"
        )

    print(
        f"backend: {keras.backend.backend()}, repeats: {args.repeats}, "
        f"epochs: {args.epochs}, batch: {args.batch_size}, "
        f"fit verbose: {args.verbose}"
    )
    print()
    print(
        "| model | steps | logger | plain fit, wall (s) "
        "| with logger, wall (s) | overhead, wall "
        "| overhead, median epoch after the first, wall "
        "| overhead, CPU time after epoch 1 | overhead, CPU time "
        "| overhead, wall, paired | overhead, CPU time, paired |"
    )
    print("| --- " * 11 + "|")
    for name, build, x, y in chosen_models(chosen):
        # One untimed run of each warms up imports and kernels.
        for kwargs in ARMS.values():
            time_fit(build, x, y, 1, args.batch_size, kwargs, args.verbose)
        runs = time_fits(
            build,
            x,
            y,
            args.epochs,
            args.batch_size,
            args.repeats,
            args.verbose,
        )

        steps = args.epochs * -(-len(x) // args.batch_size)
        print_overheads(f"| {name} | {steps} |", runs, 4)

    if args.fits > 0:
        print()
        print(
            f"Repeated fits: {args.fits} one-epoch fits on one model per arm "
            f"and repeat, {args.repeats} repeats, fits alternating"
        )
        print()
        print(
            "| model | fits x steps | logger | plain fits, wall (s) "
            "| with logger, wall (s) | overhead, wall "
            "| overhead, CPU time | overhead, wall, paired "
            "| overhead, CPU time, paired |"
        )
        print("| --- " * 9 + "|")
        for name, build, x, y in chosen_models(chosen):
            totals = time_repeated_fits(
                build,
                x,
                y,
                args.fits,
                args.batch_size,
                args.repeats,
                args.verbose,
            )
            steps = -(-len(x) // args.batch_size)
            print_overheads(f"| {name} | {args.fits} x {steps} |", totals, 2)

    if args.first_fits > 0:
        print()
        print(
            f"First fits: one one-epoch fit of a new model per arm, "
            f"{args.first_fits} rounds, arms alternating"
        )
        print()
        print(
            "| model | logger | plain fit, wall (s) | with logger, wall (s) "
            "| extra wall time, paired (ms) | extra CPU time, paired (ms) |"
        )
        print("| --- " * 6 + "|")
        for name, build, x, y in chosen_models(chosen):
            runs = time_fits(
                build, x, y, 1, args.batch_size, args.first_fits, args.verbose
            )
            plain = runs["plain"]
            for arm in list(ARMS)[1:]:
                # Columns 0 and 3 of `time_fit`: wall and CPU seconds.
                extra = [
                    1000
                    * statistics.median(
                        row[column] - base[column]
                        for row, base in zip(runs[arm], plain)
                    )
                    for column in (0, 3)
                ]
                print(
                    f"| {name} | {arm} | {column_median(plain, 0):.2f} "
                    f"| {column_median(runs[arm], 0):.2f} "
                    f"| {extra[0]:+.0f} | {extra[1]:+.0f} |"
                )

    if args.step_rounds <= 0:
        return
    print()
    print(
        f"Single steps: {args.step_rounds} rounds of {args.step_block} "
        "steps per arm, arms alternating"
    )
    print()
    print(
        "| model | arm | plain step (us) | arm step (us) "
        "| overhead | overhead, paired |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, build, x, y in chosen_models(chosen):
        times = step_times(
            build,
            x,
            y,
            args.batch_size,
            args.step_rounds,
            args.step_block,
            parts=args.parts,
        )
        plain = statistics.median(times["plain"])
        for arm in list(times)[1:]:
            logged = statistics.median(times[arm])
            paired = statistics.median(
                a / b for a, b in zip(times[arm], times["plain"])
            )
            print(
                f"| {name} | {arm} | {plain:.0f} | {logged:.0f} | "
                f"{100 * (logged / plain - 1):+.1f} % | "
                f"{100 * (paired - 1):+.1f} % |"
            )


if __name__ == "__main__":
    main()
