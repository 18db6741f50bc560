# %%
"""Lab 10: Batch normalization.

Objectives:
- Write batch normalization in NumPy: batch mean and variance, normalize,
  scale by gamma and shift by beta, and keep moving averages for inference.
- Check it against `keras.layers.BatchNormalization` in training mode and in
  inference mode, for dense features and for convolution channels.
- See why inference needs the moving averages: in training mode a batch of
  one always comes out as beta.
- Set gamma and beta so that the layer gives back its input unchanged.
- Train the same deep network with and without batch normalization and count
  the epochs each needs to reach a target loss.
- Look into "internal covariate shift": how much the inputs of a deep layer
  move between epochs, with and without batch normalization.
- Write layer normalization by hand and check it against
  `keras.layers.LayerNormalization`; measure how one example's output
  depends on the batch it sits in: with batch norm, not with layer norm.

Runtime: about 13 s with --quick, 21 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "10_batch_norm"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains for fewer epochs.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the network and training length."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    epochs = 7 if args.quick else 20
    depth, width, lr, target = 8, 64, 0.05, 0.5
    run.keep(depth=depth, epochs=epochs, lr=lr, rng=rng, target=target)
    run.keep(width=width)


# %% [markdown]
# ## 1. Batch normalization in NumPy against Keras
#
# In training, batch normalization subtracts the batch mean, divides by
# the batch standard deviation, then scales by gamma and shifts by beta. It
# also keeps moving averages of mean and variance, which it uses at
# inference instead of the batch's. The NumPy layer matches Keras's in both
# modes.


# %%
class NumpyBatchNorm:
    """Batch normalization over every axis but the last (the features).

    For a dense layer the statistics are per feature over the batch; for a
    convolution they are per channel over the batch and all positions.
    """

    def __init__(self, features, momentum=0.99, epsilon=1e-3):
        self.gamma = np.ones(features)
        self.beta = np.zeros(features)
        self.moving_mean = np.zeros(features)
        self.moving_variance = np.ones(features)
        self.momentum = momentum
        self.epsilon = epsilon

    def __call__(self, x, training):
        axes = tuple(range(x.ndim - 1))
        if training:
            mean = x.mean(axis=axes)
            variance = x.var(axis=axes)  # the biased (1/m) variance
            m = self.momentum
            self.moving_mean = m * self.moving_mean + (1 - m) * mean
            self.moving_variance = m * self.moving_variance + (1 - m) * variance
        else:
            mean, variance = self.moving_mean, self.moving_variance
        x_hat = (x - mean) / np.sqrt(variance + self.epsilon)
        return self.gamma * x_hat + self.beta


def compare_with_keras(rng, shape, n_batches, momentum):
    """Feeds the same batches to both layers; returns
    the largest differences.
    """
    features = shape[-1]
    ours = NumpyBatchNorm(features, momentum=momentum)
    theirs = keras.layers.BatchNormalization(momentum=momentum)
    theirs.build((None,) + tuple(shape[1:]))
    gamma = rng.uniform(0.5, 2.0, features)
    beta = rng.normal(0.0, 1.0, features)
    ours.gamma, ours.beta = gamma, beta
    theirs.gamma.assign(gamma.astype("float32"))
    theirs.beta.assign(beta.astype("float32"))
    # Inputs far from mean 0 and variance 1, different for every feature.
    shift = rng.normal(3.0, 2.0, features)
    scale = rng.uniform(0.5, 4.0, features)

    def batch():
        return (rng.normal(size=shape) * scale + shift).astype("float32")

    train_diff = 0.0
    for _ in range(n_batches):
        x = batch()
        a = ours(x.astype("float64"), training=True)
        b = keras.ops.convert_to_numpy(theirs(x, training=True))
        train_diff = max(train_diff, float(np.max(np.abs(a - b))))
    moving_diff = max(
        float(
            np.max(
                np.abs(
                    ours.moving_mean
                    - keras.ops.convert_to_numpy(theirs.moving_mean)
                )
            )
        ),
        float(
            np.max(
                np.abs(
                    ours.moving_variance
                    - keras.ops.convert_to_numpy(theirs.moving_variance)
                )
            )
        ),
    )
    x = batch()
    a = ours(x.astype("float64"), training=False)
    b = keras.ops.convert_to_numpy(theirs(x, training=False))
    inference_diff = float(np.max(np.abs(a - b)))
    # After enough batches the moving averages approach the true statistics.
    return {
        "train_max_abs_diff": train_diff,
        "moving_stats_max_abs_diff": moving_diff,
        "inference_max_abs_diff": inference_diff,
        "moving_mean_error_vs_true_mean": float(
            np.max(np.abs(ours.moving_mean - shift))
        ),
    }


def batch_norm_by_hand(run):
    """Runs the NumPy layer next to `keras.layers.BatchNormalization`."""
    rng = run.rng
    print(
        "1. Batch normalization in NumPy against "
        "keras.layers.BatchNormalization"
    )
    dense = compare_with_keras(rng, (32, 5), 60, momentum=0.9)
    conv = compare_with_keras(rng, (8, 6, 6, 3), 60, momentum=0.9)
    labs.print_table(
        "Max |NumPy - Keras| (60 training batches, then one inference batch)",
        (
            "input",
            "training output",
            "moving mean/variance",
            "inference output",
            "|moving mean - true mean|",
        ),
        [
            (
                name,
                r["train_max_abs_diff"],
                r["moving_stats_max_abs_diff"],
                r["inference_max_abs_diff"],
                r["moving_mean_error_vs_true_mean"],
            )
            for name, r in [
                ("dense (32, 5)", dense),
                ("conv (8, 6, 6, 3)", conv),
            ]
        ],
    )
    run.keep(conv=conv, dense=dense)


# %% [markdown]
# ## 2. A batch of one, and gamma and beta that undo it
#
# A batch of one has no spread: training mode maps every feature to beta.
# And with gamma equal to the batch's standard deviation and beta to its
# mean, the layer gives back its input: normalization costs the network
# nothing it cannot undo.


# %%
def single_example_and_undo(rng):
    """A batch of one in training mode, and gamma/beta set to undo the layer."""
    features = 4
    layer = NumpyBatchNorm(features)
    layer.gamma = rng.uniform(0.5, 2.0, features)
    layer.beta = rng.normal(size=features)
    one = rng.normal(5.0, 3.0, size=(1, features))
    out_one = layer(one, training=True)
    batch = rng.normal(5.0, 3.0, size=(64, features)) * [1, 2, 3, 4]
    undo = NumpyBatchNorm(features)
    undo.gamma = np.sqrt(batch.var(axis=0) + undo.epsilon)
    undo.beta = batch.mean(axis=0)
    normalized = NumpyBatchNorm(features)(batch, training=True)
    return {
        "batch_of_one_max_abs_diff_from_beta": float(
            np.max(np.abs(out_one - layer.beta))
        ),
        "undo_max_abs_diff_from_input": float(
            np.max(np.abs(undo(batch, training=True) - batch))
        ),
        "normalized_mean_max_abs": float(
            np.max(np.abs(normalized.mean(axis=0)))
        ),
        "normalized_std_max_dev_from_1": float(
            np.max(np.abs(normalized.std(axis=0) - 1))
        ),
    }


def batch_of_one_and_undo(run):
    """Normalizes a batch of one and undoes the normalization with gamma and
    beta.
    """
    rng = run.rng
    print("2. Batch of one, and gamma/beta that undo the normalization")
    special = single_example_and_undo(rng)
    print(
        f"   batch of one in training mode: max |output - beta| = "
        f"{special['batch_of_one_max_abs_diff_from_beta']:.2g}"
    )
    print(
        f"   gamma = sqrt(var + eps), beta = mean: max |output - input| = "
        f"{special['undo_max_abs_diff_from_input']:.2g}"
    )
    print(
        f"   with gamma = 1, beta = 0 the batch comes out with means within "
        f"{special['normalized_mean_max_abs']:.1g} of 0 and standard "
        f"deviations within {special['normalized_std_max_dev_from_1']:.1g} "
        "of 1"
    )
    run.keep(special=special)


# %% [markdown]
# ## 3. A deep tanh network with and without batch norm
#
# The same deep tanh network trains with and without batch
# normalization. With it the loss falls faster, and the inputs of a deep
# layer move less from one epoch to the next.


# %%
class ProbeInputs:
    """Records the inputs of one deep layer, on fixed
    images, after each epoch.
    """

    def __init__(self, model, layer_name, probe):
        self.probe = probe
        self.model = keras.Model(
            model.inputs[0], model.get_layer(layer_name).output
        )
        self.snapshots = []

    def record(self):
        """Runs the probe in training mode, as the layer sees batches then.

        Training mode normalizes with the probe's own statistics, not with
        moving averages that lag behind; the moving averages it updates are
        put back afterwards, so probing leaves the model as it was.
        """
        saved = [
            v.numpy() if hasattr(v, "numpy") else keras.ops.convert_to_numpy(v)
            for v in self.model.non_trainable_variables
        ]
        values = self.model(self.probe, training=True)
        for variable, value in zip(self.model.non_trainable_variables, saved):
            variable.assign(value)
        self.snapshots.append(keras.ops.convert_to_numpy(values))

    def shift_per_epoch(self):
        """Mean |change| of each unit's mean and std between epochs, in units
        of the unit's standard deviation."""
        shifts = []
        for before, after in zip(self.snapshots, self.snapshots[1:]):
            spread = before.std(axis=0) + 1e-6
            moved = np.abs(after.mean(axis=0) - before.mean(axis=0)) + np.abs(
                after.std(axis=0) - before.std(axis=0)
            )
            shifts.append(float(np.mean(moved / spread)))
        return shifts


