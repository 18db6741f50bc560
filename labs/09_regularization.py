# %%
"""Lab 09: Regularization.

Objectives:
- Write the regularized objective, loss(data | model) + lambda * complexity,
  and check Keras's L1, L2 and L1L2 penalties against the formulas.
- Fit the same linear model with L1 (lasso), L2 (ridge) and elastic net
  penalties on data where only a few features matter, and count the weights
  each drives to (numerically) zero: L1 the most, L2 the fewest, elastic net
  in between.
- See why: L1 pulls every weight towards zero with the same force, L2 with a
  force proportional to the weight; and how each treats two nearly
  identical features.
- Over-fit a wide network on a few hundred digits and narrow its
  train/validation gap with dropout.
- Dropout's mechanism: the random mask and the 1/(1-p) scaling, written by
  hand, equal `keras.layers.Dropout` in training; at inference it is the
  identity. The ensemble view, measured: the average of many masked
  networks against the one inference network.
- Stop training with `mlkeras.callbacks.EarlyStopping` when the validation
  loss stops improving, and get the best epoch's weights back.

Runtime: about 14 s with --quick, 45 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting
from mlkeras.callbacks import EarlyStopping

LAB = "09_regularization"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

N_FEATURES = 40

TRUE_WEIGHTS = {0: 2.0, 1: 2.0, 2: -3.0, 3: 1.5, 4: -1.0}  # the rest are 0

ZERO_TOLERANCE = 1e-2

LAMBDA = 0.1

PASSES_PER_EPOCH = 10


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains for fewer epochs and
# compares fewer dropout rates.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the training lengths."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    linear_epochs = 40 if args.quick else 150
    passes = 100 if args.quick else 200
    rates = (0.0, 0.5) if args.quick else (0.0, 0.2, 0.5)
    patience = 10
    run.keep(linear_epochs=linear_epochs, passes=passes, patience=patience)
    run.keep(rates=rates)


# %% [markdown]
# ## 1. The regularized objective
#
# Regularisation adds a penalty on the weights to the loss:
# `loss(data | model) + lambda * penalty(w)`. L1 sums `|w|`, L2 sums `w^2`,
# the elastic net both; the numbers match `keras.regularizers`.


# %%
def penalties():
    """Name -> Keras regularizer, with the same total strength `LAMBDA`."""
    return {
        "none": None,
        "L2": keras.regularizers.L2(LAMBDA),
        "elastic net": keras.regularizers.L1L2(l1=LAMBDA / 2, l2=LAMBDA / 2),
        "L1": keras.regularizers.L1(LAMBDA),
    }


def regularized_objective(run):
    """Computes the L1, L2 and elastic-net penalties by hand and with Keras."""
    print(
        "1. The regularized objective: loss(data | model) + lambda * "
        "complexity(model); the penalties by hand and in Keras"
    )
    w = np.array([0.5, -2.0, 0.0, 1e-3], dtype="float32")
    by_hand = {
        "L1": LAMBDA * np.abs(w).sum(),
        "L2": LAMBDA * np.square(w).sum(),
        "elastic net": LAMBDA / 2 * (np.abs(w).sum() + np.square(w).sum()),
    }
    by_keras = {
        name: float(keras.ops.convert_to_numpy(reg(w)))
        for name, reg in penalties().items()
        if reg is not None
    }
    labs.print_table(
        f"lambda = {LAMBDA}, w = {w.tolist()}",
        ("penalty", "formula", "by hand", "Keras"),
        [
            (name, formula, float(by_hand[name]), by_keras[name])
            for name, formula in (
                ("L1", "lambda * sum|w|"),
                ("L2", "lambda * sum w^2"),
                ("elastic net", "lambda/2 * (sum|w| + sum w^2)"),
            )
        ],
    )
    run.keep(by_hand=by_hand, by_keras=by_keras)


# %% [markdown]
# ## 2. Sparsity: L1 zeroes weights, L2 shrinks them
#
# Only a few of the features matter. L1's constant pull drives the
# irrelevant weights to exactly zero; L2's pull shrinks with the weight, so
# it makes them small but not zero.


# %%
def make_sparse_regression(n_samples, seed):
    """Standardised features, of which only the first five matter.

    Features 0 and 1 are near copies (correlation about 0.99), to show how
    L1 and L2 share weight between correlated inputs.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, N_FEATURES))
    x[:, 1] = x[:, 0] + 0.1 * rng.normal(size=n_samples)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    w = np.zeros(N_FEATURES)
    for index, value in TRUE_WEIGHTS.items():
        w[index] = value
    y = x @ w + 0.5 * rng.normal(size=n_samples)
    return x.astype("float32"), y.astype("float32")[:, None]


