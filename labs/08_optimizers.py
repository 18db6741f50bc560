# %%
"""Lab 08: Optimizers.

Objectives:
- Write the update rules of SGD, SGD with momentum, RMSProp and Adam in NumPy
  and check that they take exactly the steps `keras.optimizers` takes.
- Run all four on an ill-conditioned quadratic (a long, narrow valley), each
  with its best learning rate, and plot their trajectories.
- Count the steps each needs to reach a given loss, and see why plain SGD
  is slow there: its learning rate is capped by the steepest direction.
- Check how much of the adaptive methods' advantage is due to the valley
  being aligned with the axes, by rotating it.
- Train the same small network on the digits with each optimizer.

Runtime: about 12 s with --quick, 25 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "08_optimizers"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

OPTIMIZERS = ("SGD", "momentum", "RMSProp", "Adam")

MOMENTUM = 0.9

RHO = 0.9  # RMSProp's decay of the squared gradients

BETA_1, BETA_2 = 0.9, 0.999  # Adam's decays

EPSILON = 1e-7  # Keras's default epsilon


# %% [markdown]
# ## Settings
#
# A quadratic valley with curvatures 1 and 200, a start point and a grid
# of learning rates; `--quick` (or `QUICK` in a notebook) uses a coarser
# grid and fewer epochs.


# %%
def choose_settings(run):
    """Picks the valley, the start point and the learning-rate grid."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    curvatures = (1.0, 200.0)
    w0 = (-4.0, 1.0)
    target_ratio = 1e-3
    max_steps = 2000
    grid = np.geomspace(1e-3, 1.0, 16 if args.quick else 61)
    model_epochs = 5 if args.quick else 30
    run.keep(curvatures=curvatures, grid=grid, max_steps=max_steps)
    run.keep(model_epochs=model_epochs, target_ratio=target_ratio, w0=w0)


# %% [markdown]
# ## 1. The update rules in NumPy against keras.optimizers
#
# SGD, momentum, RMSProp and Adam, each written in NumPy, take the same
# steps as `keras.optimizers` on the same loss.


# %%
def rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


class Quadratic:
    """f(w) = 1/2 w^T A w with eigenvalues `curvatures`, rotated by `angle`."""

    def __init__(self, curvatures, angle=0.0):
        turn = rotation(angle)
        self.a = turn @ np.diag(curvatures) @ turn.T
        self.curvatures = np.asarray(curvatures, dtype="float64")

    def loss(self, w):
        return 0.5 * float(w @ self.a @ w)

    def grad(self, w):
        return self.a @ w


def keras_optimizer(name, learning_rate):
    if name == "SGD":
        return keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=MOMENTUM)
    if name == "RMSProp":
        return keras.optimizers.RMSprop(learning_rate, rho=RHO, epsilon=EPSILON)
    return keras.optimizers.Adam(
        learning_rate, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON
    )


class NumpyOptimizer:
    """One of the four update rules, written out for a NumPy vector."""

    def __init__(self, name, learning_rate):
        self.name = name
        self.lr = learning_rate
        self.step_count = 0
        self.m = None  # momentum / first moment
        self.v = None  # running mean of squared gradients

    def step(self, w, g):
        if self.m is None:
            self.m = np.zeros_like(w)
            self.v = np.zeros_like(w)
        self.step_count += 1
        if self.name == "SGD":
            return w - self.lr * g
        if self.name == "momentum":
            # A velocity that keeps a decaying sum of past steps.
            self.m = MOMENTUM * self.m - self.lr * g
            return w + self.m
        if self.name == "RMSProp":
            # Each coordinate's step is divided by its recent gradient size.
            self.v = RHO * self.v + (1 - RHO) * g**2
            return w - self.lr * g / np.sqrt(self.v + EPSILON)
        if self.name == "Adam":
            # Momentum on top of RMSProp's scaling, with both running means
            # corrected for starting at zero.
            t = self.step_count
            self.m = BETA_1 * self.m + (1 - BETA_1) * g
            self.v = BETA_2 * self.v + (1 - BETA_2) * g**2
            alpha = self.lr * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
            return w - alpha * self.m / (np.sqrt(self.v) + EPSILON)
        raise ValueError(f"Unknown optimizer. Received: name={self.name!r}")


