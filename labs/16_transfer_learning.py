# %%
"""Lab 16: Transfer learning.

Objectives:
- Read the applications table (weights size, ImageNet top-1 and top-5,
  parameters, depth, CPU and GPU time) from `mlkeras.transfer.model_info`,
  with the models Keras ships that the table leaves out; nothing is
  downloaded.
- Preprocessing: what each family's own `preprocess_input` does to a pixel
  (caffe, tf, torch, or inside the model), and what feeding a model the
  wrong scale costs.
- Pretrain a small CNN base on synthetic shapes, check it in inference mode
  (its BatchNormalization statistics must have settled) and save its
  weights to a local file under --out.
- Reuse that file through `build_transfer_model(base, ..., weights=path)`
  on a new small task (shapes drawn on a coarser grid and resized to the
  base's input) with a few labelled images per class, against the same
  network trained from scratch.
- Feature extraction (frozen base, new head) against fine-tuning
  (`fine_tune`: the head first, then the base at a lower learning rate with
  BatchNormalization kept frozen), and which weights each one changed.

Runtime: about 14 s with --quick, 60 s in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting, transfer

LAB = "16_transfer_learning"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

IMAGE_SIZE = 24  # the base's input side

SOURCE_SHAPES = ("circle", "square", "triangle")

SOURCE_NOISES = (0.05, 0.25)  # half the pretraining images at each level

TARGET_SHAPES = SOURCE_SHAPES

TARGET_DRAWN_SIZE = 16  # target images are drawn on a coarser grid, resized

TARGET_NOISE = 0.2

BATCH_SIZE = 12

HEAD_LEARNING_RATE = 1e-2

FINE_TUNE_LEARNING_RATE = 3e-4

SCRATCH_LEARNING_RATE = 3e-3

SCRATCH_STEPS_FACTOR = 3  # the scratch model gets three times the steps


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) pretrains on fewer images and
# tries one labelled-set size instead of four.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the data sizes and epochs."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    n_source = 600 if args.quick else 1500
    source_epochs = 4 if args.quick else 10
    per_class_sizes = (4,) if args.quick else (2, 4, 8, 20)
    epochs = (3, 3) if args.quick else (6, 6)  # head, then fine-tuning
    repeats = 10  # passes over the labelled images per epoch
    n_target_test = 300 if args.quick else 1000
    run.keep(epochs=epochs, n_source=n_source, n_target_test=n_target_test)
    run.keep(per_class_sizes=per_class_sizes, repeats=repeats)
    run.keep(source_epochs=source_epochs)


# %% [markdown]
# ## 1. The applications table
#
# `keras.applications` offers dozens of pretrained bases.
# `mlkeras.transfer.model_info` gives each one's parameters, size, CPU
# time and ImageNet accuracy: bigger is more accurate, with diminishing
# returns.


# %%
def applications_table():
    """One row per model of the notes' table, read from `model_info`."""
    rows = []
    others = []
    for name in transfer.list_models():
        info = transfer.model_info(name)
        if info.has_figures:
            rows.append(
                {
                    "name": info.name,
                    "family": info.family,
                    "size_mb": info.size_mb,
                    "top1": info.top1_accuracy,
                    "top5": info.top5_accuracy,
                    "parameters": info.parameters,
                    "depth": info.depth,
                    "cpu_ms": info.cpu_ms,
                    "gpu_ms": info.gpu_ms,
                    "preprocessing": info.preprocessing,
                    "input_size": info.default_input_size,
                    "min_input_size": info.min_input_size,
                }
            )
        else:
            others.append(
                {
                    "name": info.name,
                    "family": info.family,
                    "preprocessing": info.preprocessing,
                    "input_size": info.default_input_size,
                }
            )
    return rows, others


