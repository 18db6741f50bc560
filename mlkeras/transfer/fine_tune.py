"""`fine_tune`: the two-phase transfer-learning recipe in one call."""

import keras

from mlkeras.transfer.freezing import freeze, unfreeze
from mlkeras.transfer.losses import head_loss


def _check_epochs(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer. Received: "
            f"{name}={value!r}"
        )


def _check_rate(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
    ):
        raise ValueError(
            f"`{name}` must be a positive number. Received: {name}={value!r}"
        )


def _make_optimizer(optimizer, learning_rate):
    """A fresh optimizer of the requested kind with the given rate."""
    template = keras.optimizers.get(optimizer)
    config = template.get_config()
    config["learning_rate"] = learning_rate
    return type(template).from_config(config)


def _default_loss(model):
    units = model.output_shape[-1]
    return head_loss(2 if units == 1 else units)


def _merge(histories, model):
    keys = []
    for history in histories:
        keys.extend(k for k in history.history if k not in keys)
    combined = keras.callbacks.History()
    combined.history = {key: [] for key in keys}
    combined.epoch = []
    for history in histories:
        length = len(history.epoch)
        for key in keys:
            combined.history[key].extend(
                history.history.get(key, [None] * length)
            )
        combined.epoch.extend(history.epoch)
        combined.params = history.params
    combined.set_model(model)
    return combined


def fine_tune(
    model,
    train_data,
    validation_data,
    head_epochs,
    fine_tune_epochs,
    head_learning_rate=1e-3,
    fine_tune_learning_rate=1e-5,
    unfreeze_last=None,
    loss=None,
    metrics=("accuracy",),
    optimizer="adam",
    keep_batchnorm_frozen=True,
    callbacks=None,
    batch_size=None,
    verbose=0,
):
    """Trains a transfer model's head, then fine-tunes part of its base.

    Phase one freezes the base (`freeze`), compiles with
    `head_learning_rate` and trains the new head for `head_epochs`. Phase
    two unfreezes the base, or its last `unfreeze_last` layers, while
    keeping its BatchNormalization layers frozen (`unfreeze`), compiles
    again (Keras only sees a change of `trainable` after a compile) with
    the lower `fine_tune_learning_rate`, and continues for
    `fine_tune_epochs` more epochs. This follows the Keras guide to
    transfer learning and fine-tuning.

    Args:
        model: a model from `build_transfer_model` (or any model whose
            base `get_base` finds).
        train_data: what `model.fit` takes as its first argument: a
            `tf.data.Dataset`, a `keras.utils.PyDataset`, or an `(x, y)`
            tuple of arrays.
        validation_data: what `model.fit` takes as `validation_data`, or
            `None`.
        head_epochs: epochs of phase one (0 skips it).
        fine_tune_epochs: epochs of phase two (0 skips it).
        head_learning_rate: learning rate of phase one. Defaults to `1e-3`.
        fine_tune_learning_rate: learning rate of phase two, usually 10 to
            100 times lower. Defaults to `1e-5`.
        unfreeze_last: how many of the base's last layers phase two
            unfreezes. Defaults to `None` (the whole base).
        loss: the loss. Defaults to `None`: `head_loss` for the model's
            output width (integer labels).
        metrics: metrics to compile with. Defaults to `("accuracy",)`.
        optimizer: an optimizer name or instance; each phase gets a fresh
            copy with its own learning rate. Defaults to `"adam"`.
        keep_batchnorm_frozen: keep the base's BatchNormalization layers
            frozen, in inference mode, in phase two. Defaults to `True`.
        callbacks: Keras callbacks for both phases. Defaults to `None`.
        batch_size: batch size when `train_data` is a tuple of arrays.
            Defaults to `None` (Keras's 32).
        verbose: verbosity of `fit`. Defaults to `0`.

    Returns:
        One `keras.callbacks.History` covering both phases: `history` maps
        each metric to its per-epoch values (phase one's epochs first), with
        a `learning_rate` entry giving each epoch's learning rate; `epoch`
        lists the epoch numbers, 0 to `head_epochs + fine_tune_epochs - 1`.

    Example:

    >>> model = build_transfer_model("MobileNetV3Small", 3, weights=None,
    ...                              input_shape=(64, 64, 3))
    >>> history = fine_tune(model, (x, y), None, head_epochs=2,
    ...                     fine_tune_epochs=2, unfreeze_last=20)
    >>> len(history.history["loss"])
    4

    References:
        - Keras guide, "Transfer learning & fine-tuning":
          https://keras.io/guides/transfer_learning/
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model={model!r}"
        )
    _check_epochs("head_epochs", head_epochs)
    _check_epochs("fine_tune_epochs", fine_tune_epochs)
    _check_rate("head_learning_rate", head_learning_rate)
    _check_rate("fine_tune_learning_rate", fine_tune_learning_rate)
    if head_epochs + fine_tune_epochs == 0:
        raise ValueError(
            "At least one phase needs epochs. Received: head_epochs=0, "
            "fine_tune_epochs=0"
        )
    if loss is None:
        loss = _default_loss(model)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics or [])
    if isinstance(train_data, tuple):
        if len(train_data) != 2:
            raise ValueError(
                "`train_data` given as a tuple must be (x, y). Received: a "
                f"tuple of length {len(train_data)}"
            )
        x, y = train_data
    else:
        x, y = train_data, None

    phases = []
    if head_epochs:
        freeze(model)
        phases.append((head_learning_rate, 0, head_epochs))
    if fine_tune_epochs:
        phases.append(
            (
                fine_tune_learning_rate,
                head_epochs,
                head_epochs + fine_tune_epochs,
            )
        )

    histories = []
    for learning_rate, first_epoch, last_epoch in phases:
        if first_epoch > 0 or not head_epochs:
            unfreeze(
                model,
                last_n_layers=unfreeze_last,
                keep_batchnorm_frozen=keep_batchnorm_frozen,
            )
        model.compile(
            optimizer=_make_optimizer(optimizer, learning_rate),
            loss=loss,
            metrics=metrics,
        )
        history = model.fit(
            x,
            y,
            batch_size=batch_size,
            validation_data=validation_data,
            initial_epoch=first_epoch,
            epochs=last_epoch,
            callbacks=callbacks,
            verbose=verbose,
        )
        history.history["learning_rate"] = [float(learning_rate)] * len(
            history.epoch
        )
        histories.append(history)
    return _merge(histories, model)
