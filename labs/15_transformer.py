# %%
"""Lab 15: Transformers.

Objectives:
- Draw the sinusoidal positional encoding as a heat map, and measure how the
  dot product of two positions' encodings falls with their distance (and
  depends on nothing else); see that a fixed linear map shifts every
  position by k, the reason a model can read relative positions from it.
- Why attention divides by sqrt(d_k): measure the spread of the logits and
  the saturation of the softmax as d_k grows, with and without the scaling.
- Self-attention with padding and causal (look-ahead) masks: masked keys get
  exactly zero weight, and every row still sums to one.
- Build a small transformer encoder from
`mlkeras.layers.SinusoidalPositionalEncoding`
  and `mlkeras.layers.MultiHeadAttention` (residual connections, layer
  normalization, a feed-forward block) that learns to reverse digit
  sequences, and read its attention map; without positional encoding the
  same model cannot, since attention alone ignores order.
- Multi-head attention by hand: per-head projections, the split into
  heads, attention in each head, concatenation and the output projection,
  equal to `MultiHeadAttention` with the same weights; what each head of
  the trained encoder looks at.
- An encoder-decoder Transformer (a decoder with causal self-attention and
  cross-attention to the encoder) trained on the same reversal task and
  decoded greedily, against the encoder-only model; the causal and padding
  masks read on its attention weights.

Runtime: about 17 s with --quick, 1.5 min in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting
from mlkeras.layers import (
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    scaled_dot_product_attention,
    sinusoidal_encoding,
)

LAB = "15_transformer"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains on fewer sequences for
# fewer epochs.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the task's size."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    length, vocab_size = 8, 10
    n_train, epochs = (3000, 3) if args.quick else (10000, 15)
    run.keep(epochs=epochs, length=length, n_train=n_train)
    run.keep(vocab_size=vocab_size)


# %% [markdown]
# ## 1. Sinusoidal positional encoding
#
# Attention has no notion of order, so each position gets a vector of
# sines and cosines of different wavelengths added to its input. The dot
# product of two positions' vectors depends only on their distance, and
# falls as it grows.


# %%
def encoding_by_hand(length, depth, max_wavelength=10000):
    """PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(same angle)."""
    table = np.zeros((length, depth))
    positions = np.arange(length)[:, None]
    angles = positions / max_wavelength ** (np.arange(0, depth, 2) / depth)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table


def encoding_table(length, depth):
    return keras.ops.convert_to_numpy(sinusoidal_encoding(length, depth))


def positional_encoding(length=64, depth=64):
    table = encoding_table(length, depth)
    by_hand = encoding_by_hand(length, depth)
    gram = table @ table.T
    distances = np.arange(length)
    # Mean and spread of PE(p) . PE(p + k) over every p, for each distance k.
    by_distance = [np.diagonal(gram, offset=k) for k in distances]
    mean_dot = np.array([d.mean() for d in by_distance])
    spread = np.array([d.std() for d in by_distance])
    # A shift by k is one linear map: fit PE(p + k) = PE(p) M on all p.
    k = 5
    m, *_ = np.linalg.lstsq(table[:-k], table[k:], rcond=None)
    shift_error = float(np.max(np.abs(table[:-k] @ m - table[k:])))
    return {
        "table": table,
        "gram": gram,
        "mean_dot_by_distance": mean_dot,
        "max_spread_over_positions": float(spread.max()),
        "by_hand_max_abs_diff": float(np.max(np.abs(table - by_hand))),
        "shift_by_5_linear_fit_max_error": shift_error,
        "nearest_row_is_itself": bool(
            np.all(np.argmax(gram, axis=1) == np.arange(length))
        ),
    }


def positional_encoding_section(run):
    """Builds the encoding by hand and measures how it encodes distance."""
    print("1. Sinusoidal positional encoding")
    pe = positional_encoding()
    mean_dot = pe["mean_dot_by_distance"]
    print(
        f"   sinusoidal_encoding vs the formula by hand: max |difference| "
        f"{pe['by_hand_max_abs_diff']:.1g}"
    )
    labs.print_table(
        "PE(p) . PE(p + k) (64 positions, depth 64), mean over p",
        ("distance k", "dot product"),
        [(k, float(mean_dot[k])) for k in (0, 1, 2, 4, 8, 16, 32)],
    )
    print(
        f"   the dot product depends only on k: its spread over p is at "
        f"most {pe['max_spread_over_positions']:.1g}; every encoding is "
        f"closest to itself: {pe['nearest_row_is_itself']}"
    )
    print(
        f"   one linear map shifts every position by 5: max error "
        f"{pe['shift_by_5_linear_fit_max_error']:.1g}"
    )
    run.keep(mean_dot=mean_dot, pe=pe)


# %% [markdown]
# The table, the dot product of every pair of positions, and its mean
# against distance.


# %%
def plot_positional_encoding(run):
    """Draws the encoding table, its dot products and
    their fall with distance.
    """
    mean_dot, out, pe = run.mean_dot, run.out, run.pe
    fig, axes = plotting.new_figure(1, 3)
    image = axes[0].imshow(pe["table"], aspect="auto", cmap="RdBu_r")
    axes[0].set_xlabel("channel")
    axes[0].set_ylabel("position")
    axes[0].set_title("sinusoidal positional encoding")
    fig.colorbar(image, ax=axes[0], label="encoding value")
    image = axes[1].imshow(pe["gram"], cmap="viridis")
    axes[1].set_xlabel("position")
    axes[1].set_ylabel("position")
    axes[1].set_title("PE(p) . PE(q)")
    fig.colorbar(image, ax=axes[1], label="dot product")
    axes[2].plot(mean_dot, marker=".")
    axes[2].set_xlabel("distance k")
    axes[2].set_ylabel("mean PE(p) . PE(p + k)")
    axes[2].set_title("dot product falls with distance")
    labs.save_figure(fig, out, "positional_encoding")


# %% [markdown]
# ## 2. Why divide by sqrt(d_k)
#
# The dot product of two random d_k-dimensional vectors has variance d_k.
# Unscaled, large scores push the softmax to one-hot, where its gradient
# vanishes; dividing by `sqrt(d_k)` keeps the variance at 1.


# %%
def softmax_saturation(depths, n_keys=16, n_queries=500, seed=0):
    """Logit spread and softmax sharpness for random unit-variance q and k.

    A dot product of two d_k-dimensional vectors with independent unit
    entries has variance d_k, so unscaled logits spread like sqrt(d_k) and
    the softmax puts nearly all its weight on one key; dividing by sqrt(d_k)
    keeps the spread at one. The gradient through a saturated softmax
    vanishes: its Jacobian diag(a) - a a^T goes to zero as a turns one-hot.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for d_k in depths:
        q = rng.normal(size=(n_queries, 1, d_k)).astype("float32")
        k = rng.normal(size=(n_queries, n_keys, d_k)).astype("float32")
        v = np.zeros((n_queries, n_keys, 1), "float32")
        row = {"d_k": d_k}
        for name, query in (("scaled", q), ("unscaled", q * np.sqrt(d_k))):
            # scaled_dot_product_attention divides by sqrt(d_k); multiplying
            # the query by sqrt(d_k) first undoes it: plain q . k logits.
            _, weights = scaled_dot_product_attention(query, k, v)
            a = keras.ops.convert_to_numpy(weights)[:, 0, :]
            logits = (query @ np.swapaxes(k, 1, 2))[:, 0, :] / np.sqrt(d_k)
            # (the logits the softmax received: q . k, or q . k / sqrt(d_k))
            jacobian = a[:, :, None] * (np.eye(n_keys) - a[:, None, :])
            row[f"{name}_logit_std"] = float(logits.std())
            row[f"{name}_max_weight"] = float(a.max(axis=1).mean())
            row[f"{name}_entropy"] = float(
                -(a * np.log(a + 1e-30)).sum(axis=1).mean()
            )
            row[f"{name}_jacobian_norm"] = float(
                np.linalg.norm(jacobian, axis=(1, 2)).mean()
            )
        rows.append(row)
    return rows


