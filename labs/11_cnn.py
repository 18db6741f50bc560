# %%
"""Lab 11: Convolutional neural networks.

Objectives:
- Compute a convolution by hand (slide, multiply, sum) and check it against
  `keras.layers.Conv2D`.
- Predict the output shape of Conv1D, Conv2D, Conv3D, Conv2DTranspose and
  Conv3DTranspose for valid and same padding, several strides and dilation,
  and check every prediction against the layer.
- Padding: what "same" adds, why borders are seen less often without it, and
  how causal padding keeps a Conv1D from looking into the future.
- Pooling: max and average pooling by hand, their shapes, their lack of
  weights, and how much they shrug off a one-pixel shift.
- Train a small CNN on the digits and an MLP with about as many parameters;
  plot the learned kernels and the feature maps of one digit.
- Show augmented digits and measure what augmentation does for a model
  trained on a small training set.

Runtime: about 14 s with --quick, 40 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import math

import keras
import numpy as np

from mlkeras import datasets, labs, plotting

LAB = "11_cnn"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True


# %% [markdown]
# ## Settings and data
#
# The 8x8 digits as images. `--quick` (or `QUICK` in a notebook) trains
# for fewer epochs on fewer images.


# %%
def load_data(run):
    """Picks the training lengths and loads the 8x8 digits."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    epochs = 10 if args.quick else 40
    small_epochs = 30 if args.quick else 150
    per_class = 10 if args.quick else 15
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(seed=args.seed)
    run.keep(epochs=epochs, per_class=per_class, small_epochs=small_epochs)
    run.keep(x_test=x_test, x_train=x_train, y_test=y_test, y_train=y_train)


# %% [markdown]
# ## 1. Convolution by hand, and padding
#
# A convolution slides a small kernel over the image and takes a weighted
# sum at each position (Keras, like most libraries, does not flip the
# kernel). `valid` padding shrinks the output; `same` pads with zeros to
# keep its size.


