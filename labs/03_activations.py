# %%
"""Lab 03: Activation functions.

Objectives:
- Plot ReLU, Leaky ReLU, PReLU, sigmoid, tanh, softmax, Swish and GELU with
  their derivatives, and measure the numbers that matter: sigmoid's slope
  never exceeds 0.25, tanh's never exceeds 1.
- Check why a network needs a non-linearity: without one, layers add up to a
  linear map.
- Kill ReLU units with one oversized learning-rate step, count the dead ones,
  and compare with Leaky ReLU and PReLU.
- Turn logits into probabilities: softmax sums to 1 and stays finite for
  logits near 1000; sigmoid outputs do not sum to 1; dividing raw logits by
  their sum fails.
- Compare the smooth newcomers, Swish and GELU, with ReLU.

Runtime: about 12 s with --quick, 35 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

from math import erf

import keras
import numpy as np

from mlkeras import labs, plotting

LAB = "03_activations"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

LEAKY_SLOPE = 0.1


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains for fewer steps.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the number of training steps."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    steps = 150 if args.quick else 600
    run.keep(steps=steps)


# %% [markdown]
# ## 1. Each function and its slope
#
# Each activation is drawn with its derivative. The numbers to remember:
# sigmoid's slope never exceeds 0.25 and tanh's never exceeds 1, so a
# gradient shrinks every time it passes back through one of them. The
# derivatives measured by central differences match the formulas.


# %%
def _normal_cdf(x):
    return 0.5 * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def numpy_of(fn):
    """Wraps a Keras activation as a function from and to float64 arrays."""
    return lambda x: np.asarray(keras.ops.convert_to_numpy(fn(x)), "float64")


def sig(x):
    """The logistic sigmoid, written so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def activation_functions():
    """Name -> (function on a float64 array, analytic derivative, formula)."""
    prelu = keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(0.25),
        name="prelu",
        dtype="float64",
    )
    prelu.build((None, 1))
    return {
        "ReLU": (
            numpy_of(keras.activations.relu),
            lambda x: (x > 0).astype("float64"),
            "max(0, x)",
        ),
        "Leaky ReLU": (
            numpy_of(
                lambda x: keras.activations.leaky_relu(
                    x, negative_slope=LEAKY_SLOPE
                )
            ),
            lambda x: np.where(x > 0, 1.0, LEAKY_SLOPE),
            f"x if x > 0 else {LEAKY_SLOPE}x",
        ),
        "PReLU": (
            numpy_of(lambda x: prelu(x[:, None])[:, 0]),
            lambda x: np.where(x > 0, 1.0, 0.25),
            "x if x > 0 else a*x, a learned (here 0.25)",
        ),
        "sigmoid": (
            numpy_of(keras.activations.sigmoid),
            lambda x: sig(x) * (1 - sig(x)),
            "1 / (1 + e^-x)",
        ),
        "tanh": (
            numpy_of(keras.activations.tanh),
            lambda x: 1 - np.tanh(x) ** 2,
            "(e^x - e^-x) / (e^x + e^-x)",
        ),
        "softmax([x, 0])[0]": (
            numpy_of(
                lambda x: keras.activations.softmax(
                    keras.ops.stack([x, keras.ops.zeros_like(x)], axis=-1)
                )[:, 0]
            ),
            lambda x: sig(x) * (1 - sig(x)),
            "e^x / (e^x + e^0)",
        ),
        "Swish (SiLU)": (
            numpy_of(keras.activations.silu),
            lambda x: sig(x) * (1 + x * (1 - sig(x))),
            "x * sigmoid(x)",
        ),
        "GELU": (
            numpy_of(keras.activations.gelu),
            lambda x: (
                _normal_cdf(x) + x * np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi)
            ),
            "x * Phi(x)",
        ),
    }


def central_difference(fn, x, h=1e-4):
    """The derivative of `fn` at `x`, measured from the function alone."""
    return (fn(x + h) - fn(x - h)) / (2 * h)