def applications(run):
    """Lists keras.applications models with their size, speed and accuracy."""
    print("1. The applications table, from mlkeras.transfer.model_info")
    table, others = applications_table()
    labs.print_table(
        "ImageNet figures (no weights downloaded)",
        (
            "model",
            "MB",
            "top-1",
            "top-5",
            "params (M)",
            "depth",
            "CPU ms",
            "GPU ms",
            "input",
            "preprocessing",
        ),
        [
            (
                r["name"],
                r["size_mb"],
                f"{r['top1']:.1%}",
                f"{r['top5']:.1%}",
                round(r["parameters"] / 1e6, 1),
                r["depth"],
                r["cpu_ms"],
                r["gpu_ms"],
                r["input_size"],
                r["preprocessing"],
            )
            for r in table
        ],
    )
    run.keep(others=others, table=table)


def applications_findings(run):
    """Finds the most accurate, smallest and fastest models of the table."""
    others, table = run.others, run.table
    labs.print_table(
        "Models Keras ships that the table leaves out",
        ("model", "family", "input", "preprocessing"),
        [
            (r["name"], r["family"], r["input_size"], r["preprocessing"])
            for r in others
        ],
    )
    table_by_name = {r["name"]: r for r in table}
    best = max(table, key=lambda r: r["top1"])
    smallest = min(table, key=lambda r: r["size_mb"])
    fastest = min(table, key=lambda r: r["cpu_ms"])
    per_million = {
        r["name"]: r["top1"] / (r["parameters"] / 1e6) for r in table
    }
    depth_corr = float(
        np.corrcoef([r["depth"] for r in table], [r["top1"] for r in table])[
            0, 1
        ]
    )
    print(
        f"   most accurate {best['name']} ({best['top1']:.1%}, "
        f"{best['size_mb']} MB); smallest {smallest['name']} "
        f"({smallest['size_mb']} MB, {smallest['top1']:.1%}); fastest on "
        f"CPU {fastest['name']} ({fastest['cpu_ms']} ms)"
    )
    run.keep(best=best, depth_corr=depth_corr, fastest=fastest)
    run.keep(per_million=per_million, smallest=smallest)
    run.keep(table_by_name=table_by_name)


# %% [markdown]
# ## 2. Preprocessing
#
# Each family expects its own input scaling (`[-1, 1]`, `[0, 1]`, or
# mean-subtracted BGR). A base fed the wrong scaling sees inputs unlike
# anything it was trained on.


# %%
def preprocessing_examples():
    """What each family's own `preprocess_input` makes of three pixels.

    One pixel per row: black, mid grey and a pure red; the numbers are the
    three channels the network sees, in its own channel order.
    """
    pixels = np.array(
        [[[0.0, 0.0, 0.0], [127.5, 127.5, 127.5], [255.0, 0.0, 0.0]]],
        dtype="float32",
    )
    examples = {}
    for name in ("VGG16", "MobileNetV2", "DenseNet121", "EfficientNetB0"):
        info = transfer.model_info(name)
        out = np.asarray(info.preprocess_input(pixels.copy()), dtype="float64")[
            0
        ].round(2)
        examples[name] = {
            "mode": info.preprocessing,
            "black": out[0].tolist(),
            "grey": out[1].tolist(),
            "red": out[2].tolist(),
        }
    return examples


def preprocessing(run):
    """Shows what each family's preprocess_input does to a pixel."""
    print("2. Preprocessing: what each family's preprocess_input does")
    prep = preprocessing_examples()
    labs.print_table(
        "Pixels [R, G, B] in [0, 255] -> what the network sees",
        ("model", "mode", "black", "grey 127.5", "red (255, 0, 0)"),
        [
            (k, v["mode"], v["black"], v["grey"], v["red"])
            for k, v in prep.items()
        ],
    )
    run.keep(prep=prep)


# %% [markdown]
# ## 3. Pretraining a small base
#
# No download is possible here, so the lab pretrains its own small base on
# one set of shapes and saves its weights, as ImageNet training would.


