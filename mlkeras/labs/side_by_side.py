"""Trains several small models in one `fit`: a speed-up for the labs.

A lab that compares layer kinds (SimpleRNN against LSTM, dot against
additive attention) builds one plain model per kind, exactly as a student
would. Training each with its own `fit` costs one graph trace and one
training loop per model, and tracing a step through recurrent layers takes
seconds. `fit_side_by_side` trains them together instead: one functional
model whose outputs are the members' outputs, one summed loss.

This changes nothing a member learns. Each member has its own weights and
its own loss term, so the gradient of the sum with respect to a member's
weights is that member's own gradient; an optimizer that treats every
variable on its own (SGD, Adam; `clipnorm` clips each variable's gradient
separately) then takes the same steps as a `fit` of that member alone, on
the same batches. The members keep their trained weights: use them as the
plain models they are.
"""

import keras
import numpy as np


def copy_start(models):
    """Starts every model from the first model's initial weights.

    Layer by layer, each model takes the first model's weights; weights that
    only a later model's layer has (a peephole LSTM's peepholes, after an
    LSTM's kernels) keep their own initial values.

    Args:
        models: models with the same layer structure, first one the source.
    """
    first, *others = models
    for model in others:
        for source, target in zip(first.layers, model.layers):
            shared = source.get_weights()
            target.set_weights(shared + target.get_weights()[len(shared) :])


def create_training_variables(model, x, ys):
    """Creates the optimizer's slots and the per-output loss trackers now.

    TensorFlow traces the training step once more when its first trace
    creates variables, and Keras creates these two kinds lazily inside that
    trace. Creating them beforehand saves that second trace; training is
    unchanged (`fit` resets the loss trackers at the start of every epoch).
    """
    model.optimizer.build(model.trainable_variables)
    model.compute_loss(
        x=x[:1],
        y=[y[:1] for y in ys],
        y_pred=[np.zeros_like(y[:1]) for y in ys],
    )


def fit_side_by_side(
    models,
    x,
    y,
    optimizer,
    loss,
    epochs,
    batch_size=32,
    sample_weight=None,
    shuffle=True,
    steps_per_execution=10,
):
    """Trains several models on the same data in one `fit`.

    Args:
        models: `{name: keras.Model}`, each mapping `x` to a prediction of
            `y`. The models need distinct `name`s; the dict's keys label
            the loss curves.
        x: the inputs, shared by every model.
        y: the targets, the same for every model.
        optimizer: a Keras optimizer that updates each variable on its own
            (SGD, Adam, RMSProp; with or without `clipnorm`).
        loss: a Keras loss, used for every model.
        epochs: passes over the data.
        batch_size: samples per update.
        sample_weight: optional per-sample (or per-step) loss weights.
        shuffle: whether `fit` shuffles the samples before each epoch.
        steps_per_execution: training steps per call into the compiled
            graph (it saves the Python round trip between steps).

    Returns:
        `{name: per-epoch training loss}`.

    Example:

    ```python
    models = {
        kind: keras.Sequential(
            [keras.Input((None, 2)), layer(8), keras.layers.Dense(1)],
            name=kind,
        )
        for kind, layer in (("GRU", keras.layers.GRU),
                            ("LSTM", keras.layers.LSTM))
    }
    curves = fit_side_by_side(
        models, x, y, keras.optimizers.Adam(0.01), "mse", epochs=5
    )
    ```
    """
    names = list(models)
    inputs = keras.Input(x.shape[1:])
    outputs = [models[name](inputs) for name in names]
    together = keras.Model(inputs, outputs, name="side_by_side")
    together.compile(
        optimizer,
        [loss] * len(names),
        jit_compile=False,
        steps_per_execution=steps_per_execution,
    )
    ys = [y] * len(names)
    create_training_variables(together, x, ys)
    history = together.fit(
        x,
        ys,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=shuffle,
        sample_weight=None
        if sample_weight is None
        else [sample_weight] * len(names),
        verbose=0,
    )
    # Each output is named after its model, and so is its loss curve; a
    # single output has only the total.
    keys = {
        name: f"{models[name].name}_loss" if len(names) > 1 else "loss"
        for name in names
    }
    return {
        name: [float(v) for v in history.history[keys[name]]] for name in names
    }
