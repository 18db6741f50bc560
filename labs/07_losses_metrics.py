# %%
"""Lab 07: Losses and metrics.

Objectives:
- Write MSE, MAE, MSLE, binary and categorical cross-entropy, sparse
  categorical cross-entropy and the KL divergence in NumPy, and check each
  against `keras.losses`.
- See that sparse and one-hot categorical cross-entropy are one loss with two
  label formats.
- Check that the KL divergence is never negative, is zero only when the two
  distributions agree, and is not symmetric.
- See what each loss rewards: the mean (MSE) or the median (MAE), relative
  errors (MSLE), and why a classifier is trained on cross-entropy rather than
  on squared error.
- Watch the metric Keras shows (accuracy) and the loss it optimises move
  differently during training.

Runtime: about 8 s with --quick, 20 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

from functools import partial

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "07_losses_metrics"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

EPSILON = 1e-7  # Keras clips probabilities to [EPSILON, 1 - EPSILON].


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains for fewer epochs and samples
# fewer distribution pairs.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the sizes."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    epochs = 60 if args.quick else 150
    n_pairs = 2000 if args.quick else 20000
    run.keep(epochs=epochs, n_pairs=n_pairs, rng=rng)


# %% [markdown]
# ## 1. Losses by hand against keras.losses
#
# Each loss is a few lines of NumPy: MSE, MAE, MSLE, binary and
# categorical cross-entropy (from probabilities and from logits), sparse
# categorical cross-entropy and the KL divergence. Each matches
# `keras.losses` to rounding.


# %%
def keras_value(fn, *args):
    """Calls a Keras loss and returns its per-sample values in float64."""
    return keras.ops.convert_to_numpy(fn(*args)).astype("float64")


def binary_crossentropy(y_true, p):
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.mean(
        -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)), axis=-1
    )


def binary_crossentropy_from_logits(y_true, z):
    # log(sigmoid(z)) = -softplus(-z) and log(1 - sigmoid(z)) = -softplus(z),
    # written with logaddexp so a logit of 1000 does not overflow.
    return np.mean(
        y_true * np.logaddexp(0, -z) + (1 - y_true) * np.logaddexp(0, z),
        axis=-1,
    )


def categorical_crossentropy(y_onehot, p):
    p = p / p.sum(axis=-1, keepdims=True)
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return -np.sum(y_onehot * np.log(p), axis=-1)


def kl_divergence(p, q):
    p = np.clip(p, EPSILON, 1)
    q = np.clip(q, EPSILON, 1)
    return np.sum(p * np.log(p / q), axis=-1)


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def mae(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2, axis=-1)


def msle(y_true, y_pred):
    return np.mean((np.log1p(y_pred) - np.log1p(y_true)) ** 2, axis=-1)


def sparse_categorical_crossentropy(labels, p):
    p = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return -np.log(p[np.arange(len(labels)), labels])


def loss_pairs(d):
    """`(name, by hand, by Keras)` per-sample losses for every loss."""
    losses = keras.losses
    y, pred = d["y_reg"], d["pred_reg"]
    y_bin, p_bin, z_bin = d["y_bin"], d["p_bin"], d["z_bin"]
    onehot, p_cat, z_cat = d["onehot"], d["p_cat"], d["z_cat"]
    bce_logits = partial(losses.binary_crossentropy, from_logits=True)
    cce_logits = partial(losses.categorical_crossentropy, from_logits=True)
    return [
        ("MSE", mse(y, pred), keras_value(losses.mean_squared_error, y, pred)),
        ("MAE", mae(y, pred), keras_value(losses.mean_absolute_error, y, pred)),
        (
            "MSLE",
            msle(y, pred),
            keras_value(losses.mean_squared_logarithmic_error, y, pred),
        ),
        (
            "BCE",
            binary_crossentropy(y_bin, p_bin),
            keras_value(losses.binary_crossentropy, y_bin, p_bin),
        ),
        (
            "BCE from logits",
            binary_crossentropy_from_logits(y_bin, z_bin),
            keras_value(bce_logits, y_bin, z_bin),
        ),
        (
            "CCE",
            categorical_crossentropy(onehot, p_cat),
            keras_value(losses.categorical_crossentropy, onehot, p_cat),
        ),
        (
            "CCE from logits",
            -np.sum(onehot * log_softmax(z_cat), axis=-1),
            keras_value(cce_logits, onehot, z_cat),
        ),
        (
            "sparse CCE",
            sparse_categorical_crossentropy(d["labels"], p_cat),
            keras_value(
                losses.sparse_categorical_crossentropy, d["labels"], p_cat
            ),
        ),
        (
            "KL divergence",
            kl_divergence(d["p_dist"], p_cat),
            keras_value(losses.kl_divergence, d["p_dist"], p_cat),
        ),
    ]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    return np.exp(log_softmax(z))


def sample_cases(rng, n=64, k=5):
    """Random targets and predictions for regression and classification."""
    y_reg = rng.uniform(0, 10, size=(n, 3)).astype("float32")
    noise = rng.normal(0, 2, size=y_reg.shape)
    y_bin = rng.integers(0, 2, size=(n, 1)).astype("float32")
    z_bin = rng.normal(0, 3, size=(n, 1)).astype("float32")
    labels = rng.integers(0, k, size=n).astype("int32")
    z_cat = rng.normal(0, 2, size=(n, k)).astype("float32")
    return {
        "y_reg": y_reg,
        "pred_reg": (y_reg + noise).clip(0).astype("float32"),
        "y_bin": y_bin,
        "z_bin": z_bin,
        "p_bin": sigmoid(z_bin).astype("float32"),
        "labels": labels,
        "onehot": np.eye(k, dtype="float32")[labels],
        "z_cat": z_cat,
        "p_cat": softmax(z_cat).astype("float32"),
        "p_dist": rng.dirichlet(np.ones(k), size=n).astype("float32"),
    }


def compare_with_keras(rng):
    """Each hand-written loss next to its `keras.losses` function."""
    d = sample_cases(rng)
    rows = {}
    for name, by_hand, by_keras in loss_pairs(d):
        rows[name] = {
            "mean_by_hand": float(np.mean(by_hand)),
            "mean_keras": float(np.mean(by_keras)),
            "max_abs_diff": float(np.max(np.abs(by_hand - by_keras))),
        }
    sparse = keras_value(
        keras.losses.sparse_categorical_crossentropy, d["labels"], d["p_cat"]
    )
    onehot = keras_value(
        keras.losses.categorical_crossentropy, d["onehot"], d["p_cat"]
    )
    return rows, float(np.max(np.abs(sparse - onehot)))


def losses_by_hand(run):
    """Computes every loss in NumPy and compares it with Keras."""
    rng = run.rng
    print("1. Losses by hand against keras.losses")
    by_hand, sparse_vs_onehot = compare_with_keras(rng)
    labs.print_table(
        "Per-sample losses: NumPy formula vs keras.losses",
        ("loss", "mean (NumPy)", "mean (Keras)", "max |difference|"),
        [
            (name, r["mean_by_hand"], r["mean_keras"], r["max_abs_diff"])
            for name, r in by_hand.items()
        ],
    )
    print(
        f"   sparse CCE (integer labels) vs CCE (one-hot labels): "
        f"max |difference| = {sparse_vs_onehot:.2g}"
    )
    run.keep(by_hand=by_hand, sparse_vs_onehot=sparse_vs_onehot)


# %% [markdown]
# ## 2. The KL divergence
#
# KL(p || q) measures how much q loses when it stands in for p: never
# negative, zero only when q equals p, and not symmetric, so it is no
# distance. Cross-entropy is entropy plus KL.


# %%
def entropy(p):
    p = np.clip(p, EPSILON, 1)
    return -np.sum(p * np.log(p), axis=-1)


def kl_properties(rng, n_pairs):
    """Non-negativity, zero at equality, asymmetry, and KL = H(p, q) - H(p)."""
    k = 6
    p = rng.dirichlet(np.ones(k) * 0.7, size=n_pairs)
    q = rng.dirichlet(np.ones(k) * 0.7, size=n_pairs)
    kl_pq = kl_divergence(p, q)
    kl_qp = kl_divergence(q, p)
    cross_entropy = -np.sum(p * np.log(np.clip(q, EPSILON, 1)), axis=-1)
    # Move q towards p: KL shrinks to 0 as the two distributions meet.
    blend = np.array([1.0, 0.5, 0.25, 0.1, 0.01, 0.0])
    path = [
        float(np.mean(kl_divergence(p, t * q + (1 - t) * p))) for t in blend
    ]
    return {
        "kl_min_over_random_pairs": float(kl_pq.min()),
        "kl_self_max": float(np.max(np.abs(kl_divergence(p, p)))),
        "kl_mean_asymmetry": float(np.mean(np.abs(kl_pq - kl_qp))),
        "kl_equals_cross_entropy_minus_entropy": float(
            np.max(np.abs(kl_pq - (cross_entropy - entropy(p))))
        ),
        "kl_along_blend": dict(zip(map(str, blend), path)),
    }


def kl_divergence_properties(run):
    """Checks that KL is never negative, zero only for equal distributions, and
    not symmetric.
    """
    n_pairs, rng = run.n_pairs, run.rng
    print("2. The KL divergence")
    kl = kl_properties(rng, n_pairs)
    print(
        f"   smallest KL(p || q) over {n_pairs} random pairs: "
        f"{kl['kl_min_over_random_pairs']:.4g}; largest |KL(p || p)|: "
        f"{kl['kl_self_max']:.2g}"
    )
    print(
        f"   mean |KL(p || q) - KL(q || p)| = {kl['kl_mean_asymmetry']:.3f} "
        f"(not symmetric); KL - (H(p, q) - H(p)) <= "
        f"{kl['kl_equals_cross_entropy_minus_entropy']:.2g}"
    )
    print(
        "   moving q to p, KL falls to 0: "
        + ", ".join(f"t={t}: {v:.4f}" for t, v in kl["kl_along_blend"].items())
    )
    run.keep(kl=kl)


# %% [markdown]
# ## 3. What each loss rewards
#
# MSE punishes large errors quadratically, MAE linearly; MSLE looks at
# ratios; cross-entropy punishes confident mistakes without bound.


# %%
def what_losses_reward(rng):
    """The best constant under MSE and MAE, MSLE's asymmetry, saturation."""
    y = np.concatenate(
        [rng.normal(10, 1, 95), rng.normal(60, 5, 5)]
    )  # 5 outliers
    grid = np.linspace(0, 40, 4001)
    best_mse = float(grid[np.argmin([np.mean((y - c) ** 2) for c in grid])])
    best_mae = float(grid[np.argmin([np.mean(np.abs(y - c)) for c in grid])])
    # MSLE compares log(1 + y): being 50 % low costs more than 50 % high, and
    # the same relative error costs about the same at every scale.
    under = float(msle(np.array([100.0]), np.array([50.0])))
    over = float(msle(np.array([100.0]), np.array([150.0])))
    scale_small = float(msle(np.array([10.0]), np.array([20.0])))
    scale_large = float(msle(np.array([1000.0]), np.array([2000.0])))
    # A sigmoid unit that is confidently wrong (logit -8 for label 1): the
    # gradient of each loss with respect to the logit.
    z, target = -8.0, 1.0
    s = sigmoid(z)
    grad_bce = s - target
    grad_mse = 2 * (s - target) * s * (1 - s)
    return {
        "outlier_data_mean": float(np.mean(y)),
        "outlier_data_median": float(np.median(y)),
        "best_constant_mse": best_mse,
        "best_constant_mae": best_mae,
        "msle_under_predict_half": under,
        "msle_over_predict_half": over,
        "msle_double_at_10": scale_small,
        "msle_double_at_1000": scale_large,
        "grad_wrt_logit_bce_confidently_wrong": float(grad_bce),
        "grad_wrt_logit_mse_confidently_wrong": float(grad_mse),
    }