# %%
def cross_correlate_2d(image, kernel):
    """What a conv layer computes: slide the kernel, multiply, sum ("valid")."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def convolution_and_padding(image):
    """Conv2D against the hand computation; same padding; causal padding."""
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    x = image[None, :, :, None].astype("float32")
    results = {}
    for padding in ("valid", "same"):
        conv = keras.layers.Conv2D(1, 3, padding=padding, use_bias=False)
        conv.build(x.shape)
        conv.kernel.assign(kernel[:, :, None, None].astype("float32"))
        keras_out = keras.ops.convert_to_numpy(conv(x))[0, :, :, 0]
        source = image if padding == "valid" else np.pad(image, 1)
        by_hand = cross_correlate_2d(source, kernel)
        results[f"conv2d_{padding}_max_abs_diff"] = float(
            np.max(np.abs(keras_out - by_hand))
        )
        results[f"conv2d_{padding}_shape"] = list(keras_out.shape)
    # How many 3x3 windows cover each pixel: a window sits at every output
    # position, on the image padded by `pad` zeros.
    h, w = image.shape
    for padding, pad in (("valid", 0), ("same", 1)):
        coverage = np.zeros((h + 2 * pad, w + 2 * pad))
        for i in range(h + 2 * pad - 2):
            for j in range(w + 2 * pad - 2):
                coverage[i : i + 3, j : j + 3] += 1
        coverage = coverage[pad : pad + h, pad : pad + w]
        results[f"{padding}_windows_per_corner_pixel"] = int(coverage[0, 0])
        results[f"{padding}_windows_per_centre_pixel"] = int(
            coverage[h // 2, w // 2]
        )
    # Causal padding: changing input t0 changes no output before t0.
    t0, length = 10, 20
    changed = {}
    for padding in ("causal", "same"):
        conv = keras.layers.Conv1D(
            1, 3, padding=padding, kernel_initializer="ones"
        )
        base = np.zeros((1, length, 1), dtype="float32")
        bumped = base.copy()
        bumped[0, t0, 0] = 1.0
        diff = np.abs(keras.ops.convert_to_numpy(conv(bumped) - conv(base)))[
            0, :, 0
        ]
        changed[padding] = int(np.sum(diff[:t0] > 0))
    results["causal_outputs_changed_before_t0"] = changed["causal"]
    results["same_outputs_changed_before_t0"] = changed["same"]
    return results


def convolution_by_hand(run):
    """Slides a kernel over a digit in NumPy and compares with Conv2D."""
    x_test = run.x_test
    print("1. Convolution by hand, padding")
    conv = convolution_and_padding(x_test[0, :, :, 0].astype("float64"))
    print(
        f"   Conv2D vs slide-multiply-sum: max |difference| "
        f"{conv['conv2d_valid_max_abs_diff']:.1g} (valid, 8x8 -> "
        f"{conv['conv2d_valid_shape']}), "
        f"{conv['conv2d_same_max_abs_diff']:.1g} (same = one ring of zeros, "
        f"8x8 -> {conv['conv2d_same_shape']})"
    )
    print(
        f"   windows of a 3x3 valid convolution over a corner pixel: "
        f"{conv['valid_windows_per_corner_pixel']}, over a centre pixel: "
        f"{conv['valid_windows_per_centre_pixel']}; with same padding the "
        f"corner is seen {conv['same_windows_per_corner_pixel']} times"
    )
    print(
        f"   outputs before t that change when input t changes: causal "
        f"{conv['causal_outputs_changed_before_t0']}, same "
        f"{conv['same_outputs_changed_before_t0']}"
    )
    run.keep(conv=conv)


# %% [markdown]
# ## 2. Output shapes against the formulas
#
# The output length of a convolution is
# `floor((n + 2p - d(k - 1) - 1) / s) + 1`; a transposed convolution runs
# the formula backwards. Every Keras layer below agrees.


# %%
def conv_output_length(n, kernel, stride, padding, dilation=1):
    """floor((n + pad_total - k_eff) / s) + 1, with k_eff the dilated kernel.

    "valid" adds no padding. "same" and "causal" pad just enough that a
    stride of 1 keeps the length, which makes the output ceil(n / s) long.
    """
    k_eff = kernel + (kernel - 1) * (dilation - 1)
    if padding == "valid":
        return (n - k_eff) // stride + 1
    return math.ceil(n / stride)


def transpose_output_length(n, kernel, stride, padding):
    """The length a transposed convolution produces (no output_padding).

    Each input step places a kernel-sized footprint `stride` apart: valid
    padding keeps all of it, n * s + max(k - s, 0) (that is (n - 1) * s + k
    when k >= s); same padding crops it to exactly n * s.
    """
    if padding == "valid":
        return n * stride + max(kernel - stride, 0)
    return n * stride


def check_shapes():
    """Builds each layer on a small input and compares
    shapes with the formula.
    """
    layers = keras.layers
    cases = []
    for n in (10, 11):
        for k in (2, 3, 5):
            for s in (1, 2, 3):
                for pad in ("valid", "same"):
                    cases.append(("Conv1D", (n,), k, s, pad, 1))
        cases.append(("Conv1D", (n,), 3, 1, "causal", 1))
        cases.append(("Conv1D", (n,), 3, 1, "valid", 2))
        cases.append(("Conv1D", (n,), 3, 1, "same", 3))
    for k in (3, (2, 4)):
        for s in (1, 2, 3):
            for pad in ("valid", "same"):
                cases.append(("Conv2D", (9, 12), k, s, pad, 1))
                cases.append(("Conv2DTranspose", (4, 5), k, s, pad, 1))
    cases.append(("Conv2D", (9, 12), 3, 1, "valid", 2))
    for s in (1, 2):
        for pad in ("valid", "same"):
            cases.append(("Conv3D", (7, 8, 9), 3, s, pad, 1))
            cases.append(("Conv3DTranspose", (3, 4, 2), 3, s, pad, 1))

    rows = []
    for kind, spatial, kernel, stride, padding, dilation in cases:
        dims = len(spatial)
        kernels = (kernel,) * dims if isinstance(kernel, int) else kernel
        layer = getattr(layers, kind)(
            4, kernel, strides=stride, padding=padding, dilation_rate=dilation
        )
        x = np.zeros((1,) + spatial + (2,), dtype="float32")
        actual = tuple(keras.ops.shape(layer(x))[1:-1])
        if kind.endswith("Transpose"):
            expected = tuple(
                transpose_output_length(n, k, stride, padding)
                for n, k in zip(spatial, kernels)
            )
        else:
            expected = tuple(
                conv_output_length(n, k, stride, padding, dilation)
                for n, k in zip(spatial, kernels)
            )
        rows.append(
            {
                "layer": kind,
                "input": spatial,
                "kernel": kernels,
                "stride": stride,
                "padding": padding,
                "dilation": dilation,
                "expected": expected,
                "actual": actual,
                "match": expected == tuple(int(a) for a in actual),
            }
        )
    return rows


def output_shapes(run):
    """Checks Conv1D/2D/3D and transposed output shapes against the formulas."""
    print("2. Output shapes against the formulas")
    shapes = check_shapes()
    matched = sum(r["match"] for r in shapes)
    by_layer = {}
    for r in shapes:
        entry = by_layer.setdefault(r["layer"], [0, 0])
        entry[0] += r["match"]
        entry[1] += 1
    labs.print_table(
        "Some of the checked configurations",
        (
            "layer",
            "input",
            "kernel",
            "stride",
            "padding",
            "dilation",
            "formula",
            "Keras",
        ),
        [
            (
                r["layer"],
                r["input"],
                r["kernel"],
                r["stride"],
                r["padding"],
                r["dilation"],
                r["expected"],
                r["actual"],
            )
            for r in shapes[::7]
        ],
    )
    print(
        "   formula = Keras for "
        + ", ".join(f"{k} {m}/{n}" for k, (m, n) in by_layer.items())
    )
    run.keep(by_layer=by_layer, matched=matched, shapes=shapes)


# %% [markdown]
# ## 3. Pooling
#
# Pooling keeps the largest (or the mean) value of each window: the map
# shrinks, and a small shift of the input changes it little.


# %%
def pool_2d(x, size, reduce):
    """Non-overlapping pooling of a 2-D array with window and stride `size`."""
    h, w = x.shape[0] // size, x.shape[1] // size
    blocks = x[: h * size, : w * size].reshape(h, size, w, size)
    return reduce(blocks, axis=(1, 3))


def pooling(x_test):
    """Max and average pooling by hand and in Keras,
    and their shift tolerance.
    """
    grid = np.array(
        [[1, 3, 2, 0], [4, 2, 1, 1], [0, 1, 5, 6], [2, 2, 7, 8]],
        dtype="float32",
    )
    x = grid[None, :, :, None]
    to_numpy = keras.ops.convert_to_numpy
    keras_max = to_numpy(keras.layers.MaxPooling2D(2)(x))[0, ..., 0]
    keras_avg = to_numpy(keras.layers.AveragePooling2D(2)(x))[0, ..., 0]
    by_hand_max = pool_2d(grid, 2, np.max)
    by_hand_avg = pool_2d(grid, 2, np.mean)
    pool_layer = keras.layers.MaxPooling2D(2)
    pool_layer.build((None, 8, 8, 16))
    strided = keras.layers.Conv2D(16, 2, strides=2)
    strided.build((None, 8, 8, 16))
    same_pool = keras.layers.MaxPooling2D(3, strides=2, padding="same")
    same_shape = tuple(
        keras.ops.shape(same_pool(np.zeros((1, 7, 7, 1), "float32")))
    )

    # Shift every test digit one pixel right and compare representations.
    images = x_test[..., 0]
    shifted = np.roll(images, 1, axis=2)
    shifted[:, :, 0] = 0.0

    def relative_change(f):
        a = np.stack([f(im) for im in images])
        b = np.stack([f(im) for im in shifted])
        return float(
            np.mean(
                np.linalg.norm((a - b).reshape(len(a), -1), axis=1)
                / np.linalg.norm(a.reshape(len(a), -1), axis=1)
            )
        )

    return {
        "example_input": grid.tolist(),
        "max_pool": by_hand_max.tolist(),
        "average_pool": by_hand_avg.tolist(),
        "max_pool_max_abs_diff": float(np.max(np.abs(keras_max - by_hand_max))),
        "average_pool_max_abs_diff": float(
            np.max(np.abs(keras_avg - by_hand_avg))
        ),
        "pooling_params": int(pool_layer.count_params()),
        "strided_conv_params": int(strided.count_params()),
        "same_pool_3_stride_2_on_7x7": list(same_shape[1:3]),
        "shift_change_raw": relative_change(lambda im: im),
        "shift_change_max_pool_2": relative_change(
            lambda im: pool_2d(im, 2, np.max)
        ),
        "shift_change_avg_pool_2": relative_change(
            lambda im: pool_2d(im, 2, np.mean)
        ),
        "shift_change_max_pool_4": relative_change(
            lambda im: pool_2d(im, 4, np.max)
        ),
    }


def pooling_section(run):
    """Max- and average-pools a digit by hand and with Keras."""
    x_test = run.x_test
    print("3. Pooling")
    pool = pooling(x_test)
    print(f"   input {pool['example_input']}")
    pool_diff = max(
        pool["max_pool_max_abs_diff"], pool["average_pool_max_abs_diff"]
    )
    print(
        f"   2x2 max pooling {pool['max_pool']}, average pooling "
        f"{pool['average_pool']} (Keras differs by {pool_diff:.1g})"
    )
    print(
        f"   weights: MaxPooling2D {pool['pooling_params']}, a 2x2 stride-2 "
        f"Conv2D with 16 channels in and out {pool['strided_conv_params']}"
    )
    labs.print_table(
        "Relative change when every test digit moves one pixel right",
        ("representation", "relative change"),
        [
            ("raw pixels", pool["shift_change_raw"]),
            ("2x2 max pooling", pool["shift_change_max_pool_2"]),
            ("2x2 average pooling", pool["shift_change_avg_pool_2"]),
            ("4x4 max pooling", pool["shift_change_max_pool_4"]),
        ],
    )
    run.keep(pool=pool)


# %% [markdown]
# ## 4. A small CNN against an MLP of the same size
#
# A CNN shares each kernel across the image; an MLP has one weight per
# pixel and unit. With the same number of parameters both learn the
# centred digits, but only the CNN still reads them when they move by one
# pixel.


# %%
def build_cnn(augment=False):
    layers = [keras.Input((8, 8, 1))]
    if augment:
        layers += [
            keras.layers.RandomTranslation(
                0.125, 0.125, fill_mode="constant", name="shift"
            ),
            keras.layers.RandomRotation(
                0.04, fill_mode="constant", name="rotate"
            ),
            keras.layers.RandomZoom(0.15, fill_mode="constant", name="zoom"),
        ]
    layers += [
        keras.layers.Conv2D(
            16, 3, padding="same", activation="relu", name="conv1"
        ),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(
            32, 3, padding="same", activation="relu", name="conv2"
        ),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, name="logits"),
    ]
    return keras.Sequential(layers)


def build_mlp(hidden):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="logits"),
        ]
    )


def shift_images(x, seed):
    """Moves every image one pixel in a random direction (zeros fill in)."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(x)
    for i, (dy, dx) in enumerate(rng.choice([-1, 1], size=(len(x), 2))):
        out[i] = np.roll(x[i], (dy, dx), axis=(0, 1))
        out[i, 0 if dy == 1 else -1, :] = 0.0
        out[i, :, 0 if dx == 1 else -1] = 0.0
    return out