def run_numpy(problem, name, lr, w0, max_steps):
    opt = NumpyOptimizer(name, lr)
    w = np.array(w0, dtype="float64")
    path, losses = [w.copy()], [problem.loss(w)]
    for _ in range(max_steps):
        w = opt.step(w, problem.grad(w))
        loss = problem.loss(w)
        path.append(w.copy())
        losses.append(loss)
        if not np.isfinite(loss) or loss > 1e6 * losses[0]:
            break
    return np.array(path), np.array(losses)


def check_against_keras(problem, w0, n_steps):
    """Max |NumPy step - Keras step| over `n_steps` updates, per optimizer."""
    lrs = {"SGD": 0.005, "momentum": 0.002, "RMSProp": 0.05, "Adam": 0.1}
    diffs = {}
    for name in OPTIMIZERS:
        ours, _ = run_numpy(problem, name, lrs[name], w0, n_steps)
        variable = keras.Variable(np.array(w0, dtype="float32"))
        optimizer = keras_optimizer(name, lrs[name])
        a = problem.a.astype("float32")
        theirs = [np.array(w0)]
        for _ in range(n_steps):
            w = keras.ops.convert_to_numpy(variable)
            optimizer.apply_gradients(
                [(keras.ops.convert_to_tensor(a @ w), variable)]
            )
            theirs.append(keras.ops.convert_to_numpy(variable))
        diffs[name] = float(np.max(np.abs(ours - np.array(theirs))))
    return diffs


def update_rules_against_keras(run):
    """Runs each NumPy optimizer next to its Keras twin."""
    args, curvatures, w0 = run.args, run.curvatures, run.w0
    print("1. The update rules in NumPy against keras.optimizers")
    valley = Quadratic(curvatures)
    diffs = check_against_keras(valley, w0, 20 if args.quick else 100)
    print(
        "   max |NumPy - Keras| over the trajectory: "
        + ", ".join(f"{k} {v:.1g}" for k, v in diffs.items())
    )
    run.keep(diffs=diffs, valley=valley)


# %% [markdown]
# ## 2. An ill-conditioned quadratic
#
# Plain SGD must keep its step below `2 / largest curvature`, so it crawls
# along the flat direction. Momentum builds speed along it; RMSProp and
# Adam scale each coordinate by its own gradient size.


# %%
def steps_to_reach(losses, target):
    """The first step from which the loss stays at or below `target`."""
    above = np.nonzero(~(losses <= target))[0]
    if len(above) == 0:
        return 0
    first = above[-1] + 1
    return int(first) if first < len(losses) else None


def tune(problem, name, w0, target, max_steps, grid):
    """The learning rate from `grid` that reaches `target` in fewest steps."""
    best = (None, None)
    for lr in grid:
        _, losses = run_numpy(problem, name, lr, w0, max_steps)
        steps = (
            steps_to_reach(losses, target) if len(losses) > max_steps else None
        )
        if steps is not None and (best[1] is None or steps < best[1]):
            best = (float(lr), steps)
    return best


def plot_trajectories(out, problem, paths, title, name, target):
    fig, axes = plotting.new_figure(1, 2, width=6)
    ax = axes[0]
    everything = np.concatenate(list(paths.values()))
    lim = 1.1 * np.max(np.abs(everything), axis=0)
    gx, gy = np.meshgrid(
        np.linspace(-lim[0], lim[0], 200), np.linspace(-lim[1], lim[1], 200)
    )
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    z = 0.5 * np.sum((grid @ problem.a) * grid, axis=1).reshape(gx.shape)
    ax.contour(gx, gy, np.log10(z + 1e-12), levels=15, cmap="Greys")
    for label, path in paths.items():
        ax.plot(
            path[:, 0],
            path[:, 1],
            marker=".",
            markersize=3,
            linewidth=1,
            label=label,
        )
    ax.plot([0], [0], "k*", markersize=12)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title(title)
    ax.legend()
    for label, path in paths.items():
        losses = [problem.loss(w) for w in path]
        axes[1].semilogy(np.maximum(losses, 1e-16), label=label)
    axes[1].axhline(
        target, color="k", linestyle="--", linewidth=1, label="target"
    )
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("loss")
    axes[1].set_title("loss per step (each at its best learning rate)")
    axes[1].legend()
    labs.save_figure(fig, out, name)


