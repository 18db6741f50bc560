"""`GradientNormLogger`: gradient norms read from the real training step."""

import csv
import inspect
import math
import os
import sys
import threading
import warnings
import weakref

import keras
import numpy as np

_OWNER_ATTR = "_mlkeras_gradient_norm_logger"
_TAP_ATTR = "_mlkeras_gradient_norm_tap"
_MISSING = object()
_PACKED_KEY = "_mlkeras_packed_gradient_norms"
# Norms are read back from the device once this many recorded steps wait
# (when the step writes them into a buffer, this many steps). On JAX a read
# takes only the steps already computed, up to twice this many.
_READ_BACK_STEPS = 100
# On JAX, gradients with fewer elements than this are squared and added up
# together instead of by a dot product each (see `_jax_squared_norms`).
# XLA's CPU compiler made loop kernels of a 2560-element dot product and
# kept a 16384-element one as a library call.
_SMALL_GRADIENT_SIZE = 4096
# On JAX, the squares are added up per group by one masked sum over a grid
# of (groups x squares) entries, at most this many, and by a segment sum
# beyond. On a CPU the masked sum took a few microseconds where the segment
# sum (a scatter, one element after the other) took 15 to 20 for the 3082
# squares of a 64 -> 256 -> 256 -> 10 MLP.
_GROUP_MASK_ENTRIES = 2**18


