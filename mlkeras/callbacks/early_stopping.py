"""`EarlyStopping`: Keras's callback, plus smoothing, thresholds, NaN safety."""

import math
import warnings

import keras
import numpy as np

_MAX_HINTS = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "iou",
    "r2",
    "top_k",
    "specificity",
    "sensitivity",
)


class EarlyStopping(keras.callbacks.Callback):
    """Stops training when a monitored quantity stops improving.

    A drop-in for `keras.callbacks.EarlyStopping`: with the same arguments
    and the same sequence of monitored values it stops at the same epoch and
    restores the same weights, with one deliberate exception. Keras makes the
    first monitored value "best" even when it is NaN, after which nothing
    compares better, and `restore_best_weights` brings back that NaN epoch's
    weights; here a non-finite value is never best.

    Beyond Keras:

    - `min_delta_mode="relative"` asks for an improvement of at least
      `min_delta * |best|` instead of an absolute `min_delta`.
    - `smoothing` compares an exponential moving average of the monitored
      value, `s = smoothing * s + (1 - smoothing) * value`, instead of the
      noisy raw value (non-finite values do not enter the average).
    - `stop_on_nonfinite=True` stops at the first NaN or Inf and restores the
      best weights seen so far (the weights from before training when no
      finite value was seen).
    - `stopping_threshold` stops once the value is better than a target;
      `divergence_threshold` stops once it is worse than a limit.
    - After training, `stopped_epoch`, `best_epoch`, `best` and `stop_reason`
      (a short sentence, printed when `verbose`) say what happened.
    - A monitored key that is missing from the logs warns once, listing the
      keys that are there, or raises with `strict=True`.

    The monitored value may be anything Keras logs for a metric: a Python
    float, or a NumPy array or tensor holding one element (0-d, or shape
    `(1,)` as `keras.metrics.F1Score` gives for one class). A metric with
    several values raises a `ValueError` naming the key and its shape.
    Values are compared as Keras compares them, through `monitor_op`.

    One instance can serve several `fit` calls: its state is reset in
    `on_train_begin`. See Prechelt, "Early Stopping - But When?"
    (https://doi.org/10.1007/3-540-49430-8_3) for the stopping criteria.

    Args:
        monitor: the logs key to monitor. Defaults to `"val_loss"`.
        min_delta: the smallest change that counts as an improvement
            (absolute, or a fraction of `|best|`; see `min_delta_mode`).
            Defaults to `0`.
        patience: epochs without improvement after which training stops.
            Defaults to `0`.
        verbose: `0` is silent; `1` prints why and when training stopped and
            which weights were restored. Defaults to `0`.
        mode: `"min"`, `"max"`, or `"auto"` (inferred from the metric: losses
            and errors are minimised, accuracies maximised). Defaults to
            `"auto"`.
        baseline: the wait counter is reset only by values that also beat
            this baseline (as in Keras). Defaults to `None`.
        restore_best_weights: restore the weights of the best epoch when
            training ends. Defaults to `False`.
        start_from_epoch: epochs to wait before monitoring starts.
            Defaults to `0`.
        min_delta_mode: `"absolute"` or `"relative"`. Defaults to
            `"absolute"`.
        smoothing: exponential moving average factor in `[0, 1)`; `0` turns
            smoothing off. Values from the `start_from_epoch` warm-up enter
            the average too. Defaults to `0`.
        stop_on_nonfinite: stop at once when the monitored value is NaN or
            infinite, and restore the best weights. Defaults to `False`.
        stopping_threshold: stop once the (smoothed) value is better than
            this. Defaults to `None`.
        divergence_threshold: stop once the (smoothed) value is worse than
            this. Defaults to `None`.
        strict: raise a `KeyError` instead of warning when `monitor` is
            missing from the epoch logs. Defaults to `False`.

    Call arguments:
        This is a callback: pass it to `model.fit(callbacks=[...])`.

    Returns:
        After `fit`: `stopped_epoch` (0-based epoch at which training was
        stopped, 0 if it was not, as in Keras), `best_epoch`, `best` (the
        best, possibly smoothed, value as a Python float or NumPy scalar;
        `None` if none was finite), `stop_reason` (`None` if this callback
        did not stop training) and `monitor_op`, as in Keras: the
        comparison `monitor_op(a, b)` that is true when `a` is better than
        `b` (`keras.ops.less` or `keras.ops.greater`), set at the first
        epoch's end from `mode`. A `monitor_op` assigned before training is
        used as it is, and `min_delta` then asks for an improvement in the
        direction it favours (Keras's callback, given an assigned
        `keras.ops.less`, lets a value up to `min_delta` worse count as an
        improvement).

    Example:

    >>> stopper = mlkeras.callbacks.EarlyStopping(
    ...     monitor="val_loss", patience=5, smoothing=0.5,
    ...     min_delta=0.01, min_delta_mode="relative",
    ...     stop_on_nonfinite=True, restore_best_weights=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=100,
    ...           callbacks=[stopper])
    >>> stopper.stop_reason, stopper.best_epoch, stopper.best

    References:
        - Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks
          of the Trade, 1998.
        - `keras.callbacks.EarlyStopping`, whose behaviour this reproduces.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
        min_delta_mode="absolute",
        smoothing=0.0,
        stop_on_nonfinite=False,
        stopping_threshold=None,
        divergence_threshold=None,
        strict=False,
    ):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "`monitor` must be a non-empty string. "
                f"Received: monitor={monitor!r}"
            )
        if not _is_number(min_delta) or min_delta < 0:
            raise ValueError(
                "`min_delta` must be a non-negative number. "
                f"Received: min_delta={min_delta!r}"
            )
        if not _is_int(patience) or patience < 0:
            raise ValueError(
                "`patience` must be a non-negative integer. "
                f"Received: patience={patience!r}"
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                '`mode` must be one of "auto", "min", "max". '
                f"Received: mode={mode!r}"
            )
        if baseline is not None and not _is_number(baseline):
            raise ValueError(
                "`baseline` must be a number or None. "
                f"Received: baseline={baseline!r}"
            )
        if not _is_int(start_from_epoch) or start_from_epoch < 0:
            raise ValueError(
                "`start_from_epoch` must be a non-negative integer. "
                f"Received: start_from_epoch={start_from_epoch!r}"
            )
        if min_delta_mode not in ("absolute", "relative"):
            raise ValueError(
                '`min_delta_mode` must be "absolute" or "relative". '
                f"Received: min_delta_mode={min_delta_mode!r}"
            )
        if not _is_number(smoothing) or not 0 <= smoothing < 1:
            raise ValueError(
                "`smoothing` must be a number in [0, 1). "
                f"Received: smoothing={smoothing!r}"
            )
        for name, value in (
            ("stopping_threshold", stopping_threshold),
            ("divergence_threshold", divergence_threshold),
        ):
            if value is not None and (
                not _is_number(value) or not math.isfinite(value)
            ):
                raise ValueError(
                    f"`{name}` must be a finite number or None. "
                    f"Received: {name}={value!r}"
                )
        super().__init__()
        self.monitor = monitor
        self.min_delta = float(min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.min_delta_mode = min_delta_mode
        self.smoothing = float(smoothing)
        self.stop_on_nonfinite = bool(stop_on_nonfinite)
        self.stopping_threshold = (
            None if stopping_threshold is None else float(stopping_threshold)
        )
        self.divergence_threshold = (
            None
            if divergence_threshold is None
            else float(divergence_threshold)
        )
        self.strict = bool(strict)
        self.monitor_op = None
        self._minimize = None
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None
        self.stop_reason = None
        self._smoothed = None
        self._initial_weights = None
        self._seen_nonfinite = False
        self._missing_warned = False
        self._forced = False

    # ------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._reset()
        if self.stop_on_nonfinite or self.restore_best_weights:
            # Something finite to fall back on if no epoch ever is.
            self._initial_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor_op is None:
            self.monitor_op = (
                keras.ops.less if self._infer_direction() else keras.ops.greater
            )
        # The direction of the comparison, whatever function it is.
        self._minimize = bool(self.monitor_op(0.0, 1.0))
        raw = self._monitor_value(logs)
        if raw is None:
            return
        finite = math.isfinite(raw)
        if finite:
            if self._smoothed is None or self.smoothing == 0:
                self._smoothed = raw
            else:
                self._smoothed = (
                    self.smoothing * self._smoothed
                    + (1.0 - self.smoothing) * raw
                )
        else:
            self._seen_nonfinite = True
        current = self._smoothed if finite else raw

        if epoch < self.start_from_epoch:
            return

        if not finite and self.stop_on_nonfinite:
            self._stop(
                epoch,
                f"Epoch {epoch + 1}: `{self.monitor}` is "
                f"{raw}; stopping at the first non-finite "
                "value.",
                force_restore=True,
            )
            return

        self.wait += 1
        if finite and self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights or self.stop_on_nonfinite:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(
                current, self.baseline
            ):
                self.wait = 0
            self._threshold_stop(epoch, current)
            return

        if finite and self._threshold_stop(epoch, current):
            return
        if self.wait >= self.patience and epoch > 0:
            self._stop(
                epoch,
                f"Epoch {epoch + 1}: `{self.monitor}` did not "
                f"improve for {self.wait} epochs "
                f"(patience={self.patience}).",
            )

    def on_train_end(self, logs=None):
        if self.stop_reason is not None and self.verbose > 0:
            print(f"EarlyStopping: {self.stop_reason}")
        if not (self.restore_best_weights or self._forced):
            return
        if self.best_weights is not None:
            weights, source = (
                self.best_weights,
                (f"the end of the best epoch: {self.best_epoch + 1}"),
            )
        elif self._seen_nonfinite and self._initial_weights is not None:
            weights, source = (
                self._initial_weights,
                (f"before training (no epoch had a finite `{self.monitor}`)"),
            )
        else:
            return
        if self.verbose > 0:
            print(f"EarlyStopping: restoring model weights from {source}.")
        self.model.set_weights(weights)

    # ------------------------------------------------------------------

    def _stop(self, epoch, reason, force_restore=False):
        self.stopped_epoch = epoch
        self.stop_reason = reason
        self._forced = force_restore
        self.model.stop_training = True

    def _threshold_stop(self, epoch, current):
        if self.stopping_threshold is not None and self._better(
            current, self.stopping_threshold
        ):
            self._stop(
                epoch,
                f"Epoch {epoch + 1}: `{self.monitor}` reached "
                f"{current:.6g}, better than "
                f"stopping_threshold={self.stopping_threshold:g}.",
            )
            return True
        if self.divergence_threshold is not None and self._better(
            self.divergence_threshold, current
        ):
            self._stop(
                epoch,
                f"Epoch {epoch + 1}: `{self.monitor}` diverged "
                f"to {current:.6g}, worse than "
                "divergence_threshold="
                f"{self.divergence_threshold:g}.",
            )
            return True
        return False

    def _better(self, a, b):
        return bool(self.monitor_op(a, b))

    def _is_improvement(self, current, reference):
        # Keras's test, `monitor_op(current - min_delta, reference)` with
        # `min_delta` negated when minimising, on the same operands.
        if reference is None:
            return True
        delta = self.min_delta
        if self.min_delta_mode == "relative":
            delta = self.min_delta * abs(reference)
        shifted = current - (-delta if self._minimize else delta)
        return self._better(shifted, reference)

    def _monitor_value(self, logs):
        value = logs.get(self.monitor)
        if value is None:
            message = (
                f"EarlyStopping is monitoring `{self.monitor}`, which "
                "is not in the logs. Available keys: "
                f"{', '.join(sorted(logs)) or '(none)'}."
            )
            if self.strict:
                raise KeyError(message)
            if not self._missing_warned:
                self._missing_warned = True
                warnings.warn(message, stacklevel=3)
            return None
        return _as_scalar(value, self.monitor)

    def _infer_direction(self):
        if self.mode != "auto":
            return self.mode == "min"
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return True
        for metric in _flat_metrics(getattr(self.model, "metrics", [])):
            if metric.name == name:
                direction = getattr(metric, "_direction", None)
                if direction in ("up", "down"):
                    return direction == "down"
        lowered = name.lower()
        if any(hint in lowered for hint in _MAX_HINTS):
            return False
        if any(
            hint in lowered
            for hint in ("loss", "error", "crossentropy", "hinge", "divergence")
        ):
            return True
        raise ValueError(
            f"EarlyStopping cannot tell whether `{self.monitor}` should be "
            "minimised or maximised. Pass mode='min' or mode='max'. "
            f"Received: monitor={self.monitor!r}, mode='auto'"
        )


def _flat_metrics(metrics):
    for metric in metrics:
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)) and inner:
            yield from _flat_metrics(inner)
        yield metric


def _as_scalar(value, monitor):
    """A logged metric value as a Python float or a NumPy scalar.

    Python numbers become floats; arrays and tensors keep their dtype, so
    that comparisons see the same operands as in Keras's callback.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    array = np.asarray(keras.ops.convert_to_numpy(value))
    if array.size != 1:
        raise ValueError(
            f"EarlyStopping needs a single number in `{monitor}`, which holds "
            f"{array.size} values of shape {array.shape}. Monitor one value "
            "instead: the loss, or a metric that averages its values (for "
            "example `F1Score(average='macro')`). Received: "
            f"{monitor}.shape={array.shape}"
        )
    return array.reshape(())[()]


def _is_number(value):
    return not isinstance(value, bool) and isinstance(
        value, (int, float, np.number)
    )


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))