def ill_conditioned_valley(run):
    """Tunes each optimizer's learning rate and counts steps to the target."""
    curvatures, grid, max_steps = run.curvatures, run.grid, run.max_steps
    out, target_ratio, valley = run.out, run.target_ratio, run.valley
    w0 = run.w0
    print(
        f"2. An ill-conditioned quadratic: curvatures {curvatures}, "
        f"condition number {curvatures[1] / curvatures[0]:.0f}"
    )
    target = target_ratio * valley.loss(np.array(w0))
    rows, tuned, paths = [], {}, {}
    for name in OPTIMIZERS:
        lr, steps = tune(valley, name, w0, target, max_steps, grid)
        tuned[name] = {"learning_rate": lr, "steps": steps}
        paths[name], _ = run_numpy(valley, name, lr, w0, steps or max_steps)
    sgd_limit = 2.0 / max(curvatures)
    _, sgd_above = run_numpy(valley, "SGD", 1.05 * sgd_limit, w0, 200)
    _, sgd_below = run_numpy(valley, "SGD", 0.95 * sgd_limit, w0, 200)
    plot_trajectories(
        out,
        valley,
        paths,
        "ill-conditioned valley",
        "quadratic_trajectories",
        target,
    )
    run.keep(rows=rows, sgd_above=sgd_above, sgd_below=sgd_below)
    run.keep(sgd_limit=sgd_limit, target=target, tuned=tuned)


# %% [markdown]
# ## 3. The same valley turned by 45 degrees
#
# RMSProp and Adam rescale coordinates, not directions: once the valley is
# turned by 45 degrees their advantage shrinks.


# %%
def turned_valley(run):
    """Repeats the race with the valley's axes turned
    away from the coordinates.
    """
    curvatures, grid, max_steps = run.curvatures, run.grid, run.max_steps
    out, rows, sgd_above = run.out, run.rows, run.sgd_above
    sgd_below, sgd_limit = run.sgd_below, run.sgd_limit
    target_ratio, tuned, w0 = run.target_ratio, run.tuned, run.w0
    print("3. The same valley turned by 45 degrees")
    turned = Quadratic(curvatures, angle=np.pi / 4)
    # The start turns with the valley, so the problem is the same one seen in
    # other coordinates: SGD and momentum do not notice the difference.
    turned_w0 = rotation(np.pi / 4) @ np.array(w0)
    turned_target = target_ratio * turned.loss(np.array(turned_w0))
    rotated, rotated_paths = {}, {}
    for name in OPTIMIZERS:
        lr, steps = tune(
            turned, name, turned_w0, turned_target, max_steps, grid
        )
        rotated[name] = {"learning_rate": lr, "steps": steps}
        rotated_paths[name], _ = run_numpy(
            turned, name, lr, turned_w0, steps or max_steps
        )
    plot_trajectories(
        out,
        turned,
        rotated_paths,
        "the valley rotated by 45°",
        "rotated_trajectories",
        turned_target,
    )
    for name in OPTIMIZERS:
        rows.append(
            (
                name,
                tuned[name]["learning_rate"],
                tuned[name]["steps"],
                rotated[name]["learning_rate"],
                rotated[name]["steps"],
            )
        )
    labs.print_table(
        f"Steps to bring the loss below {target_ratio:g} x its start "
        f"(best learning rate of {len(grid)}, at most {max_steps} steps)",
        (
            "optimizer",
            "best lr",
            "steps",
            "best lr (rotated)",
            "steps (rotated)",
        ),
        rows,
    )
    print(
        f"   SGD's limit 2 / largest curvature = {sgd_limit:.3f}: "
        f"at 0.95x the loss ends at {sgd_below[-1]:.2g}, at 1.05x at "
        f"{sgd_above[-1]:.2g}"
    )
    run.keep(rotated=rotated)


# %% [markdown]
# ## 4. A small network on the digits
#
# On a real (if small) problem the same four optimizers train one network
# each, from the same starting weights.