def why_divide_by_sqrt_dk(run):
    """Measures softmax saturation with and without the scaling."""
    args = run.args
    print("2. Why divide by sqrt(d_k)")
    saturation = softmax_saturation((4, 16, 64, 256, 1024), seed=args.seed)
    labs.print_table(
        "16 keys, unit-variance q and k (500 queries per row)",
        (
            "d_k",
            "logit std",
            "max weight",
            "entropy",
            "|softmax Jacobian|",
            "logit std",
            "max weight",
            "entropy",
            "|softmax Jacobian|",
        ),
        [
            (
                r["d_k"],
                r["unscaled_logit_std"],
                r["unscaled_max_weight"],
                r["unscaled_entropy"],
                r["unscaled_jacobian_norm"],
                r["scaled_logit_std"],
                r["scaled_max_weight"],
                r["scaled_entropy"],
                r["scaled_jacobian_norm"],
            )
            for r in saturation
        ],
    )
    print(
        "   (first four columns: q . k; last four: q . k / sqrt(d_k); a "
        f"uniform softmax over 16 keys has entropy {np.log(16):.2f})"
    )
    run.keep(saturation=saturation)


# %% [markdown]
# Saturation and the gradient through the softmax, against d_k.


# %%
def plot_scaling(run):
    """Draws the largest weight and the softmax gradient against d_k."""
    out, saturation = run.out, run.saturation
    fig, axes = plotting.new_figure(1, 2)
    depths = [r["d_k"] for r in saturation]
    for name, style in (("unscaled", "s--"), ("scaled", "o-")):
        axes[0].semilogx(
            depths,
            [r[f"{name}_max_weight"] for r in saturation],
            style,
            label=name,
        )
        axes[1].loglog(
            depths,
            [r[f"{name}_jacobian_norm"] for r in saturation],
            style,
            label=name,
        )
    axes[0].set_xlabel("d_k")
    axes[0].set_ylabel("mean largest attention weight")
    axes[0].set_title("softmax saturation")
    axes[0].legend()
    axes[1].set_xlabel("d_k")
    axes[1].set_ylabel("mean |softmax Jacobian|")
    axes[1].set_title("gradient through the softmax")
    axes[1].legend()
    labs.save_figure(fig, out, "scaling")


