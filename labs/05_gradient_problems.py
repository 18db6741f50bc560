# %%
"""Lab 05: Vanishing and exploding gradients.

Objectives:
- See the cause: backpropagation multiplies one local derivative per layer,
  and sigmoid's is never above 0.25, so the product shrinks geometrically.
- Detect it with `mlkeras.callbacks.GradientNormLogger`: in a deep sigmoid
  MLP the first layer's gradient norm is orders of magnitude below the last
  layer's, and the first layer's weights barely move.
- Fix it three ways and measure each: ReLU with He initialisation, batch
  normalization, residual connections.
- Make gradients explode with an oversized initialisation, watch the loss
  turn NaN, and keep training finite with `clipnorm` and `clipvalue`; log
  the gradient norm before and after clipping, and compare the clipped
  runs' loss with the chance level.
- Diagnose both problems from the logged norms alone: the logger's own
  warnings and a ratio computed from its history.

Runtime: about 12 s with --quick, 30 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import warnings

import keras
import numpy as np

from mlkeras import datasets, labs, plotting
from mlkeras.callbacks import GradientNormLogger

LAB = "05_gradient_problems"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

WIDTH = 32

DEPTH = 8

BATCH_SIZE = 64

# A ratio first/last layer below this is called vanishing in this lab's
# diagnosis; a global norm above EXPLODING (or not finite) is exploding.
VANISHING_RATIO = 1e-2

EXPLODING = 1e3

CHANCE_LOSS = float(np.log(10))  # cross-entropy of a uniform 10-way guess

# The logger flags a layer whose norm stays below this for a whole epoch.
# The output layer's gradient here is of order 0.1 to 1, so 1e-4 is already
# three orders of magnitude below it.
LOGGER_VANISHING_THRESHOLD = 1e-4

FIXES = ("sigmoid", "relu_he", "batchnorm", "residual")

DESCRIPTIONS = {
    "sigmoid": "sigmoid, Glorot init (the problem)",
    "relu_he": "ReLU + He init",
    "batchnorm": "Dense -> BatchNorm -> sigmoid",
    "residual": "sigmoid with skips: h + sigmoid(Wh + b)",
}


# %% [markdown]
# ## Settings and data
#
# The 8x8 digits, flattened to 64 inputs. `--quick` (or `QUICK` in a
# notebook) trains for fewer epochs.


# %%
def load_data(run):
    """Picks the epochs and loads the digits as flat vectors."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    epochs = 1 if args.quick else 5
    explode_epochs = 2 if args.quick else 5
    (x, y), _ = datasets.load_digits(seed=args.seed)
    x = x.reshape(len(x), -1)
    run.keep(epochs=epochs, explode_epochs=explode_epochs, x=x, y=y)


# %% [markdown]
# ## 1. The cause: one factor per layer in the chain rule
#
# Backpropagation multiplies one factor per layer. Sigmoid's slope is at
# most 0.25, so after k sigmoid layers the gradient can be at most
# `0.25^k` of what it was: it vanishes exponentially with depth.


# %%
def the_cause(run):
    """Prints the bound 0.25^k on the gradient through k sigmoid layers."""
    print("1. The cause: one factor per layer in the chain rule")
    bound_rows = [(k, 0.25**k) for k in (1, 2, 4, DEPTH, 16)]
    labs.print_table(
        "Upper bound of a product of k sigmoid slopes (0.25^k)",
        ("layers k", "0.25^k"),
        bound_rows,
    )


# %% [markdown]
# ## 2. Detection: gradient norms per layer
#
# `mlkeras.callbacks.GradientNormLogger` records each layer's gradient
# norm. In the deep sigmoid network the first layers get gradients far
# smaller than the last; ReLU with He initialisation, batch normalisation
# and residual connections each keep them close.