class GradientNormLogger(keras.callbacks.Callback):
    """Logs the L2 norms of the gradients that `fit` actually applies.

    Keras hands callbacks no gradients. This callback taps the training step
    itself: for the duration of `fit` it wraps the optimizer's `apply` (which
    `apply_gradients` on TensorFlow and `stateless_apply` on JAX both call)
    and the model's `train_step`, so the compiled step computes the norms of
    the very gradients it passes to the optimizer and returns them with the
    loss and metrics. There is no extra forward or backward pass, and the
    norms are taken before any `clipnorm`, `clipvalue` or `global_clipnorm`
    clipping (and after undoing a `loss_scale_factor`). Under a
    `tf.distribute` strategy the per-replica gradients are summed first, so
    the norm is that of the global batch's gradient. When training ends the
    model and optimizer get their own methods back. The step traced through
    the wrappers stays with the model, so a later `fit` with the same
    logger does not trace it again, and a `fit` without the logger runs
    Keras's own step (tracing it once if no `fit` has run it yet).
    Compiling the model again, or another logger, traces a new one. If
    `fit` raises, the next `fit` or `train_on_batch` of the model first
    records what the failed one left on the device and takes the wrappers
    off. A `train_on_batch` or `fit` that a callback runs during a logged
    `fit` runs Keras's own step and is not logged. One logger per `fit`: a
    second one in the same `callbacks` is an error.

    The norms of every recorded step go to `history` (and to a CSV file
    when `csv_path` is given) under the keys `"grad_norm"` (the global norm
    over all trainable variables) and `"grad_norm/<name>"`, one per
    top-level layer (or one per variable, keyed by the variable's path, with
    `per_variable=True`). The epoch `logs` carry the values of the epoch's
    last step, so `History`, `CSVLogger` and `TensorBoard` see them.

    The step leaves its norms on the device; they are read back in blocks
    of up to 100 records and at the end of every epoch, then appended to
    `history` and written to the CSV file, which is flushed after each
    block, so a crash loses only the records not yet read back. Within an
    epoch, a block on JAX takes only the steps the device has finished:
    waiting for the ones `fit` has dispatched ahead would empty its queue
    and slow the next steps down. (The diagnosis below runs on the same
    blocks.) Reading every step costs more than the norms themselves on a
    small model, because Keras converts every value in a step's logs for
    its callbacks. For the same reason, on TensorFlow (with one step per
    call, no distribution strategy and `batch_logs=False`) the step does
    not even return its norms: it writes them into the last row of a small
    buffer variable of the last 100 steps, which is read back once per
    block. Elsewhere the norms ride in the step's logs under a private key
    that the callback removes. Set `batch_logs=True` to read every step
    anyway and put its norms into the batch `logs`, for callbacks that work
    per batch, such as `TensorBoard(update_freq=10)`.

    The norms cost a few operations per trainable variable in every step.
    Under XLA on a CPU (JAX) every kernel has a fixed cost of a few
    microseconds; the gradients of fewer than 4096 elements share a few
    kernels, but each larger one gets a kernel of its own, which shows on
    a model of many such variables: about +10 % per step for 42 variables
    of up to 64 x 64 (figures in `benchmarks/README.md`). The norms also
    make the first `fit` trace and compile a larger step, once: for a
    64 -> 256 -> 256 -> 10 MLP on a 2-core CPU, that `fit` took 5 to
    70 ms more wall time on TensorFlow and on JAX, where XLA compiles
    every new kernel.

    It also diagnoses the two classic gradient problems, warning once per
    `fit` for each: layers whose norm stays below `vanishing_threshold` for
    a whole epoch (named in the warning), and a global norm above
    `exploding_threshold` or not finite. Under a `LossScaleOptimizer`
    (mixed precision), a step whose loss-scaled gradients overflow is
    skipped by the optimizer, which lowers its scale instead: such a step
    is recorded as NaN and is not reported, unless every recorded step of
    an epoch was skipped.

    With `gradient_accumulation_steps`, each step's own gradient is
    recorded, not the average the optimizer applies every few steps. With
    `steps_per_execution` above 1 and an epoch of unknown length, the
    epoch's last call may run fewer steps than that; like Keras's own
    batch index, the step numbers count it as a whole call.

    See "On the difficulty of training recurrent neural networks"
    (https://arxiv.org/abs/1211.5063) for why the gradient norm is the
    quantity to watch.

    Args:
        every_n_steps: record every this many training steps (the norms are
            computed at every step either way). Defaults to `1`.
        per_variable: if `True`, one norm per trainable variable instead of
            one per layer. Defaults to `False`.
        csv_path: optional path of a CSV file to write the records to, one
            row per record, with a header. Defaults to `None`.
        append: append to `csv_path` instead of overwriting it. Defaults to
            `False`.
        vanishing_threshold: a layer whose norm stays below this value at
            every record of an epoch is reported as vanishing. Defaults to
            `1e-7`.
        exploding_threshold: a global norm above this value is reported as
            exploding; `None` checks only for non-finite norms. Defaults to
            `1e3`.
        batch_logs: also put each step's norms into the batch `logs`,
            which reads them back from the device at every step. Defaults
            to `False`.
        verbose: `0` is silent, `1` also prints the diagnosis warnings.
            Defaults to `0`.

    Call arguments:
        This is a callback: pass it to `model.fit(callbacks=[...])`.

    Returns:
        After `fit`, `history` is a dict of lists: `"step"` (1-based global
        step), `"epoch"` (0-based), `"grad_norm"` and `"grad_norm/<name>"`.
        `names` lists the `<name>` parts in order and `plot()` draws them.

    Example:

    >>> logger = mlkeras.callbacks.GradientNormLogger(every_n_steps=10)
    >>> model.fit(x, y, epochs=5, callbacks=[logger])
    >>> logger.history["grad_norm"][-1]       # global norm, last record
    >>> logger.history["grad_norm/dense"]     # one layer, every record
    >>> fig = logger.plot()                   # a matplotlib Figure
    >>> fig.savefig("gradient_norms.png")

    References:
        - Pascanu, Mikolov and Bengio, "On the difficulty of training
          recurrent neural networks", ICML 2013.
        - Glorot and Bengio, "Understanding the difficulty of training deep
          feedforward neural networks", AISTATS 2010.
    """

    def __init__(
        self,
        every_n_steps=1,
        per_variable=False,
        csv_path=None,
        append=False,
        vanishing_threshold=1e-7,
        exploding_threshold=1e3,
        batch_logs=False,
        verbose=0,
    ):
        if (
            not isinstance(every_n_steps, (int, np.integer))
            or isinstance(every_n_steps, bool)
            or every_n_steps < 1
        ):
            raise ValueError(
                "`every_n_steps` must be a positive integer. "
                f"Received: every_n_steps={every_n_steps!r}"
            )
        if not _is_positive_number(vanishing_threshold, allow_zero=True):
            raise ValueError(
                "`vanishing_threshold` must be a non-negative number. "
                f"Received: vanishing_threshold={vanishing_threshold!r}"
            )
        if exploding_threshold is not None and not _is_positive_number(
            exploding_threshold
        ):
            raise ValueError(
                "`exploding_threshold` must be a positive number or None. "
                f"Received: exploding_threshold={exploding_threshold!r}"
            )
        if csv_path is not None and (
            not isinstance(csv_path, (str, os.PathLike))
            or not os.fspath(csv_path)
            or os.path.isdir(csv_path)
        ):
            raise ValueError(
                "`csv_path` must be the path of a file (not a directory) or "
                f"None. Received: csv_path={csv_path!r}"
            )
        for name, value in (
            ("per_variable", per_variable),
            ("append", append),
            ("batch_logs", batch_logs),
        ):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"`{name}` must be True or False. "
                    f"Received: {name}={value!r}"
                )
        if isinstance(verbose, bool) or verbose not in (0, 1):
            raise ValueError(
                f"`verbose` must be 0 or 1. Received: verbose={verbose!r}"
            )
        super().__init__()
        self.every_n_steps = int(every_n_steps)
        self.per_variable = bool(per_variable)
        self.csv_path = csv_path
        self.append = bool(append)
        self.vanishing_threshold = float(vanishing_threshold)
        self.exploding_threshold = (
            None if exploding_threshold is None else float(exploding_threshold)
        )
        self.batch_logs = bool(batch_logs)
        self.verbose = verbose
        self.names = []
        self.history = {}
        self._keys = []
        self._loss_scaled = False
        self.__dict__.update(_uninstalled_state())

    def __getstate__(self):
        # What belongs to a running `fit` (the model's wrappers, the values
        # still on the device, the open CSV file) stays with the original;
        # a copy starts as a logger that has not been installed.
        state = {**self.__dict__, **_uninstalled_state()}
        del state["_pending"]  # a thread-local cannot be copied
        return state

    def __setstate__(self, state):
        self.__dict__.update(_uninstalled_state())
        self.__dict__.update(state)

    # ------------------------------------------------------------------
    # Callback hooks.

    def on_train_begin(self, logs=None):
        self.history = {}
        self.names = []
        self._step = 0
        self._epoch = 0
        self._epoch_start_step = 0
        self._in_epoch = 0
        self._unread = []
        self._last = None
        self._since_read = 0
        self._latest = None
        self._stride = _steps_per_execution(self.model)
        steps = (self.params or {}).get("steps")
        self._epoch_steps = (
            steps if isinstance(steps, int) and steps > 0 else None
        )
        self._missing_warned = False
        self._vanishing_warned = False
        self._exploding_warned = False
        self._epoch_minima = None
        self._epoch_skipped = 0
        self._epoch_records = 0
        self._install()
        try:
            self._keys = self.keys
            self.history = {"step": [], "epoch": []}
            for key in self._keys:
                self.history[key] = []
            self._open_csv()
        except BaseException:
            # The model must not keep the wrappers of a `fit` that did not
            # start.
            self._uninstall()
            raise

    def on_epoch_begin(self, epoch, logs=None):
        self._read_back()
        self._epoch = epoch
        self._epoch_start_step = self._step
        self._in_epoch = 0
        self._epoch_minima = None
        self._epoch_skipped = 0
        self._epoch_records = 0
        self._last = None

    def on_epoch_end(self, epoch, logs=None):
        self._read_back()
        if (
            self._epoch_records
            and self._epoch_skipped == self._epoch_records
            and not self._exploding_warned
        ):
            self._exploding_warned = True
            self._warn(
                f"Exploding gradients: in all {self._epoch_records} "
                f"recorded steps of epoch {epoch + 1} the loss-scaled "
                "gradients were not finite, so the LossScaleOptimizer "
                "applied none of them."
            )
        if (
            logs is not None
            and self._last is not None
            and self._keys[0] not in logs
        ):
            # The number of steps was unknown, so no step's logs could be
            # marked as the epoch's last: callbacks after this one still
            # see the values here.
            logs.update(zip(self._keys, self._last_values()))
        if self._epoch_minima is None or self._vanishing_warned:
            return
        vanishing = [
            name for name, low in zip(self.names, self._epoch_minima) if low
        ]
        if vanishing:
            self._vanishing_warned = True
            self._warn(
                f"Vanishing gradients: the gradient norm of {len(vanishing)} "
                f"of {len(self.names)} layers stayed below "
                f"{self.vanishing_threshold:g} for all of epoch {epoch + 1}: "
                + ", ".join(vanishing)
            )

    def on_train_end(self, logs=None):
        try:
            self._read_back()
        finally:
            self._uninstall()
            self._close_csv()

    # ------------------------------------------------------------------
    # Public helpers.

    @property
    def keys(self):
        """The log keys: `"grad_norm"` then `"grad_norm/<name>"` per group."""
        return ["grad_norm"] + [f"grad_norm/{name}" for name in self.names]

    def plot(self, ax=None, title="Gradient norms", include_global=True):
        """Draws the recorded norms over steps on a log scale.

        Args:
            ax: optional matplotlib Axes to draw on; a new figure is made
                when `None`. Defaults to `None`.
            title: the Axes title. Defaults to `"Gradient norms"`.
            include_global: also draw the global norm (dashed black).
                Defaults to `True`.

        Returns:
            The matplotlib `Figure` (built without pyplot).
        """
        from mlkeras import plotting

        if ax is None:
            fig, ax = plotting.new_figure(width=6.0, height=4.0)
        else:
            fig = ax.figure
        steps = np.asarray(self.history.get("step", []))
        for name in self.names:
            values = _positive(self.history[f"grad_norm/{name}"])
            ax.plot(steps, values, label=name, linewidth=1.2)
        if include_global and "grad_norm" in self.history:
            ax.plot(
                steps,
                _positive(self.history["grad_norm"]),
                "k--",
                label="global",
                linewidth=1.5,
            )
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("gradient L2 norm")
        if title:
            ax.set_title(title)
        if self.names or include_global:
            ax.legend(fontsize="small", loc="best")
        return fig

    # ------------------------------------------------------------------
    # Recording.

    def _after_step(self, logs):
        """Counts the step that produced `logs` and keeps its norms.

        Runs right after every call of the compiled step, in step order. It
        takes the packed norms out of `logs` (or notes that the step wrote
        them into the buffer); the epoch's last step (and, with
        `batch_logs`, every step) gets them back as one float per key.
        """
        packed = logs.pop(_PACKED_KEY, None)
        if packed is None and self._buffered:
            # The step's row is the buffer's last until the next step; the
            # unread records are identified by their count since the read.
            self._since_read += 1
            packed = self._since_read
        if packed is None:
            if not self._missing_warned:
                self._missing_warned = True
                warnings.warn(
                    "GradientNormLogger found no gradient norms in the "
                    "step's logs: the model's `train_step` did not call its "
                    "optimizer's `apply`/`apply_gradients`, or did not "
                    "return a dict of logs.",
                    stacklevel=3,
                )
            return logs
        # With steps_per_execution > 1 one call runs several steps and its
        # logs are those of the last; an epoch's last call may run fewer.
        in_epoch = self._in_epoch + self._stride
        if self._epoch_steps is not None:
            in_epoch = min(in_epoch, self._epoch_steps)
        self._in_epoch = in_epoch
        previous, self._step = self._step, self._epoch_start_step + in_epoch
        self._last = packed
        recorded = (
            self._step // self.every_n_steps != previous // self.every_n_steps
        )
        if recorded:
            self._unread.append((self._step, self._epoch, packed))
        epoch_over = in_epoch == self._epoch_steps
        if self.batch_logs or epoch_over:
            rows = self._read_back()
            values = rows[-1] if recorded else self._last_values()
            logs.update(zip(self._keys, values))
        elif (
            len(self._unread) >= _READ_BACK_STEPS
            or self._since_read >= _READ_BACK_STEPS
        ):
            self._read_back(wait=len(self._unread) >= 2 * _READ_BACK_STEPS)
        return logs

    def _last_values(self):
        """The norms of the last step, as one float per key."""
        if isinstance(self._last, int):
            return self._latest
        return _to_list(self._last)

    def _read_back(self, wait=True):
        """Records the steps whose norms are still on the device.

        With `wait=False`, the steps whose norms are still being computed
        (an asynchronous backend's, JAX's) are left for the next read.

        Returns the recorded values, one list per step.
        """
        if self._since_read:
            unread, self._unread = self._unread, []
            table = _to_list(self._buffer.numpy())
            first = len(table) - self._since_read - 1
            self._since_read = 0
            self._latest = table[-1]
            rows = [table[first + item[2]] for item in unread]
        else:
            # While the device lags, this runs at every step and finds
            # nothing ready: it copies nothing then.
            ready = len(self._unread) if wait else _ready_count(self._unread)
            unread = self._unread[:ready]
            del self._unread[:ready]
            # One copy per step. Stacking them first would cost as much
            # and, on JAX, compile a stack for every new number of steps.
            rows = [_to_list(item[2]) for item in unread]
        for (step, epoch, _), values in zip(unread, rows):
            self._record(step, epoch, values)
        if rows and self._csv_file is not None:
            self._csv_file.flush()
        return rows

    def _record(self, step, epoch, values):
        self.history["step"].append(step)
        self.history["epoch"].append(epoch)
        for key, value in zip(self._keys, values):
            self.history[key].append(value)
        if self._csv_writer is not None:
            self._csv_writer.writerow([step, epoch] + [repr(v) for v in values])
        self._diagnose(step, values)

    def _diagnose(self, step, values):
        global_norm, layer_norms = values[0], values[1:]
        self._epoch_records += 1
        if self._loss_scaled and math.isnan(global_norm):
            # A step the optimizer skipped (see `_unless_skipped`): with
            # finite gradients the norm is finite or, at worst, inf.
            self._epoch_skipped += 1
            return
        if not self._exploding_warned:
            if not math.isfinite(global_norm):
                self._exploding_warned = True
                self._warn(
                    f"Exploding gradients: the global gradient norm "
                    f"is {global_norm} at step {step}."
                )
            elif (
                self.exploding_threshold is not None
                and global_norm > self.exploding_threshold
            ):
                self._exploding_warned = True
                self._warn(
                    f"Exploding gradients: the global gradient norm "
                    f"{global_norm:.4g} exceeds "
                    f"{self.exploding_threshold:g} at step "
                    f"{step}."
                )
        low = [v < self.vanishing_threshold for v in layer_norms]
        if self._epoch_minima is None:
            self._epoch_minima = low
        else:
            self._epoch_minima = [
                a and b for a, b in zip(self._epoch_minima, low)
            ]

    def _warn(self, message):
        warnings.warn(message, stacklevel=3)
        if self.verbose:
            print(f"GradientNormLogger: {message}")

    def _open_csv(self):
        self._close_csv()
        if self.csv_path is None:
            return
        path = os.fspath(self.csv_path)
        write_header = not (
            self.append and os.path.exists(path) and os.path.getsize(path) > 0
        )
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._csv_file = open(path, "a" if self.append else "w", newline="")
        self._csv_writer = csv.writer(self._csv_file)
        if write_header:
            self._csv_writer.writerow(["step", "epoch"] + self.keys)
            self._csv_file.flush()

    def _close_csv(self):
        if self._csv_file is not None:
            self._csv_file.close()
        self._csv_file = None
        self._csv_writer = None

    # ------------------------------------------------------------------
    # Tapping the training step.

    def _groups(self, model):
        """Maps id(variable) -> group index and fills `self.names`."""
        group_of = {}
        names = []
        if self.per_variable:
            for i, variable in enumerate(model.trainable_variables):
                group_of[id(variable)] = i
                names.append(variable.path)
        else:
            for layer in model.layers:
                variables = layer.trainable_variables
                if not variables:
                    continue
                index = len(names)
                names.append(layer.name)
                for variable in variables:
                    group_of.setdefault(id(variable), index)
            leftovers = [
                v for v in model.trainable_variables if id(v) not in group_of
            ]
            if leftovers:
                index = len(names)
                names.append(model.name)
                for variable in leftovers:
                    group_of[id(variable)] = index
        return group_of, _unique(names)

    def _install(self):
        """Puts the wrappers on and swaps in the step traced through them.

        The traced step is built once per compiled model, optimizer and
        logger, and kept on the model: a later `fit` with this logger calls
        the same traced step, and `fit` without it gets Keras's own step
        back, so neither traces again. Recompiling (which gives the model a
        new step of its own), another optimizer, another logger or another
        set of trainable variables builds a new one.
        """
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "GradientNormLogger needs a compiled model with an optimizer. "
                f"Received: model.optimizer={optimizer!r}"
            )
        other = _installed_logger(model)
        if other is not None and other is not self:
            # Each would take the other's wrappers off: refuse, and leave
            # the model as it was before this `fit`.
            other._abandon()
            raise ValueError(
                "Only one GradientNormLogger can log a model's `fit`. "
                "Received: a second GradientNormLogger in `callbacks`"
            )
        # Takes off what a `fit` that failed may have left on.
        _take_off(model)
        tap = vars(model).get(_TAP_ATTR)
        plain = model.train_function
        key = self._tap_key(model, optimizer)
        if (
            tap is None
            or tap.logger() is not self
            or tap.plain is not plain
            or tap.key != key
        ):
            tap = self._build_tap(model, optimizer, plain, key)
            object.__setattr__(model, _TAP_ATTR, tap)
        # The wrappers of `train_step` and `apply` only serve a retrace
        # (for a new input signature) during this `fit`; the hook on
        # `make_train_function` takes everything off if the `fit` raises
        # before `on_train_end`.
        _patch(
            model,
            tap.targets
            + [(model, "make_train_function", _cleanup_hook(self, model))],
        )
        self._loss_scaled = isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        )
        # Kept until `on_train_end` or the clean-up of a `fit` that raised
        # (which keeps the frame, and what it holds, alive until then).
        self._fit_frame = _fit_frame(model)
        self.names = list(tap.names)
        self._buffer = tap.buffer
        self._buffered = tap.buffered
        self._tap = tap
        # Take the norms out of the logs as each step returns.
        compiled = tap.compiled
        plain = tap.plain
        # Weak, so that the model (which keeps this function for the next
        # `fit`) does not keep the logger alive.
        logger = weakref.ref(self)

        def train_function(*args, **kwargs):
            owner = logger()
            if plain is not None and (
                owner is None
                or (
                    owner._fit_frame is not None
                    and sys._getframe(1) is not owner._fit_frame
                )
            ):
                # A `train_on_batch` or `fit` run by a callback of the
                # logged `fit`: a step of its own, not logged.
                return plain(*args, **kwargs)
            outputs = compiled(*args, **kwargs)
            if owner is None:
                return outputs
            if (
                isinstance(outputs, tuple)
                and len(outputs) == 2
                and isinstance(outputs[0], dict)
            ):
                return owner._after_step(dict(outputs[0])), outputs[1]
            if isinstance(outputs, dict):
                return owner._after_step(dict(outputs))
            return outputs

        tap.function = train_function
        object.__setattr__(model, "train_function", train_function)
        self._patched = model

    def _tap_key(self, model, optimizer):
        """What the traced step depends on besides the compiled model."""
        return (
            id(optimizer),
            self.per_variable,
            self.batch_logs,
            repr(getattr(model, "steps_per_execution", 1)),
            repr(getattr(model, "jit_compile", None)),
            bool(getattr(model, "run_eagerly", False)),
            tuple(id(v) for v in model.trainable_variables),
        )

    def _build_tap(self, model, optimizer, plain, key):
        """Builds the wrappers and the step traced through them."""
        group_of, names = self._groups(model)
        n_groups = len(names)
        default_variables = list(model.trainable_variables)
        pending = self._pending
        backend = keras.backend.backend()
        tap = _Tap(self, plain, key, names)
        one_step = getattr(model, "steps_per_execution", 1)
        if (
            backend == "tensorflow"
            and not self.batch_logs
            and isinstance(one_step, int)
            and one_step == 1
        ):
            # Variables are part of JAX's functional state, and a step that
            # runs several times per call would need its row count, so
            # only this case writes to a buffer. With `batch_logs` every
            # step is read anyway, and an output is read faster than a
            # variable.
            tap.buffer = keras.Variable(
                np.zeros((_READ_BACK_STEPS, n_groups + 1), dtype="float32"),
                trainable=False,
                autocast=False,
                name="gradient_norms",
            )
        buffer = tap.buffer
        logger = weakref.ref(self)

        original_apply = optimizer.apply
        original_stateless_apply = optimizer.stateless_apply
        original_train_step = model.train_step
        # A LossScaleOptimizer receives gradients of the scaled loss and
        # divides them by its `dynamic_scale` itself; on JAX it also
        # bypasses `apply`, so it is tapped at `stateless_apply` there.
        loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        static_scale = getattr(optimizer, "loss_scale_factor", None)

        def apply(grads, trainable_variables=None):
            grads = list(grads)
            variables = (
                default_variables
                if trainable_variables is None
                else list(trainable_variables)
            )
            if loss_scaled and not optimizer.built:
                # Its `dynamic_scale` is made by `build`, which `apply`
                # would otherwise only call below.
                with keras.name_scope(optimizer.name, caller=optimizer):
                    optimizer.build(variables)
                optimizer.built = True
            # With a loss scale, its value before `apply`, which halves it
            # for a skipped step.
            scale = (
                keras.ops.cast(optimizer.dynamic_scale, "float32")
                if loss_scaled
                else static_scale
            )
            squares = _squared_norms(
                grads, variables, group_of, n_groups, scale, backend
            )
            result = original_apply(grads, trainable_variables)
            if loss_scaled:
                squares = _unless_skipped(
                    squares, scale, optimizer.dynamic_scale
                )
            pending.values = squares
            return result

        def stateless_apply(optimizer_variables, grads, trainable_variables):
            index = [id(v) for v in optimizer.variables].index(
                id(optimizer.dynamic_scale)
            )
            scale = optimizer_variables[index]
            squares = _squared_norms(
                list(grads),
                default_variables,
                group_of,
                n_groups,
                scale,
                backend,
            )
            result = original_stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
            pending.values = _unless_skipped(squares, scale, result[1][index])
            return result

        def train_step(*args, **kwargs):
            pending.values = None
            outputs = original_train_step(*args, **kwargs)
            # One vector instead of one output per norm: every value a step
            # returns costs tens of microseconds to hand over and convert.
            packed, pending.values = pending.values, None
            if packed is None:
                return outputs
            if (
                buffer is not None
                and isinstance(outputs, dict)
                and not _in_strategy()
            ):
                # Shifted in as the last row: no index to keep on the
                # device, and every step's logs keep Keras's own keys.
                buffer.assign(
                    keras.ops.concatenate(
                        [buffer.value[1:], packed[None]], axis=0
                    )
                )
                # Runs while the step is traced, which may be after
                # `_install` (tracing happens at the first call).
                tap.buffered = True
                owner = logger()
                if owner is not None:
                    owner._buffered = True
                return outputs
            if (
                isinstance(outputs, tuple)
                and len(outputs) == 2
                and isinstance(outputs[0], dict)
            ):
                logs, state = outputs  # JAX: (logs, state)
                return {**logs, _PACKED_KEY: packed}, state
            if isinstance(outputs, dict):
                return {**outputs, _PACKED_KEY: packed}
            return outputs

        tap.targets = [(model, "train_step", train_step)]
        if loss_scaled and backend == "jax":
            tap.targets.append((optimizer, "stateless_apply", stateless_apply))
        else:
            tap.targets.append((optimizer, "apply", apply))
        _patch(model, tap.targets)
        # Keras builds the step from the `train_step` it finds now, the
        # wrapper; its own step (`plain`) is kept for `fit` without the
        # logger. Neither is traced until it is first called.
        model.make_train_function(force=True)
        tap.compiled = model.train_function
        _restore(model)
        return tap

    def _uninstall(self):
        model, self._patched = self._patched, None
        self._buffer = None
        self._fit_frame = None
        if model is not None:
            _take_off(model)

    def _abandon(self):
        """Ends a `fit` that raised before its `on_train_end`.

        Records what is still on the device, closes the CSV file and takes
        the wrappers off.
        """
        try:
            self._read_back()
        except Exception as error:  # the fit's own error came first
            warnings.warn(
                "GradientNormLogger could not read back the last norms of "
                f"a `fit` that raised: {error}",
                stacklevel=2,
            )
        finally:
            self._uninstall()
            self._close_csv()