def functions_and_slopes(run):
    """Measures each activation's range and largest slope."""
    print("1. Each function and its slope")
    grid = np.linspace(-6, 6, 2401)
    functions = activation_functions()
    stats, rows = {}, []
    for name, (fn, analytic, formula) in functions.items():
        values = fn(grid)
        slope = central_difference(fn, grid)
        stats[name] = {
            "min": float(values.min()),
            "max_derivative": float(slope.max()),
            "argmax_derivative": float(grid[np.argmax(slope)]),
            "derivative_at_5": float(
                central_difference(fn, np.array([5.0]))[0]
            ),
            "derivative_at_minus_5": float(
                central_difference(fn, np.array([-5.0]))[0]
            ),
            # Away from the kink at 0, where no derivative exists.
            "analytic_vs_measured": float(
                np.max(np.abs((slope - analytic(grid))[np.abs(grid) > 1e-3]))
            ),
        }
        s = stats[name]
        rows.append(
            (
                name,
                formula,
                s["min"],
                s["max_derivative"],
                s["derivative_at_minus_5"],
                s["derivative_at_5"],
                s["analytic_vs_measured"],
            )
        )
    labs.print_table(
        "Activations on [-6, 6] (derivatives measured by central differences)",
        (
            "function",
            "formula",
            "min f",
            "max f'",
            "f'(-5)",
            "f'(5)",
            "|f' - formula|",
        ),
        rows,
    )
    run.keep(functions=functions, grid=grid, stats=stats)


# %% [markdown]
# Solid lines are the functions, dashed lines their slopes.


# %%
def plot_functions(run):
    """Draws every activation with its derivative."""
    functions, grid, out = run.functions, run.grid, run.out
    fig, axes = plotting.new_figure(2, 4, width=3.6, height=3.0)
    for ax, (name, (fn, _, _)) in zip(axes.ravel(), functions.items()):
        ax.plot(grid, fn(grid), label="f(x)")
        ax.plot(grid, central_difference(fn, grid), "--", label="f'(x)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.legend(fontsize=8)
    labs.save_figure(fig, out, "activations_and_derivatives")


# %% [markdown]
# ## 2. Why a non-linearity
#
# Without an activation a stack of layers is linear: `f(a + b) = f(a) + f(b)`
# (biases aside). With ReLU or tanh the difference is far from zero.


# %%
def why_a_nonlinearity(run):
    """Tests whether f(a + b) = f(a) + f(b) with and without an activation."""
    args = run.args
    print("\n2. Why a non-linearity: is the network additive?")
    rng = np.random.default_rng(args.seed)
    a = rng.normal(size=(64, 4)).astype("float32")
    b = rng.normal(size=(64, 4)).astype("float32")
    additivity = {}
    for act in (None, "relu", "tanh"):
        keras.utils.set_random_seed(args.seed)
        net = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(16, activation=act, use_bias=False),
                keras.layers.Dense(16, activation=act, use_bias=False),
                keras.layers.Dense(1, use_bias=False),
            ]
        )
        f = lambda v: net.predict(v, verbose=0)  # noqa: E731
        additivity[str(act)] = float(np.max(np.abs(f(a + b) - f(a) - f(b))))
    print(
        "   max |f(a + b) - f(a) - f(b)| over 64 random pairs: "
        + ", ".join(f"{k}: {v:.2g}" for k, v in additivity.items())
    )
    run.keep(additivity=additivity)


# %% [markdown]
# ## 3. Dying ReLU
#
# A unit whose input is negative for every sample outputs 0 and gets zero
# gradient, so it never recovers: it is dead. One SGD step at a learning
# rate far too large pushes many ReLU units there. Leaky ReLU and PReLU keep a
# small slope below zero, so their units keep learning.


# %%
# The layer for each activation in the dying-ReLU experiment.
ACTIVATION_LAYERS = {
    "ReLU": keras.layers.ReLU,
    "Leaky ReLU": lambda: keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE),
    "PReLU": lambda: keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(LEAKY_SLOPE)
    ),
}


def census_of_units(hidden, act, x):
    """Which hidden units are negative, and which dead, on every input.

    Returns:
        `(negative, dead)`: boolean arrays, one entry per unit.
    """
    kernel, bias = hidden.get_weights()
    z = x @ kernel + bias
    slope = central_difference(
        lambda v: keras.ops.convert_to_numpy(act(v)), z, 1e-3
    )
    return np.all(z <= 0, axis=0), np.all(np.abs(slope) < 1e-6, axis=0)