# %%
def source_data(n_samples, seed):
    """The pretraining set: shapes at 24x24, half clean and half noisy, so
    that the base learns features that survive noise (a large, varied
    pretraining set is what makes ImageNet bases useful elsewhere)."""
    parts = [
        datasets.make_shapes(
            n_samples // 2,
            image_size=IMAGE_SIZE,
            shapes=SOURCE_SHAPES,
            noise=noise,
            seed=seed + 100 * i,
        )
        for i, noise in enumerate(SOURCE_NOISES)
    ]
    order = np.random.default_rng(seed).permutation(2 * (n_samples // 2))
    x = np.concatenate([p[0] for p in parts])[order]
    y = np.concatenate([p[1] for p in parts])[order]
    return x, y


def make_base():
    """A small fully convolutional feature extractor for grey images.

    BatchNormalization with momentum 0.9 lets its moving statistics settle
    within the few hundred steps of pretraining (at Keras's default 0.99
    they would still be close to their initial values).
    """
    layers = keras.layers
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1))
    x = inputs
    for i, filters in enumerate((16, 32, 32), start=1):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"conv{i}"
        )(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < 3:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return keras.Model(inputs, x, name="shapes_base")


def plain_classifier(base, num_classes):
    """Base + pooling + softmax as one ordinary model, for pretraining.

    Not `build_transfer_model`: its wrapper always runs the base in
    inference mode, so BatchNormalization would never learn its statistics.
    Pixels go in as [0, 255], as they do for the transfer models, and the
    base sees [0, 1].
    """
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def pretrain(x, y, x_test, y_test, epochs, seed, path):
    """Trains the base on the source task and saves its weights."""
    keras.utils.set_random_seed(seed)
    base = make_base()
    model = plain_classifier(base, len(SOURCE_SHAPES))
    # The learning rate decays to zero, so the weights stop moving at the end
    # and the BatchNormalization moving statistics catch up with them.
    steps = epochs * int(np.ceil(len(x) / 16))
    schedule = keras.optimizers.schedules.CosineDecay(5e-3, steps)
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x * 255, y, epochs=epochs, batch_size=16, verbose=0
    ).history
    # evaluate() runs BatchNormalization with its moving statistics: the way
    # the base will be used. Check it before trusting the saved file.
    _, test_accuracy = model.evaluate(x_test * 255, y_test, verbose=0)
    base.save_weights(path)
    return base, history, float(test_accuracy)


def pretrain_a_base(run):
    """Trains a small base on source shapes and saves its weights."""
    args, n_source, out = run.args, run.n_source, run.out
    source_epochs = run.source_epochs
    print(
        f"3. Pretraining a small base on {n_source} shapes "
        f"({', '.join(SOURCE_SHAPES)}, {IMAGE_SIZE}x{IMAGE_SIZE})"
    )
    x_src, y_src = source_data(n_source, args.seed)
    x_src_test, y_src_test = source_data(300, args.seed + 1)
    weights_path = out / "shapes_base.weights.h5"
    base, source_history, source_accuracy = pretrain(
        x_src,
        y_src,
        x_src_test,
        y_src_test,
        source_epochs,
        args.seed,
        weights_path,
    )
    print(
        f"   source test accuracy in inference mode: {source_accuracy:.1%}; "
        f"{base.count_params()} base parameters saved to {weights_path.name}"
    )
    run.keep(base=base, source_accuracy=source_accuracy)
    run.keep(source_history=source_history, weights_path=weights_path)
    run.keep(x_src=x_src, y_src=y_src)


# %% [markdown]
# ## 4. Transfer to a new task with few labels
#
# On new shapes with only a few labelled images per class, the network
# trained from scratch barely beats chance. Feature extraction (frozen
# base, new head) does far better; fine-tuning the base afterwards at a low
# learning rate adds a little more.


# %%
def target_data(n_samples, seed):
    """The target task: the shapes drawn on a 16x16 grid with noise 0.2,
    then resized to the base's 24x24 input (bilinear), which leaves soft,
    blocky edges the base never saw."""
    x, y = datasets.make_shapes(
        n_samples,
        image_size=TARGET_DRAWN_SIZE,
        shapes=TARGET_SHAPES,
        noise=TARGET_NOISE,
        seed=seed,
    )
    resized = keras.ops.image.resize(
        x, (IMAGE_SIZE, IMAGE_SIZE), interpolation="bilinear"
    )
    return np.clip(keras.ops.convert_to_numpy(resized), 0, 1), y