# %% [markdown]
# ## 3. Padding and causal masks
#
# A padding mask stops queries from attending to padding; a causal mask
# stops each position from attending to later ones, so a decoder cannot
# read the answer it is asked to predict.


# %%
def masks_demo(seed, length=6, padded=2):
    """Attention weights under a padding mask, a causal mask and both."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, length, 8)).astype("float32")
    valid = np.arange(length) < length - padded  # True for real tokens
    padding_mask = np.broadcast_to(valid[None, :], (length, length))
    causal_mask = np.tril(np.ones((length, length), bool))
    to_numpy = keras.ops.convert_to_numpy
    weights = {}
    _, w = scaled_dot_product_attention(x, x, x)
    weights["no mask"] = to_numpy(w)[0]
    _, w = scaled_dot_product_attention(x, x, x, mask=padding_mask[None])
    weights["padding mask"] = to_numpy(w)[0]
    mha = MultiHeadAttention(num_heads=2, key_dim=4)
    _, scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    weights["causal mask (MHA head 0)"] = to_numpy(scores)[0, 0]
    _, scores = mha(
        x,
        x,
        key_mask=valid[None],
        use_causal_mask=True,
        return_attention_scores=True,
    )
    weights["padding + causal (MHA head 0)"] = to_numpy(scores)[0, 0]
    checks = {
        "padding_weight_on_pad_keys": float(
            weights["padding mask"][:, ~valid].max()
        ),
        "causal_weight_above_diagonal": float(
            np.max(np.triu(weights["causal mask (MHA head 0)"], k=1))
        ),
        "combined_weight_on_masked": float(
            np.max(
                np.where(
                    padding_mask & causal_mask,
                    0.0,
                    weights["padding + causal (MHA head 0)"],
                )
            )
        ),
        "row_sums_min": float(
            min(w.sum(axis=1).min() for w in weights.values())
        ),
        "row_sums_max": float(
            max(w.sum(axis=1).max() for w in weights.values())
        ),
        "unmasked_weight_on_pad_keys": float(
            weights["no mask"][:, ~valid].max()
        ),
    }
    return weights, checks


def masks(run):
    """Applies padding and causal masks and checks what they hide."""
    args, out = run.args, run.out
    print("3. Padding and causal masks")
    mask_weights, mask_checks = masks_demo(args.seed)
    print(
        f"   largest weight on the 2 padding keys: without a mask "
        f"{mask_checks['unmasked_weight_on_pad_keys']:.2f}, with the "
        f"padding mask {mask_checks['padding_weight_on_pad_keys']:.1g}"
    )
    print(
        f"   largest weight above the diagonal with the causal mask: "
        f"{mask_checks['causal_weight_above_diagonal']:.1g}; both masks, "
        f"largest masked weight {mask_checks['combined_weight_on_masked']:.1g}"
    )
    print(
        f"   every row sums to between {mask_checks['row_sums_min']:.6f} "
        f"and {mask_checks['row_sums_max']:.6f}"
    )
    fig, axes = plotting.new_figure(1, 4, width=3.2, height=3.2)
    for ax, (name, w) in zip(axes, mask_weights.items()):
        image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="attention weight")
    fig.suptitle("masked keys get exactly zero attention")
    labs.save_figure(fig, out, "masks")
    run.keep(mask_checks=mask_checks)


# %% [markdown]
# ## 4. A transformer encoder reverses sequences
#
# Reversing a sequence needs to know where each digit sits. With the
# positional encoding the encoder learns it; without, it cannot tell
# positions apart.


# %%
def build_transformer(
    length, vocab_size, d_model, num_heads, blocks, positional=True
):
    """Embedding (+ positional encoding) -> encoder blocks -> per-step logits.

    Each block is the post-norm encoder layer of Vaswani et al.:
    x = LayerNorm(x + MHA(x, x)), then x = LayerNorm(x + FFN(x)).
    """
    layers = keras.layers
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, d_model, name="embedding")(tokens)
    if positional:
        x = SinusoidalPositionalEncoding(name="positions")(x)
    for b in range(blocks):
        attended = MultiHeadAttention(
            num_heads, d_model // num_heads, name=f"attention_{b}"
        )(x, x)
        x = layers.LayerNormalization(name=f"norm_a{b}")(x + attended)
        hidden = layers.Dense(
            2 * d_model, activation="relu", name=f"ffn_in_{b}"
        )(x)
        x = layers.LayerNormalization(name=f"norm_f{b}")(
            x + layers.Dense(d_model, name=f"ffn_out_{b}")(hidden)
        )
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits)


def train_reversal(
    length,
    vocab_size,
    n_train,
    epochs,
    seed,
    positional,
    d_model=32,
    num_heads=4,
    blocks=2,
):
    keras.utils.set_random_seed(seed)
    x, y = datasets.make_reverse_task(n_train, length, vocab_size, seed=seed)
    x_test, y_test = datasets.make_reverse_task(
        1000, length, vocab_size, seed=seed + 1
    )
    model = build_transformer(
        length, vocab_size, d_model, num_heads, blocks, positional
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    # Create Adam's slots and the loss tracker before training: a first
    # training step that creates variables is traced twice by TensorFlow.
    model.optimizer.build(model.trainable_variables)
    model.compute_loss(x=x[:1], y=y[:1], y_pred=model(x[:1]))
    history = model.fit(x, y, epochs=epochs, batch_size=64, verbose=0).history
    predicted = np.argmax(keras.ops.convert_to_numpy(model(x_test)), axis=-1)
    return (
        model,
        {
            "token_accuracy": float(np.mean(predicted == y_test)),
            "sequence_accuracy": float(
                np.mean(np.all(predicted == y_test, axis=1))
            ),
            "loss_curve": history["loss"],
            "params": int(model.count_params()),
        },
        x_test,
    )


def reversal(run):
    """Trains an encoder with and without positional encoding on reversal."""
    args, epochs, length = run.args, run.epochs, run.length
    n_train, vocab_size = run.n_train, run.vocab_size
    print(
        f"4. A transformer encoder reverses {length}-digit sequences "
        f"({n_train} training sequences, {epochs} epochs)"
    )
    model, with_pe, x_test = train_reversal(
        length, vocab_size, n_train, epochs, args.seed, True
    )
    _, without_pe, _ = train_reversal(
        length, vocab_size, n_train, epochs, args.seed, False
    )
    labs.print_table(
        "Reversal on 1000 test sequences",
        ("model", "parameters", "token accuracy", "whole sequence"),
        [
            (
                "with positional encoding",
                with_pe["params"],
                with_pe["token_accuracy"],
                with_pe["sequence_accuracy"],
            ),
            (
                "without positional encoding",
                without_pe["params"],
                without_pe["token_accuracy"],
                without_pe["sequence_accuracy"],
            ),
            (
                "chance",
                0,
                1 / (vocab_size - 1),
                (1 / (vocab_size - 1)) ** length,
            ),
        ],
    )
    run.keep(model=model, with_pe=with_pe, without_pe=without_pe, x_test=x_test)


# %% [markdown]
# Reversal means output position i reads input position L - 1 - i: one
# head's attention map should follow that anti-diagonal.


# %%
def attention_maps(model, tokens, blocks):
    """Each block's attention weights, a list of (batch, heads, T, S).

    Replays the model's layers on `tokens`, asking each attention layer for
    its scores on the way.
    """
    names = [layer.name for layer in model.layers]
    x = model.get_layer("embedding")(tokens)
    if "positions" in names:
        x = model.get_layer("positions")(x)
    maps = []
    for b in range(blocks):
        attended, scores = model.get_layer(f"attention_{b}")(
            x, x, return_attention_scores=True
        )
        maps.append(keras.ops.convert_to_numpy(scores))
        x = model.get_layer(f"norm_a{b}")(x + attended)
        hidden = model.get_layer(f"ffn_in_{b}")(x)
        x = model.get_layer(f"norm_f{b}")(
            x + model.get_layer(f"ffn_out_{b}")(hidden)
        )
    return maps


def reversal_attention(run):
    """Finds the head whose attention follows the mirror diagonal."""
    length, model, out, with_pe = run.length, run.model, run.out, run.with_pe
    without_pe, x_test = run.without_pe, run.x_test
    maps = [m.mean(axis=0) for m in attention_maps(model, x_test[:200], 2)]
    # Reversal puts output i at input length - 1 - i: the anti-diagonal.
    mirror = (np.arange(length), length - 1 - np.arange(length))
    anti_diagonal = np.array(
        [[float(np.mean(head[mirror])) for head in m] for m in maps]
    )  # (block, head)
    best_block, best_head = np.unravel_index(
        np.argmax(anti_diagonal), anti_diagonal.shape
    )
    print(
        "   mean weight each head puts on the mirrored position (uniform "
        f"would be {1 / length:.2f}):"
    )
    for b, row in enumerate(anti_diagonal):
        print(f"   block {b + 1}: " + ", ".join(f"{v:.2f}" for v in row))
    n_heads = maps[0].shape[0]
    fig, axes = plotting.new_figure(2, n_heads + 1, width=3.2, height=3.2)
    for b, m in enumerate(maps):
        for h in range(n_heads):
            image = axes[b, h].imshow(m[h], cmap="viridis", vmin=0.0, vmax=1.0)
            axes[b, h].set_title(f"block {b + 1}, head {h}")
            axes[b, h].set_xlabel("key position")
            axes[b, h].set_ylabel("query position")
    fig.colorbar(image, ax=axes[1, -1], label="attention weight")
    axes[1, -1].axis("off")
    fig.suptitle(
        f"block {best_block + 1}, head {best_head} puts "
        f"{anti_diagonal.max():.0%} of its attention on the mirrored "
        f"position (uniform: {1 / length:.0%})"
    )
    axes = axes[0]
    for name, r in (("with PE", with_pe), ("without PE", without_pe)):
        axes[-1].plot(
            range(1, len(r["loss_curve"]) + 1),
            r["loss_curve"],
            marker="o",
            label=name,
        )
    axes[-1].set_xlabel("epoch")
    axes[-1].set_ylabel("training loss (cross-entropy)")
    axes[-1].set_title("only the encoder with PE learns")
    axes[-1].legend()
    labs.save_figure(fig, out, "reversal_attention")
    run.keep(anti_diagonal=anti_diagonal, best_block=best_block)
    run.keep(best_head=best_head)


# %% [markdown]
# ## 5. Multi-head attention, piece by piece
#
# A layer with H heads projects the input H times into small spaces of
# size d_k (one kernel of shape (d_model, H, d_k) does all of them at
# once), runs scaled dot-product attention in each head separately,
# concatenates the H outputs and mixes them with one output projection.
# Written with NumPy and the layer's own kernels, it gives the layer's
# output to rounding error.


# %%
def split_heads(x, kernel, bias):
    """(B, T, d_model) -> (B, H, T, d_k): every head's projection."""
    projected = np.einsum("btd,dhk->bthk", x, kernel) + bias
    return projected.transpose(0, 2, 1, 3)


