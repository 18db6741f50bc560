# %%
"""Lab 04: Gradient descent.

Objectives:
- Write the update theta <- theta - eta * grad L(theta) for linear regression
  in NumPy and check that Keras's SGD takes exactly the same steps.
- Run batch, stochastic and mini-batch gradient descent on the same problem:
  count the updates in one epoch (1, N and N/B) and compare the loss against
  updates, against epochs and against time.
- Measure how noisy a gradient estimated from B samples is.
- Find the learning rate where descent turns into divergence, and watch a
  rate that is too small crawl.

Runtime: about 12 s with --quick, 25 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import time

import keras
import numpy as np

from mlkeras import labs, plotting

LAB = "04_gradient_descent"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

FEATURES = 5


# %% [markdown]
# ## Settings and data
#
# A linear regression problem with a known answer: `--quick` (or `QUICK`
# in a notebook) uses fewer samples and epochs.


# %%
def make_regression(n, seed):
    """Standardised features and a noisy linear target: y = X w + b + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES))
    x[:, 1] = 0.6 * x[:, 0] + 0.8 * x[:, 1]  # some correlation
    w = rng.uniform(-2, 2, size=(FEATURES, 1))
    y = x @ w + 0.5 + rng.normal(0, 0.3, size=(n, 1))
    return x.astype("float32"), y.astype("float32")


def make_the_problem(run):
    """Picks the sizes and draws a linear regression problem."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    n = 128 if args.quick else 1024
    batch = 16
    epochs = 5 if args.quick else 10
    lr = 0.05
    lr_steps = 40 if args.quick else 100
    x, y = make_regression(n, args.seed)
    run.keep(batch=batch, epochs=epochs, lr=lr, lr_steps=lr_steps, n=n, x=x)
    run.keep(y=y)


# %% [markdown]
# ## 1. The update rule by hand, and Keras's SGD
#
# Gradient descent moves the parameters against the gradient of the loss:
# `theta <- theta - eta * grad L(theta)`. Five steps written in NumPy land
# on the same weights as five steps of `keras.optimizers.SGD`.


# %%
def mse_and_gradient(x, y, w, b):
    """L = mean((x w + b - y)^2) and its gradient (dL/dw, dL/db)."""
    residual = x @ w + b - y
    loss = float(np.mean(residual**2))
    grad_w = 2.0 * x.T @ residual / len(x)
    grad_b = 2.0 * np.mean(residual, axis=0)
    return loss, grad_w, grad_b


def linear_model(seed):
    """Dense(1) on FEATURES inputs: the linear regression model."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(1, name="linear")]
    )


def update_rule_by_hand(run):
    """Takes five full-batch steps in NumPy and five with Keras's SGD."""
    args, lr, n, x, y = run.args, run.lr, run.n, run.x, run.y
    print("1. The update rule by hand, and Keras's SGD")
    model = linear_model(args.seed)
    w, b = (
        v.astype("float64") for v in model.get_layer("linear").get_weights()
    )
    hand_losses = []
    for _ in range(5):
        loss, gw, gb = mse_and_gradient(x, y, w, b)
        hand_losses.append(loss)
        w, b = w - lr * gw, b - lr * gb
    model.compile(keras.optimizers.SGD(lr), "mse")
    model.fit(x, y, batch_size=n, epochs=5, verbose=0)
    kw, kb = model.get_layer("linear").get_weights()
    update_diff = float(max(np.max(np.abs(kw - w)), np.max(np.abs(kb - b))))
    print(
        f"   5 full-batch steps at eta = {lr}: loss {hand_losses[0]:.3f} -> "
        f"{mse_and_gradient(x, y, w, b)[0]:.3f}; NumPy and Keras weights "
        f"differ by at most {update_diff:.1e}"
    )
    run.keep(hand_losses=hand_losses, update_diff=update_diff)


# %% [markdown]
# ## 2. Batch, stochastic and mini-batch descent
#
# One epoch is one pass over the data. Batch descent takes one update per
# epoch, stochastic descent N, mini-batch N/B: more updates per epoch mean
# more progress per epoch, but each one is noisier.