def deep_network(batch_norm, depth, width):
    """`depth` hidden tanh layers; with batch norm between Dense and tanh."""
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    for i in range(depth):
        # Batch norm's beta replaces the Dense bias, which it would cancel.
        layers.append(
            keras.layers.Dense(
                width, use_bias=not batch_norm, name=f"dense_{i}"
            )
        )
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"bn_{i}"))
        layers.append(keras.layers.Activation("tanh", name=f"tanh_{i}"))
    layers.append(keras.layers.Dense(10, name="logits"))
    return keras.Sequential(layers)


def train(batch_norm, seed, epochs, depth, width, lr, probe_layer, probe):
    (x, y), (x_test, y_test) = datasets.load_digits(seed=seed)
    keras.utils.set_random_seed(seed)
    model = deep_network(batch_norm, depth, width)
    model.compile(
        keras.optimizers.SGD(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    probe_inputs = ProbeInputs(model, probe_layer, probe)
    probe_inputs.record()
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: probe_inputs.record()
    )
    history = model.fit(
        x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=[recorder]
    ).history
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return history["loss"], float(test_accuracy), probe_inputs


def first_epoch_below(losses, target):
    for epoch, loss in enumerate(losses, start=1):
        if loss <= target:
            return epoch
    return None


def deep_tanh_network(run):
    """Trains the same deep network with and without batch normalization."""
    args, depth, epochs, lr = run.args, run.depth, run.epochs, run.lr
    target, width = run.target, run.width
    print(
        f"3. A {depth}-layer tanh network on the digits, SGD({lr}), "
        f"{epochs} epochs, with and without batch normalization"
    )
    (x_train, _), _ = datasets.load_digits(seed=args.seed)
    probe = x_train[:256]
    probe_layer = f"tanh_{depth - 2}"  # the inputs of the last hidden layer
    runs = {}
    for name, use_bn in [("plain", False), ("batch norm", True)]:
        losses, accuracy, probe_inputs = train(
            use_bn, args.seed, epochs, depth, width, lr, probe_layer, probe
        )
        shifts = probe_inputs.shift_per_epoch()
        runs[name] = {
            "loss": losses,
            "test_accuracy": accuracy,
            "epochs_to_target": first_epoch_below(losses, target),
            "input_shift_per_epoch": shifts,
            "mean_input_shift": float(np.mean(shifts)),
            "first_epoch_input_shift": shifts[0],
            "last_epoch_input_shift": shifts[-1],
        }
    labs.print_table(
        f"Training (target loss {target})",
        (
            "network",
            "epochs to target",
            "final loss",
            "test accuracy",
            "input shift, epoch 1",
            "input shift, last epoch",
        ),
        [
            (
                name,
                r["epochs_to_target"] or f"> {epochs}",
                r["loss"][-1],
                r["test_accuracy"],
                r["first_epoch_input_shift"],
                r["last_epoch_input_shift"],
            )
            for name, r in runs.items()
        ],
    )
    run.keep(runs=runs)


# %% [markdown]
# Loss per epoch, and how far the inputs of the last hidden layer move.


# %%
def plot_training(run):
    """Draws the training loss and how far a deep layer's inputs move."""
    depth, epochs, lr, out = run.depth, run.epochs, run.lr, run.out
    runs, target = run.runs, run.target
    fig, axes = plotting.new_figure(1, 2)
    for name, r in runs.items():
        axes[0].plot(range(1, epochs + 1), r["loss"], marker="o", label=name)
        axes[1].plot(
            range(1, epochs + 1),
            r["input_shift_per_epoch"],
            marker="o",
            label=name,
        )
    axes[0].axhline(
        target, color="k", linestyle="--", linewidth=1, label="target"
    )
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title(f"{depth} tanh layers, SGD({lr})")
    axes[0].legend()
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("change of mean and std, in stds")
    axes[1].set_title(f"how far the inputs of layer {depth} move per epoch")
    axes[1].legend()
    labs.save_figure(fig, out, "training")


# %% [markdown]
# One feature before and after normalization, and the moving mean that
# inference uses for two momentum values.


# %%
def plot_normalization(run):
    """Draws one feature before and after normalization, and the moving mean."""
    args, out = run.args, run.out
    fig, axes = plotting.new_figure(1, 2)
    rng_show = np.random.default_rng(args.seed)
    raw = rng_show.normal(3.0, 2.5, size=2000)
    normalized = NumpyBatchNorm(1)(raw[:, None], training=True)[:, 0]
    axes[0].hist(raw, bins=40, alpha=0.6, label="input")
    axes[0].hist(normalized, bins=40, alpha=0.6, label="normalized")
    axes[0].set_xlabel("feature value")
    axes[0].set_ylabel("count (of 2000 samples)")
    axes[0].set_title("normalized: mean 0, standard deviation 1")
    axes[0].legend()
    steps = np.arange(200)
    for momentum in (0.9, 0.99):
        axes[1].plot(
            steps,
            3.0 * (1 - momentum ** (steps + 1)),
            label=f"momentum {momentum}",
        )
    axes[1].axhline(
        3.0, color="k", linestyle="--", linewidth=1, label="batch mean"
    )
    axes[1].set_xlabel("training batches")
    axes[1].set_ylabel("moving mean")
    axes[1].set_title("moving average used at inference")
    axes[1].legend()
    labs.save_figure(fig, out, "normalization")


# %% [markdown]
# ## 4. Layer normalization, next to batch normalization
#
# Layer normalization (used in every transformer block) normalizes each
# example over its own features instead of each feature over the batch:
# y = gamma * (x - mean(x)) / sqrt(var(x) + eps) + beta, the mean and
# variance taken over the last axis of one example. It needs no moving
# averages and does the same in training and at inference.


# %%
def layer_norm_by_hand(x, gamma, beta, epsilon=1e-3):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


def layer_norm_against_keras(run):
    """Compares layer normalization by hand with Keras's layer."""
    rng = np.random.default_rng(run.args.seed)
    x = rng.normal(3.0, 2.0, size=(16, 10)).astype("float32")
    gamma = rng.normal(size=10).astype("float32")
    beta = rng.normal(size=10).astype("float32")
    layer = keras.layers.LayerNormalization(epsilon=1e-3)
    layer.build(x.shape)
    layer.set_weights([gamma, beta])
    by_hand = layer_norm_by_hand(x, gamma, beta)
    to_numpy = keras.ops.convert_to_numpy
    checks = {
        "train_max_abs_diff": float(
            np.max(np.abs(to_numpy(layer(x, training=True)) - by_hand))
        ),
        "inference_max_abs_diff": float(
            np.max(np.abs(to_numpy(layer(x, training=False)) - by_hand))
        ),
    }
    print(
        "\n4. Layer normalization by hand against "
        "keras.layers.LayerNormalization: largest difference "
        f"{checks['train_max_abs_diff']:.1g} in training, "
        f"{checks['inference_max_abs_diff']:.1g} at inference"
    )
    run.keep(layer_norm=checks)


# %% [markdown]
# In training, batch normalization's output for an example depends on the
# other examples in its batch; layer normalization's does not. Measured:
# one fixed example, put into 20 random batches of each size, and how
# much its normalized output varies from batch to batch.


# %%
def batch_size_dependence(run, sizes=(2, 4, 16, 128), repeats=20):
    """Spread of one example's output over batches, BN against LN."""
    rng = np.random.default_rng(run.args.seed + 1)
    example = rng.normal(size=(1, 10)).astype("float32")
    rows = []
    for size in sizes:
        outputs = {"batch norm": [], "layer norm": []}
        for _ in range(repeats):
            others = rng.normal(size=(size - 1, 10)).astype("float32")
            batch = np.concatenate([example, others])
            for name, layer in (
                ("batch norm", keras.layers.BatchNormalization()),
                ("layer norm", keras.layers.LayerNormalization()),
            ):
                y = layer(batch, training=True)
                outputs[name].append(keras.ops.convert_to_numpy(y)[0])
        rows.append(
            {"batch_size": size}
            | {
                f"{k.replace(' ', '_')}_spread": float(np.std(v, axis=0).mean())
                for k, v in outputs.items()
            }
        )
    labs.print_table(
        "Std over 20 batches of one example's normalized output "
        "(training mode, mean over its 10 features)",
        ("batch size", "batch norm", "layer norm"),
        [
            (r["batch_size"], r["batch_norm_spread"], r["layer_norm_spread"])
            for r in rows
        ],
    )
    print(
        "   batch norm's output moves with the batch, less as the batch "
        "grows; layer norm's does not move at all, which is why it suits "
        "small batches, sequences and transformers."
    )
    run.keep(batch_size_dependence=rows)


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def summarize(run):
    """Collects the measurements and says what they show."""
    conv, dense, depth, epochs = run.conv, run.dense, run.depth, run.epochs
    runs, special, target = run.runs, run.special, run.target
    results = {
        "keras_dense": dense,
        "keras_conv": conv,
        **special,
        "target_loss": target,
        "training": runs,
        "layer_norm": run.layer_norm,
        "batch_size_dependence": run.batch_size_dependence,
    }
    plain, bn = runs["plain"], runs["batch norm"]

    def epochs_text(r):
        return (
            f"{r['epochs_to_target']} epochs"
            if r["epochs_to_target"]
            else f"more than {epochs} epochs"
        )

    print(
        "\nSummary: batch normalization written in NumPy gives the same "
        "outputs as Keras's layer in training mode (largest difference "
        f"{max(dense['train_max_abs_diff'], conv['train_max_abs_diff']):.1g}), "
        "the same moving averages and, from them, the same outputs in "
        "inference mode; for images the statistics are taken per channel "
        "over the batch and every position. The moving averages are what "
        "make inference possible: in training mode a batch of one comes out "
        "as beta whatever the input, because the example is its own mean. "
        "Normalizing does not cost the layer any freedom: with gamma set to "
        "the batch's standard deviation and beta to its mean the output "
        f"equals the input (to {special['undo_max_abs_diff_from_input']:.0g}), "
        "so the network can learn to undo it where that helps. In training, "
        f"the {depth}-layer tanh network reached a loss of {target} in "
        f"{epochs_text(bn)} with batch normalization and {epochs_text(plain)} "
        "without. As for internal covariate shift: per epoch, the inputs of "
        f"the last hidden layer moved by {bn['mean_input_shift']:.2f} of a "
        "standard deviation with batch normalization and "
        f"{plain['mean_input_shift']:.2f} without"
        + (
            ", so it did steady what the deeper layers see. "
            if bn["mean_input_shift"] < plain["mean_input_shift"]
            else ", so here it did not steady what the deeper layers see. "
        )
        + "Whether that is why it helps is disputed: Santurkar et al. (2018) "
        "added shifting noise after every batch-norm layer and saw training "
        "stay fast, and credit a smoother loss surface, which tolerates "
        "larger steps, instead."
    )
    run.keep(results=results)


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/10_batch_norm/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    batch_norm_by_hand(run)
    batch_of_one_and_undo(run)
    deep_tanh_network(run)
    plot_training(run)
    plot_normalization(run)
    layer_norm_against_keras(run)
    batch_size_dependence(run)
    summarize(run)
    return labs.finish_run(run, 10, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the batch-normalisation forward pass in NumPy, for training and
# for inference.
#
# - Get the starter: `mlkeras exercise 10 -o lab10.py`
# - Check your work: `mlkeras check lab10.py --lab 10`

# %%
EXERCISE = "the batch-normalisation forward pass, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