def _uninstalled_state():
    """The private state of a logger that no `fit` has installed."""
    return {
        "_pending": threading.local(),
        "_unread": [],
        "_buffer": None,
        "_buffered": False,
        "_since_read": 0,
        "_last": None,
        "_latest": None,
        "_csv_file": None,
        "_csv_writer": None,
        "_patched": None,
        "_tap": None,
        "_fit_frame": None,
    }


class _Tap:
    """A model's step traced through a logger's wrappers, kept for reuse.

    Held by the model; `logger` is a weak reference, so the model does not
    keep a logger alive.
    """

    def __init__(self, logger, plain, key, names):
        self.logger = weakref.ref(logger)
        self.plain = plain
        self.key = key
        self.names = names
        self.buffer = None
        self.buffered = False
        self.targets = []
        self.compiled = None
        self.function = None


def _patch(model, targets):
    """Puts the wrappers `targets` on; `_restore` takes them off."""
    # Remember what the instances held themselves (normally nothing, the
    # methods come from the class) so that `_restore` can put it back.
    saved = [
        (obj, name, vars(obj).get(name, _MISSING)) for obj, name, _ in targets
    ]
    for obj, name, function in targets:
        # object.__setattr__ keeps Keras's attribute tracking out of it.
        object.__setattr__(obj, name, function)
    object.__setattr__(model, _OWNER_ATTR, saved)