# %%
class LossRecorder(keras.callbacks.Callback):
    """Records the full-data loss, and the time, after every update.

    The loss Keras logs during an epoch is an average over the batches seen
    so far, so instead the callback reads the current weights after each
    update and computes the mean squared error on the whole data set.
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def on_train_begin(self, logs=None):
        self.losses = [self._loss()]
        self.times = [0.0]
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(self._loss())
        self.times.append(time.perf_counter() - self._start)

    def _loss(self):
        w, b = self.model.get_layer("linear").get_weights()
        return mse_and_gradient(self.x, self.y, w, b)[0]


def train(x, y, batch_size, epochs, learning_rate, seed):
    """Plain SGD with the given batch size; returns the model and its record."""
    model = linear_model(seed)
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    recorder = LossRecorder(x, y)
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        callbacks=[recorder],
        verbose=0,
    )
    return model, recorder


def batch_sizes(run):
    """Trains with B = N, B = 1 and B = 16 and counts the updates per epoch."""
    args, batch, epochs, lr, n = run.args, run.batch, run.epochs, run.lr, run.n
    x, y = run.x, run.y
    print(
        f"2. Batch, stochastic and mini-batch descent: N = {n}, "
        f"{epochs} epochs, eta = {lr}"
    )
    variants = {
        "batch (B = N)": n,
        "stochastic (B = 1)": 1,
        f"mini-batch (B = {batch})": batch,
    }
    runs = {}
    for name, size in variants.items():
        fitted, record = train(x, y, size, epochs, lr, args.seed)
        updates = int(keras.ops.convert_to_numpy(fitted.optimizer.iterations))
        runs[name] = {
            "batch_size": size,
            "updates_per_epoch": updates // epochs,
            "samples_per_epoch": updates // epochs * size,
            "losses": record.losses,
            "times": record.times,
            "epoch_losses": record.losses[:: updates // epochs],
            "final_loss": record.losses[-1],
            "seconds": record.times[-1],
            "loss_after_epochs_updates": record.losses[epochs],
        }
    run.keep(runs=runs, variants=variants)


# %% [markdown]
# The least-squares solution gives the lowest loss any linear model can
# reach; each variant is measured against it.


# %%
def distance_to_the_optimum(run):
    """Compares each variant with the least-squares optimum."""
    epochs, hand_losses, n, runs = run.epochs, run.hand_losses, run.n, run.runs
    x, y = run.x, run.y
    design = np.hstack([x, np.ones((n, 1))]).astype("float64")
    optimum = np.linalg.lstsq(design, y, rcond=None)[0]
    noise_floor = float(np.mean((design @ optimum - y) ** 2))
    target = 2 * noise_floor
    for r in runs.values():
        hit = next(
            (t for t, v in zip(r["times"], r["losses"]) if v <= target), None
        )
        r["seconds_to_target"] = hit
    labs.print_table(
        "Same data, same learning rate, different batch sizes",
        (
            "method",
            "updates/epoch",
            "samples/epoch",
            f"loss after {epochs} updates",
            "after 1 epoch",
            f"after {epochs} epochs",
            "seconds",
            f"s to loss {target:.3f}",
        ),
        [
            (
                name,
                r["updates_per_epoch"],
                r["samples_per_epoch"],
                r["loss_after_epochs_updates"],
                r["epoch_losses"][1],
                r["final_loss"],
                r["seconds"],
                "never"
                if r["seconds_to_target"] is None
                else r["seconds_to_target"],
            )
            for name, r in runs.items()
        ],
    )
    print(
        f"   (least-squares optimum: {noise_floor:.4f}; initial loss: "
        f"{hand_losses[0]:.3f})"
    )
    run.keep(design=design, noise_floor=noise_floor)


# %% [markdown]
# The same runs against three clocks: updates, epochs and seconds.


# %%
def plot_batch_sizes(run):
    """Draws the loss against updates, epochs and seconds."""
    noise_floor, out, runs = run.noise_floor, run.out, run.runs
    fig, axes = plotting.new_figure(1, 3)
    for name, r in runs.items():
        updates = np.arange(len(r["losses"]))
        axes[0].plot(updates + 1, r["losses"], label=name)
        axes[1].plot(updates / r["updates_per_epoch"], r["losses"], label=name)
        axes[2].plot(np.asarray(r["times"]) * 1e3, r["losses"], label=name)
    for ax, label in zip(
        axes, ("updates (log scale)", "epochs", "milliseconds")
    ):
        ax.set_yscale("log")
        ax.axhline(noise_floor, color="grey", ls=":", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel("full-data MSE")
        ax.legend(fontsize=8)
    axes[0].set_xscale("log")
    axes[0].set_title("loss against updates")
    axes[1].set_title("loss against epochs")
    axes[2].set_title("loss against time")
    labs.save_figure(fig, out, "batch_sizes")


# %% [markdown]
# ## 3. Gradient noise
#
# A gradient from B samples estimates the full gradient; the fewer the
# samples, the larger its error.


# %%
def gradient_noise(x, y, w, b, batch_size, draws, rng):
    """How far a gradient from `batch_size` random samples is from the full one.

    Returns:
        `(relative_error, cosine)`: the mean of |g_B - g| / |g| and of the
        cosine between g_B and g over `draws` random batches.
    """

    def flat(gw, gb):
        return np.concatenate([gw.ravel(), gb.ravel()])

    full = flat(*mse_and_gradient(x, y, w, b)[1:])
    errors, cosines = [], []
    for _ in range(draws):
        idx = rng.choice(len(x), size=batch_size, replace=False)
        g = flat(*mse_and_gradient(x[idx], y[idx], w, b)[1:])
        errors.append(np.linalg.norm(g - full) / np.linalg.norm(full))
        cosines.append(g @ full / (np.linalg.norm(g) * np.linalg.norm(full)))
    return float(np.mean(errors)), float(np.mean(cosines))


def gradient_noise_by_batch_size(run):
    """Measures how far a gradient from B samples is from the full one."""
    args, batch, n, x, y = run.args, run.batch, run.n, run.x, run.y
    print("\n3. Gradient noise: a gradient from B samples against the full one")
    rng = np.random.default_rng(args.seed)
    w0, b0 = (
        v.astype("float64")
        for v in linear_model(args.seed).get_layer("linear").get_weights()
    )
    noise = {}
    for size in sorted({1, 4, batch, 64, n}):
        noise[size] = gradient_noise(x, y, w0, b0, size, 200, rng)
    labs.print_table(
        "At the initial weights, 200 random batches each",
        ("batch size", "mean |g_B - g| / |g|", "mean cosine(g_B, g)"),
        [(size, e, c) for size, (e, c) in noise.items()],
    )
    run.keep(noise=noise)


# %% [markdown]
# ## 4. The learning rate
#
# On a quadratic loss, descent is stable only when the learning rate is
# below `2 / lambda_max`, the largest curvature. Above that it diverges;
# far below it crawls.


# %%
def full_batch_steps(x, y, steps, learning_rate, seed):
    """`steps` full-batch SGD updates in one Keras epoch.

    The data set is repeated `steps` times and read in order with a batch
    size of len(x), so each batch is the whole data set: the same updates as
    `steps` epochs of batch descent, without Keras's per-epoch overhead.
    """
    model = linear_model(seed)
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    recorder = LossRecorder(x, y)
    model.fit(
        np.tile(x, (steps, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(x),
        epochs=1,
        shuffle=False,
        callbacks=[recorder],
        verbose=0,
    )
    return model, recorder


def learning_rates(run):
    """Runs rates below, near and above the stability limit 2 / lambda_max."""
    args, design, lr_steps, n = run.args, run.design, run.lr_steps, run.n
    x, y = run.x, run.y
    print("\n4. The learning rate")
    hessian = 2.0 * design.T @ design / n
    largest = float(np.linalg.eigvalsh(hessian).max())
    limit = 2.0 / largest
    rates = {
        "too small (0.01 x limit)": 0.01 * limit,
        "good (0.5 x limit)": 0.5 * limit,
        "near the limit (0.95 x limit)": 0.95 * limit,
        "too large (1.1 x limit)": 1.1 * limit,
    }
    lr_runs = {}
    for name, rate in rates.items():
        _, record = full_batch_steps(x, y, lr_steps, rate, args.seed)
        lr_runs[name] = {
            "learning_rate": rate,
            "losses": record.losses,
            "ratio": record.losses[-1] / record.losses[0],
        }
    labs.print_table(
        f"Full-batch descent, {lr_steps} steps (the Hessian's largest "
        f"eigenvalue is {largest:.3f}, so steps above 2 / {largest:.3f} = "
        f"{limit:.3f} diverge)",
        (
            "learning rate",
            "eta",
            "initial loss",
            "final loss",
            "final / initial",
        ),
        [
            (
                name,
                r["learning_rate"],
                r["losses"][0],
                r["losses"][-1],
                r["ratio"],
            )
            for name, r in lr_runs.items()
        ],
    )
    run.keep(largest=largest, limit=limit, lr_runs=lr_runs)


# %% [markdown]
# Too small crawls, too large diverges.


# %%
def plot_learning_rates(run):
    """Draws the loss for each learning rate."""
    lr_runs, out = run.lr_runs, run.out
    fig, ax = plotting.new_figure()
    for name, r in lr_runs.items():
        ax.plot(r["losses"], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("full-data MSE")
    ax.set_title("too small crawls, too large diverges")
    ax.legend(fontsize=8)
    labs.save_figure(fig, out, "learning_rates")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    batch, epochs, largest = run.batch, run.epochs, run.largest
    limit, lr_runs, n, noise = run.limit, run.lr_runs, run.n, run.noise
    noise_floor, runs, update_diff = run.noise_floor, run.runs, run.update_diff
    results = {
        "n_samples": n,
        "batch_size": batch,
        "epochs": epochs,
        "hand_vs_keras_max_abs_diff": update_diff,
        "methods": {
            name: {k: v for k, v in r.items() if k not in ("losses", "times")}
            for name, r in runs.items()
        },
        "least_squares_loss": noise_floor,
        "gradient_noise": {
            str(k): {"relative_error": e, "cosine": c}
            for k, (e, c) in noise.items()
        },
        "hessian_largest_eigenvalue": largest,
        "stable_learning_rate_limit": limit,
        "learning_rates": {
            name: {
                "learning_rate": r["learning_rate"],
                "initial_loss": r["losses"][0],
                "final_loss": r["losses"][-1],
                "final_over_initial": r["ratio"],
            }
            for name, r in lr_runs.items()
        },
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def _seconds(value):
    return "never" if value is None else f"{value:.2f} s"


def conclude(run):
    """Says what the measurements show."""
    batch, epochs, largest = run.batch, run.epochs, run.largest
    limit, lr_runs, lr_steps, n = run.limit, run.lr_runs, run.lr_steps, run.n
    noise, noise_floor, runs = run.noise, run.noise_floor, run.runs
    update_diff, variants = run.update_diff, run.variants
    bn, sg, mb = (runs[k] for k in variants)
    small, good, big = (
        lr_runs[k]["ratio"]
        for k in (
            "too small (0.01 x limit)",
            "good (0.5 x limit)",
            "too large (1.1 x limit)",
        )
    )
    print(
        "\nSummary: Keras's SGD is the textbook update: five steps by hand "
        f"and in Keras agree to {update_diff:.0e}. An epoch is one pass over "
        f"the {n} samples, and the batch size decides how many updates it "
        f"holds: {bn['updates_per_epoch']} for batch descent, "
        f"{sg['updates_per_epoch']} for stochastic and "
        f"{mb['updates_per_epoch']} for mini-batches of {batch}. Per epoch "
        "the many cheap updates win: after one pass the loss is "
        f"{sg['epoch_losses'][1]:.3g} (stochastic) and "
        f"{mb['epoch_losses'][1]:.3g} (mini-batch) against "
        f"{bn['epoch_losses'][1]:.3g} for one exact step. Counted in updates "
        f"the order changes: after {epochs} updates the loss is "
        f"{bn['loss_after_epochs_updates']:.3g} (batch), "
        f"{mb['loss_after_epochs_updates']:.3g} (mini-batch) and "
        f"{sg['loss_after_epochs_updates']:.3g} (stochastic); a step is only "
        "as good as its gradient estimate, and one sample is a poor one. In "
        "wall-clock time, reaching twice the optimal loss took "
        f"{_seconds(mb['seconds_to_target'])} with mini-batches and "
        f"{_seconds(sg['seconds_to_target'])} with single samples (batch "
        f"descent: {_seconds(bn['seconds_to_target'])}); an epoch cost "
        f"{bn['seconds'] / epochs:.3f} s, {mb['seconds'] / epochs:.3f} s and "
        f"{sg['seconds'] / epochs:.3f} s, because every update carries a "
        "fixed overhead whatever its size (these timings are noisy on a "
        "shared machine; a large data set would also make one batch step "
        "expensive, and it must hold all N samples in memory at once). "
        f"The price of small batches is noise: a one-sample gradient is off "
        f"by {noise[1][0]:.0%} of the true gradient's length on average, a "
        f"{batch}-sample one by {noise[batch][0]:.0%}, shrinking roughly as "
        "1/sqrt(B), which is why stochastic descent zigzags around the "
        f"optimum (its final loss {sg['final_loss']:.4f} against the optimum "
        f"{noise_floor:.4f}) instead of settling on it. The "
        "learning rate has a hard ceiling: the loss is a quadratic whose "
        f"steepest curvature is {largest:.2f}, so any eta above "
        f"{limit:.3f} overshoots further on every step. At 1.1 times that "
        f"limit the loss grew {big:.3g}-fold in {lr_steps} steps, at half of "
        f"it the loss fell to {good:.2g} of its start, and at 1% of it only to "
        f"{small:.2g}: still crawling."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/04_gradient_descent/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    make_the_problem(run)
    update_rule_by_hand(run)
    batch_sizes(run)
    distance_to_the_optimum(run)
    plot_batch_sizes(run)
    gradient_noise_by_batch_size(run)
    learning_rates(run)
    plot_learning_rates(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 4, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Derive the gradient of logistic regression's cross-entropy loss by
# hand (the grader checks it against automatic differentiation), then
# write the gradient-descent update and the mini-batch split in NumPy.
#
# - Get the starter: `mlkeras exercise 04 -o lab04.py`
# - Check your work: `mlkeras check lab04.py --lab 04`

# %%
EXERCISE = (
    "the logistic loss's gradient derived by hand, a gradient-descent step "
    "and mini-batches, in NumPy"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