# %%
def build_mlp(kind, depth=DEPTH, width=WIDTH, kernel_initializer=None):
    """A deep MLP for the 64 digit pixels; hidden layers are `dense_01`...

    `kind` is one of `FIXES`, or `"relu"` for a ReLU network whose kernels
    come from `kernel_initializer`. The read-out layer is named `output`.
    """
    inputs = keras.Input((64,))
    h = inputs
    if kind == "residual":
        # The skips need the input at the hidden width.
        h = keras.layers.Dense(width, name="projection")(h)
    for i in range(1, depth + 1):
        name = f"dense_{i:02d}"
        if kind == "sigmoid":
            h = keras.layers.Dense(width, activation="sigmoid", name=name)(h)
        elif kind == "relu_he":
            h = keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer="he_normal",
                name=name,
            )(h)
        elif kind == "relu":
            h = keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer=kernel_initializer,
                name=name,
            )(h)
        elif kind == "batchnorm":
            h = keras.layers.Dense(width, name=name)(h)
            h = keras.layers.BatchNormalization(name=f"batchnorm_{i:02d}")(h)
            h = keras.layers.Activation("sigmoid")(h)
        elif kind == "residual":
            branch = keras.layers.Dense(width, activation="sigmoid", name=name)(
                h
            )
            h = keras.layers.Add(name=f"skip_{i:02d}")([h, branch])
        else:
            raise ValueError(f"Unknown network kind. Received: kind={kind!r}")
    outputs = keras.layers.Dense(10, name="output")(h)
    return keras.Model(inputs, outputs, name=kind)


def diagnose(history, first="dense_01", last="output"):
    """Names the gradient problem from a `GradientNormLogger.history`.

    Exploding: some global norm is not finite or exceeds `EXPLODING`.
    Vanishing: the median norm of the first layer is below `VANISHING_RATIO`
    times the median norm of the last layer. Otherwise healthy.

    Returns:
        A dict with the medians, their ratio, the largest global norm, the
        number of non-finite records and the verdict.
    """
    global_norms = np.asarray(history["grad_norm"], dtype="float64")
    finite = np.isfinite(global_norms)
    first_norms = np.asarray(history[f"grad_norm/{first}"], dtype="float64")
    last_norms = np.asarray(history[f"grad_norm/{last}"], dtype="float64")
    ok = np.isfinite(first_norms) & np.isfinite(last_norms)
    nan = float("nan")
    first_median = float(np.median(first_norms[ok])) if ok.any() else nan
    last_median = float(np.median(last_norms[ok])) if ok.any() else nan
    ratio = first_median / last_median if ok.any() else nan
    max_global = float(np.max(global_norms[finite])) if finite.any() else nan
    if not finite.all() or max_global > EXPLODING:
        verdict = "exploding"
    elif ratio < VANISHING_RATIO:
        verdict = "vanishing"
    else:
        verdict = "healthy"
    return {
        "first_layer_median_norm": first_median,
        "last_layer_median_norm": last_median,
        "first_to_last_ratio": float(ratio),
        "max_global_norm": max_global,
        "nonfinite_records": int((~finite).sum()),
        "verdict": verdict,
    }