def multi_head_by_hand(layer, query, value):
    """The forward pass of `layer` (a `MultiHeadAttention`) in NumPy.

    Returns `(output, weights)`: (B, T, d_model) and (B, H, T, S).
    """
    w = {
        name: [keras.ops.convert_to_numpy(v) for v in dense.weights]
        for name, dense in (
            ("q", layer.query_dense),
            ("k", layer.key_dense),
            ("v", layer.value_dense),
            ("o", layer.output_dense),
        )
    }
    q = split_heads(query, *w["q"])  # (B, H, T, d_k)
    k = split_heads(value, *w["k"])  # (B, H, S, d_k)
    v = split_heads(value, *w["v"])  # (B, H, S, d_v)
    logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    heads = weights @ v  # (B, H, T, d_v): each head's own answer
    batch, n_heads, steps, d_v = heads.shape
    concatenated = heads.transpose(0, 2, 1, 3).reshape(
        batch, steps, n_heads * d_v
    )
    kernel, bias = w["o"]  # kernel (H, d_v, d_model)
    output = concatenated @ kernel.reshape(n_heads * d_v, -1) + bias
    return output, weights


def multi_head_section(run):
    """Checks the hand-written multi-head attention against the layer."""
    rng = np.random.default_rng(run.args.seed)
    query = rng.normal(size=(3, 5, 16)).astype("float32")
    value = rng.normal(size=(3, 7, 16)).astype("float32")
    layer = MultiHeadAttention(num_heads=4, key_dim=4)
    out, scores = layer(query, value, return_attention_scores=True)
    by_hand, weights = multi_head_by_hand(layer, query, value)
    out_diff = float(np.max(np.abs(by_hand - keras.ops.convert_to_numpy(out))))
    weight_diff = float(
        np.max(np.abs(weights - keras.ops.convert_to_numpy(scores)))
    )
    print("5. Multi-head attention by hand (4 heads of size 4, d_model 16)")
    print(
        f"   largest difference from MultiHeadAttention: output "
        f"{out_diff:.1e}, attention weights {weight_diff:.1e}"
    )
    run.keep(mha_by_hand={"output_max_abs_diff": out_diff})
    run.mha_by_hand["weights_max_abs_diff"] = weight_diff