def fit(model, x, y, epochs, batch_size, x_test, y_test, seed):
    """Trains with Adam; returns the history and the accuracy on the test
    images and on the same images moved one pixel (one predict call)."""
    keras.utils.set_random_seed(seed)
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, verbose=0
    ).history
    both = np.concatenate([x_test, shift_images(x_test, seed)])
    predicted = np.argmax(
        model.predict(both, batch_size=1024, verbose=0), axis=1
    )
    correct = predicted == np.concatenate([y_test, y_test])
    n = len(x_test)
    return history, float(np.mean(correct[:n])), float(np.mean(correct[n:]))


def cnn_against_mlp(run):
    """Trains a CNN and an MLP with as many parameters on the digits."""
    args, epochs, x_test = run.args, run.epochs, run.x_test
    x_train, y_test, y_train = run.x_train, run.y_test, run.y_train
    print(f"4. A small CNN and an MLP of the same size, {epochs} epochs each")
    cnn = build_cnn()
    cnn_params = cnn.count_params()
    hidden = round((cnn_params - 10) / 75)  # 64 h + h + 10 h + 10 parameters
    mlp = build_mlp(hidden)
    cnn_history, cnn_accuracy, cnn_shifted = fit(
        cnn, x_train, y_train, epochs, 64, x_test, y_test, args.seed
    )
    mlp_history, mlp_accuracy, mlp_shifted = fit(
        mlp, x_train, y_train, epochs, 64, x_test, y_test, args.seed
    )
    labs.print_table(
        "Digits test set (and the same digits moved one pixel)",
        (
            "model",
            "parameters",
            "final training loss",
            "test accuracy",
            "shifted test accuracy",
        ),
        [
            (
                "CNN",
                cnn_params,
                cnn_history["loss"][-1],
                cnn_accuracy,
                cnn_shifted,
            ),
            (
                f"MLP ({hidden} hidden)",
                mlp.count_params(),
                mlp_history["loss"][-1],
                mlp_accuracy,
                mlp_shifted,
            ),
        ],
    )
    run.keep(cnn=cnn, cnn_accuracy=cnn_accuracy, cnn_history=cnn_history)
    run.keep(cnn_params=cnn_params, cnn_shifted=cnn_shifted, mlp=mlp)
    run.keep(mlp_accuracy=mlp_accuracy, mlp_history=mlp_history)
    run.keep(mlp_shifted=mlp_shifted)