def dying_relu_experiment(activation, big_lr, steps, seed):
    """One oversized SGD step on a 1-32-1 network, then sensible retraining.

    The targets, sin(3x) + 3, sit far above the untrained network's output,
    so the first error has the same sign on every input and the oversized
    step moves many hidden biases a long way in one direction. The network
    is then retrained for `steps` full-batch Adam steps at 0.01.

    A unit is counted as negative when its pre-activation is <= 0 on every
    training input, and as dead when its activation's slope (measured on the
    Keras layer by central differences) is zero on every input: then no
    gradient reaches its weights and nothing can change them again.

    Returns:
        A dict of losses and of those fractions at initialisation, after the
        big step and after retraining, plus the fraction of the units
        negative after the big step that are positive somewhere again at
        the end (revived).
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(256, 1)).astype("float32")
    y = (np.sin(3 * x) + 3).astype("float32")
    hidden = keras.layers.Dense(32, name="hidden")
    act = ACTIVATION_LAYERS[activation]()
    model = keras.Sequential(
        [keras.Input((1,)), hidden, act, keras.layers.Dense(1)]
    )
    census = lambda: census_of_units(hidden, act, x)  # noqa: E731
    result = {}
    negative, dead = census()
    result["negative_at_init"] = float(negative.mean())
    result["dead_at_init"] = float(dead.mean())
    model.compile(keras.optimizers.SGD(big_lr), "mse")
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    result["loss_after_big_step"] = float(model.evaluate(x, y, verbose=0))
    negative_step, dead = census()
    result["negative_after_big_step"] = float(negative_step.mean())
    result["dead_after_big_step"] = float(dead.mean())
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(
        np.tile(x, (steps, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(x),
        shuffle=False,
        verbose=0,
    )
    result["final_loss"] = float(model.evaluate(x, y, verbose=0))
    negative, dead = census()
    result["negative_at_end"] = float(negative.mean())
    result["dead_at_end"] = float(dead.mean())
    result["revived"] = float(
        np.sum(negative_step & ~negative) / max(1, negative_step.sum())
    )
    return result


def dying_relu(run):
    """Kills ReLU units with one oversized step and counts the dead ones."""
    args, steps = run.args, run.steps
    print(
        f"\n3. Dying ReLU: one SGD step at learning rate 1.0, then {steps} "
        "Adam steps at 0.01"
    )
    dying = {
        name: dying_relu_experiment(name, 1.0, steps, args.seed)
        for name in ("ReLU", "Leaky ReLU", "PReLU")
    }
    labs.print_table(
        "Hidden units of a 1-32-1 network (fractions of the 32 units)",
        (
            "activation",
            "dead at init",
            "dead after big step",
            "dead at end",
            "negative at end",
            "revived",
            "final loss",
        ),
        [
            (
                name,
                r["dead_at_init"],
                r["dead_after_big_step"],
                r["dead_at_end"],
                r["negative_at_end"],
                r["revived"],
                r["final_loss"],
            )
            for name, r in dying.items()
        ],
    )
    print(
        "   negative: pre-activation <= 0 on every input; dead: zero slope "
        "on every input; revived: negative after the big step, positive "
        "somewhere at the end"
    )
    run.keep(dying=dying)


# %% [markdown]
# ## 4. From logits to probabilities
#
# Softmax turns logits into probabilities that sum to 1, and subtracting
# the largest logit first keeps it finite for logits near 1000. Sigmoid
# scores each class on its own (its outputs need not sum to 1), and dividing
# raw logits by their sum can give negative "probabilities".


# %%
def logits_to_probabilities(run):
    """Compares softmax, sigmoid and dividing by the sum on logits."""
    print("\n4. From logits to probabilities")
    logits = np.array([[2.0, 1.0, 0.1]])
    run.keep(logits=logits)


# %% [markdown]
# Near 1000, `exp` overflows; softmax does not change when every logit
# moves by the same amount, so Keras subtracts the largest first.


# %%
def softmax_of_huge_logits(run):
    """Softmax of logits near 1000, with and without the max subtracted."""
    functions, grid, logits = run.functions, run.grid, run.logits
    huge = np.array([[1000.0, 999.0, 998.0]])
    soft = keras.ops.convert_to_numpy(keras.activations.softmax(logits))
    soft_huge = keras.ops.convert_to_numpy(keras.activations.softmax(huge))
    with np.errstate(over="ignore", invalid="ignore"):
        naive_huge = np.exp(huge) / np.exp(huge).sum()
    shifted = np.exp(huge - huge.max()) / np.exp(huge - huge.max()).sum()
    sigm = keras.ops.convert_to_numpy(keras.activations.sigmoid(logits))
    sigm_multi = keras.ops.convert_to_numpy(
        keras.activations.sigmoid(np.array([[3.0, 2.5, -4.0]]))
    )
    raw = np.array([1.0, 2.0, -2.0])
    raw_ratio = raw / raw.sum()
    softmax_sigmoid_diff = float(
        np.max(
            np.abs(
                functions["softmax([x, 0])[0]"][0](grid)
                - functions["sigmoid"][0](grid)
            )
        )
    )
    labs.print_table(
        "Softmax and sigmoid",
        ("input", "output", "sum"),
        [
            ("softmax [2, 1, 0.1]", np.round(soft[0], 4), float(soft.sum())),
            (
                "softmax [1000, 999, 998] (Keras)",
                np.round(soft_huge[0], 4),
                float(soft_huge.sum()),
            ),
            (
                "exp(z) / sum exp(z) in NumPy",
                naive_huge[0],
                float(naive_huge.sum()),
            ),
            (
                "same, after subtracting max(z)",
                np.round(shifted[0], 4),
                float(shifted.sum()),
            ),
            ("sigmoid [2, 1, 0.1]", np.round(sigm[0], 4), float(sigm.sum())),
            (
                "sigmoid [3, 2.5, -4] (multi-label)",
                np.round(sigm_multi[0], 4),
                float(sigm_multi.sum()),
            ),
            ("z / sum(z) for [1, 2, -2]", raw_ratio, float(raw_ratio.sum())),
        ],
    )
    print(
        f"   softmax of [x, 0] equals sigmoid(x) to {softmax_sigmoid_diff:.1e}"
    )
    run.keep(naive_huge=naive_huge, raw_ratio=raw_ratio, sigm=sigm)
    run.keep(sigm_multi=sigm_multi, soft=soft, soft_huge=soft_huge)
    run.keep(softmax_sigmoid_diff=softmax_sigmoid_diff)


# %% [markdown]
# ## 5. Swish and GELU against ReLU
#
# Swish and GELU follow ReLU for large inputs but dip slightly below zero
# and have a smooth slope, where ReLU's jumps at 0.


# %%
def swish_and_gelu(run):
    """Compares the smooth activations with ReLU."""
    functions, grid = run.functions, run.grid
    print("\n5. Swish and GELU against ReLU")
    relu_fn, swish_fn, gelu_fn = (
        functions[k][0] for k in ("ReLU", "Swish (SiLU)", "GELU")
    )
    gelu_tanh = np.asarray(
        keras.ops.convert_to_numpy(
            keras.activations.gelu(grid, approximate=True)
        ),
        "float64",
    )
    smooth = {
        name: {
            "minimum": float(fn(grid).min()),
            "argmin": float(grid[np.argmin(fn(grid))]),
            "slope_jump_at_0": float(
                central_difference(fn, np.array([1e-3]), 1e-4)[0]
                - central_difference(fn, np.array([-1e-3]), 1e-4)[0]
            ),
            "max_gap_to_relu": float(np.max(np.abs(fn(grid) - relu_fn(grid)))),
            "gap_to_relu_at_3": float(abs(fn(np.array([3.0]))[0] - 3.0)),
        }
        for name, fn in (
            ("ReLU", relu_fn),
            ("Swish", swish_fn),
            ("GELU", gelu_fn),
        )
    }
    gelu_approx_gap = float(np.max(np.abs(gelu_tanh - gelu_fn(grid))))
    run.keep(gelu_approx_gap=gelu_approx_gap, gelu_fn=gelu_fn, relu_fn=relu_fn)
    run.keep(smooth=smooth, swish_fn=swish_fn)


# %% [markdown]
# ReLU is exactly zero for half of standard normal inputs: its activations
# are sparse. GELU's tanh approximation stays close to the exact one.


# %%
def relu_sparsity_and_gelu_gap(run):
    """Measures ReLU's sparsity and the tanh approximation of GELU."""
    args, gelu_approx_gap, relu_fn = run.args, run.gelu_approx_gap, run.relu_fn
    smooth = run.smooth
    normal = np.random.default_rng(args.seed).normal(size=100_000)
    relu_sparsity = float(np.mean(relu_fn(normal) == 0))
    labs.print_table(
        "Smooth ReLU relatives",
        (
            "function",
            "minimum",
            "at x",
            "slope jump at 0",
            "|f - relu| max",
            "|f(3) - 3|",
        ),
        [
            (
                name,
                s["minimum"],
                s["argmin"],
                s["slope_jump_at_0"],
                s["max_gap_to_relu"],
                s["gap_to_relu_at_3"],
            )
            for name, s in smooth.items()
        ],
    )
    print(
        f"   GELU's tanh approximation differs from the exact GELU by at "
        f"most {gelu_approx_gap:.1e}; ReLU outputs exactly 0 for "
        f"{relu_sparsity:.0%} of standard normal inputs (sparsity)"
    )
    run.keep(relu_sparsity=relu_sparsity)