def _installed_logger(model):
    """The logger whose wrappers are on `model` now, or `None`."""
    tap = vars(model).get(_TAP_ATTR)
    logger = None if tap is None else tap.logger()
    if logger is not None and logger._patched is model:
        return logger
    return None


def _cleanup_hook(logger, model):
    """A `make_train_function` that first ends a `fit` that raised.

    Keras calls `make_train_function` as every `fit` and `train_on_batch`
    starts, before any callback. Finding this hook still on the model
    there means that the `fit` that put it on raised before its
    `on_train_end`, unless that `fit` is still running and one of its
    callbacks makes the call.
    """
    logger = weakref.ref(logger)

    def make_train_function(force=False):
        owner = logger()
        if owner is None or owner._patched is not model:
            _take_off(model)
        elif owner._fit_frame is None or _is_running(owner._fit_frame):
            # A callback of the logged `fit` calls `train_on_batch` or
            # `fit` (the logger's `train_function` runs Keras's own step
            # for it), or the callbacks are driven by hand, where only
            # `on_train_end` tells that training ended.
            return _unpatched(model, "make_train_function")(force=force)
        else:
            owner._abandon()
        return model.make_train_function(force=force)

    return make_train_function


def _unpatched(model, name):
    """`model`'s method `name` as it was before the wrappers went on."""
    for obj, attribute, previous in vars(model).get(_OWNER_ATTR, ()):
        if obj is model and attribute == name and previous is not _MISSING:
            return previous
    return getattr(type(model), name).__get__(model)