# %% [markdown]
# What do the heads of the trained encoder attend to? The table of
# section 4 gave each head's weight on the mirrored position; here is the
# position each head of the last block looks at most, for every query.


# %%
def what_heads_attend_to(run):
    """Prints, per head, the key position each query attends to most."""
    maps = attention_maps(run.model, run.x_test[:200], 2)
    last = maps[-1].mean(axis=0)  # (heads, T, S)
    favourite = last.argmax(axis=-1)  # (heads, T)
    print("   last block, key position each query attends to most:")
    for h, row in enumerate(favourite):
        print(f"   head {h}: " + " ".join(str(int(s)) for s in row))
    run.keep(head_favourite_keys=favourite.tolist())


# %% [markdown]
# ## 6. An encoder-decoder Transformer
#
# The original Transformer is an encoder-decoder: the encoder reads the
# source; the decoder writes the target one token at a time. Each decoder
# block has a causal self-attention (a position sees only the tokens
# already written), a cross-attention whose queries come from the decoder
# and whose keys and values are the encoder's outputs, and a feed-forward
# layer. In training the decoder reads the target shifted right by one
# (teacher forcing); at test time it feeds back its own predictions.


# %%
def residual_norm(x, update, name):
    return keras.layers.LayerNormalization(name=name)(x + update)


