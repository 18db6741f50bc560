# %%
"""Lab 06: Weight initialisation.

Objectives:
- See why weights must not all start equal: with zero or constant
  initialisation every hidden unit stays a copy of the others (symmetry).
- Follow the standard deviation of the activations, and of the gradients,
  layer by layer through a 30-layer network for small and large uniform,
  Xavier/Glorot and He initialisation, with tanh and with ReLU.
- Check the variance arguments behind Glorot (fan-average, for tanh) and He
  (2 / fan-in, for ReLU), and that the distribution's shape (uniform or
  normal) matters far less than its variance.

Runtime: about 12 s with --quick, 20 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np
from threadpoolctl import threadpool_limits

from mlkeras import datasets, labs, plotting

LAB = "06_weight_init"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

DEPTH = 30


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) uses narrower layers, fewer samples
# and fewer epochs.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the sizes."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    width = 128 if args.quick else 256
    n = 64 if args.quick else 256
    draws = 2 if args.quick else 5
    epochs = 30 if args.quick else 60
    run.keep(draws=draws, epochs=epochs, n=n, width=width)


# %% [markdown]
# ## 1. Symmetry: zero and constant initialisation
#
# If every unit of a layer starts with the same weights, every unit gets
# the same gradient and they stay identical forever: the layer behaves like
# one unit. Zeros are worse still: with tanh, no gradient flows at all.
# Random weights break the symmetry.


# %%
def initializers():
    """Name -> a function `seed -> Keras initializer`.

    Every layer gets an initializer with its own seed: a Keras 3 initializer
    object built without a seed returns the same values each time it is
    called, and a stack of identical matrices is not what we want to study.
    """
    init = keras.initializers
    return {
        "uniform(-0.05, 0.05)": lambda s: init.RandomUniform(
            -0.05, 0.05, seed=s
        ),
        "uniform(-1, 1)": lambda s: init.RandomUniform(-1.0, 1.0, seed=s),
        "Glorot uniform": lambda s: init.GlorotUniform(seed=s),
        "Glorot normal": lambda s: init.GlorotNormal(seed=s),
        "He normal": lambda s: init.HeNormal(seed=s),
    }


def symmetry_model(kernel_init, seed):
    """A 2-16-16-1 tanh classifier whose kernels come from `kernel_init`."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(
                16,
                activation="tanh",
                name="hidden_1",
                kernel_initializer=kernel_init(seed),
            ),
            keras.layers.Dense(
                16,
                activation="tanh",
                name="hidden_2",
                kernel_initializer=kernel_init(seed + 1),
            ),
            keras.layers.Dense(
                1,
                activation="sigmoid",
                name="output",
                kernel_initializer=kernel_init(seed + 2),
            ),
        ]
    )
    return model