def plot_loss_shapes(out, rewards):
    fig, axes = plotting.new_figure(1, 3, width=4.5)
    pred = np.linspace(0.01, 3, 300)
    target = np.ones_like(pred)
    axes[0].plot(pred, mse(target[:, None], pred[:, None]), label="MSE")
    axes[0].plot(pred, mae(target[:, None], pred[:, None]), label="MAE")
    axes[0].plot(pred, msle(target[:, None], pred[:, None]), label="MSLE")
    axes[0].set_xlabel("prediction (target = 1)")
    axes[0].set_ylabel("loss")
    axes[0].set_title("regression losses")
    axes[0].legend()
    p = np.linspace(0.001, 0.999, 300)
    axes[1].plot(p, -np.log(p), label="BCE, label 1")
    axes[1].plot(p, (1 - p) ** 2, label="squared error, label 1")
    axes[1].set_xlabel("predicted probability of class 1")
    axes[1].set_title("classification: cross-entropy vs squared error")
    axes[1].legend()
    t = np.linspace(0, 1, 50)
    p0, q0 = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    axes[2].plot(
        t,
        [kl_divergence(p0, s * q0 + (1 - s) * p0) for s in t],
        label="KL(p || q_t)",
    )
    axes[2].plot(
        t,
        [kl_divergence(s * q0 + (1 - s) * p0, p0) for s in t],
        label="KL(q_t || p)",
    )
    axes[2].set_xlabel("t, where q_t = (1 - t) p + t q")
    axes[2].set_title("KL divergence: >= 0, 0 at t = 0, asymmetric")
    axes[2].legend()
    labs.save_figure(fig, out, "loss_shapes")