def train(model, x, y, optimizer, epochs, logger_threshold, callbacks=()):
    """Fits with a `GradientNormLogger`; returns (logger, losses, warnings)."""
    model.compile(
        optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    logger = GradientNormLogger(
        vanishing_threshold=logger_threshold, exploding_threshold=EXPLODING
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=BATCH_SIZE,
            shuffle=True,
            verbose=0,
            callbacks=[logger, *callbacks],
        )
    messages = [
        str(w.message)
        for w in caught
        if str(w.message).startswith(
            ("Vanishing gradients", "Exploding gradients")
        )
    ]
    return logger, [float(v) for v in history.history["loss"]], messages


def vanishing_run(kind, x, y, epochs, seed, depth=DEPTH):
    keras.utils.set_random_seed(seed)
    model = build_mlp(kind, depth=depth)
    kernel = model.get_layer("dense_01").kernel
    before = keras.ops.convert_to_numpy(kernel).copy()
    logger, losses, messages = train(
        model,
        x,
        y,
        keras.optimizers.SGD(0.1),
        epochs,
        LOGGER_VANISHING_THRESHOLD,
    )
    after = keras.ops.convert_to_numpy(kernel)
    result = diagnose(logger.history)
    hidden = [f"dense_{i:02d}" for i in range(1, depth + 1)] + ["output"]
    result.update(
        {
            "kind": kind,
            "depth": depth,
            "losses": losses,
            "final_loss": losses[-1],
            "per_layer_median_norm": [
                float(np.median(logger.history[f"grad_norm/{n}"]))
                for n in hidden
            ],
            "first_layer_relative_change": float(
                np.linalg.norm(after - before) / np.linalg.norm(before)
            ),
            "logger_warnings": messages,
            "logger_vanishing_warning": any(
                m.startswith("Vanishing") for m in messages
            ),
        }
    )
    return logger, result


def detection_and_fixes(run):
    """Logs the gradient norm of every layer for the sigmoid MLP and three
    fixes.
    """
    args, epochs, x, y = run.args, run.epochs, run.x, run.y
    print(
        f"\n2. Detection: a {DEPTH}-layer sigmoid MLP and three fixes, "
        f"SGD(0.1), {epochs} epoch(s) on the digits, GradientNormLogger on"
    )
    loggers, runs = {}, {}
    for kind in FIXES:
        loggers[kind], runs[kind] = vanishing_run(kind, x, y, epochs, args.seed)
    labs.print_table(
        "Median gradient L2 norm over the training steps",
        (
            "network",
            "layer 1",
            f"layer {DEPTH}",
            "output",
            "layer 1 / output",
            "layer-1 weight change",
            "diagnosis",
        ),
        [
            (
                DESCRIPTIONS[k],
                r["first_layer_median_norm"],
                r["per_layer_median_norm"][DEPTH - 1],
                r["last_layer_median_norm"],
                r["first_to_last_ratio"],
                r["first_layer_relative_change"],
                r["verdict"],
            )
            for k, r in runs.items()
        ],
    )
    for kind, r in runs.items():
        for message in r["logger_warnings"]:
            print(f"   logger warning ({kind}): {message[:150]}")

    depth_sweep = {}
    if not args.quick:
        print("\n   Full mode: how the sigmoid ratio falls with depth")
        for depth in (2, 4, 6, DEPTH, 12):
            _, r = vanishing_run("sigmoid", x, y, 1, args.seed, depth=depth)
            depth_sweep[depth] = r["first_to_last_ratio"]
        labs.print_table(
            "sigmoid MLP",
            ("hidden layers", "layer 1 / output"),
            list(depth_sweep.items()),
        )
    run.keep(depth_sweep=depth_sweep, loggers=loggers, runs=runs)


# %% [markdown]
# ## 3. Exploding gradients and clipping
#
# With weights drawn too large, every layer multiplies the gradient by
# more than one and it explodes. Clipping by norm (`clipnorm`) or by value
# (`clipvalue`) caps each step, so training survives.


# %%
class AppliedStepNorm(keras.callbacks.Callback):
    """Records the norm of the gradient SGD actually applied at each step.

    Plain SGD moves the weights by -learning_rate * gradient, with the
    gradient already clipped, so the step's norm over the learning rate is
    the clipped gradient's norm.
    """

    def __init__(self, learning_rate):
        super().__init__()
        self.learning_rate, self.norms = learning_rate, []

    def on_train_batch_begin(self, batch, logs=None):
        self._before = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        after = self.model.get_weights()
        step = np.sqrt(
            sum(np.sum((a - b) ** 2) for a, b in zip(after, self._before))
        )
        self.norms.append(float(step / self.learning_rate))


def finite_median(values):
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def exploding_run(name, x, y, epochs, seed, optimizer_kwargs):
    """A ReLU MLP with N(0, 1) kernels: each layer scales the signal by ~4."""
    keras.utils.set_random_seed(seed)
    model = build_mlp(
        "relu",
        depth=6,
        kernel_initializer=keras.initializers.RandomNormal(
            stddev=1.0, seed=seed
        ),
    )
    applied = AppliedStepNorm(learning_rate=0.1)
    logger, losses, messages = train(
        model,
        x,
        y,
        keras.optimizers.SGD(0.1, **optimizer_kwargs),
        epochs,
        0.0,
        callbacks=[applied],
    )
    result = diagnose(logger.history)
    weights_finite = all(np.all(np.isfinite(w)) for w in model.get_weights())
    nonfinite_loss_epoch = next(
        (i + 1 for i, v in enumerate(losses) if not np.isfinite(v)), None
    )
    result.update(
        {
            "name": name,
            "optimizer": optimizer_kwargs,
            "losses": losses,
            "final_loss": losses[-1],
            "loss_finite": bool(np.all(np.isfinite(losses))),
            "first_nonfinite_loss_epoch": nonfinite_loss_epoch,
            "weights_finite": bool(weights_finite),
            "first_global_norm": float(logger.history["grad_norm"][0]),
            "median_norm_before_clipping": finite_median(
                logger.history["grad_norm"]
            ),
            "median_norm_after_clipping": finite_median(applied.norms),
            "norm_before_clipping": [
                float(v) for v in logger.history["grad_norm"]
            ],
            "norm_after_clipping": applied.norms,
            "logger_warnings": messages,
            "logger_exploding_warning": any(
                m.startswith("Exploding") for m in messages
            ),
        }
    )
    return logger, result


def exploding(run):
    """Trains a badly initialised ReLU MLP with and without clipping."""
    args, explode_epochs, x, y = run.args, run.explode_epochs, run.x, run.y
    print("\n3. Exploding: ReLU MLP, 6 layers, kernels ~ N(0, 1), SGD(0.1)")
    explode_loggers, explode = {}, {}
    for name, kwargs in (
        ("no clipping", {}),
        ("clipnorm=1.0", {"clipnorm": 1.0}),
        ("clipvalue=0.5", {"clipvalue": 0.5}),
    ):
        explode_loggers[name], explode[name] = exploding_run(
            name, x, y, explode_epochs, args.seed, kwargs
        )
    labs.print_table(
        "The same network, three optimizers",
        (
            "optimizer",
            "median norm before clipping",
            "after clipping",
            "non-finite norms",
            "final loss",
            "weights finite",
        ),
        [
            (
                name,
                r["median_norm_before_clipping"],
                r["median_norm_after_clipping"],
                r["nonfinite_records"],
                r["final_loss"],
                r["weights_finite"],
            )
            for name, r in explode.items()
        ]
        + [("chance (predict 1/10 each)", "", "", "", CHANCE_LOSS, "")],
    )
    for name, r in explode.items():
        for message in r["logger_warnings"]:
            print(f"   logger warning ({name}): {message[:150]}")
    print(
        "   The logger reads the gradient before clipping, so it warns about "
        "the clipped runs too; the norm after clipping (the step applied, "
        "over the learning rate) stays small. Clipping keeps the weights "
        "finite, but compare the final losses with chance, ln 10 = "
        f"{CHANCE_LOSS:.3f}: surviving is not the same as learning."
    )
    run.keep(explode=explode, explode_loggers=explode_loggers)


# %% [markdown]
# ## 4. Diagnosing and fixing both
#
# `diagnose` reads the logged norms and names the problem: vanishing,
# exploding or healthy.


# %%
def diagnosis(run):
    """Prints the diagnosis of each run, from the measured norms."""
    print("\n4. Diagnosing and fixing both, as measured above")
    for line in (
        "detect: log per-layer gradient norms (GradientNormLogger); "
        "layer 1 far below the output = vanishing; a global norm that "
        "jumps by orders of magnitude or turns NaN/inf = exploding; also "
        "watch early-layer weights that stop changing and a loss that "
        "stalls (vanishing) or jumps / turns NaN (exploding)",
        "vanishing: ReLU-family activations, He (ReLU) or Glorot "
        "(tanh/sigmoid) initialisation, batch normalization, residual "
        "connections; in RNNs, gated cells (LSTM/GRU), since the same "
        "product runs over time steps and long-range dependencies are "
        "lost",
        "exploding: clipnorm (rescale the whole gradient when its norm "
        "exceeds a cap: keeps its direction), clipvalue (cap each "
        "entry: may change the direction), global_clipnorm (one norm "
        "over all variables), a smaller learning rate, a sound "
        "initialisation, L2 weight decay to keep weights small, "
        "normalization and skips",
    ):
        print(f"   - {line}")


# %% [markdown]
# The four panels: norms per layer over training (sigmoid, ReLU + He),
# the median norm per layer for each fix, and the global norm per step with
# and without clipping.


# %%
def plot_gradient_norms(run):
    """Draws the gradient norms per layer and per step."""
    depth_sweep, explode_loggers = run.depth_sweep, run.explode_loggers
    loggers, out, runs = run.loggers, run.out, run.runs
    fig, axes = plotting.new_figure(2, 2, width=6.0, height=4.2)
    loggers["sigmoid"].plot(
        ax=axes[0, 0],
        title=(f"{DEPTH}-layer sigmoid MLP (GradientNormLogger.plot)"),
    )
    loggers["relu_he"].plot(ax=axes[0, 1], title="ReLU + He initialisation")
    layer_axis = np.arange(1, DEPTH + 2)
    for kind, r in runs.items():
        axes[1, 0].semilogy(
            layer_axis,
            r["per_layer_median_norm"],
            marker="o",
            label=DESCRIPTIONS[kind],
        )
    axes[1, 0].set_xticks(
        layer_axis, [str(i) for i in range(1, DEPTH + 1)] + ["out"]
    )
    axes[1, 0].set_xlabel("layer")
    axes[1, 0].set_ylabel("median gradient L2 norm")
    axes[1, 0].set_title("vanishing gradient and three fixes")
    axes[1, 0].legend(fontsize="small")
    if depth_sweep:
        inset = axes[1, 0].inset_axes([0.62, 0.08, 0.35, 0.3])
        inset.semilogy(list(depth_sweep), list(depth_sweep.values()), "k.-")
        inset.set_title("sigmoid: layer 1 / out vs depth", fontsize="x-small")
        inset.tick_params(labelsize="x-small")
    for name, lg in explode_loggers.items():
        norms = np.asarray(lg.history["grad_norm"], dtype="float64")
        steps = np.asarray(lg.history["step"])
        shown = np.where(np.isfinite(norms), norms, np.nan)
        (line,) = axes[1, 1].semilogy(steps, shown, label=name)
        bad = ~np.isfinite(norms)
        if bad.any():
            axes[1, 1].axvline(
                steps[bad][0],
                color=line.get_color(),
                linestyle=":",
                label=f"{name}: first NaN/inf",
            )
    axes[1, 1].set_xlabel("training step")
    axes[1, 1].set_ylabel("global gradient norm (before clipping)")
    axes[1, 1].set_title("exploding gradients and clipping")
    axes[1, 1].legend(fontsize="small")
    labs.save_figure(fig, out, "gradient_norms")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    depth_sweep, epochs, explode = run.depth_sweep, run.epochs, run.explode
    runs = run.runs
    sigmoid = runs["sigmoid"]
    fixes = {k: runs[k] for k in FIXES[1:]}
    raw, clipnorm, clipvalue = (
        explode["no clipping"],
        explode["clipnorm=1.0"],
        explode["clipvalue=0.5"],
    )
    results = {
        "depth": DEPTH,
        "epochs": epochs,
        "vanishing": runs,
        "sigmoid_first_to_last_ratio": sigmoid["first_to_last_ratio"],
        "fix_first_to_last_ratio": {
            k: r["first_to_last_ratio"] for k, r in fixes.items()
        },
        "fix_first_layer_norm_gain": {
            k: r["first_layer_median_norm"] / sigmoid["first_layer_median_norm"]
            for k, r in fixes.items()
        },
        "depth_sweep_ratio": depth_sweep,
        "exploding": explode,
        "chance_loss": CHANCE_LOSS,
        "diagnosis": {
            **{k: r["verdict"] for k, r in runs.items()},
            **{f"exploding, {k}": r["verdict"] for k, r in explode.items()},
        },
    }
    run.keep(clipnorm=clipnorm, clipvalue=clipvalue, raw=raw, results=results)
    run.keep(sigmoid=sigmoid)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    clipnorm, clipvalue, raw = run.clipnorm, run.clipvalue, run.raw
    results, runs, sigmoid = run.results, run.runs, run.sigmoid
    gains = ", ".join(
        f"{DESCRIPTIONS[k]} {g:.0f}x"
        for k, g in results["fix_first_layer_norm_gain"].items()
    )
    print(
        f"\nSummary: in the {DEPTH}-layer sigmoid network the first layer's "
        f"gradient norm was {sigmoid['first_layer_median_norm']:.2g} against "
        f"{sigmoid['last_layer_median_norm']:.2g} at the output, a ratio of "
        f"{sigmoid['first_to_last_ratio']:.1g}: each sigmoid multiplies the "
        "backward signal by at most 0.25, so the early layers hear almost "
        "nothing, and its first-layer weights moved by "
        f"{sigmoid['first_layer_relative_change']:.1e} of their size while "
        "the ReLU + He network's moved by "
        f"{runs['relu_he']['first_layer_relative_change']:.1e}. Every fix "
        f"raised the first layer's gradient ({gains}) and put the ratio "
        f"between {min(results['fix_first_to_last_ratio'].values()):.2g} and "
        f"{max(results['fix_first_to_last_ratio'].values()):.2g}: ReLU's "
        "slope is exactly 1 where it is active and He's "
        "variance 2/fan_in keeps the signal's size from layer to layer; "
        "batch normalization re-centres each pre-activation where sigmoid is "
        "steepest; a skip passes the gradient down unchanged beside the "
        "branch. Exploding is the mirror image: with N(0, 1) kernels each "
        "ReLU layer multiplies the scale by about 4, the first gradient "
        f"already had a norm of {raw['first_global_norm']:.2g}, one SGD step "
        "pushed the weights so far that the loss became "
        f"{raw['final_loss']}, and the logger reported it. Clipping left "
        "the gradient itself as large (the logger reads it before clipping, "
        f"up to {clipnorm['max_global_norm']:.2g}) but capped the step: with "
        f"clipnorm=1.0 the loss ended at {clipnorm['final_loss']:.3g} and "
        f"with clipvalue=0.5 at {clipvalue['final_loss']:.3g}, finite. "
        "Clipping is the emergency brake; the cure is the same as for "
        "vanishing gradients: a sound initialisation, normalization, skips, "
        "and a learning rate the loss surface tolerates."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/05_gradient_problems/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    load_data(run)
    the_cause(run)
    detection_and_fixes(run)
    exploding(run)
    diagnosis(run)
    plot_gradient_norms(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 5, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Measure the gradient that reaches each layer of a deep network, by
# backpropagating by hand (the grader compares your numbers with its own
# measurement on a network you do not see), then compute gradient norms
# and clip by the global norm, in NumPy.
#
# - Get the starter: `mlkeras exercise 05 -o lab05.py`
# - Check your work: `mlkeras check lab05.py --lab 05`

# %%
EXERCISE = (
    "each layer's gradient norm in a deep network (vanishing gradients), "
    "and clipping by the global norm, in NumPy"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