def build_encoder_decoder(length, vocab_size, d_model=32, num_heads=4):
    """One encoder block and one decoder block; token `vocab_size` is the
    start symbol the decoder reads first."""
    layers, key_dim = keras.layers, d_model // num_heads
    source = keras.Input((length,), dtype="int32", name="source")
    target_in = keras.Input((length,), dtype="int32", name="target_in")
    x = layers.Embedding(vocab_size, d_model, name="src_embedding")(source)
    x = SinusoidalPositionalEncoding(name="src_positions")(x)
    x = residual_norm(
        x, MultiHeadAttention(num_heads, key_dim, name="enc_self")(x, x), "n1"
    )
    ffn = layers.Dense(2 * d_model, activation="relu", name="enc_ffn_in")(x)
    memory = residual_norm(x, layers.Dense(d_model, name="enc_ffn")(ffn), "n2")
    y = layers.Embedding(vocab_size + 1, d_model, name="tgt_embedding")(
        target_in
    )
    y = SinusoidalPositionalEncoding(name="tgt_positions")(y)
    self_attention = MultiHeadAttention(num_heads, key_dim, name="dec_self")
    y = residual_norm(y, self_attention(y, y, use_causal_mask=True), "n3")
    cross = MultiHeadAttention(num_heads, key_dim, name="dec_cross")
    y = residual_norm(y, cross(y, memory), "n4")
    ffn = layers.Dense(2 * d_model, activation="relu", name="dec_ffn_in")(y)
    y = residual_norm(y, layers.Dense(d_model, name="dec_ffn")(ffn), "n5")
    logits = layers.Dense(vocab_size, name="logits")(y)
    return keras.Model([source, target_in], logits)


def shift_right(y, start):
    return np.concatenate([np.full((len(y), 1), start, y.dtype), y[:, :-1]], 1)


def greedy_decode(model, source, start):
    """Writes the target token by token, feeding back its own output."""
    written = np.full(source.shape, start, "int32")
    for t in range(source.shape[1]):
        logits = keras.ops.convert_to_numpy(model([source, written]))
        if t + 1 < source.shape[1]:
            written[:, t + 1] = logits[:, t].argmax(-1)
    return logits.argmax(-1)