def what_each_loss_rewards(run):
    """Shows how each loss grows with the error."""
    out, rng = run.out, run.rng
    print("3. What each loss rewards")
    rewards = what_losses_reward(rng)
    labs.print_table(
        "Loss behaviour",
        ("measurement", "value"),
        [(name.replace("_", " "), value) for name, value in rewards.items()],
    )
    plot_loss_shapes(out, rewards)
    run.keep(rewards=rewards)


# %% [markdown]
# ## 4. Same accuracy, different loss
#
# Accuracy only sees which side of 0.5 a prediction falls; the loss also
# sees how confident it is.


# %%
def same_accuracy_different_loss():
    """Two classifiers with equal accuracy and very different cross-entropy."""
    labels = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0])
    p_confident = np.where(labels == 1, 0.95, 0.05).astype("float64")
    p_hesitant = np.where(labels == 1, 0.55, 0.45).astype("float64")
    # One sample of each is wrong: the confident model is very sure about it.
    p_confident[0], p_hesitant[0] = 0.999, 0.55
    rows = {}
    for name, p in [("confident", p_confident), ("hesitant", p_hesitant)]:
        rows[name] = {
            "accuracy": float(np.mean((p >= 0.5) == labels)),
            "bce": float(
                np.mean(
                    binary_crossentropy(
                        labels[:, None].astype("float64"), p[:, None]
                    )
                )
            ),
        }
    return rows


