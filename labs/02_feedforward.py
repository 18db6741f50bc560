# %%
"""Lab 02: Feedforward networks.

Objectives:
- Run a small feedforward network by hand: weights per connection, a bias per
  node, layer after layer, and check the result against Keras.
- Count a network's parameters by hand and compare with `count_params()`.
- See the universal approximation theorem at work: build a network by hand
  whose error shrinks as it gets wider, then let gradient descent find
  networks of the same widths (1, 4, 16, 64 hidden units).
- Show that hidden layers without activations add nothing: a deep linear
  network collapses to, and fits exactly like, a single Dense layer.

Runtime: about 12 s with --quick, 30 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "02_feedforward"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

WIDTHS = (1, 4, 16, 64)

DEEP_HIDDEN = (16, 16, 16)


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) uses fewer points and steps.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the data size and training steps."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    n = 256 if args.quick else 512
    steps = 600 if args.quick else 2000
    run.keep(n=n, steps=steps)


# %% [markdown]
# ## 1. A 2-3-1 network by hand
#
# Each connection has one weight and each node one bias: a layer is a matrix
# product, a bias addition and an activation. Keras's `Dense` computes the
# same numbers.


# %%
def dense_stack(layer_sizes, activation, name):
    """A Sequential model with Dense layers of the
    given sizes (first = input).
    """
    layers = [keras.Input((layer_sizes[0],))]
    for k, units in enumerate(layer_sizes[1:-1]):
        layers.append(
            keras.layers.Dense(
                units, activation=activation, name=f"hidden_{k + 1}"
            )
        )
    layers.append(keras.layers.Dense(layer_sizes[-1], name="output"))
    return keras.Sequential(layers, name=name)


def network_by_hand(run):
    """Runs a 2-3-1 ReLU network in NumPy and checks it against Keras."""
    print("1. A 2-3-1 network by hand")
    x0 = np.array([[1.0, -2.0]])
    w1 = np.array([[0.5, -1.0, 0.25], [0.75, 0.5, -0.5]])
    b1 = np.array([0.1, 0.0, -0.2])
    w2 = np.array([[1.0], [-2.0], [0.5]])
    b2 = np.array([0.3])
    z1 = x0 @ w1 + b1  # one weight per connection, one bias per node
    h1 = np.maximum(z1, 0.0)  # ReLU
    y_hand = h1 @ w2 + b2
    small = dense_stack((2, 3, 1), "relu", "small")
    small.set_weights([w1, b1, w2, b2])
    y_keras = small.predict(x0, verbose=0)
    forward_diff = float(np.max(np.abs(y_hand - y_keras)))
    print(
        f"   z1 = {z1[0].round(3)}, h1 = relu(z1) = {h1[0].round(3)}, "
        f"y = {y_hand[0, 0]:.4f}; Keras gives {y_keras[0, 0]:.4f}"
    )
    run.keep(forward_diff=forward_diff, y_hand=y_hand, y_keras=y_keras)


# %% [markdown]
# ## 2. Parameter counts
#
# A `Dense` layer from `n` inputs to `m` outputs holds `n * m` weights and
# `m` biases; a network holds the sum over its layers.


# %%
def count_parameters_by_hand(layer_sizes):
    """Parameters of a fully connected network with the given layer sizes.

    Between a layer of `n_in` nodes and one of `n_out` nodes there are
    `n_in * n_out` weights (one per connection) and `n_out` biases (one per
    receiving node).
    """
    return sum(
        n_in * n_out + n_out
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
    )


def parameter_counts(run):
    """Counts parameters by hand and compares with `count_params()`."""
    print("2. Parameter counts: by hand and from Keras")
    architectures = [
        (2, 3, 1),
        (1, 16, 1),
        (1, 64, 64, 1),
        (784, 128, 64, 10),
        (20, 256, 256, 256, 3),
    ]
    count_rows, counts = [], []
    for sizes in architectures:
        hand = count_parameters_by_hand(sizes)
        keras_count = dense_stack(sizes, "relu", "count").count_params()
        counts.append(
            {"layers": list(sizes), "by_hand": hand, "keras": int(keras_count)}
        )
        count_rows.append(("-".join(map(str, sizes)), hand, int(keras_count)))
    labs.print_table(
        "Parameters", ("layer sizes", "by hand", "Keras"), count_rows
    )
    run.keep(counts=counts)


# %% [markdown]
# ## 3. Universal approximation: a network built by hand
#
# One hidden layer of steep sigmoids can build a staircase that follows any
# continuous function; more units give more, smaller steps and a smaller
# error. This is what the universal approximation theorem promises.


# %%
def target(x):
    """The 1-D function the networks approximate: three
    full waves on [-pi, pi].
    """
    return np.sin(3 * x)


def staircase_weights(width, low, high, function):
    """Hand-set weights of a 1-`width`-1 sigmoid network that follows
    `function`.

    This is the classic constructive argument behind the universal
    approximation theorem. Split [low, high] into `width + 1` equal pieces;
    hidden unit k is a steep sigmoid that switches on at the k-th inner
    boundary, and its output weight is the jump of the function's value from
    one piece's midpoint to the next. The output bias is the value on the first
    piece, so the network draws a staircase through the function.

    Returns:
        The weight list for `Dense(width, "sigmoid")` followed by `Dense(1)`.
    """
    edges = np.linspace(low, high, width + 2)
    levels = function((edges[:-1] + edges[1:]) / 2)
    steepness = 10.0 * (width + 1) / (high - low)
    kernel = np.full((1, width), steepness)
    bias = -steepness * edges[1:-1]
    out_kernel = np.diff(levels)[:, None]
    out_bias = levels[:1]
    return [kernel, bias, out_kernel, out_bias]


def mse(a, b):
    return float(
        np.mean((np.asarray(a, "float64") - np.asarray(b, "float64")) ** 2)
    )


def approximation_by_hand(run):
    """Builds sigmoid staircases of growing width that approximate sin(3x)."""
    args, n, steps = run.args, run.n, run.steps
    print("\n3. Universal approximation: a network built by hand")
    low, high = -np.pi, np.pi
    x, y = datasets.make_function_regression(target, n, seed=args.seed)
    staircase_mse, staircase_pred = {}, {}
    for w in WIDTHS:
        net = dense_stack((1, w, 1), "sigmoid", f"staircase_{w}")
        net.set_weights(staircase_weights(w, low, high, target))
        staircase_pred[w] = net.predict(x, verbose=0)
        staircase_mse[w] = mse(staircase_pred[w], y)
    print(
        "   hand-set sigmoid staircases, MSE by width: "
        + ", ".join(f"{w}: {staircase_mse[w]:.2e}" for w in WIDTHS)
    )

    print(
        f"4. The same widths trained by gradient descent ({steps} full-batch "
        "Adam steps), together with the depth experiment of part 5"
    )
    run.keep(staircase_mse=staircase_mse, staircase_pred=staircase_pred, x=x)
    run.keep(y=y)


# %% [markdown]
# ## 4. The same widths, trained by gradient descent
#
# The theorem says a good network exists, not that training finds it. Here
# Adam trains the same widths. The helper `side_by_side` trains all the
# networks in one `fit` (a speed-up only: each network has its own weights
# and its own loss).


# %%
def fit_full_batch(model, x, y, steps, learning_rate):
    """Runs `steps` full-batch Adam steps on (x, y) with the MSE loss.

    The data set is repeated `steps` times and read in order with a batch size
    of len(x), so every batch is the whole data set: one fit call, one
    compiled step, `steps` updates (much faster than `steps` short epochs).
    """
    model.compile(keras.optimizers.Adam(learning_rate), "mse")
    model.fit(
        np.tile(x, (steps, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(x),
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    return model


def side_by_side(networks, seed):
    """One Keras model that holds several independent networks.

    Args:
        networks: a dict mapping a name to a list of layers; each list is
            applied in turn to the shared 1-D input.
        seed: random seed for the initial weights.

    The networks share the input and nothing else; their predictions are
    the columns of one output. The loss is the mean of the networks' own
    losses, and since no weight belongs to two networks, each network's
    gradient is its own loss's gradient divided by the number of networks.
    Adam divides every step by a running gradient scale, so that constant
    factor cancels and each network takes (up to Adam's tiny epsilon) the
    same steps it would take if trained alone: several independent
    experiments in one compiled training step.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((1,))
    outputs = []
    for layers in networks.values():
        h = inputs
        for layer in layers:
            h = layer(h)
        outputs.append(h)
    # Column k of the output is network k's prediction; the MSE over all
    # columns is the average of the networks' own MSEs.
    outputs = keras.layers.Concatenate(name="predictions")(outputs)
    return keras.Model(inputs, outputs, name="side_by_side")


def width_network(width):
    """Layers of a 1-`width`-1 tanh network for the width experiment."""
    # Spread the hidden units' turning points over the input range, so every
    # width starts with units that cover the whole interval.
    return [
        keras.layers.Dense(
            width,
            activation="tanh",
            name=f"hidden_w{width}",
            kernel_initializer=keras.initializers.RandomNormal(stddev=2.0),
            bias_initializer=keras.initializers.RandomUniform(-6.0, 6.0),
        ),
        keras.layers.Dense(1, name=f"output_w{width}"),
    ]


def depth_network(name, hidden_sizes, activation):
    """Layers of a network with the given hidden sizes (none: one Dense)."""
    layers = [
        keras.layers.Dense(
            units, activation=activation, name=f"{name}_hidden_{k + 1}"
        )
        for k, units in enumerate(hidden_sizes)
    ]
    return layers + [keras.layers.Dense(1, name=f"{name}_output")]


def approximation_by_training(run):
    """Trains networks of each width (and the depth models of part 5)."""
    args, staircase_mse, steps = run.args, run.staircase_mse, run.steps
    x, y = run.x, run.y
    networks = {f"width {w}": width_network(w) for w in WIDTHS}
    networks["Dense(1)"] = depth_network("single", (), None)
    networks["deep linear"] = depth_network("linear", DEEP_HIDDEN, None)
    networks["deep tanh"] = depth_network("tanh", DEEP_HIDDEN, "tanh")
    model = side_by_side(networks, args.seed)
    fit_full_batch(model, x, np.tile(y, (1, len(networks))), steps, 0.02)
    columns = model.predict(x, verbose=0)
    predictions = {
        name: columns[:, k : k + 1] for k, name in enumerate(networks)
    }
    trained_pred = {w: predictions[f"width {w}"] for w in WIDTHS}
    trained_mse = {w: mse(trained_pred[w], y) for w in WIDTHS}
    labs.print_table(
        "Approximating sin(3x) on [-pi, pi] with one hidden layer",
        ("hidden units", "parameters", "trained MSE", "hand-built MSE"),
        [
            (
                w,
                count_parameters_by_hand((1, w, 1)),
                trained_mse[w],
                staircase_mse[w],
            )
            for w in WIDTHS
        ],
    )
    run.keep(networks=networks, predictions=predictions)
    run.keep(trained_mse=trained_mse, trained_pred=trained_pred)


# %% [markdown]
# The figure shows the trained and the hand-built fits, and the error
# against width on log axes.


# %%
def plot_width(run):
    """Draws the fits of each width and the error against width."""
    out, staircase_mse = run.out, run.staircase_mse
    staircase_pred, trained_mse = run.staircase_pred, run.trained_mse
    trained_pred, x, y = run.trained_pred, run.x, run.y
    fig, axes = plotting.new_figure(1, 3)
    for ax, preds, title in (
        (axes[0], trained_pred, "trained (tanh)"),
        (axes[1], staircase_pred, "built by hand (sigmoid)"),
    ):
        ax.plot(x[:, 0], y[:, 0], color="k", lw=2, label="sin(3x)")
        for w in WIDTHS:
            ax.plot(x[:, 0], preds[w][:, 0], label=f"{w} unit{'s' * (w > 1)}")
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.legend(fontsize=8)
    axes[2].loglog(
        WIDTHS, [trained_mse[w] for w in WIDTHS], "o-", label="trained"
    )
    axes[2].loglog(
        WIDTHS, [staircase_mse[w] for w in WIDTHS], "s--", label="built by hand"
    )
    axes[2].set_xlabel("hidden units (width)")
    axes[2].set_ylabel("MSE")
    axes[2].set_title("error against width")
    axes[2].legend()
    labs.save_figure(fig, out, "width")


# %% [markdown]
# ## 5. Depth without activations
#
# Without activations a stack of layers is a product of matrices, which is
# one matrix: three hidden layers fit no better than one `Dense(1)`.


# %%
def depth_without_activations(run):
    """Shows that linear hidden layers collapse into one Dense layer."""
    networks, predictions, x, y = run.networks, run.predictions, run.x, run.y
    print("\n5. Depth without activations")
    design = np.hstack([x, np.ones_like(x)]).astype("float64")
    coef = np.linalg.lstsq(design, y.astype("float64"), rcond=None)[0]
    least_squares_mse = mse(design @ coef, y)
    deep_linear_mse = mse(predictions["deep linear"], y)
    single_mse = mse(predictions["Dense(1)"], y)
    deep_tanh_mse = mse(predictions["deep tanh"], y)
    single_weights = [layer.get_weights() for layer in networks["Dense(1)"]][0]
    run.keep(coef=coef, deep_linear_mse=deep_linear_mse)
    run.keep(deep_tanh_mse=deep_tanh_mse, least_squares_mse=least_squares_mse)
    run.keep(single_mse=single_mse, single_weights=single_weights)


# %% [markdown]
# Multiplying the trained layers out (`W = W1 W2 W3 W4`, the biases pushed
# through the later layers) gives one `Dense` layer with the same outputs.


# %%
def collapse_the_linear_stack(run):
    """Multiplies the deep linear network out into one Dense layer."""
    coef, deep_linear_mse = run.coef, run.deep_linear_mse
    deep_tanh_mse, least_squares_mse = run.deep_tanh_mse, run.least_squares_mse
    networks, predictions = run.networks, run.predictions
    single_mse, single_weights, x = run.single_mse, run.single_weights, run.x
    # Multiply the trained layers out: W = W1 W2 W3 W4, and the biases pushed
    # through the later layers, give one Dense layer with the same outputs.
    kernel = np.eye(1)
    bias = np.zeros(1)
    for layer in networks["deep linear"]:
        w_k, b_k = layer.get_weights()
        kernel = kernel @ w_k.astype("float64")
        bias = bias @ w_k.astype("float64") + b_k
    collapsed = dense_stack((1, 1), None, "collapsed")
    collapsed.set_weights([kernel, bias])
    collapse_diff = float(
        np.max(
            np.abs(collapsed.predict(x, verbose=0) - predictions["deep linear"])
        )
    )
    deep_params = count_parameters_by_hand((1, *DEEP_HIDDEN, 1))
    labs.print_table(
        "Fitting sin(3x): hidden layers with and without activations",
        ("model", "parameters", "MSE", "slope", "intercept"),
        [
            (
                "least squares line (NumPy)",
                2,
                least_squares_mse,
                float(coef[0, 0]),
                float(coef[1, 0]),
            ),
            (
                "Dense(1)",
                2,
                single_mse,
                float(single_weights[0][0, 0]),
                float(single_weights[1][0]),
            ),
            (
                "1-16-16-16-1, no activation",
                deep_params,
                deep_linear_mse,
                float(kernel[0, 0]),
                float(bias[0]),
            ),
            ("1-16-16-16-1, tanh", deep_params, deep_tanh_mse, "-", "-"),
        ],
    )
    print(
        f"   the deep linear network multiplied out into one Dense layer "
        f"predicts the same values (largest difference {collapse_diff:.1e})"
    )
    run.keep(collapse_diff=collapse_diff, kernel=kernel)


# %% [markdown]
# The deep linear network draws the same line as `Dense(1)`.


# %%
def plot_depth(run):
    """Draws the linear and tanh deep networks against the target."""
    out, predictions, x, y = run.out, run.predictions, run.x, run.y
    fig, ax = plotting.new_figure()
    ax.plot(x[:, 0], y[:, 0], color="k", lw=2, label="sin(3x)")
    ax.plot(x[:, 0], predictions["Dense(1)"][:, 0], lw=3, label="Dense(1)")
    ax.plot(
        x[:, 0],
        predictions["deep linear"][:, 0],
        "--",
        label="3 hidden layers, no activation",
    )
    ax.plot(
        x[:, 0], predictions["deep tanh"][:, 0], label="3 hidden layers, tanh"
    )
    ax.set_xlabel("x")
    ax.set_title("depth without activations is still a line")
    ax.legend(fontsize=8)
    labs.save_figure(fig, out, "depth_without_activation")


# %% [markdown]
# ## Summary
#
# The results table and what it shows.


# %%
def summarize(run):
    """Collects the measurements and says what they show."""
    collapse_diff, counts = run.collapse_diff, run.counts
    deep_linear_mse, deep_tanh_mse = run.deep_linear_mse, run.deep_tanh_mse
    forward_diff, kernel = run.forward_diff, run.kernel
    least_squares_mse, single_mse = run.least_squares_mse, run.single_mse
    single_weights, staircase_mse = run.single_weights, run.staircase_mse
    trained_mse, y_hand, y_keras = run.trained_mse, run.y_hand, run.y_keras
    results = {
        "forward_pass_hand": float(y_hand[0, 0]),
        "forward_pass_keras": float(y_keras[0, 0]),
        "forward_pass_max_abs_diff": forward_diff,
        "parameter_counts": counts,
        "widths": list(WIDTHS),
        "trained_mse_by_width": {str(w): trained_mse[w] for w in WIDTHS},
        "handmade_mse_by_width": {str(w): staircase_mse[w] for w in WIDTHS},
        "least_squares_mse": least_squares_mse,
        "single_dense_mse": single_mse,
        "deep_linear_mse": deep_linear_mse,
        "deep_tanh_mse": deep_tanh_mse,
        "deep_linear_collapsed_slope": float(kernel[0, 0]),
        "single_dense_slope": float(single_weights[0][0, 0]),
        "deep_linear_collapse_max_abs_diff": collapse_diff,
    }
    beats = sum(trained_mse[w] < staircase_mse[w] for w in WIDTHS)
    print(
        "\nSummary: a feedforward network is nothing more than matrix "
        "products, bias additions and activations applied layer by layer; the "
        f"hand computation and Keras agree to {forward_diff:.0e}, and the "
        "parameter count is the sum of (inputs x outputs + outputs) over the "
        "layers, exactly what Keras reports for every architecture above. "
        "Width buys accuracy: with one hidden layer the trained error on "
        f"sin(3x) goes from {trained_mse[1]:.2g} (1 unit) to "
        f"{trained_mse[4]:.2g}, {trained_mse[16]:.2g} and "
        f"{trained_mse[64]:.2g} (64 units). The universal approximation "
        "theorem promises only that some wide enough network exists; the "
        "hand-built staircases prove it for this function (error "
        f"{staircase_mse[1]:.2g} -> {staircase_mse[64]:.2g}, falling steadily "
        "with width) but say nothing about training. Here Adam found weights "
        f"better than the staircase's at {beats} of the {len(WIDTHS)} widths, "
        "but nothing guarantees it: gradient descent can stall in a poor "
        "solution (try other seeds for the 4-unit network), so existence is "
        "not learnability. Depth alone is not enough either: "
        "three hidden layers without activations end up with the same line "
        f"as one Dense layer (MSE {deep_linear_mse:.4f} against "
        f"{single_mse:.4f}; least squares {least_squares_mse:.4f}), because a "
        "product of matrices is one matrix, while the same layers with tanh "
        f"reach {deep_tanh_mse:.2g}."
    )
    run.keep(results=results)


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/02_feedforward/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    network_by_hand(run)
    parameter_counts(run)
    approximation_by_hand(run)
    approximation_by_training(run)
    plot_width(run)
    depth_without_activations(run)
    collapse_the_linear_stack(run)
    plot_depth(run)
    summarize(run)
    return labs.finish_run(run, 2, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Build and train a small feed-forward network in Keras; the grader checks
# its architecture and scores it on data it has never seen.
#
# - Get the starter: `mlkeras exercise 02 -o lab02.py`
# - Check your work: `mlkeras check lab02.py --lab 02`

# %%
EXERCISE = (
    "a feed-forward Keras model that the grader trains and scores on held-"
    "out data"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