def encoder_decoder(run):
    """Trains the encoder-decoder on reversal; compares it with section 4."""
    length, vocab_size, seed = run.length, run.vocab_size, run.args.seed
    keras.utils.set_random_seed(seed)
    x, y = datasets.make_reverse_task(run.n_train, length, vocab_size, seed)
    model = build_encoder_decoder(length, vocab_size)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    x_in = [x, shift_right(y, vocab_size)]
    # The quick run takes one pass in small batches: enough for this task.
    epochs, batch_size = (1, 32) if run.args.quick else (run.epochs, 64)
    model.fit(x_in, y, epochs=epochs, batch_size=batch_size, verbose=0)
    x_test = run.x_test[:500]
    predicted = greedy_decode(model, x_test, vocab_size)
    y_test = x_test[:, ::-1]
    result = {
        "token_accuracy": float(np.mean(predicted == y_test)),
        "sequence_accuracy": float(np.mean(np.all(predicted == y_test, 1))),
        "params": int(model.count_params()),
    }
    print(
        f"6. Encoder-decoder (1 + 1 blocks, {result['params']} parameters),"
        f" greedy decoding of {len(x_test)} test sequences: "
        f"{result['token_accuracy']:.1%} of tokens, "
        f"{result['sequence_accuracy']:.1%} of sequences (encoder only, "
        f"{run.with_pe['params']} parameters: "
        f"{run.with_pe['token_accuracy']:.1%}, "
        f"{run.with_pe['sequence_accuracy']:.1%})"
    )
    run.keep(seq2seq=result, seq2seq_model=model)


# %% [markdown]
# The masks, read on the trained decoder's weights: the causal mask
# zeroes every weight above the diagonal of the self-attention, and a
# padding mask on the source (here hiding its last two positions) zeroes
# the cross-attention's columns for those keys.


# %%
def decoder_attention(model, source, start, key_mask=None):
    """The decoder's self- and cross-attention weights, averaged over the
    batch and the heads."""
    get = model.get_layer
    memory = get("src_positions")(get("src_embedding")(source))
    memory = get("n1")(memory + get("enc_self")(memory, memory))
    hidden = get("enc_ffn")(get("enc_ffn_in")(memory))
    memory = get("n2")(memory + hidden)
    # The decoder reads the right answer so far, as in training.
    target = shift_right(source[:, ::-1], start)
    y = get("tgt_positions")(get("tgt_embedding")(target))
    attended, self_w = get("dec_self")(
        y, y, use_causal_mask=True, return_attention_scores=True
    )
    y = get("n3")(y + attended)
    _, cross_w = get("dec_cross")(
        y, memory, value_mask=key_mask, return_attention_scores=True
    )
    return tuple(
        keras.ops.convert_to_numpy(w).mean(axis=(0, 1))
        for w in (self_w, cross_w)
    )