def accuracy(model, x, y):
    """Accuracy of a softmax or (for two classes) a one-sigmoid model."""
    probabilities = model.predict(x, batch_size=512, verbose=0)
    if probabilities.shape[-1] == 1:
        predicted = (probabilities[:, 0] >= 0.5).astype("int32")
    else:
        predicted = np.argmax(probabilities, axis=1)
    return float(np.mean(predicted == y))


def base_weights(model):
    """Trainable weights and BatchNormalization moving
    statistics of the base.
    """
    base = transfer.get_base(model)
    return {w.path: np.array(w.numpy()) for w in base.weights}


def make_tracker(x_test, y_test):
    """A callback that records test accuracy after every epoch and the base's
    weights at the start and end of every `fit` (fine_tune calls fit twice)."""

    class Tracker(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.test_accuracy = []
            self.snapshots = []

        def on_train_begin(self, logs=None):
            self.snapshots.append(base_weights(self.model))

        def on_train_end(self, logs=None):
            self.snapshots.append(base_weights(self.model))

        def on_epoch_end(self, epoch, logs=None):
            self.test_accuracy.append(accuracy(self.model, x_test, y_test))

    return Tracker()


def fine_tune_from_base(
    weights_path, x_fit, y_fit, x_test, y_test, epochs, seed
):
    """Loads the saved base, trains a new head, then fine-tunes the base.

    Returns:
        `(model, tracker, history, loaded)`: the model, its per-epoch test
        accuracy tracker, the `fine_tune` history and the base's weights as
        loaded.
    """
    head_epochs, tune_epochs = epochs
    n_classes = len(TARGET_SHAPES)
    keras.utils.set_random_seed(seed)
    model = transfer.build_transfer_model(
        make_base(),
        n_classes,
        weights=weights_path,
        preprocessing=keras.layers.Rescaling(1 / 255),
        dropout=0.2,
    )
    loaded = base_weights(model)
    tracker = make_tracker(x_test, y_test)
    tuned = transfer.fine_tune(
        model,
        (x_fit, y_fit),
        None,
        head_epochs=head_epochs,
        fine_tune_epochs=tune_epochs,
        head_learning_rate=HEAD_LEARNING_RATE,
        fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
        batch_size=BATCH_SIZE,
        callbacks=[tracker],
    )
    return model, tracker, tuned, loaded


def largest_change(before, after, kind):
    """Largest absolute change of the base's kernels or its BN statistics."""
    keys = [
        k
        for k in before
        if ("kernel" in k if kind == "kernel" else k.startswith("bn"))
    ]
    return max(float(np.max(np.abs(after[k] - before[k]))) for k in keys)


def train_from_scratch(x_fit, y_fit, x_test, y_test, epochs, seed):
    """Trains the transfer model's architecture from random weights.

    Returns:
        `(tracker, history)`: the per-epoch test accuracy tracker and the
        training history.
    """
    n_classes = len(TARGET_SHAPES)
    # The same transfer model, with a randomly initialised base that trains
    # together with the head from the first step, and for three times as many
    # steps, so that it is not merely undertrained. Inside
    # the model's inference-mode wrapper its BatchNormalization layers keep
    # their initial statistics (mean 0, variance 1), so they act as plain
    # per-channel scale and shift: the same graph, trained end to end.
    keras.utils.set_random_seed(seed)
    scratch = transfer.build_transfer_model(
        make_base(),
        n_classes,
        weights=None,
        trainable_base=True,
        preprocessing=keras.layers.Rescaling(1 / 255),
        dropout=0.2,
    )
    scratch.compile(
        keras.optimizers.Adam(SCRATCH_LEARNING_RATE),
        transfer.head_loss(n_classes),
        metrics=["accuracy"],
    )
    scratch_tracker = make_tracker(x_test, y_test)
    history = scratch.fit(
        np.tile(x_fit, (SCRATCH_STEPS_FACTOR, 1, 1, 1)),
        np.tile(y_fit, SCRATCH_STEPS_FACTOR),
        epochs=epochs,
        batch_size=BATCH_SIZE,
        callbacks=[scratch_tracker],
        verbose=0,
    ).history
    return scratch_tracker, history


def few_shot_run(
    pretrained, weights_path, x, y, x_test, y_test, epochs, repeats, seed
):
    """The same network from scratch, and from the saved base via fine_tune.

    The few labelled images are shown `repeats` times per epoch (`np.tile`):
    with a dozen images an epoch would be one step, and Keras spends more time
    starting an epoch than on such a step.
    """
    head_epochs, tune_epochs = epochs
    x_fit = np.tile(x, (repeats, 1, 1, 1)) * 255
    y_fit = np.tile(y, repeats)
    x_test = x_test * 255

    scratch_tracker, history = train_from_scratch(
        x_fit, y_fit, x_test, y_test, head_epochs + tune_epochs, seed
    )

    # Phase one (frozen base, new head) is feature extraction; phase two
    # fine-tunes the base at a lower learning rate.
    model, tracker, tuned, loaded = fine_tune_from_base(
        weights_path, x_fit, y_fit, x_test, y_test, epochs, seed
    )
    reference = {w.path: np.array(w.numpy()) for w in pretrained.weights}
    begin1, end1, begin2, end2 = tracker.snapshots
    curve = tracker.test_accuracy
    return {
        "labelled_images": int(len(x)),
        "scratch_test_accuracy": scratch_tracker.test_accuracy[-1],
        "feature_extraction_test_accuracy": curve[head_epochs - 1],
        "fine_tuning_test_accuracy": curve[-1],
        "scratch_curve": scratch_tracker.test_accuracy,
        "transfer_curve": curve,
        "scratch_loss": history["loss"],
        "transfer_loss": tuned.history["loss"],
        "learning_rate": tuned.history["learning_rate"],
        "loaded_weights_max_diff": max(
            float(np.max(np.abs(loaded[k] - reference[k]))) for k in loaded
        ),
        "extraction_kernel_change": largest_change(begin1, end1, "kernel"),
        "extraction_batchnorm_change": largest_change(begin1, end1, "bn"),
        "fine_tuning_kernel_change": largest_change(begin2, end2, "kernel"),
        "fine_tuning_batchnorm_change": largest_change(begin2, end2, "bn"),
        "trainable_base_weights_in_fine_tuning": len(
            transfer.get_base(model).trainable_weights
        ),
        # The finished model fed [0, 1] pixels instead of [0, 255].
        "unscaled_test_accuracy": accuracy(model, x_test / 255, y_test),
        "test_accuracy": curve[-1],
    }


def few_shot_target(run):
    """Trains from scratch and by transfer on a few
    labelled images per class.
    """
    args, base, epochs = run.args, run.base, run.epochs
    n_target_test, per_class_sizes = run.n_target_test, run.per_class_sizes
    repeats, weights_path = run.repeats, run.weights_path
    print(
        f"4. The target task: shapes drawn at "
        f"{TARGET_DRAWN_SIZE}x{TARGET_DRAWN_SIZE} with noise {TARGET_NOISE}, "
        f"resized to {IMAGE_SIZE}x{IMAGE_SIZE}, a few labels per class"
    )
    x_pool, y_pool = target_data(600, args.seed + 2)
    x_tgt_test, y_tgt_test = target_data(n_target_test, args.seed + 3)
    rng = np.random.default_rng(args.seed)
    sweep = {}
    for per_class in per_class_sizes:
        keep = np.concatenate(
            [
                rng.choice(np.nonzero(y_pool == c)[0], per_class, replace=False)
                for c in range(len(TARGET_SHAPES))
            ]
        )
        sweep[per_class] = few_shot_run(
            base,
            weights_path,
            x_pool[keep],
            y_pool[keep],
            x_tgt_test,
            y_tgt_test,
            epochs,
            repeats,
            args.seed,
        )
    labs.print_table(
        f"Target test accuracy ({n_target_test} images) after "
        f"{sum(epochs)} epochs of {repeats} passes over the labelled images "
        f"({repeats * SCRATCH_STEPS_FACTOR} from scratch)",
        (
            "labelled per class",
            "scratch",
            "feature extraction",
            "+ fine-tuning",
        ),
        [
            (
                k,
                r["scratch_test_accuracy"],
                r["feature_extraction_test_accuracy"],
                r["fine_tuning_test_accuracy"],
            )
            for k, r in sweep.items()
        ],
    )
    run.keep(sweep=sweep, x_tgt_test=x_tgt_test, y_tgt_test=y_tgt_test)


# %% [markdown]
# ## 5. What each phase changed in the base
#
# Feature extraction leaves the base untouched; fine-tuning moves its
# kernels, while its batch-normalization statistics stay frozen.


# %%
def what_each_phase_changed(run):
    """Measures how far each phase moved the base's weights."""
    sweep = run.sweep
    main_size = 4
    main_run = sweep[main_size]
    print(f"5. What each phase changed in the base ({main_size} per class)")
    print(
        f"   weights loaded from the file differ from the pretrained base "
        f"by at most {main_run['loaded_weights_max_diff']:.1g}"
    )
    labs.print_table(
        "Largest absolute change in the base",
        (
            "phase",
            "learning rate",
            "conv kernels",
            "BN moving statistics",
            "trainable base weights",
        ),
        [
            (
                "feature extraction (frozen base)",
                HEAD_LEARNING_RATE,
                main_run["extraction_kernel_change"],
                main_run["extraction_batchnorm_change"],
                0,
            ),
            (
                "fine-tuning (BN kept frozen)",
                FINE_TUNE_LEARNING_RATE,
                main_run["fine_tuning_kernel_change"],
                main_run["fine_tuning_batchnorm_change"],
                main_run["trainable_base_weights_in_fine_tuning"],
            ),
        ],
    )
    run.keep(main_run=main_run, main_size=main_size)


# %% [markdown]
# ## 6. Preprocessing mismatch
#
# The same model fed `[0, 1]` pixels instead of `[0, 255]` falls to
# chance: preprocessing is part of the model.


# %%
def preprocessing_mismatch(run):
    """Feeds the fine-tuned model pixels in the wrong range."""
    main_run = run.main_run
    print("6. Preprocessing mismatch: the fine-tuned model fed [0, 1] pixels")
    print(
        f"   pixels in [0, 255] as built: {main_run['test_accuracy']:.1%}; "
        f"pixels in [0, 1]: {main_run['unscaled_test_accuracy']:.1%}"
    )


# %% [markdown]
# Accuracy against size for `keras.applications`.


# %%
def plot_applications(run):
    """Draws accuracy against size for the applications table."""
    out, table = run.out, run.table
    # Figures.
    fig, ax = plotting.new_figure(width=7, height=4.5)
    params = [r["parameters"] / 1e6 for r in table]
    ax.scatter(
        params,
        [r["top1"] for r in table],
        s=[r["size_mb"] / 2 + 10 for r in table],
        alpha=0.6,
    )
    for r, p in zip(table, params):
        ax.annotate(r["name"], (p, r["top1"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (millions, log scale)")
    ax.set_ylabel("ImageNet top-1 accuracy")
    ax.set_title("keras.applications: accuracy vs size (marker area ~ MB)")
    labs.save_figure(fig, out, "applications")


# %% [markdown]
# Six source and six target images.


# %%
def plot_images(run):
    """Draws source and target images."""
    out, x_src, x_tgt_test = run.out, run.x_src, run.x_tgt_test
    y_src, y_tgt_test = run.y_src, run.y_tgt_test
    fig, axes = plotting.new_figure(2, 6, width=1.4, height=1.5)
    for j in range(6):
        for row, (images, labels, names, label) in enumerate(
            (
                (x_src, y_src, SOURCE_SHAPES, "source"),
                (x_tgt_test, y_tgt_test, TARGET_SHAPES, "target"),
            )
        ):
            shown = axes[row, j].imshow(
                images[j, ..., 0], cmap="gray", vmin=0, vmax=1
            )
            axes[row, j].set_title(f"{label}: {names[labels[j]]}", fontsize=8)
            axes[row, j].axis("off")
    fig.colorbar(shown, ax=list(axes.ravel()), shrink=0.8, label="pixel value")
    fig.suptitle("target images: the same shapes, drawn coarser and noisier")
    labs.save_figure(fig, out, "source_and_target")


# %% [markdown]
# Test accuracy per epoch, and per number of labelled images.


# %%
def plot_transfer_against_scratch(run):
    """Draws test accuracy per epoch and per labelled-set size."""
    epochs, main_run, main_size = run.epochs, run.main_run, run.main_size
    out, sweep = run.out, run.sweep
    fig, axes = plotting.new_figure(1, 2, width=5.5)
    steps = range(1, sum(epochs) + 1)
    axes[0].plot(
        steps, main_run["scratch_curve"], marker="o", label="from scratch"
    )
    axes[0].plot(
        steps, main_run["transfer_curve"], marker="s", label="pretrained base"
    )
    axes[0].axvline(epochs[0] + 0.5, color="gray", linestyle=":")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("target test accuracy")
    axes[0].set_title(
        f"{main_size} labelled images per class (dotted: fine-tuning starts)",
        fontsize=9,
    )
    axes[0].legend()
    sizes = sorted(sweep)
    positions = np.arange(len(sizes))
    for i, (key, label) in enumerate(
        (
            ("scratch_test_accuracy", "from scratch"),
            ("feature_extraction_test_accuracy", "feature extraction"),
            ("fine_tuning_test_accuracy", "+ fine-tuning"),
        )
    ):
        axes[1].bar(
            positions + (i - 1) * 0.27,
            [sweep[k][key] for k in sizes],
            width=0.27,
            label=label,
        )
    axes[1].set_xticks(positions, [str(k) for k in sizes])
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel("labelled images per class")
    axes[1].set_ylabel("target test accuracy")
    axes[1].set_title("transfer vs scratch (chance: 1/3)")
    axes[1].legend(loc="lower right")
    labs.save_figure(fig, out, "transfer_vs_scratch")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    base, best, depth_corr = run.base, run.best, run.depth_corr
    epochs, fastest, main_run = run.epochs, run.fastest, run.main_run
    main_size, others, per_million = run.main_size, run.others, run.per_million
    prep, repeats, smallest = run.prep, run.repeats, run.smallest
    source_accuracy, source_history = run.source_accuracy, run.source_history
    sweep, table, weights_path = run.sweep, run.table, run.weights_path
    results = {
        "applications_table": table,
        "applications_not_in_table": others,
        "applications_listed": len(table) + len(others),
        "most_accurate": best["name"],
        "smallest": smallest["name"],
        "fastest_cpu": fastest["name"],
        "top1_per_million_parameters": per_million,
        "depth_top1_correlation": depth_corr,
        "preprocessing_examples": prep,
        "source_test_accuracy": source_accuracy,
        "source_loss": source_history["loss"],
        "weights_file": weights_path.name,
        "weights_file_bytes": weights_path.stat().st_size,
        "base_parameters": int(base.count_params()),
        "epochs": list(epochs),
        "repeats_per_epoch": repeats,
        "per_class": {str(k): v for k, v in sweep.items()},
        "main_per_class": main_size,
        **{
            k: v
            for k, v in main_run.items()
            if not k.endswith(("curve", "loss"))
        },
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    best, depth_corr, main_run = run.best, run.depth_corr, run.main_run
    main_size, n_source, out = run.main_size, run.n_source, run.out
    per_million, smallest = run.per_million, run.smallest
    source_accuracy, table_by_name = run.source_accuracy, run.table_by_name
    scratch_acc = main_run["scratch_test_accuracy"]
    extract_acc = main_run["feature_extraction_test_accuracy"]
    tune_acc = main_run["fine_tuning_test_accuracy"]
    thrifty = max(per_million, key=per_million.get)
    print(
        f"\nSummary: the applications table (read from model_info, with no "
        f"weights downloaded) runs from {smallest['name']} "
        f"({smallest['size_mb']} MB, {smallest['top1']:.1%} top-1) to "
        f"{best['name']} ({best['size_mb']} MB, {best['top1']:.1%}): "
        f"{(best['top1'] - smallest['top1']) * 100:.0f} points of top-1 for "
        f"{best['size_mb'] / smallest['size_mb']:.0f} times the file; depth "
        f"and top-1 correlate at {depth_corr:.2f}, yet VGG19 and MobileNetV2 "
        f"tie at {table_by_name['VGG19']['top1']:.1%} with 19 and 105 layers. "
        f"{thrifty} "
        "gives the most accuracy per parameter, which is why mobile bases "
        "are the usual first try. Each family prepares its pixels its own "
        "way (caffe: BGR minus the ImageNet means; tf: [-1, 1]; torch: "
        "standardised; or inside the model), and the model must get exactly "
        "that. Our own base, pretrained on "
        f"{n_source} clean and noisy shapes, scored {source_accuracy:.1%} on "
        "held-out ones in inference mode before its weights were saved. "
        f"Loaded from that file for a new task (shapes on a coarser grid, "
        f"resized, {main_size} labelled images per class), a frozen base "
        f"with a new head reached {extract_acc:.1%}, while the same network "
        "trained from scratch on those "
        f"{main_run['labelled_images']} images, with "
        f"{SCRATCH_STEPS_FACTOR} times the steps, reached {scratch_acc:.1%} "
        f"(final training loss {main_run['scratch_loss'][-1]:.2f}): the "
        "pretrained filters already separate "
        "the shapes, so the few labels only have to fit a head of "
        f"{32 * len(TARGET_SHAPES) + len(TARGET_SHAPES)} weights. Fine-tuning "
        f"the base afterwards at {FINE_TUNE_LEARNING_RATE:g} "
        + f"changed that by {tune_acc - extract_acc:+.1%} ({tune_acc:.1%})"
        + (
            ": the base's filters adapted to the new images"
            if tune_acc - extract_acc >= 0.03
            else ": with a dozen labelled images and the head near the "
            "ceiling, "
            "unfreezing the base has little to add and room to overfit"
        )
        + "; feature extraction left every base weight as loaded (largest "
        f"change {main_run['extraction_kernel_change']:.0g}), fine-tuning "
        "moved "
        f"the kernels (up to {main_run['fine_tuning_kernel_change']:.2g}) but "
        "kept the BatchNormalization statistics of the pretraining data "
        f"(change {main_run['fine_tuning_batchnorm_change']:.0g}). Fed [0, 1] "
        "pixels instead of the [0, 255] it was built for, the finished model "
        f"fell to {main_run['unscaled_test_accuracy']:.1%}, chance level: the "
        "preprocessing is part of the pretrained model."
    )
    print(f"The base's weights are in {out}/")


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/16_transfer_learning/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    applications(run)
    applications_findings(run)
    preprocessing(run)
    pretrain_a_base(run)
    few_shot_target(run)
    what_each_phase_changed(run)
    preprocessing_mismatch(run)
    plot_applications(run)
    plot_images(run)
    plot_transfer_against_scratch(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 16, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Build a transfer model in Keras: a frozen base (built with
# `weights=None`, as the grader has no download) and a new head.
#
# - Get the starter: `mlkeras exercise 16 -o lab16.py`
# - Check your work: `mlkeras check lab16.py --lab 16`

# %%
EXERCISE = "a transfer model with a frozen base and a new head, in Keras"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