def fit_linear(x, y, regularizers, epochs, seed):
    """One linear model per penalty, all trained side by side.

    The heads share the input and the batches but no weight: the loss is the
    sum of each head's MSE and each head's own penalty, so every head gets
    exactly the gradient it would get if it were trained alone (and Keras
    builds one training step instead of four).

    Returns:
        Name -> the head's kernel as a 1-D array.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    # Every weight starts at zero: a penalty that can hold a weight at zero
    # shows it by never letting it leave.
    heads = [
        keras.layers.Dense(
            1,
            kernel_initializer="zeros",
            kernel_regularizer=reg,
            name=f"linear_{i}",
        )(inputs)
        for i, reg in enumerate(regularizers.values())
    ]
    model = keras.Model(inputs, keras.layers.Concatenate()(heads))

    def summed_mse(y_true, y_pred):
        return keras.ops.sum(keras.ops.square(y_true - y_pred), axis=-1)

    steps = int(np.ceil(len(x) / 32))
    model.compile(
        keras.optimizers.SGD(0.02),
        summed_mse,
        jit_compile=False,
        steps_per_execution=steps,
    )
    model.fit(
        x,
        np.repeat(y, len(heads), axis=1),
        epochs=epochs,
        batch_size=32,
        verbose=0,
    )
    return {
        name: model.get_layer(f"linear_{i}").get_weights()[0][:, 0]
        for i, name in enumerate(regularizers)
    }


def sparsity(run):
    """Fits a linear model with each penalty and counts the zeroed weights."""
    args, linear_epochs = run.args, run.linear_epochs
    print(
        f"\n2. Sparsity: {N_FEATURES} features, {len(TRUE_WEIGHTS)} matter; "
        f"a linear model per penalty, SGD, {linear_epochs} epochs"
    )
    x, y = make_sparse_regression(400, args.seed)
    weights = fit_linear(x, y, penalties(), linear_epochs, args.seed)
    irrelevant = np.array([i not in TRUE_WEIGHTS for i in range(N_FEATURES)])
    sparsity = {}
    for name, wk in weights.items():
        sparsity[name] = {
            "zero_weights": int(np.sum(np.abs(wk) < ZERO_TOLERANCE)),
            "zero_weights_tol_1e-3": int(np.sum(np.abs(wk) < 1e-3)),
            "relevant_kept": int(
                np.sum(np.abs(wk[~irrelevant]) >= ZERO_TOLERANCE)
            ),
            "irrelevant_zeroed": int(
                np.sum(np.abs(wk[irrelevant]) < ZERO_TOLERANCE)
            ),
            "irrelevant_mean_abs": float(np.mean(np.abs(wk[irrelevant]))),
            "weight_l2_norm": float(np.linalg.norm(wk)),
            "weights": wk,
            "twin_weights": [float(wk[0]), float(wk[1])],
        }
    labs.print_table(
        f"Weights with |w| < {ZERO_TOLERANCE}, of {N_FEATURES}",
        (
            "penalty",
            "zero weights",
            "|w| < 1e-3",
            "mean |w|, irrelevant",
            "||w||",
            "twins w0, w1 (true 2, 2)",
        ),
        [
            (
                name,
                s["zero_weights"],
                s["zero_weights_tol_1e-3"],
                s["irrelevant_mean_abs"],
                s["weight_l2_norm"],
                f"{s['twin_weights'][0]:.2f}, {s['twin_weights'][1]:.2f}",
            )
            for name, s in sparsity.items()
        ],
    )
    run.keep(sparsity=sparsity, weights=weights)


# %% [markdown]
# ## 3. Dropout
#
# A wide network memorises 100 noisy points: training loss falls while
# validation loss rises. Dropout switches off random units at every step,
# so no unit can rely on another, and the gap narrows.


# %%
def _compile(model, outputs, steps):
    model.compile(
        keras.optimizers.Adam(1e-2),
        {
            name: keras.losses.BinaryCrossentropy(from_logits=True)
            for name in outputs
        },
        metrics={
            name: [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
            for name in outputs
        },
        jit_compile=False,
        steps_per_execution=steps,
    )


def branch(inputs, rate, prefix, width=128):
    """Two wide ReLU layers, each followed by dropout when `rate` > 0."""
    h = inputs
    for i in (1, 2):
        h = keras.layers.Dense(
            width, activation="relu", name=f"{prefix}_hidden_{i}"
        )(h)
        if rate:
            h = keras.layers.Dropout(rate, name=f"{prefix}_dropout_{i}")(h)
    return keras.layers.Dense(1, name=prefix)(h)


def dropout_comparison(train, val, rates, passes, seed):
    """Trains one network per dropout rate on the same batches, side by side.

    The networks share only the input; the total loss is the sum of theirs,
    so each trains as if alone. Both sets are scored afterwards in inference
    mode (dropout off).
    """
    keras.utils.set_random_seed(seed)
    names = {rate: f"dropout_{rate:g}".replace(".", "") for rate in rates}
    inputs = keras.Input((2,))
    model = keras.Model(
        inputs, {names[r]: branch(inputs, r, names[r]) for r in rates}
    )
    (x, y), (xv, yv) = train, val
    # Ten passes over the data per Keras epoch, run as one compiled call:
    # the curves get a point every ten passes and the lab stays fast.
    x, y = np.tile(x, (PASSES_PER_EPOCH, 1)), np.tile(y, PASSES_PER_EPOCH)
    _compile(model, list(names.values()), steps=len(x) // 25)
    history = model.fit(
        x,
        {n: y for n in names.values()},
        validation_data=(xv, {n: yv for n in names.values()}),
        validation_batch_size=len(xv),
        epochs=passes // PASSES_PER_EPOCH,
        batch_size=25,
        verbose=0,
    ).history
    scores = {}
    for part, (xs, ys) in (("train", train), ("val", val)):
        scores[part] = model.evaluate(
            xs,
            {n: ys for n in names.values()},
            batch_size=len(xs),
            verbose=0,
            return_dict=True,
        )
    results = {}
    for rate, name in names.items():
        r = {
            "rate": rate,
            "train_loss_history": [float(v) for v in history[f"{name}_loss"]],
            "val_loss_history": [float(v) for v in history[f"val_{name}_loss"]],
            "train_loss": float(scores["train"][f"{name}_loss"]),
            "val_loss": float(scores["val"][f"{name}_loss"]),
            "train_accuracy": float(scores["train"][f"{name}_accuracy"]),
            "val_accuracy": float(scores["val"][f"{name}_accuracy"]),
        }
        r["loss_gap"] = r["val_loss"] - r["train_loss"]
        r["accuracy_gap"] = r["train_accuracy"] - r["val_accuracy"]
        results["no dropout" if rate == 0 else f"dropout {rate:g}"] = r
    return results, model


def dropout(run):
    """Trains a wide network on few noisy points with and without dropout."""
    args, passes, rates = run.args, run.passes, run.rates
    print(
        f"\n3. Dropout: wide ReLU networks on 100 noisy moons, {passes} "
        "passes of Adam, one network per dropout rate on the same batches"
    )
    train = datasets.make_moons(100, noise=0.3, seed=args.seed)
    val = datasets.make_moons(1000, noise=0.3, seed=args.seed + 1000)
    nets, model = dropout_comparison(train, val, rates, passes, args.seed)
    labs.print_table(
        "Scored after training, dropout off",
        (
            "model",
            "train acc",
            "val acc",
            "acc gap",
            "train loss",
            "val loss",
            "loss gap",
        ),
        [
            (
                name,
                r["train_accuracy"],
                r["val_accuracy"],
                r["accuracy_gap"],
                r["train_loss"],
                r["val_loss"],
                r["loss_gap"],
            )
            for name, r in nets.items()
        ],
    )
    run.keep(nets=nets, train=train, val=val, dropout_model=model)


# %% [markdown]
# ## 3a. How dropout works
#
# In training, dropout with rate p draws a random mask: each unit is kept
# with probability 1 - p and set to exactly zero otherwise, and the kept
# units are multiplied by 1 / (1 - p) so that every unit's expected value
# is unchanged. At inference the layer does nothing. Below, the mask is
# read off `keras.layers.Dropout`'s output (a unit is dropped where the
# output is zero) and the layer is rebuilt by hand from it.


# %%
def dropout_by_hand(x, keep, rate):
    """Training-mode dropout: kept units scaled by 1 / (1 - rate)."""
    return np.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)


def dropout_mechanism(run, rate=0.3, shape=(500, 200)):
    """Compares keras.layers.Dropout with the formula, in both modes."""
    rng = np.random.default_rng(run.args.seed)
    x = rng.uniform(0.5, 1.5, size=shape).astype("float32")  # never zero
    layer = keras.layers.Dropout(rate, seed=run.args.seed)
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    keep = trained != 0
    by_hand = dropout_by_hand(x, keep, rate)
    n = keep.size
    checks = {
        "rate": rate,
        "dropped_fraction": float(1.0 - keep.mean()),
        "binomial_std": float(np.sqrt(rate * (1 - rate) / n)),
        "kept_scale_max_error": float(
            np.max(np.abs(trained[keep] / x[keep] - 1 / (1 - rate)))
        ),
        "by_hand_max_abs_diff": float(np.max(np.abs(by_hand - trained))),
        "mean_ratio": float(trained.mean() / x.mean()),
        "inference_max_abs_diff": float(
            np.max(np.abs(keras.ops.convert_to_numpy(layer(x)) - x))
        ),
    }
    print(f"\n3a. Dropout with rate {rate} on {n} units, by hand and by Keras")
    print(
        f"   dropped {checks['dropped_fraction']:.4f} of the units (p = "
        f"{rate}, binomial std {checks['binomial_std']:.4f}); kept units "
        f"scaled by 1/(1-p) to {checks['kept_scale_max_error']:.1e}; the "
        f"formula with the layer's mask differs by "
        f"{checks['by_hand_max_abs_diff']:.1e}"
    )
    print(
        f"   mean of the output / mean of the input: "
        f"{checks['mean_ratio']:.4f}; at inference the layer changes "
        f"nothing (largest change {checks['inference_max_abs_diff']:.1g})"
    )
    run.keep(dropout_mechanism=checks)


# %% [markdown]
# ## 3b. Dropout as an ensemble
#
# Every mask picks a different thinned network that shares its weights
# with all the others; training with dropout trains this whole family at
# once. The inference network, with every unit on and no rescaling
# needed, is a cheap stand-in for the average of the family. Measured on
# the trained dropout network of section 3: the average of many masked
# networks' predictions against the single inference network.


# %%
def ensemble_view(run, n_masks=(1, 10, 100)):
    """Averages the predictions of many masked copies of the net."""
    model, (xv, yv) = run.dropout_model, run.val
    name = f"dropout_{max(run.rates):g}".replace(".", "")
    inference = keras.ops.sigmoid(model(xv, training=False)[name])
    inference = keras.ops.convert_to_numpy(inference)[:, 0]
    samples = [
        keras.ops.convert_to_numpy(
            keras.ops.sigmoid(model(xv, training=True)[name])
        )[:, 0]
        for _ in range(max(n_masks))
    ]
    rows = []
    for k in n_masks:
        average = np.mean(samples[:k], axis=0)
        rows.append(
            {
                "masks": k,
                "mean_abs_diff_from_inference": float(
                    np.mean(np.abs(average - inference))
                ),
                "accuracy": float(np.mean((average > 0.5) == yv)),
            }
        )
    inference_accuracy = float(np.mean((inference > 0.5) == yv))
    labs.print_table(
        f"3b. Averaging masked copies of the dropout {max(run.rates):g} "
        f"network (validation set; the inference network scores "
        f"{inference_accuracy:.3f})",
        ("masks averaged", "mean |p_avg - p_inference|", "accuracy"),
        [
            (r["masks"], r["mean_abs_diff_from_inference"], r["accuracy"])
            for r in rows
        ],
    )
    print(
        "   more masks bring the average closer to the inference network, "
        "but not all the way: the network is not linear, so the mean of the "
        "thinned networks' outputs is near, not equal to, the output of the "
        "network with every unit on."
    )
    run.keep(
        dropout_ensemble={
            "rows": rows,
            "inference_accuracy": inference_accuracy,
        }
    )


# %% [markdown]
# ## 4. Early stopping
#
# `mlkeras.callbacks.EarlyStopping` watches the validation loss, stops
# after `patience` epochs without improvement and restores the best
# weights.


# %%
def early_stopping_run(train, val, max_epochs, patience, seed):
    """The over-fitting network alone, stopped by `EarlyStopping`."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((2,))
    model = keras.Model(inputs, branch(inputs, 0.0, "net"))
    _compile(model, ["net"], steps=len(train[0]) // 25)
    stopper = EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    history = model.fit(
        *train,
        validation_data=val,
        validation_batch_size=len(val[0]),
        epochs=max_epochs,
        batch_size=25,
        verbose=0,
        callbacks=[stopper],
    ).history
    val_loss = float(
        model.evaluate(
            *val, batch_size=len(val[0]), verbose=0, return_dict=True
        )["loss"]
    )
    val_history = [float(v) for v in history["val_loss"]]
    return stopper, {
        "max_epochs": max_epochs,
        "patience": patience,
        "epochs_run": len(val_history),
        "best_epoch": int(stopper.best_epoch),
        "stopped_epoch": int(stopper.stopped_epoch),
        "best": float(stopper.best),
        "stop_reason": stopper.stop_reason,
        "val_loss_history": val_history,
        "train_loss_history": [float(v) for v in history["loss"]],
        "val_loss_after_restore": val_loss,
        "last_val_loss_seen": val_history[-1],
        # The model now holds the best epoch's weights: evaluating them
        # gives back the validation loss recorded at that epoch.
        "restored_matches_best": bool(
            np.isclose(
                val_loss, val_history[stopper.best_epoch], rtol=1e-4, atol=1e-6
            )
        ),
    }


def early_stopping(run):
    """Stops training when the validation loss stops improving."""
    args, passes, patience = run.args, run.passes, run.patience
    train, val = run.train, run.val
    print("\n4. Early stopping on the over-fitting network (no dropout)")
    _, early = early_stopping_run(train, val, passes * 2, patience, args.seed)
    print(f"   stop_reason: {early['stop_reason']}")
    labs.print_table(
        f"mlkeras.callbacks.EarlyStopping(monitor='val_loss', "
        f"patience={patience}, restore_best_weights=True)",
        (
            "max epochs",
            "epochs run",
            "best epoch",
            "best val loss",
            "last val loss seen",
            "val loss after restore",
        ),
        [
            (
                early["max_epochs"],
                early["epochs_run"],
                early["best_epoch"] + 1,
                early["best"],
                early["last_val_loss_seen"],
                early["val_loss_after_restore"],
            )
        ],
    )
    run.keep(early=early)


# %% [markdown]
# Weights sorted by size, the loss curves with and without dropout, and
# where early stopping stopped.


# %%
def plot_regularization(run):
    """Draws the weights, the dropout curves and the early stop."""
    early, nets, out, sparsity = run.early, run.nets, run.out, run.sparsity
    weights = run.weights
    fig, axes = plotting.new_figure(1, 3, width=5.0, height=4.0)
    rank = np.arange(1, N_FEATURES + 1)
    for name, wk in weights.items():
        axes[0].semilogy(
            rank,
            np.sort(np.abs(wk)) + 1e-7,
            marker=".",
            label=f"{name}: {sparsity[name]['zero_weights']} below the line",
        )
    axes[0].axhline(ZERO_TOLERANCE, color="k", linestyle=":")
    axes[0].set_xlabel("weights, sorted by size")
    axes[0].set_ylabel("|weight|")
    axes[0].set_title("L1 zeroes weights, L2 only shrinks them")
    axes[0].legend(fontsize="small")
    for name, r in nets.items():
        shown = PASSES_PER_EPOCH * np.arange(1, len(r["val_loss_history"]) + 1)
        (line,) = axes[1].plot(
            shown, r["train_loss_history"], marker=".", label=f"{name}: train"
        )
        axes[1].plot(
            shown,
            r["val_loss_history"],
            "--",
            marker=".",
            color=line.get_color(),
            label=f"{name}: validation",
        )
    axes[1].set_yscale("log")
    axes[1].set_xlabel("passes over the training set")
    axes[1].set_ylabel("loss (train: dropout on)")
    axes[1].set_title("dropout narrows the train/validation gap")
    axes[1].legend(fontsize="small")
    axes[2].plot(early["val_loss_history"], label="validation loss")
    axes[2].plot(early["train_loss_history"], label="training loss")
    axes[2].axvline(
        early["best_epoch"],
        color="g",
        linestyle="--",
        label="best epoch (restored)",
    )
    axes[2].axvline(
        early["epochs_run"] - 1, color="r", linestyle=":", label="stopped"
    )
    axes[2].set_yscale("log")
    axes[2].set_xlabel("epoch")
    axes[2].set_title("mlkeras.callbacks.EarlyStopping")
    axes[2].legend(fontsize="small")
    labs.save_figure(fig, out, "regularization")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    by_hand, by_keras, early = run.by_hand, run.by_keras, run.early
    nets, sparsity = run.nets, run.sparsity
    results = {
        "lambda": LAMBDA,
        "zero_tolerance": ZERO_TOLERANCE,
        "penalty_by_hand": {k: float(v) for k, v in by_hand.items()},
        "penalty_by_keras": by_keras,
        "sparsity": sparsity,
        "dropout": nets,
        "dropout_mechanism": run.dropout_mechanism,
        "dropout_ensemble": run.dropout_ensemble,
        "early_stopping": early,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    early, nets, sparsity = run.early, run.nets, run.sparsity
    s, d = sparsity, nets
    dropped = d["dropout 0.5"]
    print(
        "\nSummary: Keras's penalties are exactly lambda * sum|w|, lambda * "
        "sum w^2 and their mix. With the same lambda the L1 model ended with "
        f"{s['L1']['zero_weights']} of {N_FEATURES} weights below "
        f"{ZERO_TOLERANCE}, elastic net with "
        f"{s['elastic net']['zero_weights']}, "
        f"L2 with {s['L2']['zero_weights']} and no penalty with "
        f"{s['none']['zero_weights']}. L1 did feature selection: it kept "
        f"{s['L1']['relevant_kept']} of the {len(TRUE_WEIGHTS)} features "
        f"that matter and zeroed {s['L1']['irrelevant_zeroed']} of the "
        f"{N_FEATURES - len(TRUE_WEIGHTS)} that do not. The L1 gradient is "
        "lambda * sign(w), a "
        "pull of the same size however small the weight, so a weight whose "
        "data gradient is weaker than lambda is held at zero (plain SGD "
        "keeps it jittering within about lr * lambda of zero, hence "
        "'numerically'; a proximal step would make it exact): the corners of "
        "the L1 diamond lie on the axes. The L2 gradient 2 * lambda * w "
        "fades as w shrinks, so L2 shrinks the weights (norm "
        f"{s['L2']['weight_l2_norm']:.2f} against "
        f"{s['none']['weight_l2_norm']:.2f} unpenalised) without zeroing "
        "them; elastic net, half of each, lands in between. On the two "
        "near-identical features L2 kept both weights "
        f"({s['L2']['twin_weights'][0]:.2f}, {s['L2']['twin_weights'][1]:.2f})"
        ": a squared penalty is smallest when correlated features share "
        "the weight, which makes ridge stable when inputs are correlated. "
        "L1 charges |a| + |b|, the same for every split of the same total, "
        "so which of the twins gets what is left to the optimisation path "
        f"(here {s['L1']['twin_weights'][0]:.2f}, "
        f"{s['L1']['twin_weights'][1]:.2f}); with a larger lambda lasso "
        "tends to keep one and drop the other. Without dropout the wide "
        "network fitted the noise of its 100 training points (train "
        f"accuracy {d['no dropout']['train_accuracy']:.0%}"
        f", validation {d['no dropout']['val_accuracy']:.0%}, loss gap "
        f"{d['no dropout']['loss_gap']:.2f}); with dropout 0.5 the loss gap "
        f"was {dropped['loss_gap']:.2f} and the accuracy gap "
        f"{dropped['accuracy_gap']:.1%} against "
        f"{d['no dropout']['accuracy_gap']:.1%}: a unit that cannot count on "
        "its partners cannot join them in memorising single points. "
        "EarlyStopping watched the validation loss, found its best at epoch "
        f"{early['best_epoch'] + 1}, stopped after {early['epochs_run']} of "
        f"{early['max_epochs']} epochs and put that epoch's weights back "
        f"(validation loss {early['val_loss_after_restore']:.3f}, against "
        f"{early['last_val_loss_seen']:.3f} at the last epoch it saw). It "
        "saves the remaining epochs and picks the epoch count for us, at the "
        "price of a held-out set and a patience to choose: too small a "
        "patience stops at the first noisy bump."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/09_regularization/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    regularized_objective(run)
    sparsity(run)
    dropout(run)
    dropout_mechanism(run)
    ensemble_view(run)
    early_stopping(run)
    plot_regularization(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 9, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write dropout's forward pass in training and at inference, measure the
# average of many masked networks (the grader compares it with its own
# measurement on a network you do not see), and write the L1, L2 and
# elastic-net penalties and the early-stopping rule in NumPy; the grader
# compares them with `keras.regularizers` and
# `keras.callbacks.EarlyStopping`.
#
# - Get the starter: `mlkeras exercise 09 -o lab09.py`
# - Check your work: `mlkeras check lab09.py --lab 09`

# %%
EXERCISE = (
    "dropout in training and at inference, the masked-network average, the "
    "weight penalties and the early-stopping rule, in NumPy"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