def symmetry_experiment(kernel_init, x, y, epochs, seed):
    """Trains a 2-16-16-1 tanh classifier; `kernel_init` maps a seed to an
    initializer.

    Biases start at zero in every case. Returns the final accuracy, how far
    the kernels moved, the largest difference between any hidden unit's
    incoming weights (and bias) and those of the first unit in its layer,
    and how many different output columns the second hidden layer has.
    """
    model = symmetry_model(kernel_init, seed)
    kernels = [
        model.get_layer(name).kernel
        for name in ("hidden_1", "hidden_2", "output")
    ]
    before = [keras.ops.convert_to_numpy(k).copy() for k in kernels]
    model.compile(
        keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"]
    )
    # `epochs` shuffled passes laid end to end and read as one Keras epoch:
    # the same mini-batch updates without Keras's per-epoch overhead.
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])
    model.fit(
        x[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0
    )
    after = [keras.ops.convert_to_numpy(k) for k in kernels]
    spread = 0.0
    for name in ("hidden_1", "hidden_2"):
        kernel, bias = model.get_layer(name).get_weights()
        spread = max(
            spread,
            float(np.max(np.abs(kernel - kernel[:, :1]))),
            float(np.max(np.abs(bias - bias[0]))),
        )
    hidden = keras.Model(model.inputs, model.get_layer("hidden_2").output)
    h = keras.ops.convert_to_numpy(hidden(x))
    return {
        "accuracy": float(model.evaluate(x, y, verbose=0)[1]),
        "kernel_change": float(
            max(np.max(np.abs(a - b)) for a, b in zip(after, before))
        ),
        "unit_spread": spread,
        "distinct_hidden_outputs": int(len(np.unique(h.round(5), axis=1).T)),
    }


def symmetry(run):
    """Trains the same classifier from zeros, a constant and random weights."""
    args, epochs = run.args, run.epochs
    print("1. Symmetry: what zero and constant initialisation do")
    x, y = datasets.make_moons(200, noise=0.15, seed=args.seed)
    symmetry = {
        "zeros": symmetry_experiment(
            lambda s: keras.initializers.Zeros(), x, y, epochs, args.seed
        ),
        "constant 0.3": symmetry_experiment(
            lambda s: keras.initializers.Constant(0.3), x, y, epochs, args.seed
        ),
        "Glorot uniform": symmetry_experiment(
            initializers()["Glorot uniform"], x, y, epochs, args.seed
        ),
    }
    labs.print_table(
        f"2-16-16-1 tanh network on moons, {epochs} epochs, zero biases",
        (
            "kernel initialiser",
            "accuracy",
            "largest kernel change",
            "largest unit-to-unit difference",
            "distinct hidden units",
        ),
        [
            (
                name,
                r["accuracy"],
                r["kernel_change"],
                r["unit_spread"],
                r["distinct_hidden_outputs"],
            )
            for name, r in symmetry.items()
        ],
    )
    run.keep(symmetry=symmetry)


# %% [markdown]
# ## 2. Activation and gradient scale through depth
#
# Each initialiser sets the variance of the weights. Glorot keeps the
# signal's scale steady through tanh layers, He through ReLU layers; a
# fixed uniform(-1, 1) makes it explode.


# %%
def deep_statistics(initializer, activation, width, n, depth, draws, seed):
    """Forward and backward passes through `depth` Dense layers (no biases).

    Weights come from the Keras initializer; the inputs are standard normal.
    Going forward it records the standard deviation of each layer's output;
    going backward it sends a standard normal gradient in at the top and
    records the standard deviation of the gradient reaching each layer's
    input (delta_{l-1} = (delta_l * f'(z_l)) W_l^T, the chain rule).

    One finite-width network drifts at random from layer to layer, so the
    curves are geometric means over `draws` independent networks, and the
    per-layer gain is the average factor by which one layer multiplies the
    standard deviation: (last / first) ** (1 / (depth - 1)).
    """
    rng = np.random.default_rng(seed)
    f, df = {
        "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
        "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0) * 1.0),
    }[activation]
    log_forward, log_backward, saturated = [], [], []
    for _ in range(draws):
        h = rng.normal(size=(n, width))
        kernels, pre, forward = [], [], []
        for _ in range(depth):
            layer_init = initializer(int(rng.integers(2**31)))
            w = keras.ops.convert_to_numpy(layer_init((width, width)))
            kernels.append(w.astype("float64"))
            z = h @ kernels[-1]
            pre.append(z)
            h = f(z)
            forward.append(h.std())
        delta = rng.normal(size=(n, width))
        backward = []
        for w, z in zip(reversed(kernels), reversed(pre)):
            delta = (delta * df(z)) @ w.T
            backward.append(delta.std())
        log_forward.append(np.log(forward))
        log_backward.append(np.log(backward[::-1]))
        saturated.append(np.mean(np.abs(h) > 0.99))
    forward = np.exp(np.mean(log_forward, axis=0))
    backward = np.exp(np.mean(log_backward, axis=0))
    return {
        "forward_std": forward.tolist(),
        "backward_std": backward.tolist(),
        "last_over_first": float(forward[-1] / forward[0]),
        "gain_per_layer": float(
            (forward[-1] / forward[0]) ** (1 / (depth - 1))
        ),
        "gradient_first_over_last": float(backward[0] / backward[-1]),
        "saturated_last_layer": (
            float(np.mean(saturated)) if activation == "tanh" else None
        ),
    }


def scale_through_depth(run):
    """Measures the spread of activations and gradients layer by layer."""
    args, draws, n, width = run.args, run.draws, run.n, run.width
    print(
        f"\n2. Activation and gradient scale through {DEPTH} layers of "
        f"width {width}"
    )
    deep = {}
    rows = []
    for activation in ("tanh", "relu"):
        for name, init in initializers().items():
            # Many small matrix products: one BLAS thread is much faster
            # than several competing with TensorFlow's for two cores.
            with threadpool_limits(1, user_api="blas"):
                stats = deep_statistics(
                    init, activation, width, n, DEPTH, draws, args.seed
                )
            deep[f"{name} / {activation}"] = stats
            rows.append(
                (
                    activation,
                    name,
                    stats["forward_std"][0],
                    stats["forward_std"][DEPTH // 2],
                    stats["forward_std"][-1],
                    stats["last_over_first"],
                    stats["gain_per_layer"],
                    stats["gradient_first_over_last"],
                )
            )
    labs.print_table(
        f"Standard deviation of the layer outputs (geometric mean over "
        f"{draws} networks)",
        (
            "activation",
            "initialiser",
            "std layer 1",
            f"layer {DEPTH // 2 + 1}",
            f"layer {DEPTH}",
            "last / first",
            "gain per layer",
            "gradient first / last",
        ),
        rows,
    )
    run.keep(deep=deep)


# %% [markdown]
# The spread of the activations, layer by layer, for each initialiser.


# %%
def plot_scale(run):
    """Draws the activation spread per layer for tanh and ReLU."""
    deep, out = run.deep, run.out
    fig, axes = plotting.new_figure(2, 2)
    layers_axis = np.arange(1, DEPTH + 1)
    for col, activation in enumerate(("tanh", "relu")):
        for name in initializers():
            stats = deep[f"{name} / {activation}"]
            axes[0, col].plot(layers_axis, stats["forward_std"], label=name)
            axes[1, col].plot(layers_axis, stats["backward_std"], label=name)
        axes[0, col].set_title(f"{activation}: activation std per layer")
        axes[1, col].set_title(f"{activation}: gradient std per layer")
        for row in range(2):
            axes[row, col].set_yscale("log")
            axes[row, col].set_xlabel("layer")
            axes[row, col].legend(fontsize=7)
    labs.save_figure(fig, out, "activation_std_per_layer")


# %% [markdown]
# ## 3. The variance each initialiser draws
#
# Glorot draws variance `2 / (fan_in + fan_out)`, He `2 / fan_in`; the
# variance measured from Keras's draws matches.


# %%
def variances_against_the_rules(run):
    """Compares the drawn variance with the Glorot and He formulas."""
    args, width = run.args, run.width
    print("\n3. The variance each initialiser draws, against the rules")
    fan = width
    variance_rows, variances = [], {}
    for name, init in initializers().items():
        measured = float(
            np.var(keras.ops.convert_to_numpy(init(args.seed)((fan, fan))))
        )
        variances[name] = measured
        variance_rows.append((name, measured, measured * fan))
    labs.print_table(
        f"Weight variance for a {fan} x {fan} kernel (Glorot's rule: "
        f"2 / (fan_in + fan_out) = {2 / (2 * fan):.2e}; He's: 2 / fan_in = "
        f"{2 / fan:.2e})",
        ("initialiser", "variance", "fan_in x variance"),
        variance_rows,
    )
    run.keep(variances=variances)


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    deep, draws, symmetry = run.deep, run.draws, run.symmetry
    variances, width = run.variances, run.width
    gt, ht = deep["Glorot uniform / tanh"], deep["He normal / tanh"]
    gr, hr = deep["Glorot uniform / relu"], deep["He normal / relu"]
    ut, ur = (
        deep["uniform(-0.05, 0.05) / tanh"],
        deep["uniform(-0.05, 0.05) / relu"],
    )
    lt, lr_ = deep["uniform(-1, 1) / tanh"], deep["uniform(-1, 1) / relu"]
    gn = deep["Glorot normal / tanh"]
    results = {
        "symmetry": symmetry,
        "depth": DEPTH,
        "width": width,
        "draws": draws,
        "deep": deep,
        "weight_variance": variances,
    }
    run.keep(gn=gn, gr=gr, gt=gt, hr=hr, ht=ht, lr_=lr_, lt=lt, results=results)
    run.keep(ur=ur, ut=ut)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    symmetry = run.symmetry
    print(
        "\nSummary: with every weight equal, all hidden units in a layer "
        "compute the same thing, receive the same gradient and take the same "
        "step, so they stay copies of one another: after training, the "
        "zero-initialised network's units differ by "
        f"{symmetry['zeros']['unit_spread']:.1g} (its kernels moved by "
        f"{symmetry['zeros']['kernel_change']:.1g}: zero outgoing weights "
        "send no gradient back, so only the output bias learned), the "
        f"constant one's by {symmetry['constant 0.3']['unit_spread']:.1g} "
        "although its kernels moved by up to "
        f"{symmetry['constant 0.3']['kernel_change']:.2g}; "
        "16 units behave as one "
        f"({symmetry['constant 0.3']['distinct_hidden_outputs']} distinct "
        "output), and the accuracy shows it "
        f"({symmetry['zeros']['accuracy']:.0%} and "
        f"{symmetry['constant 0.3']['accuracy']:.0%} against "
        f"{symmetry['Glorot uniform']['accuracy']:.0%} from random weights, "
        "whose biases also started at zero: breaking the symmetry needs only "
        "the weights to be random)."
    )


def conclude_scale(run):
    """Says what the measurements of scale through depth show."""
    gn, gr, gt, hr, ht, lr_ = run.gn, run.gr, run.gt, run.hr, run.ht, run.lr_
    lt, ur, ut = run.lt, run.ur, run.ut
    print(
        f"Through {DEPTH} layers the scale of the weights decides everything. "
        "Each "
        "layer multiplies the activation variance by about fan_in x Var(w) "
        "(times 1/2 for ReLU, which zeroes half its inputs). Small uniform "
        "weights make that factor far below one and the signal vanishes "
        f"(last / first layer std {ut['last_over_first']:.1e} with tanh, "
        f"{ur['last_over_first']:.1e} with ReLU); uniform(-1, 1) makes it far "
        f"above one, so ReLU explodes ({lr_['last_over_first']:.1e}) and tanh "
        f"saturates ({lt['saturated_last_layer']:.0%} of its last outputs "
        "beyond 0.99, where its slope is nearly zero), while the large "
        "weights still blow the gradient up on its way back (the first "
        f"layer gets {lt['gradient_first_over_last']:.1e} times the gradient "
        "the last one got). Glorot sets "
        "Var(w) = 2 / (fan_in + fan_out), a factor of one for a layer that "
        f"is linear near zero like tanh: tanh stays in range (a gain of "
        f"{gt['gain_per_layer']:.3f} per layer, {gt['last_over_first']:.2f} "
        f"after {DEPTH} layers, a slow decline from tanh's own squashing, "
        "against a gain of "
        f"{ut['gain_per_layer']:.2f} for small uniform weights) and the "
        "gradient reaching the first layer keeps "
        f"{gt['gradient_first_over_last']:.2f} of its size; with ReLU the "
        f"lost half compounds instead (gain {gr['gain_per_layer']:.3f}, close "
        f"to sqrt(1/2) = 0.707; {gr['last_over_first']:.1e} after {DEPTH} "
        "layers). He doubles the variance to 2 / fan_in to pay for that "
        f"half, and ReLU stays stable (gain {hr['gain_per_layer']:.3f}, "
        f"{hr['last_over_first']:.2f} after {DEPTH} layers, gradient "
        f"{hr['gradient_first_over_last']:.2f}). He with tanh errs the other "
        "way: twice the variance Glorot gives keeps the forward signal wider "
        f"(last std {ht['forward_std'][-1]:.2f} against "
        f"{gt['forward_std'][-1]:.2f}) but makes the gradient grow on its "
        f"way to the input ({ht['gradient_first_over_last']:.2f} times the "
        "size it started with), a first step towards exploding gradients. "
        "Uniform or "
        "normal hardly matters once the variance is right: Glorot uniform "
        f"and Glorot normal end at {gt['forward_std'][-1]:.3f} and "
        f"{gn['forward_std'][-1]:.3f}; a uniform distribution is simply a "
        "bounded way to draw weights with a chosen variance "
        "(limit = sqrt(3 Var))."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/06_weight_init/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    symmetry(run)
    scale_through_depth(run)
    plot_scale(run)
    variances_against_the_rules(run)
    collect_results(run)
    conclude(run)
    conclude_scale(run)
    return labs.finish_run(run, 6, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the weight initialisers in NumPy; the grader checks the spread,
# range and mean of what you draw, and that a seed repeats them.
#
# - Get the starter: `mlkeras exercise 06 -o lab06.py`
# - Check your work: `mlkeras check lab06.py --lab 06`

# %%
EXERCISE = "the zeros, uniform, Glorot and He initialisers, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