def same_accuracy_different_loss_table(run):
    """Prints two classifiers with equal accuracy and different losses."""
    print("4. Same accuracy, different loss")
    same_acc = same_accuracy_different_loss()
    labs.print_table(
        "Ten predictions, one of them wrong",
        ("classifier", "accuracy", "binary cross-entropy"),
        [(k, v["accuracy"], v["bce"]) for k, v in same_acc.items()],
    )
    run.keep(same_acc=same_acc)


# %% [markdown]
# ## 5. The loss is optimised, the metric is shown
#
# Training lowers the loss, not the accuracy. On noisy moons the two
# sometimes move in opposite directions from one epoch to the next.


# %%
def _moons_split(seed):
    x, y = datasets.make_moons(400, noise=0.3, seed=seed)
    return (x[:200], y[:200]), (x[200:], y[200:])


def train_and_watch(seed, epochs):
    """A small classifier: the loss it optimises and the accuracy it shows."""
    (x, y), (x_val, y_val) = _moons_split(seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        "binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    history = model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=50,
        verbose=0,
    ).history
    evaluated_loss, evaluated_accuracy = model.evaluate(x, y, verbose=0)
    return history, float(evaluated_loss), float(evaluated_accuracy)


def disagreements(history):
    """Epoch-to-epoch changes where loss and accuracy tell different stories."""

    def count(loss, accuracy):
        d_loss = np.diff(loss)
        d_acc = np.diff(accuracy)
        return {
            # The loss improved but the accuracy did not.
            "loss_down_accuracy_not_up": int(
                np.sum((d_loss < 0) & (d_acc <= 0))
            ),
            # The loss got worse but the accuracy did not.
            "loss_up_accuracy_not_down": int(
                np.sum((d_loss > 0) & (d_acc >= 0))
            ),
            "epochs_compared": int(len(d_loss)),
        }

    train = count(np.array(history["loss"]), np.array(history["accuracy"]))
    val = count(
        np.array(history["val_loss"]), np.array(history["val_accuracy"])
    )
    val_loss = np.array(history["val_loss"])
    val_acc = np.array(history["val_accuracy"])
    best_loss_epoch = int(np.argmin(val_loss))
    best_acc_epoch = int(np.argmax(val_acc))
    return {
        "train": train,
        "validation": val,
        "best_val_loss_epoch": best_loss_epoch + 1,
        "best_val_accuracy_epoch": best_acc_epoch + 1,
        "val_loss_rise_after_its_minimum": float(val_loss[-1] - val_loss.min()),
        "val_accuracy_change_after_loss_minimum": float(
            val_acc[-1] - val_acc[best_loss_epoch]
        ),
    }


