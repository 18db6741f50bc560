# %%
"""Lab 01: The perceptron.

Objectives:
- Compute a perceptron's output by hand: weighted sum, bias, step activation.
- Train it with the perceptron learning rule, written from scratch in NumPy.
- Build the same model as a one-unit Keras network and compare the boundaries.
- See why no perceptron learns XOR, and how one hidden layer fixes it.

Runtime: about 16 s with --quick, 25 s in full (2-core CPU, TensorFlow
import included).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "01_perceptron"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

# %% [markdown]
# ## 1. One forward pass by hand
#
# A perceptron multiplies each input by its weight, adds the bias and passes
# the sum `z` through a step: the output is 1 where `z >= 0`, else 0.


# %%
def step(z):
    """The perceptron's threshold activation: 1 where z >= 0, else 0."""
    return (np.asarray(z) >= 0).astype("int32")


def perceptron_predict(x, w, b):
    """Weighted sum plus bias, then the step: one output per row of `x`."""
    return step(x @ w + b)


def forward_pass_by_hand():
    """Computes one output with numbers small enough to check on paper."""
    print("1. One forward pass by hand")
    x0, w0, b0 = np.array([0.5, -1.0]), np.array([2.0, 1.0]), 0.25
    z0 = float(x0 @ w0 + b0)
    print(
        f"   x = {x0}, w = {w0}, b = {b0}: z = 2*0.5 + 1*(-1) + 0.25 = "
        f"{z0:.2f} -> step(z) = {int(step(z0))}"
    )
    return z0


# %% [markdown]
# ## 2. The learning rule on linearly separable points
#
# Rosenblatt's rule changes the weights only after a mistake, and only
# towards the misclassified point. On points a line can separate, it stops
# making mistakes after finitely many updates (the convergence theorem).