# %% [markdown]
# The headline figure: test accuracy on the centred digits and on the
# same digits moved by one pixel, and the training curves.


# %%
def plot_cnn_against_mlp(run):
    """Draws the headline figure: accuracy on centred and shifted digits."""
    cnn_history, cnn_params = run.cnn_history, run.cnn_params
    epochs, mlp, mlp_history = run.epochs, run.mlp, run.mlp_history
    cnn_accuracy, cnn_shifted = run.cnn_accuracy, run.cnn_shifted
    mlp_accuracy, mlp_shifted = run.mlp_accuracy, run.mlp_shifted
    fig, axes = plotting.new_figure(1, 2)
    positions = np.arange(2)
    for offset, name, scores in (
        (-0.2, f"CNN ({cnn_params} parameters)", (cnn_accuracy, cnn_shifted)),
        (
            0.2,
            f"MLP ({mlp.count_params()} parameters)",
            (mlp_accuracy, mlp_shifted),
        ),
    ):
        bars = axes[0].bar(positions + offset, scores, width=0.4, label=name)
        axes[0].bar_label(bars, fmt="{:.0%}")
    axes[0].set_xticks(positions, ["centred digits", "moved by 1 pixel"])
    axes[0].set_ylabel("test accuracy (fraction correct)")
    axes[0].set_ylim(0, 1.1)
    axes[0].set_title(
        f"moved 1 pixel: CNN {cnn_shifted:.0%}, same-size MLP {mlp_shifted:.0%}"
    )
    axes[0].legend(loc="upper right", fontsize="small")
    for history, marker, name in (
        (cnn_history, "o", "CNN"),
        (mlp_history, "s", "MLP"),
    ):
        axes[1].plot(
            range(1, epochs + 1), history["accuracy"], marker=marker, label=name
        )
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("training accuracy (fraction correct)")
    axes[1].set_title("both fit the centred training digits")
    axes[1].legend()
    labs.save_figure(fig, run.out, "cnn_vs_mlp")