def _fit_frame(model):
    """The frame of the `model.fit` that runs the callbacks now, or `None`.

    That is the innermost frame running one of the `fit` methods of the
    model's class, if the frame it called on the way here is Keras's
    `CallbackList.on_train_begin` and no other on the way is: that `fit`
    started the callbacks it set its model on, this logger among them.
    Frames are recognized by their code alone: reading the `f_locals` of
    `fit`'s frame would copy its locals into a dict that the frame keeps
    until it is freed, a second reference to the data iterator among
    them. With that copy, short TensorFlow fits more often waited about
    100 ms after `on_train_end` before they returned.
    """
    fit_codes = _method_codes(type(model), "fit")
    begin_code = keras.callbacks.CallbackList.on_train_begin.__code__
    begins = 0
    callee = None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code in fit_codes:
            if begins == 1 and callee.f_code is begin_code:
                return frame
            return None
        if frame.f_code is begin_code:
            begins += 1
        callee, frame = frame, frame.f_back
    return None


def _method_codes(cls, name):
    """The code objects of the methods `name` that `cls` and its bases
    define (decorators unwrapped)."""
    codes = set()
    for base in cls.__mro__:
        method = inspect.unwrap(vars(base).get(name, None))
        code = getattr(method, "__code__", None)
        if code is not None:
            codes.add(code)
    return codes


