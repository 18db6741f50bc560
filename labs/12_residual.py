# %%
"""Lab 12: Residual connections.

Objectives:
- Build a deep plain network and the same network with a skip connection
  around every layer: equal depth, equal parameter count.
- Train both on the digits for the same number of epochs and compare the
  loss they reach; in full mode also at depths 3 and 10, to look for the
  degradation problem (a deeper plain network training worse than a
  shallower one, which it could imitate).
- Read the per-layer gradient norms with `mlkeras.callbacks.GradientNormLogger`
  and see how the skip connections carry the gradient to the early layers.

Runtime: about 14 s with --quick, 30 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting
from mlkeras.callbacks import GradientNormLogger

LAB = "12_residual"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

WIDTH = 32

LEARNING_RATE = 0.01


# %% [markdown]
# ## Settings and data
#
# The digits, flattened. `--quick` (or `QUICK` in a notebook) trains only
# the deepest pair, for fewer epochs.


# %%
def load_data(run):
    """Picks the depths and epochs and loads the digits."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    deep = 30
    epochs = 5 if args.quick else 20
    depths = (deep,) if args.quick else (3, 10, deep)
    (x, y), (x_test, y_test) = datasets.load_digits(seed=args.seed)
    run.keep(deep=deep, depths=depths, epochs=epochs, x=x, x_test=x_test, y=y)
    run.keep(y_test=y_test)


# %% [markdown]
# ## 1. Plain and residual networks
#
# A residual block adds its input to its output: `h + f(h)`. The identity
# path carries the signal (and the gradient) through any depth, so a deep
# residual network trains where a plain one of the same depth stalls.


# %%
def build_network(depth, residual, width=WIDTH):
    """A projection to `width`, `depth` tanh layers, and a softmax read-out.

    With `residual=True` every hidden layer computes h + tanh(W h + b)
    instead of tanh(W h + b): the layer learns a change to its input rather
    than a new representation. The skip adds no parameters.
    """
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(width, name="projection")(h)
    for i in range(depth):
        branch = keras.layers.Dense(
            width, activation="tanh", name=f"dense_{i:02d}"
        )(h)
        if residual:
            h = keras.layers.Add(name=f"skip_{i:02d}")([h, branch])
        else:
            h = branch
    outputs = keras.layers.Dense(10, name="logits")(h)
    kind = "residual" if residual else "plain"
    return keras.Model(inputs, outputs, name=f"{kind}_{depth}")