# %% [markdown]
# What the CNN learned: its first-layer kernels, and the maps they
# produce for one digit before and after pooling.


# %%
def show_grid(
    out, name, images, titles, ncols, title=None, colorbar_label="pixel value"
):
    """Draws images in a grid on one colour scale, with a colorbar."""
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plotting.new_figure(nrows, ncols, width=1.3, height=1.4)
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    # One colour scale for the whole grid, so that panels compare.
    limit = max(float(np.max(np.abs(image))) for image in images) or 1.0
    signed = min(float(np.min(image)) for image in images) < 0
    cmap, vmin = ("RdBu_r", -limit) if signed else ("gray", 0.0)
    for ax, image, label in zip(axes, images, titles):
        shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=limit)
        ax.set_title(label, fontsize=8)
    fig.colorbar(shown, ax=list(axes), shrink=0.8, label=colorbar_label)
    if title:
        fig.suptitle(title)
    labs.save_figure(fig, out, name)


def show_kernels_and_maps(run):
    """Draws the learned kernels and the feature maps of one digit."""
    cnn, out, x_test, y_test = run.cnn, run.out, run.x_test, run.y_test
    kernels = keras.ops.convert_to_numpy(cnn.get_layer("conv1").kernel)[
        :, :, 0, :
    ]
    show_grid(
        out,
        "learned_kernels",
        [kernels[..., i] for i in range(16)],
        [f"kernel {i}" for i in range(16)],
        8,
        "first-layer 3x3 kernels learned from the digits (red +, blue -)",
        colorbar_label="weight",
    )
    digit = x_test[:1]
    feature_model = keras.Model(
        cnn.inputs[0],
        [cnn.get_layer("conv1").output, cnn.get_layer("pool1").output],
    )
    maps, pooled = [
        keras.ops.convert_to_numpy(t)[0] for t in feature_model(digit)
    ]
    show_grid(
        out,
        "feature_maps",
        [digit[0, ..., 0]]
        + [maps[..., i] for i in range(8)]
        + [digit[0, ..., 0]]
        + [pooled[..., i] for i in range(8)],
        [f"digit {y_test[0]}"]
        + [f"conv1 map {i}" for i in range(8)]
        + ["input"]
        + [f"pooled {i}" for i in range(8)],
        9,
        "feature maps (8x8) and after 2x2 max pooling (4x4)",
        colorbar_label="activation",
    )