def _is_running(frame):
    """Whether `frame` is on this thread's stack, i.e. still executing."""
    current = sys._getframe(1)
    while current is not None:
        if current is frame:
            return True
        current = current.f_back
    return False


def _take_off(model):
    """Gives `model` its own methods and its own traced step back."""
    _restore(model)
    tap = vars(model).get(_TAP_ATTR)
    if tap is not None and model.train_function is tap.function:
        object.__setattr__(model, "train_function", tap.plain)


def _steps_per_execution(model):
    value = getattr(model, "steps_per_execution", 1)
    if (
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and value >= 1
    ):
        return int(value)
    return 1


def _restore(model):
    """Takes the GradientNormLogger wrappers off `model` and its optimizer."""
    saved = vars(model).get(_OWNER_ATTR)
    if saved is None:
        return
    for obj, name, previous in saved:
        if previous is _MISSING:
            object.__delattr__(obj, name)
        else:
            object.__setattr__(obj, name, previous)
    object.__delattr__(model, _OWNER_ATTR)


def _squared_norms(grads, variables, group_of, n_groups, scale, backend):
    """Traced inside the train step: the squared global norm, then per group.

    Returns one float32 vector of the `n_groups + 1` squared norms; the
    square roots are taken when they are read back (`_to_list`), which
    saves the step a kernel. Every operation costs the first `fit` its
    tracing and every step its dispatch, so the squared norms of the
    variables are stacked twice and added up by one segment sum: once all
    into segment 0 (the global norm), once each into its group's segment.
    """
    ops = keras.ops
    pairs = [
        (g, v)
        for g, v in zip(grads, variables)
        if g is not None and id(v) in group_of
    ]
    if not pairs:
        return ops.zeros((n_groups + 1,), dtype="float32")
    if backend == "jax":
        return _jax_squared_norms(pairs, group_of, n_groups, scale)
    dense = [_dense(g, backend) for g, _ in pairs]
    if backend == "tensorflow":
        dense = _all_reduce_sum(dense)
    inverse_scale = _inverse(scale)
    squares = []
    for g in dense:
        if keras.backend.standardize_dtype(g.dtype) != "float32":
            g = ops.cast(g, "float32")
        if inverse_scale is not None:
            g = g * inverse_scale
        squares.append(ops.sum(ops.square(g)))
    segments = [0] * len(pairs) + [group_of[id(v)] + 1 for _, v in pairs]
    return ops.segment_sum(
        ops.stack(squares + squares),
        np.asarray(segments, dtype="int32"),
        num_segments=n_groups + 1,
    )