def plot_training(out, history):
    fig, axes = plotting.new_figure(1, 2)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, split in zip(axes, ["", "val_"]):
        ax.plot(
            epochs,
            history[split + "loss"],
            color="tab:red",
            label="loss (optimised)",
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy", color="tab:red")
        twin = ax.twinx()
        twin.plot(
            epochs,
            history[split + "accuracy"],
            color="tab:blue",
            label="accuracy (shown)",
        )
        twin.set_ylabel("accuracy", color="tab:blue")
        ax.set_title("training set" if not split else "validation set")
    labs.save_figure(fig, out, "loss_vs_accuracy")


def loss_against_metric(run):
    """Trains a classifier and counts epochs where
    loss and accuracy disagree.
    """
    args, epochs, out = run.args, run.epochs, run.out
    print(f"5. Training a classifier on noisy moons for {epochs} epochs")
    history, eval_loss, eval_accuracy = train_and_watch(args.seed, epochs)
    watch = disagreements(history)
    plot_training(out, history)
    labs.print_table(
        "Epoch-to-epoch changes where loss and accuracy disagree",
        (
            "data",
            "loss down, accuracy not up",
            "loss up, accuracy not down",
            "epochs compared",
        ),
        [
            (
                split,
                watch[split]["loss_down_accuracy_not_up"],
                watch[split]["loss_up_accuracy_not_down"],
                watch[split]["epochs_compared"],
            )
            for split in ("train", "validation")
        ],
    )
    print(
        f"   best validation loss at epoch {watch['best_val_loss_epoch']}, "
        f"best validation accuracy at epoch "
        f"{watch['best_val_accuracy_epoch']}"
    )
    print(
        f"   last epoch as shown by fit (a running mean over the epoch): "
        f"loss {history['loss'][-1]:.4f}; evaluate() with the final weights: "
        f"loss {eval_loss:.4f}"
    )
    run.keep(eval_accuracy=eval_accuracy, eval_loss=eval_loss, history=history)
    run.keep(watch=watch)


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    by_hand, eval_accuracy = run.by_hand, run.eval_accuracy
    eval_loss, history, kl = run.eval_loss, run.history, run.kl
    rewards, same_acc = run.rewards, run.same_acc
    sparse_vs_onehot, watch = run.sparse_vs_onehot, run.watch
    results = {
        "keras_comparison": by_hand,
        "max_abs_diff_all_losses": max(
            r["max_abs_diff"] for r in by_hand.values()
        ),
        "sparse_vs_onehot_max_abs_diff": sparse_vs_onehot,
        "kl": kl,
        "rewards": rewards,
        "same_accuracy": same_acc,
        "training": {
            "loss": history["loss"],
            "accuracy": history["accuracy"],
            "val_loss": history["val_loss"],
            "val_accuracy": history["val_accuracy"],
            "evaluate_loss": eval_loss,
            "evaluate_accuracy": eval_accuracy,
        },
        "disagreements": watch,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    n_pairs, results, rewards = run.n_pairs, run.results, run.rewards
    same_acc, watch = run.same_acc, run.watch
    worst = results["max_abs_diff_all_losses"]
    val_disagree = (
        watch["validation"]["loss_down_accuracy_not_up"]
        + watch["validation"]["loss_up_accuracy_not_down"]
    )
    print(
        "\nSummary: every loss written from its formula agrees with Keras to "
        f"{worst:.1g} per sample, and the sparse and one-hot forms of "
        "categorical cross-entropy are the same number: an integer label just "
        "picks the one log-probability a one-hot row would keep. The KL "
        f"divergence never went below zero over {n_pairs} random pairs, "
        "vanished as q slid onto p, and changed when the two were swapped, so "
        "it is no distance. The losses reward different things: on data with "
        f"five outliers the best constant under MSE is the mean "
        f"({rewards['best_constant_mse']:.1f}), under MAE the median "
        f"({rewards['best_constant_mae']:.1f}); MSLE charges "
        f"{rewards['msle_under_predict_half']:.3f} for predicting half the "
        f"target and {rewards['msle_over_predict_half']:.3f} for one and a "
        "half times it, and about the same for doubling 10 or 1000 "
        f"({rewards['msle_double_at_10']:.2f} and "
        f"{rewards['msle_double_at_1000']:.2f}). A sigmoid that "
        "is confidently wrong gets a gradient of "
        f"{rewards['grad_wrt_logit_bce_confidently_wrong']:.2f} from "
        "cross-entropy but only "
        f"{rewards['grad_wrt_logit_mse_confidently_wrong']:.1g} from squared "
        "error, which is why classifiers train on cross-entropy. Accuracy, "
        "the number fit shows, is not what it optimises: two classifiers with "
        "the same accuracy had cross-entropies of "
        f"{same_acc['confident']['bce']:.2f} (sure of itself, and sure of "
        "its one mistake) and "
        f"{same_acc['hesitant']['bce']:.2f} (hesitant), and during training "
        "the loss "
        "fell without the accuracy rising in "
        f"{watch['train']['loss_down_accuracy_not_up']} of "
        f"{watch['train']['epochs_compared']} epochs, because once a point "
        "is on the right side of the boundary, pushing its probability "
        "further still lowers the loss but cannot change the accuracy. On "
        "validation data the two disagreed in "
        f"{val_disagree} epochs; the validation loss was lowest at epoch "
        f"{watch['best_val_loss_epoch']}, the validation accuracy highest at "
        f"epoch {watch['best_val_accuracy_epoch']}"
        + (
            ", so the two numbers would stop training at different epochs. "
            if watch["best_val_loss_epoch"] != watch["best_val_accuracy_epoch"]
            else ". "
        )
        + "Watch the loss to see what "
        "training does, and the metric to see what the user gets."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/07_losses_metrics/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    losses_by_hand(run)
    kl_divergence_properties(run)
    what_each_loss_rewards(run)
    same_accuracy_different_loss_table(run)
    loss_against_metric(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 7, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write each loss per sample in NumPy; the grader compares them with
# `keras.losses`.
#
# - Get the starter: `mlkeras exercise 07 -o lab07.py`
# - Check your work: `mlkeras check lab07.py --lab 07`

# %%
EXERCISE = "the losses, per sample, in NumPy, as keras.losses computes them"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