# %% [markdown]
# ## 5. Augmentation
#
# With only a few images per class, random shifts and rotations of the
# training images (augmentation) act like more data.


# %%
def small_training_set(x, y, per_class, seed):
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [
            rng.choice(np.nonzero(y == c)[0], per_class, replace=False)
            for c in range(10)
        ]
    )
    return x[keep], y[keep]


def show_augmented_digit(x_small, out):
    """Draws one digit and seven random augmentations of it.

    Returns:
        The mean absolute pixel change of the first augmentation.
    """
    augmenter = keras.Sequential(build_cnn(augment=True).layers[:3])
    examples = [x_small[0, ..., 0]] + [
        keras.ops.convert_to_numpy(augmenter(x_small[:1], training=True))[
            0, ..., 0
        ]
        for _ in range(7)
    ]
    show_grid(
        out,
        "augmentation",
        examples,
        ["original"] + [f"augmented {i}" for i in range(1, 8)],
        8,
        "random shift, rotation and zoom change every pixel of a digit",
    )
    return float(np.mean(np.abs(examples[1] - examples[0])))


def augmentation(run):
    """Trains on a few images per class with and without augmentation."""
    args, out, per_class = run.args, run.out, run.per_class
    small_epochs, x_test, x_train = run.small_epochs, run.x_test, run.x_train
    y_test, y_train = run.y_test, run.y_train
    print(f"5. Augmentation with {per_class} training images per class")
    x_small, y_small = small_training_set(
        x_train, y_train, per_class, args.seed
    )
    augmented_change = show_augmented_digit(x_small, out)
    small = {}
    for name, augment in [("no augmentation", False), ("augmentation", True)]:
        history, accuracy, shifted = fit(
            build_cnn(augment),
            x_small,
            y_small,
            small_epochs,
            50,
            x_test,
            y_test,
            args.seed,
        )
        small[name] = {
            "test_accuracy": accuracy,
            "shifted_test_accuracy": shifted,
            "final_training_loss": float(history["loss"][-1]),
        }
    labs.print_table(
        f"CNN trained on {len(x_small)} digits for {small_epochs} epochs",
        (
            "training",
            "final training loss",
            "test accuracy",
            "shifted test accuracy",
        ),
        [
            (
                k,
                v["final_training_loss"],
                v["test_accuracy"],
                v["shifted_test_accuracy"],
            )
            for k, v in small.items()
        ],
    )
    run.keep(augmented_change=augmented_change, small=small, x_small=x_small)


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    augmented_change, by_layer = run.augmented_change, run.by_layer
    cnn_accuracy, cnn_history = run.cnn_accuracy, run.cnn_history
    cnn_params, cnn_shifted, conv = run.cnn_params, run.cnn_shifted, run.conv
    matched, mlp, mlp_accuracy = run.matched, run.mlp, run.mlp_accuracy
    mlp_history, mlp_shifted, pool = run.mlp_history, run.mlp_shifted, run.pool
    shapes, small, x_small = run.shapes, run.small, run.x_small
    results = {
        "convolution": conv,
        "shapes": shapes,
        "shapes_checked": len(shapes),
        "shapes_matched": int(matched),
        "shapes_by_layer": by_layer,
        "pooling": pool,
        "cnn_params": int(cnn_params),
        "mlp_params": int(mlp.count_params()),
        "cnn_test_accuracy": cnn_accuracy,
        "mlp_test_accuracy": mlp_accuracy,
        "cnn_shifted_test_accuracy": cnn_shifted,
        "mlp_shifted_test_accuracy": mlp_shifted,
        "cnn_loss": cnn_history["loss"],
        "mlp_loss": mlp_history["loss"],
        "augmentation_mean_pixel_change": augmented_change,
        "small_training_set_size": int(len(x_small)),
        "small_training_set": small,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    cnn_accuracy, cnn_params = run.cnn_accuracy, run.cnn_params
    cnn_shifted, conv, epochs = run.cnn_shifted, run.conv, run.epochs
    matched, mlp, mlp_accuracy = run.matched, run.mlp, run.mlp_accuracy
    mlp_shifted, pool, shapes = run.mlp_shifted, run.pool, run.shapes
    small, small_epochs, x_small = run.small, run.small_epochs, run.x_small
    centred_gain = (
        small["augmentation"]["test_accuracy"]
        - small["no augmentation"]["test_accuracy"]
    )
    shifted_gain = (
        small["augmentation"]["shifted_test_accuracy"]
        - small["no augmentation"]["shifted_test_accuracy"]
    )
    print(
        f"\nSummary: all {len(shapes)} output shapes matched the formulas "
        f"({matched} of {len(shapes)}): a convolution gives "
        "floor((n - k_eff) / s) + 1 positions without padding and ceil(n / s) "
        "with same padding, and a transposed one n * s with same padding and "
        "n * s + max(k - s, 0) without, whether in one, two or three "
        "dimensions. A conv layer is the slide-multiply-sum written by hand "
        f"(to {conv['conv2d_same_max_abs_diff']:.0g}); same padding is a ring "
        "of zeros, which also lets border pixels be seen by "
        f"{conv['same_windows_per_corner_pixel']} windows instead of "
        f"{conv['valid_windows_per_corner_pixel']}, and causal padding pads "
        "only the past, so no output looks ahead. Pooling has no weights "
        f"(a strided conv doing the same downsampling has "
        f"{pool['strided_conv_params']}) and moving a digit one pixel changed "
        f"its raw pixels by {pool['shift_change_raw']:.0%} but its 2x2 "
        f"max-pooled map by {pool['shift_change_max_pool_2']:.0%} and its 4x4 "
        f"one by {pool['shift_change_max_pool_4']:.0%}. With about the same "
        f"number of parameters ({cnn_params} and {mlp.count_params()}) and "
        f"{epochs} epochs each, the "
        f"CNN reached {cnn_accuracy:.1%} test accuracy and the MLP "
        f"{mlp_accuracy:.1%}; the digits are centred and cropped, so a "
        "fully connected layer does well on them. Move them one pixel and "
        f"the CNN kept {cnn_shifted:.1%} against the MLP's {mlp_shifted:.1%}: "
        "the CNN's kernels are shared across positions and its pooling "
        "absorbs small shifts, while each MLP weight belongs to one pixel. "
        f"Trained on only {len(x_small)} digits, the CNN scored "
        f"{small['no augmentation']['test_accuracy']:.1%} on the test digits "
        f"without augmentation and {small['augmentation']['test_accuracy']:.1%}"
        " with random shifts, rotations and zooms, and "
        f"{small['no augmentation']['shifted_test_accuracy']:.1%} against "
        f"{small['augmentation']['shifted_test_accuracy']:.1%} on the moved "
        "ones: augmentation teaches the model the variations it is shown "
        f"({shifted_gain:+.1%} on the moved digits). It makes training "
        "harder (final training loss "
        f"{small['augmentation']['final_training_loss']:.2f} against "
        f"{small['no augmentation']['final_training_loss']:.3f})"
        + (
            f", and in {small_epochs} epochs that cost "
            f"{-centred_gain:.1%} on the centred digits."
            if centred_gain < 0
            else f", and still gained {centred_gain:+.1%} on the centred "
            "digits."
        )
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/11_cnn/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    load_data(run)
    convolution_by_hand(run)
    output_shapes(run)
    pooling_section(run)
    cnn_against_mlp(run)
    plot_cnn_against_mlp(run)
    show_kernels_and_maps(run)
    augmentation(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 11, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write a 2-D convolution (a cross-correlation, as in Keras) and max
# pooling in NumPy; the grader compares them with Keras's layers.
#
# - Get the starter: `mlkeras exercise 11 -o lab11.py`
# - Check your work: `mlkeras check lab11.py --lab 11`

# %%
EXERCISE = "2-D convolution and max pooling, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