def _jax_squared_norms(pairs, group_of, n_groups, scale):
    """`_squared_norms` for XLA on JAX, where each kernel runs alone.

    The gradients are first materialized behind an optimization barrier:
    without it XLA recomputes their producers (a bias gradient's sum over
    the batch, say) inside the norm kernels. A large gradient's squared
    norm is one dot product (one library call), at the highest precision,
    since a TPU or GPU would otherwise round its inputs. XLA turns the dot
    product of a small gradient (a bias, a normalization scale) into a few
    loop kernels of its own instead, so the squares of the small gradients
    and the large ones' squared norms are joined into one vector, which
    one masked sum adds up per group and in all (or, for a grid of more
    than `_GROUP_MASK_ENTRIES` entries, one segment sum per group): few
    kernels to compile in the first `fit` and to run at every step. A
    product with a 0/1 matrix would compile to as few kernels, but it
    would make an infinite or NaN square NaN in every group (inf * 0); a
    mask selects instead, so each group keeps its own inf or NaN. Like
    `_squared_norms` it returns the squared norms.
    """
    import jax

    ops = keras.ops
    flat = [ops.cast(ops.reshape(g, (-1,)), "float32") for g, _ in pairs]
    inverse_scale = _inverse(scale)
    if inverse_scale is not None:
        flat = [f * inverse_scale for f in flat]
    flat = jax.lax.optimization_barrier(flat)
    highest = jax.lax.Precision.HIGHEST
    squares = []
    groups = []
    for f, (_, v) in zip(flat, pairs):
        group = group_of[id(v)]
        if f.shape[0] < _SMALL_GRADIENT_SIZE:
            squares.append(ops.square(f))
            groups.append(np.full(f.shape[0], group, dtype="int32"))
        else:
            square = jax.numpy.vdot(f, f, precision=highest)
            squares.append(ops.reshape(square, (1,)))
            groups.append(np.array([group], dtype="int32"))
    squares = ops.concatenate(squares)
    groups = np.concatenate(groups)
    if groups.size * (n_groups + 1) <= _GROUP_MASK_ENTRIES:
        # Row 0 adds up every square (the global norm), row 1 + k those of
        # group k; summing along rows reads the squares in order.
        jnp = jax.numpy
        row = jnp.arange(n_groups + 1, dtype="int32")[:, None]
        member = (row == 0) | (row == jnp.asarray(groups + 1)[None, :])
        totals = jnp.sum(jnp.where(member, squares[None, :], 0.0), axis=1)
    else:
        per_group = ops.segment_sum(squares, groups, num_segments=n_groups)
        totals = ops.concatenate([ops.sum(per_group, keepdims=True), per_group])
    return totals