# %% [markdown]
# The dip below zero and the smooth slope, side by side with ReLU.


# %%
def plot_swish_and_gelu(run):
    """Draws Swish, GELU and ReLU with their slopes."""
    gelu_fn, grid, out, relu_fn = run.gelu_fn, run.grid, run.out, run.relu_fn
    swish_fn = run.swish_fn
    fig, axes = plotting.new_figure(1, 2)
    for name, fn in (("ReLU", relu_fn), ("Swish", swish_fn), ("GELU", gelu_fn)):
        axes[0].plot(grid, fn(grid), label=name)
        axes[1].plot(grid, central_difference(fn, grid), label=name)
    axes[0].set_xlim(-4, 3)
    axes[0].set_ylim(-0.5, 3)
    axes[0].set_title("Swish and GELU dip below zero, then follow ReLU")
    axes[1].set_xlim(-4, 3)
    axes[1].set_title("their slopes are smooth; ReLU's jumps at 0")
    for ax in axes:
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend()
    labs.save_figure(fig, out, "swish_gelu_relu")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    additivity, dying = run.additivity, run.dying
    gelu_approx_gap, naive_huge = run.gelu_approx_gap, run.naive_huge
    raw_ratio, relu_sparsity, sigm = run.raw_ratio, run.relu_sparsity, run.sigm
    sigm_multi, smooth, soft = run.sigm_multi, run.smooth, run.soft
    soft_huge, softmax_sigmoid_diff = run.soft_huge, run.softmax_sigmoid_diff
    stats = run.stats
    results = {
        "activations": stats,
        "sigmoid_max_derivative": stats["sigmoid"]["max_derivative"],
        "tanh_max_derivative": stats["tanh"]["max_derivative"],
        "additivity_error": additivity,
        "dying": dying,
        "softmax_sum": float(soft.sum()),
        "softmax_huge_logits": soft_huge[0],
        "softmax_huge_sum": float(soft_huge.sum()),
        "softmax_huge_finite": bool(np.all(np.isfinite(soft_huge))),
        "naive_softmax_huge_finite": bool(np.all(np.isfinite(naive_huge))),
        "sigmoid_sum": float(sigm.sum()),
        "sigmoid_multilabel_above_half": int(np.sum(sigm_multi > 0.5)),
        "raw_ratio_min": float(raw_ratio.min()),
        "softmax_two_logits_vs_sigmoid": softmax_sigmoid_diff,
        "smooth_relatives": smooth,
        "gelu_tanh_approximation_gap": gelu_approx_gap,
        "relu_sparsity_standard_normal": relu_sparsity,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    additivity, dying, raw_ratio = run.additivity, run.dying, run.raw_ratio
    relu_sparsity, sigm, smooth = run.relu_sparsity, run.sigm, run.smooth
    soft, stats = run.soft, run.stats
    r, lk, pr = dying["ReLU"], dying["Leaky ReLU"], dying["PReLU"]
    saturated_slope = max(
        stats["sigmoid"]["derivative_at_5"], stats["tanh"]["derivative_at_5"]
    )
    loss_order = (
        "lower"
        if max(lk["final_loss"], pr["final_loss"]) < r["final_loss"]
        else "not lower"
    )
    print(
        "\nSummary: the measured slopes confirm why deep sigmoid networks "
        "learn slowly: sigmoid's derivative peaks at "
        f"{stats['sigmoid']['max_derivative']:.3f} (at x = 0), so every "
        "sigmoid layer scales the backward signal by a quarter at best, while "
        f"tanh's peaks at {stats['tanh']['max_derivative']:.3f}; both fall "
        f"below {saturated_slope:.3f} "
        "at |x| = 5, where they saturate. Without an activation a network is "
        f"additive (error {additivity['None']:.1g}, rounding only), that is "
        "linear, whatever its depth; ReLU or tanh break that "
        f"({additivity['relu']:.2g}, {additivity['tanh']:.2g}). One SGD step "
        f"at a learning rate of 1.0 pushed the loss to "
        f"{r['loss_after_big_step']:.3g} and left "
        f"{r['dead_after_big_step']:.0%} "
        "of the ReLU units dead, flat on every input (none were at "
        "initialisation); the retraining that follows cannot revive them "
        f"(revived: {r['revived']:.0%}), and by its end "
        f"{r['dead_at_end']:.0%} are dead. Leaky ReLU and PReLU units never "
        f"die ({lk['dead_at_end']:.0%} and {pr['dead_at_end']:.0%}): many of "
        "them also end up on the negative side "
        f"({lk['negative_at_end']:.0%}, {pr['negative_at_end']:.0%}), but "
        "their small slope still passes gradient, so they keep learning, and "
        f"their final losses ({lk['final_loss']:.3g}, {pr['final_loss']:.3g}) "
        f"are {loss_order} than ReLU's ({r['final_loss']:.3g}). Softmax "
        f"turns logits into probabilities that sum to {soft.sum():.6f}, even "
        "for logits near 1000 where a plain exp overflows to NaN, because "
        "Keras subtracts the largest logit first (softmax does not change "
        "when every logit moves by the same amount). Sigmoid scores each "
        f"class on its own (sum {sigm.sum():.2f}, and two classes above 0.5 "
        "in the multi-label example), which suits independent labels, not a "
        "single choice; dividing raw logits by their sum is no alternative, "
        f"as it gives a negative 'probability' ({raw_ratio.min():.0f}). "
        "Swish and GELU follow ReLU for large inputs, dip slightly below zero "
        f"(minimum {smooth['Swish']['minimum']:.3f} and "
        f"{smooth['GELU']['minimum']:.3f}) and have a continuous slope at 0 "
        "where ReLU's jumps from 0 to 1; they cost an exponential or an error "
        "function per value where ReLU needs one comparison. ReLU stays the "
        "default because it is that cheap, has no parameter to tune, is "
        f"exactly zero for {relu_sparsity:.0%} of standard normal inputs "
        "(sparse activations), and its units need not die: the dying above "
        "took a deliberately oversized step on targets far from the output."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/03_activations/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    functions_and_slopes(run)
    plot_functions(run)
    why_a_nonlinearity(run)
    dying_relu(run)
    logits_to_probabilities(run)
    softmax_of_huge_logits(run)
    swish_and_gelu(run)
    relu_sparsity_and_gelu_gap(run)
    plot_swish_and_gelu(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 3, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the activation functions and their derivatives in NumPy; the
# grader compares them with Keras's activations on random inputs.
#
# - Get the starter: `mlkeras exercise 03 -o lab03.py`
# - Check your work: `mlkeras check lab03.py --lab 03`

# %%
EXERCISE = "each activation function and its derivative, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