# %%
def train_small_model(name, lr, seed, epochs):
    (x, y), (x_test, y_test) = datasets.load_digits(seed=seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        keras_optimizer(name, lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    history = model.fit(x, y, epochs=epochs, batch_size=64, verbose=0).history
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return history["loss"], float(test_accuracy)


def small_network(run):
    """Trains the same small network with each optimizer."""
    args, model_epochs = run.args, run.model_epochs
    print(f"4. A small network on the digits, {model_epochs} epochs each")
    model_lrs = {"SGD": 0.1, "momentum": 0.1, "RMSProp": 0.003, "Adam": 0.003}
    small = {}
    for name in OPTIMIZERS:
        losses, accuracy = train_small_model(
            name, model_lrs[name], args.seed, model_epochs
        )
        small[name] = {
            "learning_rate": model_lrs[name],
            "loss": losses,
            "final_loss": float(losses[-1]),
            "test_accuracy": accuracy,
        }
    labs.print_table(
        "Digits, Dense(32, tanh) + Dense(10), batch 64",
        (
            "optimizer",
            "learning rate",
            "first-epoch loss",
            "final loss",
            "test accuracy",
        ),
        [
            (
                k,
                v["learning_rate"],
                v["loss"][0],
                v["final_loss"],
                v["test_accuracy"],
            )
            for k, v in small.items()
        ],
    )
    run.keep(small=small)


# %% [markdown]
# Training loss per epoch, one line per optimizer.


# %%
def plot_small_network(run):
    """Draws the training loss per epoch for each optimizer."""
    model_epochs, out, small = run.model_epochs, run.out, run.small
    fig, ax = plotting.new_figure()
    for name, v in small.items():
        ax.semilogy(
            np.arange(1, model_epochs + 1),
            v["loss"],
            marker="o",
            label=f"{name} (lr {v['learning_rate']})",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("small network on the digits")
    ax.legend()
    labs.save_figure(fig, out, "small_model_loss")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def summarize(run):
    """Collects the measurements and says what they show."""
    curvatures, diffs = run.curvatures, run.diffs
    model_epochs, rotated = run.model_epochs, run.rotated
    sgd_above, sgd_below = run.sgd_above, run.sgd_below
    sgd_limit, small, target = run.sgd_limit, run.small, run.target
    tuned, valley, w0 = run.tuned, run.valley, run.w0
    results = {
        "curvatures": list(curvatures),
        "start_loss": valley.loss(np.array(w0)),
        "target_loss": target,
        "numpy_vs_keras_max_abs_diff": diffs,
        "quadratic": tuned,
        "rotated_quadratic": rotated,
        "sgd_stability_limit": sgd_limit,
        "sgd_final_loss_below_limit": float(sgd_below[-1]),
        "sgd_final_loss_above_limit": float(sgd_above[-1]),
        "small_model": small,
    }
    s = {k: v["steps"] for k, v in tuned.items()}
    r = {k: v["steps"] for k, v in rotated.items()}
    best_small = min(small, key=lambda k: small[k]["final_loss"])
    print(
        "\nSummary: the four update rules written in NumPy follow Keras's "
        f"optimizers to within {max(diffs.values()):.0g}. In a valley "
        f"{curvatures[1] / curvatures[0]:.0f} times more curved across than "
        f"along, plain SGD needed {s['SGD']} steps even at its best learning "
        f"rate, because any rate above 2 / {curvatures[1]:.0f} = "
        f"{sgd_limit:.3f} makes it bounce out of the steep "
        "direction (the loss grew to "
        f"{sgd_above[-1]:.2g} at 1.05 times that rate), and a rate that small "
        "crawls along the flat one. Momentum builds up speed along the floor "
        f"of the valley ({s['momentum']} steps); RMSProp ({s['RMSProp']}) and "
        f"Adam ({s['Adam']}) divide each coordinate's step by the size of its "
        "recent gradients, so the steep and the flat direction move at "
        "similar speed. Turned by 45 degrees, the valley no longer lines up "
        "with the coordinates that the adaptive methods scale: they needed "
        f"{r['RMSProp']} and {r['Adam']} steps there, while SGD "
        f"({r['SGD']}) and momentum ({r['momentum']}) took the same steps as "
        "before, since a rotation changes nothing for them; much of the "
        "adaptive methods' edge comes from curvature that lines up with the "
        "parameters. On the small network, with learning rates typical for "
        f"each method, {best_small} reached the lowest training loss in "
        f"{model_epochs} epochs ({small[best_small]['final_loss']:.3f}, "
        f"against {small['SGD']['final_loss']:.3f} for plain SGD)."
    )
    run.keep(results=results)


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/08_optimizers/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_settings(run)
    update_rules_against_keras(run)
    ill_conditioned_valley(run)
    turned_valley(run)
    small_network(run)
    plot_small_network(run)
    summarize(run)
    return labs.finish_run(run, 8, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the optimizer updates in NumPy, state in and state out; the grader
# compares several steps in a row with `keras.optimizers`.
#
# - Get the starter: `mlkeras exercise 08 -o lab08.py`
# - Check your work: `mlkeras check lab08.py --lab 08`

# %%
EXERCISE = "the SGD, momentum, RMSProp and Adam updates, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