def _unless_skipped(values, scale, new_scale):
    """NaN values for a step that a LossScaleOptimizer skipped.

    It skips a step whose loss-scaled gradients are not finite (an
    overflow, routine while the scale settles) and halves its scale
    instead, the only case in which the scale goes down.
    """
    ops = keras.ops
    skipped = ops.less(
        ops.cast(new_scale, "float32"), ops.cast(scale, "float32")
    )
    return ops.where(skipped, ops.full_like(values, np.nan), values)


def _inverse(scale):
    """`1 / scale` in float32, or `None` without a loss scale.

    The gradients are unscaled before they are squared: the square of a
    loss-scaled gradient can overflow float32 where the gradient does not.
    """
    if scale is None:
        return None
    return 1.0 / keras.ops.cast(scale, "float32")


def _dense(grad, backend):
    if (
        backend == "tensorflow"
        and hasattr(grad, "indices")
        and hasattr(grad, "dense_shape")
    ):
        import tensorflow as tf

        return tf.convert_to_tensor(grad)
    return grad


def _all_reduce_sum(grads):
    """Sums gradients over replicas when a tf.distribute strategy runs."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1 or not grads:
        return grads
    return context.all_reduce(tf.distribute.ReduceOp.SUM, grads)


def _in_strategy():
    """Whether a tf.distribute strategy other than the default one runs."""
    import tensorflow as tf

    return tf.distribute.has_strategy()


def _to_list(packed):
    """Packed squared norms as (nested) lists of norms, Python floats."""
    # `np.asarray` reads a TensorFlow or JAX array in about half the time
    # of `keras.ops.convert_to_numpy`, once per recorded step.
    return np.sqrt(np.asarray(packed)).tolist()


def _ready_count(unread):
    """How many of the first unread records have their norms computed.

    Steps finish in order, so the computed ones come first. Arrays without
    `is_ready` (TensorFlow's, PyTorch's) count as computed: reading one
    waits for it if need be.
    """
    for count, (_, _, packed) in enumerate(unread):
        is_ready = getattr(packed, "is_ready", None)
        if is_ready is not None and not is_ready():
            return count
    return len(unread)


def _unique(names):
    seen = {}
    result = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        result.append(name)
    return result


def _positive(values):
    values = np.asarray(values, dtype="float64")
    return np.where(values > 0, values, np.nan)


def _is_positive_number(value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.number)
    ):
        return False
    if not math.isfinite(value):
        return False
    return value >= 0 if allow_zero else value > 0