# %%
def perceptron_train(x, y, learning_rate=0.1, epochs=20, seed=0):
    """Rosenblatt's learning rule, one sample at a time.

    For each sample the error e = y - y_hat is -1, 0 or +1; the update
    w += learning_rate * e * x, b += learning_rate * e moves the boundary
    towards the misclassified point and leaves correct points alone.

    Returns:
        `(w, b, errors)`, where `errors[k]` counts mistakes in epoch k.
    """
    rng = np.random.default_rng(seed)
    w = np.zeros(x.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        mistakes = 0
        for i in rng.permutation(len(x)):
            error = y[i] - perceptron_predict(x[i], w, b)
            if error:
                w += learning_rate * error * x[i]
                b += learning_rate * error
                mistakes += 1
        errors.append(mistakes)
    return w, b, errors


def learning_rule_on_separable_points(n, epochs, seed):
    """Trains the NumPy perceptron and reports when it stops making mistakes."""
    print("2. The learning rule on linearly separable points")
    x, y = datasets.make_separable(n, margin=0.1, seed=seed)
    w, b, errors = perceptron_train(x, y, epochs=epochs, seed=seed)
    accuracy = float(np.mean(perceptron_predict(x, w, b) == y))
    converged = next((k + 1 for k, e in enumerate(errors) if e == 0), None)
    print(
        f"   mistakes per epoch: {errors[:10]}{' ...' if epochs > 10 else ''}"
    )
    print(f"   first epoch without a mistake: {converged}")
    print(
        "   The rule settles once a line splits the classes: no more updates."
    )
    return x, y, (w, b, errors), accuracy, converged


# %% [markdown]
# ## 3. The same model in Keras
#
# The step has zero gradient almost everywhere, so Keras trains its smooth
# relative: one `Dense` unit with a sigmoid and binary cross-entropy.
# Thresholding the output at 0.5 gives back a perceptron.


# %%
def keras_perceptron(x, y, epochs, seed):
    """One Dense unit with a sigmoid, trained by gradient descent.

    The step function has zero gradient almost everywhere, so Keras trains
    its smooth relative, the sigmoid, with binary cross-entropy; thresholding
    the output at 0.5 gives back a step-activated perceptron.
    """
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(1, activation="sigmoid", name="perceptron"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return model


def same_model_in_keras(x, y, numpy_fit, epochs, seed, out):
    """Trains Dense(1, sigmoid) and draws both decision boundaries."""
    print("3. The same model in Keras")
    w, b, _ = numpy_fit
    model = keras_perceptron(x, y, epochs, seed)
    kernel, bias = model.get_layer("perceptron").get_weights()
    probabilities = model.predict(x, verbose=0)[:, 0]
    accuracy = float(np.mean((probabilities >= 0.5) == y))
    print(
        f"   Keras weights {kernel[:, 0].round(3)}, bias {bias.round(3)}; "
        f"NumPy weights {w.round(3)}, bias {round(b, 3)}"
    )
    print("   Both find a line through the gap between the classes.")
    fig, axes = plotting.new_figure(1, 2)
    plotting.plot_decision_boundary(
        axes[0],
        lambda g: perceptron_predict(g, w, b),
        x,
        y,
        title=f"NumPy learning rule: {accuracy_text(numpy_fit, x, y)}",
    )
    plotting.plot_decision_boundary(
        axes[1],
        lambda g: model.predict(g, verbose=0)[:, 0],
        x,
        y,
        title=f"Keras Dense(1, sigmoid): {accuracy:.0%} correct",
    )
    labs.save_figure(fig, out, "decision_boundary")
    return accuracy


def accuracy_text(fit, x, y):
    """`"NN% correct"` for a NumPy perceptron `(w, b, errors)` on `(x, y)`."""
    w, b, _ = fit
    return f"{np.mean(perceptron_predict(x, w, b) == y):.0%} correct"


# %% [markdown]
# ## 4. XOR: no line separates the classes
#
# XOR puts the two classes on opposite diagonals of a square. Any line
# leaves at least one of the four corners on the wrong side, so the rule
# never stops correcting itself.


# %%
def xor_defeats_the_perceptron(n, epochs, seed):
    """Runs the learning rule on XOR and scores the four corners."""
    print("4. XOR: no line separates the classes")
    xx, xy = datasets.make_xor(n, noise=0.1, seed=seed)
    xw, xb, xor_errors = perceptron_train(xx, xy, epochs=epochs, seed=seed)
    accuracy = float(np.mean(perceptron_predict(xx, xw, xb) == xy))
    # A line splits the four corners at best 3 to 1, so at most 3 are right.
    corner_accuracy = float(
        np.mean(perceptron_predict(CORNERS, xw, xb) == CORNER_LABELS)
    )
    print(f"   mistakes per epoch never reach 0: {xor_errors[:10]} ...")
    print(
        f"   the final line gets {corner_accuracy:.0%} of the four corners "
        "right; no line can get more than 75%."
    )
    return xx, xy, (xw, xb, xor_errors), accuracy, corner_accuracy


CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float64")
CORNER_LABELS = np.array([0, 1, 1, 0])


# %% [markdown]
# ## 5. One hidden layer fixes it
#
# A hidden layer bends the boundary. Four tanh units learn XOR by gradient
# descent, and three step units with hand-set weights compute it exactly:
# XOR(a, b) = AND(OR(a, b), NAND(a, b)).


# %%
def hidden_layer_network(x, y, epochs, seed):
    """Two inputs, four tanh hidden units, one sigmoid output."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(4, activation="tanh", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def handmade_xor(x):
    """XOR from three step units with chosen weights: AND(OR(x), NAND(x))."""
    x = (np.asarray(x) > 0.5).astype("float64")
    h_or = step(x @ np.array([1.0, 1.0]) - 0.5)
    h_nand = step(x @ np.array([-1.0, -1.0]) + 1.5)
    return step(h_or + h_nand - 1.5)


def hidden_layer_fixes_xor(xx, xy, epochs, seed):
    """Trains the 4-unit network on XOR and checks the hand-made one."""
    print("5. One hidden layer fixes it")
    hidden = hidden_layer_network(xx, xy, epochs, seed)
    accuracy = float(
        np.mean((hidden.predict(xx, verbose=0)[:, 0] >= 0.5) == xy)
    )
    handmade = float(np.mean(handmade_xor(CORNERS) == CORNER_LABELS))
    print(
        f"   4 tanh units: {accuracy:.0%} correct; three hand-set step "
        f"units: {handmade:.0%} of the corners."
    )
    return hidden, accuracy, handmade


def plot_xor(xx, xy, xor_fit, hidden, separable_errors, out):
    """Draws both XOR boundaries and the mistakes per epoch."""
    xw, xb, xor_errors = xor_fit
    fig, axes = plotting.new_figure(1, 3)
    plotting.plot_decision_boundary(
        axes[0],
        lambda g: perceptron_predict(g, xw, xb),
        xx,
        xy,
        title="a perceptron cannot separate XOR",
    )
    plotting.plot_decision_boundary(
        axes[1],
        lambda g: hidden.predict(g, verbose=0)[:, 0],
        xx,
        xy,
        title="4 tanh hidden units separate it",
    )
    epochs = range(1, len(xor_errors) + 1)
    axes[2].plot(epochs, separable_errors, marker="o", label="separable")
    axes[2].plot(epochs, xor_errors, marker="s", label="XOR")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("mistakes (samples per epoch)")
    axes[2].set_title("mistakes reach 0 only on separable data")
    axes[2].legend()
    labs.save_figure(fig, out, "xor")


# %% [markdown]
# ## Summary
#
# `main` runs the sections in order, prints a table of what they measured
# and writes it to `results.json` under `--out` (default `runs/01_perceptron/`).


# %%
def summarize(results):
    """Prints the results table and what it shows."""
    r = results
    labs.print_table(
        "Results",
        ("model", "data", "accuracy"),
        [
            (
                "perceptron (NumPy rule)",
                "separable",
                r["separable_numpy_accuracy"],
            ),
            (
                "Dense(1, sigmoid) (Keras)",
                "separable",
                r["separable_keras_accuracy"],
            ),
            ("perceptron (NumPy rule)", "XOR", r["xor_perceptron_accuracy"]),
            (
                "perceptron, 4 corners",
                "XOR",
                r["xor_perceptron_corner_accuracy"],
            ),
            (
                "Dense(4, tanh) + Dense(1)",
                "XOR",
                r["xor_hidden_layer_accuracy"],
            ),
            (
                "three hand-set step units",
                "XOR corners",
                r["xor_handmade_accuracy"],
            ),
        ],
    )
    print(
        "\nSummary: on separable points the learning rule stops making "
        f"mistakes (epoch {r['separable_converged_epoch']}); on XOR it never "
        f"does (at least {r['xor_perceptron_min_mistakes']} per epoch), "
        "because no line separates opposite diagonals. One hidden layer "
        f"solves it ({r['xor_hidden_layer_accuracy']:.0%})."
    )


def xor_results(accuracy, corner_accuracy, xor_fit, hidden_accuracy, handmade):
    """The XOR part of the results, named as `results.json` holds it."""
    return {
        "xor_perceptron_accuracy": accuracy,
        "xor_perceptron_corner_accuracy": corner_accuracy,
        "xor_perceptron_min_mistakes": int(min(xor_fit[2])),
        "xor_hidden_layer_accuracy": hidden_accuracy,
        "xor_handmade_accuracy": handmade,
    }


def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    args, out = run.args, run.out
    n, epochs, keras_epochs = (100, 20, 40) if args.quick else (400, 50, 100)
    z0 = forward_pass_by_hand()
    x, y, fit, numpy_accuracy, converged = learning_rule_on_separable_points(
        n, epochs, args.seed
    )
    keras_accuracy = same_model_in_keras(
        x, y, fit, keras_epochs, args.seed, out
    )
    xx, xy, xor_fit, xor_accuracy, corners = xor_defeats_the_perceptron(
        n, epochs, args.seed
    )
    hidden, hidden_accuracy, handmade = hidden_layer_fixes_xor(
        xx, xy, keras_epochs * 2, args.seed
    )
    plot_xor(xx, xy, xor_fit, hidden, fit[2], out)
    results = dict(
        forward_pass_z=z0,
        separable_numpy_accuracy=numpy_accuracy,
        separable_converged_epoch=converged,
        separable_keras_accuracy=keras_accuracy,
        **xor_results(
            xor_accuracy, corners, xor_fit, hidden_accuracy, handmade
        ),
    )
    summarize(results)
    run.keep(results=results)
    return labs.finish_run(run, 1, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the perceptron yourself, in NumPy: the step, the prediction and the
# learning rule.
#
# - Get the starter: `mlkeras exercise 01 -o lab01.py`
# - Check your work: `mlkeras check lab01.py --lab 01`

# %%
EXERCISE = "the perceptron's step, prediction and learning rule, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