def decoder_masks(run):
    """Shows the causal and padding masks on the decoder's weights."""
    model, source, length = run.seq2seq_model, run.x_test[:200], run.length
    self_w, cross_w = decoder_attention(model, source, run.vocab_size)
    valid = np.arange(length) < length - 2
    key_mask = np.broadcast_to(valid, source.shape)
    _, padded_w = decoder_attention(model, source, run.vocab_size, key_mask)
    mirror = (np.arange(length), length - 1 - np.arange(length))
    checks = {
        "self_attention_weight_above_diagonal": float(
            np.triu(self_w, k=1).max()
        ),
        "cross_attention_mirror_weight": float(cross_w[mirror].mean()),
        "padded_cross_attention_weight_on_pad": float(
            padded_w[:, ~valid].max()
        ),
    }
    print(
        f"   decoder self-attention, largest weight above the diagonal: "
        f"{checks['self_attention_weight_above_diagonal']:.1g}; "
        f"cross-attention puts {checks['cross_attention_mirror_weight']:.2f}"
        f" on the mirrored source position; with the last 2 source "
        f"positions padded, their weight is "
        f"{checks['padded_cross_attention_weight_on_pad']:.1g}"
    )
    fig, axes = plotting.new_figure(1, 3, width=3.4, height=3.4)
    titles = (
        "decoder self-attention (causal)",
        "cross-attention",
        "cross-attention, 2 pad keys",
    )
    for ax, w, title in zip(axes, (self_w, cross_w, padded_w), titles):
        image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("key position")
        ax.set_ylabel("query (target) position")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="attention weight")
    fig.suptitle("the decoder sees no future target and no padded source")
    labs.save_figure(fig, run.out, "encoder_decoder_attention")
    run.keep(decoder_mask_checks=checks)


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    anti_diagonal, mask_checks, pe = run.anti_diagonal, run.mask_checks, run.pe
    saturation, with_pe = run.saturation, run.with_pe
    without_pe = run.without_pe
    results = {
        "pe_by_hand_max_abs_diff": pe["by_hand_max_abs_diff"],
        "pe_mean_dot_by_distance": pe["mean_dot_by_distance"],
        "pe_max_spread_over_positions": pe["max_spread_over_positions"],
        "pe_shift_by_5_linear_fit_max_error": pe[
            "shift_by_5_linear_fit_max_error"
        ],
        "pe_nearest_row_is_itself": pe["nearest_row_is_itself"],
        "softmax_saturation": saturation,
        "masks": mask_checks,
        "reversal_with_positional_encoding": with_pe,
        "reversal_without_positional_encoding": without_pe,
        "reversal_mirror_attention_by_block_and_head": anti_diagonal,
        "reversal_best_mirror_attention": float(anti_diagonal.max()),
        "multi_head_by_hand": run.mha_by_hand,
        "head_favourite_keys": run.head_favourite_keys,
        "encoder_decoder_reversal": run.seq2seq,
        "decoder_masks": run.decoder_mask_checks,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    anti_diagonal, best_block = run.anti_diagonal, run.best_block
    best_head, length, mean_dot = run.best_head, run.length, run.mean_dot
    saturation, with_pe = run.saturation, run.with_pe
    without_pe = run.without_pe
    small, large = saturation[0], saturation[-1]
    print(
        "\nSummary: the encoding table equals the sine/cosine formula, and "
        "the dot product of two positions' encodings is a function of their "
        f"distance alone: {mean_dot[0]:.0f} at distance 0, "
        f"{mean_dot[1]:.1f} at 1, {mean_dot[8]:.1f} at 8 and "
        f"{mean_dot[32]:.1f} at 32: it falls fastest over the first few "
        "steps and then levels off (the slow channels barely turn within 64 "
        "positions), so neighbours look alike and no other position looks "
        "like p itself; a single linear map moves every position by the same "
        "offset, which is what lets attention learn relative positions. "
        "Without the 1/sqrt(d_k) factor the logits' spread grows from "
        f"{small['unscaled_logit_std']:.1f} at d_k = {small['d_k']} to "
        f"{large['unscaled_logit_std']:.0f} at "
        f"{large['d_k']}, the largest weight climbs from "
        f"{small['unscaled_max_weight']:.2f} to "
        f"{large['unscaled_max_weight']:.2f} and the softmax's Jacobian "
        f"shrinks to {large['unscaled_jacobian_norm']:.1e}, so little "
        "gradient gets through; with the factor the spread stays near 1 and "
        f"the largest weight near {large['scaled_max_weight']:.2f} at every "
        "size. Masks put exactly zero weight on padding keys and on future "
        "keys while each row still sums to one. A two-block encoder built "
        "from SinusoidalPositionalEncoding and MultiHeadAttention reverses "
        f"digit sequences with {with_pe['token_accuracy']:.1%} of tokens and "
        f"{with_pe['sequence_accuracy']:.1%} of whole sequences right, "
        f"and its head {best_head} in block {best_block + 1} puts "
        f"{anti_diagonal.max():.2f} of its weight on the mirrored position "
        f"(uniform: {1 / length:.2f}). Without positional encoding the same "
        f"model gets {without_pe['token_accuracy']:.1%} of tokens and "
        f"{without_pe['sequence_accuracy']:.1%} of sequences: self-attention "
        "alone treats its input as a set, so the best it can do is guess "
        "each output from the digits present, not from where they stand."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/15_transformer/`).


# %%
def conclude_encoder_decoder(run):
    """Says what the multi-head and encoder-decoder sections showed."""
    seq2seq, checks = run.seq2seq, run.decoder_mask_checks
    print(
        "Multi-head attention is nothing more than H small attentions side "
        "by side: projecting, splitting, attending per head, concatenating "
        "and projecting back reproduces the layer to "
        f"{run.mha_by_hand['output_max_abs_diff']:.0e}. The encoder-decoder "
        f"reverses {seq2seq['token_accuracy']:.1%} of tokens writing one "
        "token at a time from its own predictions; its cross-attention puts "
        f"{checks['cross_attention_mirror_weight']:.2f} of its weight on the "
        "mirrored source position, and the causal and padding masks leave "
        "exactly zero weight on future targets and padded sources."
    )


def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    positional_encoding_section(run)
    plot_positional_encoding(run)
    why_divide_by_sqrt_dk(run)
    plot_scaling(run)
    masks(run)
    reversal(run)
    reversal_attention(run)
    multi_head_section(run)
    what_heads_attend_to(run)
    encoder_decoder(run)
    decoder_masks(run)
    collect_results(run)
    conclude(run)
    conclude_encoder_decoder(run)
    return labs.finish_run(run, 15, EXERCISE)


# %% [markdown]
# ## Exercise
#
# Write the pieces of a Transformer's attention in NumPy, up to
# multi-head attention (split into heads, attend in each, merge, project);
# the grader compares them with `MultiHeadAttention` given the same
# weights.
#
# - Get the starter: `mlkeras exercise 15 -o lab15.py`
# - Check your work: `mlkeras check lab15.py --lab 15`

# %%
EXERCISE = (
    "multi-head attention (split, attend, merge), masks and positional "
    "encoding, in NumPy"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