def train(depth, residual, x, y, x_test, y_test, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = build_network(depth, residual)
    # Plain SGD: the same steps for both networks, and a training step that
    # is quick to build for 30 layers.
    model.compile(
        keras.optimizers.SGD(LEARNING_RATE),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    logger = GradientNormLogger(every_n_steps=1, exploding_threshold=None)
    history = model.fit(
        x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[logger]
    ).history
    logits = keras.ops.convert_to_numpy(model(x_test, training=False))
    predicted = np.argmax(logits, axis=1)
    hidden = [f"dense_{i:02d}" for i in range(depth)]
    first_step = np.array([logger.history[f"grad_norm/{n}"][0] for n in hidden])
    steps_per_epoch = len(logger.history["step"]) // epochs
    last_epoch = np.array(
        [
            np.mean(logger.history[f"grad_norm/{n}"][-steps_per_epoch:])
            for n in hidden
        ]
    )
    return {
        "depth": depth,
        "residual": residual,
        "parameters": int(model.count_params()),
        "loss": [float(v) for v in history["loss"]],
        "final_loss": float(history["loss"][-1]),
        "train_accuracy": float(history["accuracy"][-1]),
        "test_accuracy": float(np.mean(predicted == y_test)),
        "grad_norm_per_layer_first_step": first_step.tolist(),
        "grad_norm_per_layer_last_epoch": last_epoch.tolist(),
        "grad_norm_first_layer_first_step": float(first_step[0]),
        "grad_norm_last_layer_first_step": float(first_step[-1]),
        "first_to_last_ratio_first_step": float(first_step[0] / first_step[-1]),
    }


def plain_and_residual(run):
    """Trains plain and residual tanh networks of each depth."""
    args, depths, epochs, x = run.args, run.depths, run.epochs, run.x
    x_test, y, y_test = run.x_test, run.y, run.y_test
    print(
        f"1. Plain and residual tanh networks, width {WIDTH}, "
        f"SGD({LEARNING_RATE}), {epochs} epochs on the digits"
    )
    runs = {}
    for depth in depths:
        for residual in (False, True):
            name = f"{'residual' if residual else 'plain'} {depth}"
            runs[name] = train(
                depth, residual, x, y, x_test, y_test, epochs, args.seed
            )
    labs.print_table(
        "Same epochs, same optimizer",
        (
            "network",
            "layers",
            "parameters",
            "first-epoch loss",
            "final loss",
            "test accuracy",
        ),
        [
            (
                name,
                r["depth"],
                r["parameters"],
                r["loss"][0],
                r["final_loss"],
                r["test_accuracy"],
            )
            for name, r in runs.items()
        ],
    )
    run.keep(residual=residual, runs=runs)


# %% [markdown]
# ## 2. Gradient norms per layer
#
# `GradientNormLogger` shows why: in the plain network the gradient
# shrinks layer by layer on its way back; the residual network keeps it.


# %%
def gradient_norms(run):
    """Prints the first step's gradient norm per layer for both networks."""
    deep, runs = run.deep, run.runs
    plain, residual = runs[f"plain {deep}"], runs[f"residual {deep}"]
    shallow = runs.get("plain 3")
    print("2. Gradient norms per layer (GradientNormLogger), first step")
    labs.print_table(
        f"{deep}-layer networks",
        (
            "network",
            "layer 1",
            f"layer {deep // 2}",
            f"layer {deep}",
            "layer 1 / last layer",
        ),
        [
            (
                name,
                r["grad_norm_per_layer_first_step"][0],
                r["grad_norm_per_layer_first_step"][deep // 2 - 1],
                r["grad_norm_per_layer_first_step"][-1],
                r["first_to_last_ratio_first_step"],
            )
            for name, r in (("plain", plain), ("residual", residual))
        ],
    )
    run.keep(plain=plain, residual=residual, shallow=shallow)


# %% [markdown]
# Loss per epoch, and the gradient norm of each layer for both networks.


# %%
def plot_plain_against_residual(run):
    """Draws the loss curves and the gradient norms per layer."""
    deep, epochs, out, plain = run.deep, run.epochs, run.out, run.plain
    residual, runs = run.residual, run.runs
    fig, axes = plotting.new_figure(1, 3, width=4.5)
    for name, r in runs.items():
        axes[0].semilogy(
            range(1, epochs + 1), r["loss"], marker="o", label=name
        )
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title("plain vs residual")
    axes[0].legend()
    layers = np.arange(1, deep + 1)
    for ax, key, title in (
        (axes[1], "grad_norm_per_layer_first_step", "first step"),
        (axes[2], "grad_norm_per_layer_last_epoch", "last epoch (mean)"),
    ):
        for name, r in (("plain", plain), ("residual", residual)):
            ax.semilogy(layers, r[key], marker=".", label=f"{name} {deep}")
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("gradient L2 norm")
        ax.set_title(f"gradient norm per layer, {title}")
        ax.legend()
    labs.save_figure(fig, out, "plain_vs_residual")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def degradation_text(depths, runs, deep):
    """A sentence on how the final loss changed with depth.

    Returns an empty string when only one depth was trained.
    """
    degradation = ""
    if len(depths) > 1:
        plain_losses = [runs[f"plain {d}"]["final_loss"] for d in depths]
        residual_losses = [runs[f"residual {d}"]["final_loss"] for d in depths]
        listed = ", ".join(str(d) for d in depths)
        degradation = (
            f" Over depths {listed} the plain networks ended at "
            + ", ".join(f"{v:.3f}" for v in plain_losses)
            + " and the residual ones at "
            + ", ".join(f"{v:.3f}" for v in residual_losses)
            + (
                f": the {deep}-layer plain network trained worse than a "
                "shallower one it could have imitated (by passing its extra "
                "layers' inputs through), the degradation problem, while the "
                "residual networks "
                + (
                    "improved with depth"
                    if all(
                        a > b
                        for a, b in zip(residual_losses, residual_losses[1:])
                    )
                    else "did not suffer from it"
                )
                + ", since a residual layer with small weights is already "
                "close to the identity."
                if plain_losses[-1] > min(plain_losses[:-1])
                else ": depth did not make the plain networks worse in this "
                "run, but it helped the residual ones far more."
            )
        )
    return degradation


def summarize(run):
    """Collects the measurements and says what they show."""
    deep, depths, epochs, plain = run.deep, run.depths, run.epochs, run.plain
    residual, runs, shallow = run.residual, run.runs, run.shallow
    results = {
        "depth": deep,
        "epochs": epochs,
        "runs": runs,
        "plain_final_loss": plain["final_loss"],
        "residual_final_loss": residual["final_loss"],
        "shallow_final_loss": shallow["final_loss"] if shallow else None,
        "same_parameter_count": plain["parameters"] == residual["parameters"],
    }
    degradation = degradation_text(depths, runs, deep)
    print(
        f"\nSummary: with {deep} tanh layers and the same "
        f"{plain['parameters']} "
        f"parameters, the residual network reached a training loss of "
        f"{residual['final_loss']:.3f} in {epochs} epochs and the plain one "
        f"{plain['final_loss']:.3f} (test accuracy "
        f"{residual['test_accuracy']:.1%} against "
        f"{plain['test_accuracy']:.1%})."
        + degradation
        + " At the first step the first hidden layer of the residual network "
        "received a gradient of norm "
        f"{residual['grad_norm_first_layer_first_step']:.3g}, against "
        f"{plain['grad_norm_first_layer_first_step']:.3g} in the plain one, "
        "and more than its last layer did (ratio "
        f"{residual['first_to_last_ratio_first_step']:.2g}, plain "
        f"{plain['first_to_last_ratio_first_step']:.2g}): each skip hands the "
        "gradient from above down unchanged and adds the layer's own path to "
        f"it, instead of sending all of it through {deep} Jacobians in a row. "
        "Part of the difference in size comes from the residual network's "
        "larger outputs at the start (its first-epoch loss was "
        f"{residual['loss'][0]:.2f}, the plain one's {plain['loss'][0]:.2f}). "
        + (
            "The plain tanh network's gradient did not vanish on the way "
            "down, yet it learned far less: through many plain layers the "
            "gradient keeps its size but, as Balduzzi et al. (2017) showed, "
            "looks more and more like noise, while the skips keep it tied to "
            "the input."
            if plain["first_to_last_ratio_first_step"] >= 0.1
            else "In the plain network the gradient shrank on its way down to "
            "the first layer, the vanishing-gradient problem the skips avoid."
        )
    )
    run.keep(results=results)


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/12_residual/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    load_data(run)
    plain_and_residual(run)
    gradient_norms(run)
    plot_plain_against_residual(run)
    summarize(run)
    return labs.finish_run(run, 12, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Build a small residual network in Keras; the grader checks its
# architecture and its outputs.
#
# - Get the starter: `mlkeras exercise 12 -o lab12.py`
# - Check your work: `mlkeras check lab12.py --lab 12`

# %%
EXERCISE = "a residual network in Keras"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
