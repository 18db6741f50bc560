# %%
"""Lab 13: Recurrent neural networks.

Objectives:
- Write one step of a SimpleRNN, a GRU and a peephole LSTM by hand and check
  them against `keras.layers.SimpleRNN`, `keras.layers.GRU` and
  `mlkeras.layers.PeepholeLSTMCell`; see how much the output gate's peephole
  changes when it reads `c_{t-1}` (the notes) instead of `c_t` (Gers et al.).
- Backpropagation through time (BPTT) by hand: the shared recurrent weight's
  gradient is a sum of one term per time step; check it against autodiff and
  watch the terms shrink or grow with the recurrent matrix's spectral norm.
- The adding problem: SimpleRNN stays near the trivial baseline while LSTM,
  GRU and `mlkeras.layers.PeepholeLSTM` solve it; the gradient of the loss
  with respect to each input step shows why.
- The LSTM's forget-gate bias at 1 (Keras's default) against 0: how far
  back the gradient reaches along the cell state.
- Topologies (many-to-one, many-to-many, one-to-many, encoder-decoder),
  bidirectional layers (outputs that see the future) and stateful layers
  (state carried from one batch to the next).
- A timing task in the spirit of Gers, Schraudolph & Schmidhuber (2002):
  stay silent while an interval runs and spike on the step it ends, with
  two cells with and without peepholes, from the same start on the same
  budget.

Runtime: about 19 s with --quick, 70 s in full (2-core CPU).
Measured while other jobs loaded the machine: quick 18.5-22 s wall and
18-21 s CPU (user + sys), full 69 s wall and 51 s CPU.
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import keras
import numpy as np

from mlkeras import datasets, labs, plotting
from mlkeras.labs.gradients import mse_gradients
from mlkeras.labs.side_by_side import copy_start, fit_side_by_side
from mlkeras.layers import PeepholeLSTM

LAB = "13_rnn"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

RECURRENT = ("SimpleRNN", "LSTM", "GRU", "PeepholeLSTM")


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) uses shorter sequences, fewer
# samples and fewer epochs.


# %%
def choose_sizes(run):
    """Seeds the random numbers and picks the sizes of each experiment."""
    args = run.args
    keras.utils.set_random_seed(args.seed)
    if args.quick:
        length, n_train, epochs, units = 20, 1600, 8, 16
        timing = dict(
            length=16,
            intervals=(3, 6, 9),
            n_train=1000,
            epochs=10,
            units=2,
            learning_rate=0.01,
        )
    else:
        length, n_train, epochs, units = 60, 4000, 12, 16
        timing = dict(
            length=20,
            intervals=(4, 8, 12),
            n_train=1000,
            epochs=15,
            units=2,
            learning_rate=0.01,
        )
    run.keep(epochs=epochs, length=length, n_train=n_train, timing=timing)
    run.keep(units=units)


# %% [markdown]
# ## 1. One step by hand
#
# A recurrent layer applies the same step at every time step:
# `h_t = tanh(x_t U + h_{t-1} W + b)` for a SimpleRNN; a GRU and an LSTM
# add gates that decide what to keep. Written in NumPy, each step matches
# the Keras layer. A peephole LSTM lets its gates read the cell state.


# %%
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gru_step(x, h, kernel, recurrent_kernel, bias):
    """One GRU step as in the notes (reset gate applied before the product).

    Keras orders the gates z, r, candidate. The notes write
    h_t = z * c + (1 - z) * h_{t-1}; Keras's update gate keeps the old state
    instead, h_t = z * h_{t-1} + (1 - z) * c, so its z is the notes' 1 - z.
    """
    k_z, k_r, k_c = np.split(kernel, 3, axis=-1)
    u_z, u_r, u_c = np.split(recurrent_kernel, 3, axis=-1)
    b_z, b_r, b_c = np.split(bias, 3, axis=-1)
    z = sigmoid(x @ k_z + h @ u_z + b_z)
    r = sigmoid(x @ k_r + h @ u_r + b_r)
    c = np.tanh(x @ k_c + (r * h) @ u_c + b_c)
    return z * h + (1.0 - z) * c


def peephole_lstm_step(x, h, c, weights, output_sees="new"):
    """One peephole LSTM step; `output_sees` picks c_t ("new") or c_{t-1}."""
    kernel, recurrent_kernel, bias, p_i, p_f, p_o = weights
    z_i, z_f, z_c, z_o = np.split(
        x @ kernel + h @ recurrent_kernel + bias, 4, axis=-1
    )
    i = sigmoid(z_i + p_i * c)
    f = sigmoid(z_f + p_f * c)
    c_new = f * c + i * np.tanh(z_c)
    o = sigmoid(z_o + p_o * (c_new if output_sees == "new" else c))
    return o * np.tanh(c_new), c_new


def simple_rnn_step(x, h, kernel, recurrent_kernel, bias):
    """h_t = tanh(x_t U + h_{t-1} W + b), the notes'
    update with Keras's names.
    """
    return np.tanh(x @ kernel + h @ recurrent_kernel + bias)


def steps_by_hand(seed):
    """Runs each layer over a short sequence and repeats it in NumPy."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    results = {}

    layer = keras.layers.SimpleRNN(5, return_sequences=True)
    keras_out = keras.ops.convert_to_numpy(layer(x))
    h = np.zeros((4, 5))
    hand = []
    for t in range(x.shape[1]):
        h = simple_rnn_step(x[:, t], h, *layer.get_weights())
        hand.append(h)
    results["simple_rnn_max_abs_diff"] = float(
        np.max(np.abs(keras_out - np.stack(hand, 1)))
    )

    layer = keras.layers.GRU(
        5,
        return_sequences=True,
        reset_after=False,
        bias_initializer="random_normal",
    )
    keras_out = keras.ops.convert_to_numpy(layer(x))
    h = np.zeros((4, 5))
    hand = []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, *layer.get_weights())
        hand.append(h)
    results["gru_max_abs_diff"] = float(
        np.max(np.abs(keras_out - np.stack(hand, 1)))
    )

    layer = PeepholeLSTM(
        5,
        return_sequences=True,
        peephole_initializer=keras.initializers.RandomNormal(
            stddev=1.0, seed=seed
        ),
    )
    keras_out = keras.ops.convert_to_numpy(layer(x))
    weights = layer.get_weights()
    for variant in ("new", "previous"):
        h, c = np.zeros((4, 5)), np.zeros((4, 5))
        hand = []
        for t in range(x.shape[1]):
            h, c = peephole_lstm_step(x[:, t], h, c, weights, variant)
            hand.append(h)
        results[f"peephole_output_gate_{variant}_c_max_abs_diff"] = float(
            np.max(np.abs(keras_out - np.stack(hand, 1)))
        )

    # With the peepholes at zero the layer is Keras's LSTM.
    lstm = keras.layers.LSTM(5, return_sequences=True)
    lstm.build(x.shape)
    layer.set_weights(lstm.get_weights() + [np.zeros(5, "float32")] * 3)
    results["peephole_zero_vs_keras_lstm_max_abs_diff"] = float(
        np.max(np.abs(keras.ops.convert_to_numpy(layer(x) - lstm(x))))
    )
    return results


def one_step_by_hand(run):
    """Repeats SimpleRNN, GRU and peephole LSTM steps in NumPy."""
    args = run.args
    print("1. One step by hand")
    steps = steps_by_hand(args.seed)
    print(
        f"   SimpleRNN h_t = tanh(x_t U + h_(t-1) W + b): max |Keras - hand| "
        f"{steps['simple_rnn_max_abs_diff']:.1g}"
    )
    print(
        f"   GRU (reset_after=False, Keras's z = notes' 1 - z): "
        f"{steps['gru_max_abs_diff']:.1g}"
    )
    print(
        f"   PeepholeLSTMCell, output gate reads c_t (Gers): "
        f"{steps['peephole_output_gate_new_c_max_abs_diff']:.1g}; "
        f"reads c_(t-1) (the notes): "
        f"{steps['peephole_output_gate_previous_c_max_abs_diff']:.2g}"
    )
    print(
        f"   PeepholeLSTM with zero peepholes vs keras LSTM: "
        f"{steps['peephole_zero_vs_keras_lstm_max_abs_diff']:.1g}"
    )
    run.keep(steps=steps)


# %% [markdown]
# ## 2. Backpropagation through time by hand
#
# The recurrent weight is shared by every step, so its gradient is a sum
# of one term per step. Each term passes back through the recurrent matrix
# once per step, so terms from far back shrink (or grow) like a power of
# its spectral norm.


# %%
def bptt_by_hand(
    x, y, kernel, recurrent_kernel, bias, dense_kernel, dense_bias
):
    """Gradients of a SimpleRNN -> Dense(1) model under MSE, through time.

    The forward pass keeps every hidden state; the backward pass walks the
    steps in reverse, and at each step adds that step's share to the
    gradient of the shared weights. Returns the gradients and, per step, the
    norm of that step's share of the recurrent kernel's gradient.
    """
    n, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    hs = [np.zeros((n, units))]
    for t in range(steps):
        hs.append(
            simple_rnn_step(x[:, t], hs[-1], kernel, recurrent_kernel, bias)
        )
    prediction = hs[-1] @ dense_kernel + dense_bias
    d_pred = 2.0 * (prediction - y) / n
    grads = {
        "dense_kernel": hs[-1].T @ d_pred,
        "dense_bias": d_pred.sum(axis=0),
        "kernel": np.zeros_like(kernel, dtype="float64"),
        "recurrent_kernel": np.zeros_like(recurrent_kernel, dtype="float64"),
        "bias": np.zeros_like(bias, dtype="float64"),
    }
    d_h = d_pred @ dense_kernel.T
    shares = np.zeros(steps)
    for t in reversed(range(steps)):
        d_a = d_h * (1.0 - hs[t + 1] ** 2)  # back through tanh
        share = hs[t].T @ d_a
        shares[t] = np.linalg.norm(share)
        grads["recurrent_kernel"] += share
        grads["kernel"] += x[:, t].T @ d_a
        grads["bias"] += d_a.sum(axis=0)
        d_h = d_a @ recurrent_kernel.T  # to the previous step
    return grads, shares


def check_bptt(seed):
    """Hand BPTT against autodiff on a small SimpleRNN model."""
    keras.utils.set_random_seed(seed)
    x, y = datasets.make_adding_problem(16, length=12, seed=seed)
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.SimpleRNN(6, name="rnn"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    rnn_weights = model.get_layer("rnn").get_weights()
    dense_weights = model.get_layer("out").get_weights()
    hand, shares = bptt_by_hand(
        x.astype("float64"),
        y.astype("float64"),
        *[w.astype("float64") for w in rnn_weights],
        *[w.astype("float64") for w in dense_weights],
    )
    _, auto = mse_gradients(model, x, y)
    order = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")
    worst = 0.0
    for name, grad in zip(order, auto):
        scale = np.max(np.abs(hand[name])) + 1e-12
        worst = max(worst, float(np.max(np.abs(grad - hand[name])) / scale))
    return {
        "bptt_max_relative_diff": worst,
        "bptt_step_shares": shares.tolist(),
    }


def bptt_by_hand_section(run):
    """Checks the hand-written BPTT gradient and its per-step terms."""
    args = run.args
    print("2. Backpropagation through time by hand")
    bptt = check_bptt(args.seed)
    shares = bptt["bptt_step_shares"]
    print(
        f"   hand BPTT vs autodiff, max relative difference "
        f"{bptt['bptt_max_relative_diff']:.1g}"
    )
    print(
        "   share of dL/dW from each step (first to last): "
        + " ".join(f"{s:.1e}" for s in shares)
    )
    run.keep(bptt=bptt)


# %% [markdown]
# With `W = s * orthogonal`, the backward signal scales like `s^k` after
# k steps (times the tanh slopes): below 1 it vanishes, above 1 it can
# explode.


# %%
def spectral_norm_experiment(steps, seed, units=32):
    """How ||dL/dh_t|| changes going back in time, for W = s * orthogonal.

    With a linear recurrence every step back multiplies the gradient by W^T,
    whose singular values all equal s, so the norm scales by exactly s per
    step. With tanh each step also multiplies by tanh' <= 1.
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(units, units)))
    u = rng.normal(size=(2, units)) * 0.5
    x = rng.normal(size=(steps, 2))
    d_last = rng.normal(size=units)
    curves = {}
    for activation in ("linear", "tanh"):
        for scale in (0.9, 1.0, 1.1):
            w = scale * q
            h = [np.zeros(units)]
            for t in range(steps):
                a = x[t] @ u + h[-1] @ w
                h.append(a if activation == "linear" else np.tanh(a))
            d_h = d_last
            norms = [np.linalg.norm(d_h)]
            for t in reversed(range(1, steps)):
                if activation == "tanh":
                    d_h = d_h * (1.0 - h[t + 1] ** 2)
                d_h = d_h @ w.T
                norms.append(np.linalg.norm(d_h))
            # norms[k] is the gradient k steps before the end.
            curves[f"{activation} s={scale}"] = np.array(norms) / norms[0]
    return curves


def spectral_norm(run):
    """Measures how the backward signal scales with the
    recurrent matrix's norm.
    """
    args = run.args
    spectral_steps = 50
    spectral = spectral_norm_experiment(spectral_steps, args.seed)
    labs.print_table(
        f"||dL/dh_t|| / ||dL/dh_T||, W = s * orthogonal, T = {spectral_steps}",
        ("recurrence", "10 steps back", "25 steps back", "49 steps back"),
        [(name, c[10], c[25], c[-1]) for name, c in spectral.items()],
    )
    run.keep(spectral=spectral)


# %% [markdown]
# ## 3. The adding problem
#
# The target is the sum of two marked numbers far apart in a long
# sequence. A SimpleRNN stays near the baseline of always answering 1;
# the gated layers carry the first number across the gap and solve it.


# %%
def predict(models, x):
    """Each model's output on `x`, as `{kind: NumPy array}`."""
    return {
        kind: keras.ops.convert_to_numpy(model(x))
        for kind, model in models.items()
    }


def recurrent_model(kind, units, features, **layer_kwargs):
    """Input -> one recurrent layer -> Dense(1): the model every run trains.

    Args:
        kind: a name from `RECURRENT`.
        units: the recurrent layer's units.
        features: input features per time step.
        **layer_kwargs: passed to the recurrent layer (`return_sequences`,
            `peephole_initializer`, ...).
    """
    classes = {
        "SimpleRNN": keras.layers.SimpleRNN,
        "LSTM": keras.layers.LSTM,
        "GRU": keras.layers.GRU,
        "PeepholeLSTM": PeepholeLSTM,
    }
    head = keras.layers.Dense(1, name=f"{kind}_output")
    body = classes[kind](units, name=f"{kind}_recurrent", **layer_kwargs)
    return keras.Sequential(
        [keras.Input((None, features)), body, head], name=kind
    )


def train_adding(length, n_train, epochs, units, seed, batch_size=32):
    """Fits each recurrent layer on the adding problem (many-to-one)."""
    x, y = datasets.make_adding_problem(n_train, length=length, seed=seed)
    x_test, y_test = datasets.make_adding_problem(
        1000, length=length, seed=seed + 1
    )
    keras.utils.set_random_seed(seed)
    members = {
        kind: recurrent_model(kind, units, x.shape[-1]) for kind in RECURRENT
    }
    # All four train in one `fit` (see the appendix); each learns as alone.
    optimizer = keras.optimizers.Adam(0.02, clipnorm=1.0)
    curves = fit_side_by_side(
        members, x, y, optimizer, "mse", epochs, batch_size=batch_size
    )
    predictions = predict(members, x_test)
    test_mse = {
        kind: float(np.mean((predictions[kind] - y_test) ** 2))
        for kind in RECURRENT
    }
    baseline = float(np.mean((y_test - 1.0) ** 2))
    return members, test_mse, curves, baseline


def adding_problem(run):
    """Trains each recurrent layer on the adding problem."""
    args, epochs, length = run.args, run.epochs, run.length
    n_train, units = run.n_train, run.units
    print(
        f"3. The adding problem, {length} steps, {n_train} sequences, "
        f"{epochs} epochs"
    )
    adding_models, adding_mse, adding_curves, baseline = train_adding(
        length, n_train, epochs, units, args.seed
    )
    labs.print_table(
        "Test MSE (predicting 1.0 always gives the baseline)",
        ("model", "test MSE", "MSE / baseline"),
        [
            (kind, adding_mse[kind], adding_mse[kind] / baseline)
            for kind in RECURRENT
        ]
        + [("baseline (always 1.0)", baseline, 1.0)],
    )
    run.keep(adding_curves=adding_curves, adding_models=adding_models)
    run.keep(adding_mse=adding_mse, baseline=baseline)


# %% [markdown]
# Why: the gradient of the loss with respect to each input step shows how
# much the early steps can still learn.


# %%
def gradient_through_time(models, length, seed):
    """Mean ||d loss / d x_t|| over test sequences, for every step t."""
    x, y = datasets.make_adding_problem(128, length=length, seed=seed + 2)
    curves = {}
    for kind, model in models.items():
        d_x, _ = mse_gradients(model, x, y)
        curves[kind] = np.mean(np.linalg.norm(d_x, axis=-1), axis=0)
    return curves


def gradient_through_time_section(run):
    """Measures the gradient that reaches each input step."""
    adding_models, args, length = run.adding_models, run.args, run.length
    long_length = 3 * length
    grad_curves = gradient_through_time(
        {kind: adding_models[kind] for kind in ("SimpleRNN", "LSTM")},
        long_length,
        args.seed,
    )
    first_quarter = slice(0, long_length // 4)
    grad_ratio = {
        kind: float(np.mean(c[first_quarter]) / c[-1])
        for kind, c in grad_curves.items()
    }
    labs.print_table(
        f"Trained models on {long_length}-step sequences: mean ||dL/dx_t||",
        (
            "model",
            "t = 0",
            f"t = {long_length // 2}",
            f"t = {long_length - 1}",
            "first quarter / last",
        ),
        [
            (kind, c[0], c[long_length // 2], c[-1], grad_ratio[kind])
            for kind, c in grad_curves.items()
        ],
    )
    run.keep(grad_curves=grad_curves, grad_ratio=grad_ratio)
    run.keep(long_length=long_length)


# %% [markdown]
# ## 3a. The LSTM's forget-gate bias
#
# The cell state carries memory: c_t = f_t * c_{t-1} + i_t * g_t. The
# gradient that flows back along it is multiplied by the forget gate f_t
# at every step. With the forget gate's bias at 0, f_t starts near
# sigmoid(0) = 0.5 and the gradient halves at each step; Keras's default
# (`unit_forget_bias=True`, after Jozefowicz et al., 2015) sets it to 1,
# so f_t starts near sigmoid(1) = 0.73 and the gradient reaches much
# further back. Measured before any training, where learning starts, on
# the adding problem's sequences: two LSTMs with the same weights except
# that bias.


# %%
def forget_bias_reach(length, seed, units=16, threshold=1e-3):
    """||dL/dx_t|| per step for forget-gate bias 1 and 0, untrained."""
    x, y = datasets.make_adding_problem(64, length=length, seed=seed + 3)
    curves, reach = {}, {}
    for bias in (1, 0):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((length, 2)),
                keras.layers.LSTM(units, unit_forget_bias=bool(bias)),
                keras.layers.Dense(1),
            ]
        )
        d_x, _ = mse_gradients(model, x, y)
        curve = np.mean(np.linalg.norm(d_x, axis=-1), axis=0)
        curves[bias] = curve
        # Steps back from the end before the gradient falls below
        # `threshold` times its value at the last step.
        below = np.nonzero(curve < threshold * curve[-1])[0]
        reach[bias] = int(length - 1 - below.max()) if below.size else length
    return curves, reach


def forget_bias_section(run):
    """Compares how far back the gradient reaches with each bias."""
    length = 3 * run.length
    curves, reach = forget_bias_reach(length, run.args.seed)
    labs.print_table(
        f"3a. Untrained LSTMs on {length}-step adding sequences: mean "
        "||dL/dx_t||",
        (
            "forget bias",
            "t = 0",
            f"t = {length // 2}",
            f"t = {length - 1}",
            "steps back to 1e-3 of the last",
        ),
        [(b, c[0], c[length // 2], c[-1], reach[b]) for b, c in curves.items()],
    )
    print(
        f"   with bias 1 the gradient stays above a thousandth of its "
        f"last-step size for {reach[1]} steps back, with bias 0 for "
        f"{reach[0]}: the bias sets how far back learning can reach."
    )
    run.keep(
        forget_bias={
            "length": length,
            "reach_bias_1": reach[1],
            "reach_bias_0": reach[0],
            "first_step_gradient_bias_1": float(curves[1][0]),
            "first_step_gradient_bias_0": float(curves[0][0]),
            "last_step_gradient_bias_1": float(curves[1][-1]),
            "last_step_gradient_bias_0": float(curves[0][-1]),
        }
    )


# %% [markdown]
# Loss per epoch, the gradient reaching each input step, and the BPTT
# signal against the recurrent norm.


# %%
def plot_adding_and_gradients(run):
    """Draws the adding-problem losses and the gradients through time."""
    adding_curves, baseline = run.adding_curves, run.baseline
    grad_curves, length = run.grad_curves, run.length
    long_length, out, spectral = run.long_length, run.out, run.spectral
    fig, axes = plotting.new_figure(1, 3)
    for kind, curve in adding_curves.items():
        axes[0].plot(range(1, len(curve) + 1), curve, marker="o", label=kind)
    axes[0].axhline(baseline, color="k", linestyle="--", label="baseline")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training MSE")
    axes[0].set_title(f"adding problem, {length} steps")
    axes[0].legend()
    for kind, curve in grad_curves.items():
        axes[1].semilogy(curve, label=kind)
    axes[1].set_xlabel("time step t")
    axes[1].set_ylabel("mean ||dL/dx_t||")
    axes[1].set_title(f"gradient reaching each input ({long_length} steps)")
    axes[1].legend()
    for name, curve in spectral.items():
        axes[2].semilogy(
            curve,
            label=name,
            linestyle="-" if name.startswith("tanh") else "--",
        )
    axes[2].set_xlabel("steps back from the end")
    axes[2].set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    axes[2].set_title("BPTT: W = s * orthogonal")
    axes[2].legend(fontsize=7)
    labs.save_figure(fig, out, "adding_problem_and_gradients")


# %% [markdown]
# ## 4. Topologies, bidirectional and stateful layers
#
# Many-to-one, many-to-many, one-to-many and encoder-decoder differ in
# which outputs they keep. A bidirectional layer also reads the sequence
# backwards, so its outputs see the future; a stateful layer carries its
# state from one batch to the next.


# %%
def topologies(seed):
    """Output shapes of the four ways to wire a recurrent layer."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    x = np.zeros((2, 7, 3), "float32")
    vector = np.zeros((2, 3), "float32")
    shapes = {}
    many_to_one = keras.Sequential(
        [keras.Input((7, 3)), layers.GRU(8), layers.Dense(1)]
    )
    shapes["many-to-one (adding problem)"] = many_to_one(x).shape
    synced = keras.Sequential(
        [
            keras.Input((7, 3)),
            layers.GRU(8, return_sequences=True),
            layers.Dense(1),
        ]
    )
    shapes["many-to-many, synced (timing task)"] = synced(x).shape
    one_to_many = keras.Sequential(
        [
            keras.Input((3,)),
            layers.RepeatVector(5),
            layers.GRU(8, return_sequences=True),
            layers.Dense(1),
        ]
    )
    shapes["one-to-many (vector in, 5 steps out)"] = one_to_many(vector).shape
    encoder_decoder = keras.Sequential(
        [
            keras.Input((7, 3)),
            layers.GRU(8),
            layers.RepeatVector(4),
            layers.GRU(8, return_sequences=True),
            layers.Dense(1),
        ]
    )
    shapes["many-to-many, encoder-decoder (7 in, 4 out)"] = encoder_decoder(
        x
    ).shape
    return {k: tuple(int(d) for d in v) for k, v in shapes.items()}


def bidirectional_demo(seed, length=12, t0=8):
    """Which outputs change when the input at step t0 changes?"""
    keras.utils.set_random_seed(seed)
    forward = keras.layers.GRU(4, return_sequences=True)
    both = keras.layers.Bidirectional(
        keras.layers.GRU(4, return_sequences=True)
    )
    base = np.zeros((1, length, 1), "float32")
    bumped = base.copy()
    bumped[0, t0, 0] = 1.0
    results = {}
    for name, layer in (("forward", forward), ("bidirectional", both)):
        diff = np.abs(keras.ops.convert_to_numpy(layer(bumped) - layer(base)))
        changed = np.max(diff[0], axis=-1) > 1e-7
        results[f"{name}_outputs_changed_before_t0"] = int(changed[:t0].sum())
        results[f"{name}_outputs_changed_from_t0"] = int(changed[t0:].sum())
        results[f"{name}_features"] = int(diff.shape[-1])
    return results


def stateful_demo(seed, length=24, chunks=3):
    """A stateful LSTM fed a sequence in chunks equals one pass over it all."""
    keras.utils.set_random_seed(seed)
    x = (
        np.random.default_rng(seed)
        .normal(size=(2, length, 3))
        .astype("float32")
    )
    whole = keras.layers.LSTM(6)
    whole.build(x.shape)
    stateful = keras.layers.LSTM(6, stateful=True)
    stateful.build((2, length // chunks, 3))
    stateful.set_weights(whole.get_weights())
    to_numpy = keras.ops.convert_to_numpy
    reference = to_numpy(whole(x))
    pieces = np.split(x, chunks, axis=1)
    for piece in pieces:
        carried = to_numpy(stateful(piece))
    stateful.reset_states()
    for piece in pieces:
        stateful.reset_states()
        fresh = to_numpy(stateful(piece))
    return {
        "stateful_chunks_vs_whole_max_abs_diff": float(
            np.max(np.abs(carried - reference))
        ),
        "reset_between_chunks_vs_whole_max_abs_diff": float(
            np.max(np.abs(fresh - reference))
        ),
    }


def topologies_section(run):
    """Shows output shapes per topology, bidirectional and stateful layers."""
    args = run.args
    print("4. Topologies, bidirectional and stateful layers")
    shapes = topologies(args.seed)
    labs.print_table(
        "Output shapes (batch 2)",
        ("topology", "output shape"),
        list(shapes.items()),
    )
    bidirectional = bidirectional_demo(args.seed)
    print(
        f"   input changed at step 8 of 12: outputs changed before it: "
        f"forward GRU {bidirectional['forward_outputs_changed_before_t0']}, "
        f"Bidirectional(GRU) "
        f"{bidirectional['bidirectional_outputs_changed_before_t0']} "
        f"({bidirectional['bidirectional_features']} features = 2 x "
        f"{bidirectional['forward_features']}, concatenated)"
    )
    stateful = stateful_demo(args.seed)
    print(
        f"   stateful LSTM fed 3 chunks vs one pass: max |difference| "
        f"{stateful['stateful_chunks_vs_whole_max_abs_diff']:.1g}; "
        f"resetting between chunks: "
        f"{stateful['reset_between_chunks_vs_whole_max_abs_diff']:.2g}"
    )
    run.keep(bidirectional=bidirectional, shapes=shapes, stateful=stateful)


# %% [markdown]
# ## 5. Timing with and without peepholes
#
# Stay silent while an interval runs, spike on the step it ends. Both
# cells start from the same weights (the peepholes at zero) and see the
# same batches.


# %%
def make_timing_task(n, length, intervals, seed):
    """A start spike on one of len(intervals) channels says which interval
    runs; the target is a single spike at the step the interval ends and 0
    everywhere else (before the start too), so the network must count steps
    in its state while its output stays silent.

    Returns `(x, y, end)`, with `end` the step of the target spike.
    """
    rng = np.random.default_rng(seed)
    longest = max(intervals)
    which = rng.integers(0, len(intervals), size=n)
    start = rng.integers(0, length - longest, size=n)
    end = start + np.asarray(intervals)[which]
    rows = np.arange(n)
    x = np.zeros((n, length, len(intervals)), "float32")
    x[rows, start, which] = 1.0
    y = np.zeros((n, length, 1), "float32")
    y[rows, end, 0] = 1.0
    return x, y, end


def timing_scores(output, y, end):
    """How well a spike train `output` (n, length) times the target spikes.

    - exact: above 0.5 at the end step and below it everywhere else;
    - mean |peak - end|: steps between the end and the highest output;
    - spike height: mean output at the end step (the target is 1);
    - leak: mean |output| on the other steps (the target is 0);
    - test MSE over all steps.
    """
    rows = np.arange(len(end))
    target = y[..., 0] > 0.5
    silent = np.abs(np.where(target, 0.0, output))
    return {
        "exact_timing_accuracy": float(
            np.mean(np.all((output > 0.5) == target, axis=1))
        ),
        "mean_abs_timing_error": float(
            np.mean(np.abs(np.argmax(output, axis=1) - end))
        ),
        "spike_height": float(np.mean(output[rows, end])),
        "leak": float(silent.sum() / (~target).sum()),
        "test_mse": float(np.mean((output - y[..., 0]) ** 2)),
    }


def train_timing(
    length,
    intervals,
    n_train,
    epochs,
    units,
    seed,
    batch_size=32,
    learning_rate=0.02,
    spike_weight=5.0,
):
    """Fits LSTM and PeepholeLSTM (many-to-many) with the same budget.

    Both start from the same weights (the peepholes start at zero, so at
    step 0 the two models compute the same function) and see the same
    batches, with the same optimizer, learning rate and epochs. The spike
    step's squared error is weighted `spike_weight` times, so that staying
    silent everywhere is not a cheap answer.
    """
    x, y, _ = make_timing_task(n_train, length, intervals, seed)
    x_test, y_test, end = make_timing_task(1000, length, intervals, seed + 1)
    kinds = ("LSTM", "PeepholeLSTM")
    weights = np.where(y[..., 0] > 0.5, spike_weight, 1.0).astype("float32")
    keras.utils.set_random_seed(seed)
    models = {
        "LSTM": recurrent_model(
            "LSTM", units, x.shape[-1], return_sequences=True
        ),
        "PeepholeLSTM": recurrent_model(
            "PeepholeLSTM",
            units,
            x.shape[-1],
            return_sequences=True,
            peephole_initializer="zeros",
        ),
    }
    copy_start(list(models.values()))
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    curves = fit_side_by_side(
        models,
        x,
        y,
        optimizer,
        "mse",
        epochs,
        batch_size=batch_size,
        sample_weight=weights,
    )
    outputs = {
        kind: out[..., 0] for kind, out in predict(models, x_test).items()
    }
    results = {}
    for kind in kinds:
        results[kind] = timing_scores(outputs[kind], y_test, end)
        results[kind]["final_train_loss"] = curves[kind][-1]
        results[kind]["loss_curve"] = curves[kind]
    return results, outputs, x_test, end


def timing_task(run):
    """Trains LSTM and PeepholeLSTM on the timing task from the same start."""
    args, timing = run.args, run.timing
    print(
        f"5. Timing: intervals {timing['intervals']} in "
        f"{timing['length']}-step sequences, {timing['epochs']} epochs, "
        f"{timing['units']} units each, same start and same batches"
    )
    timing_results, timing_outputs, x_timing, end = train_timing(
        seed=args.seed, **timing
    )
    labs.print_table(
        "A single spike when the interval ends (1000 test sequences)",
        (
            "model",
            "exact step, silent elsewhere",
            "mean |peak - end|",
            "spike height",
            "leak (mean |out| elsewhere)",
            "test MSE",
            "final train loss",
        ),
        [
            (
                kind,
                r["exact_timing_accuracy"],
                r["mean_abs_timing_error"],
                r["spike_height"],
                r["leak"],
                r["test_mse"],
                r["final_train_loss"],
            )
            for kind, r in timing_results.items()
        ],
    )
    run.keep(end=end, timing_outputs=timing_outputs)
    run.keep(timing_results=timing_results, x_timing=x_timing)


# %% [markdown]
# Loss per epoch, and both models' outputs on test sequences.


# %%
def plot_timing(run):
    """Draws the timing losses and one sequence's outputs."""
    end, out, timing = run.end, run.out, run.timing
    timing_outputs, timing_results = run.timing_outputs, run.timing_results
    x_timing = run.x_timing
    fig, axes = plotting.new_figure(1, 2)
    for kind, r in timing_results.items():
        axes[0].plot(
            range(1, len(r["loss_curve"]) + 1),
            r["loss_curve"],
            marker="o",
            label=kind,
        )
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss (weighted MSE)")
    axes[0].set_title("timing task")
    axes[0].legend()
    which = np.argmax(x_timing.max(axis=1), axis=-1)
    for channel in range(x_timing.shape[-1]):
        i = int(np.argmax(which == channel))
        for kind, style in (("LSTM", "--"), ("PeepholeLSTM", "-")):
            (line,) = axes[1].plot(
                timing_outputs[kind][i],
                linestyle=style,
                color=f"C{channel}",
                label=f"{kind}, interval {timing['intervals'][channel]}",
            )
        axes[1].plot(end[i], 1.0, marker="v", color=line.get_color())
    axes[1].set_xlabel("time step")
    axes[1].set_ylabel("output")
    axes[1].set_title("outputs; triangles mark the target spikes")
    axes[1].legend(fontsize=7)
    labs.save_figure(fig, out, "timing_task")


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    adding_curves, adding_mse = run.adding_curves, run.adding_mse
    baseline, bidirectional, bptt = run.baseline, run.bidirectional, run.bptt
    grad_curves, grad_ratio = run.grad_curves, run.grad_ratio
    length, long_length, shapes = run.length, run.long_length, run.shapes
    spectral, stateful, steps = run.spectral, run.stateful, run.steps
    timing_results = run.timing_results
    results = {
        "steps_by_hand": steps,
        **bptt,
        "spectral_norm_gradient_ratio_at_49_steps": {
            name: float(c[-1]) for name, c in spectral.items()
        },
        "adding_length": length,
        "adding_test_mse": adding_mse,
        "adding_baseline_mse": baseline,
        "adding_training_curves": adding_curves,
        "gradient_length": long_length,
        "input_gradient_curves": {
            k: v.tolist() for k, v in grad_curves.items()
        },
        "input_gradient_first_quarter_over_last": grad_ratio,
        "topology_shapes": shapes,
        "bidirectional": bidirectional,
        "stateful": stateful,
        "timing": {
            k: {m: v for m, v in r.items() if m != "loss_curve"}
            for k, r in timing_results.items()
        },
        "timing_loss_curves": {
            k: r["loss_curve"] for k, r in timing_results.items()
        },
        "forget_bias": run.forget_bias,
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def timing_verdict(peephole, lstm):
    """One honest sentence on who timed better, chosen from the numbers."""
    mse_ratio = peephole["test_mse"] / lstm["test_mse"]
    exact_gap = (
        peephole["exact_timing_accuracy"] - lstm["exact_timing_accuracy"]
    )
    if mse_ratio < 0.95 and exact_gap >= 0.0:
        how = []
        if peephole["spike_height"] > lstm["spike_height"]:
            how.append("spikes higher")
        if peephole["leak"] < lstm["leak"]:
            how.append("leaks less between spikes")
        return (
            "the peepholes help: the peephole model fires at least as "
            "exactly"
            + (" and " + " and ".join(how) if how else "")
            + ". This fits Gers, Schraudolph & Schmidhuber's (2002) "
            "explanation: while the output must stay silent, h = o * tanh(c) "
            "shows a plain LSTM's gates little of the count in c, and the "
            "peepholes let the gates read c itself. Here the gap is one of "
            "degree, on a short budget: the plain LSTM learns the task too, "
            "and the gap depends on the learning rate (at 0.02 instead of "
            "0.01 the plain LSTM came out ahead on some seeds)."
        )
    if mse_ratio > 1.05 or exact_gap < -0.05:
        return (
            "here the peepholes did not help on this budget; Gers et al. "
            "saw their advantage with few cells and long training."
        )
    return "here the two do about equally well."


def conclude(run):
    """Says what the measurements show."""
    adding_mse, baseline = run.adding_mse, run.baseline
    bidirectional, grad_ratio = run.bidirectional, run.grad_ratio
    length, long_length, spectral = run.length, run.long_length, run.spectral
    steps, timing, timing_results = run.steps, run.timing, run.timing_results
    lstm_t = timing_results["LSTM"]
    peep_t = timing_results["PeepholeLSTM"]
    print(
        "\nSummary: the hand-written steps reproduce Keras's SimpleRNN and "
        "GRU and mlkeras's peephole cell to float32 precision, and only when "
        "the output gate reads the updated cell state c_t; reading c_(t-1), "
        "as the notes write it, changes the outputs by "
        f"{steps['peephole_output_gate_previous_c_max_abs_diff']:.2g}. BPTT "
        "by hand matches autodiff: the recurrent weight's gradient is a sum "
        "of one share per step, and going back in time each share is "
        "multiplied by W^T and tanh', so with s = 0.9 the gradient 49 steps "
        f"back keeps {spectral['linear s=0.9'][-1]:.1e} of its size, with "
        f"s = 1.1 it grows {spectral['linear s=1.1'][-1]:.0f}-fold, and tanh "
        f"shrinks even s = 1.0 to {spectral['tanh s=1.0'][-1]:.1e}. On the "
        f"{length}-step adding problem the SimpleRNN ends at "
        f"{adding_mse['SimpleRNN'] / baseline:.0%} of the baseline MSE "
        f"({adding_mse['SimpleRNN']:.3f} vs {baseline:.3f}), while LSTM, GRU "
        f"and PeepholeLSTM reach {adding_mse['LSTM']:.4f}, "
        f"{adding_mse['GRU']:.4f} and {adding_mse['PeepholeLSTM']:.4f}. "
        "The gradient reaching the first quarter of a "
        f"{long_length}-step sequence is {grad_ratio['SimpleRNN']:.1e} of "
        f"the last step's for the SimpleRNN and {grad_ratio['LSTM']:.1e} "
        "for the LSTM, whose additive cell state carries it back. "
        "A Bidirectional layer's outputs before a changed input move "
        f"({bidirectional['bidirectional_outputs_changed_before_t0']} of 8), "
        "a forward layer's do not; a stateful LSTM fed three chunks ends "
        "where one pass over the whole sequence ends. On the timing task "
        f"({timing['units']} cells each, same start, same batches, same "
        "optimizer and epochs) PeepholeLSTM fires exactly at the end step, "
        f"and only there, in {peep_t['exact_timing_accuracy']:.0%} of test "
        f"sequences and LSTM in {lstm_t['exact_timing_accuracy']:.0%}; "
        f"their test MSE is {peep_t['test_mse']:.4f} and "
        f"{lstm_t['test_mse']:.4f}: " + timing_verdict(peep_t, lstm_t)
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/13_rnn/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    one_step_by_hand(run)
    bptt_by_hand_section(run)
    spectral_norm(run)
    adding_problem(run)
    gradient_through_time_section(run)
    forget_bias_section(run)
    plot_adding_and_gradients(run)
    topologies_section(run)
    timing_task(run)
    plot_timing(run)
    collect_results(run)
    conclude(run)
    return labs.finish_run(run, 13, EXERCISE)


# %% [markdown]
# ## Appendix: why the runs are fast
#
# Each experiment above builds one plain model per layer kind with
# `recurrent_model`. Tracing a training step through a recurrent layer
# takes seconds, so `mlkeras.labs.side_by_side.fit_side_by_side` trains
# the models of one experiment in a single `fit`: one model whose outputs
# are theirs, one summed loss. Each model keeps its own weights and loss
# term, and Adam updates every weight on its own, so each learns exactly
# what a `fit` of its own would teach it. `copy_start` gives the two timing
# models the same initial weights.

# %% [markdown]
# ## Exercise
#
# Write one time step of each recurrent cell in NumPy, with Keras's
# weight layouts (the grader loads your weights into Keras's cells and
# compares), then backpropagation through time for a tanh RNN, checked
# against automatic differentiation, and measure how far back its
# gradient reaches (compared with the grader's measurement on a network
# you do not see).
#
# - Get the starter: `mlkeras exercise 13 -o lab13.py`
# - Check your work: `mlkeras check lab13.py --lab 13`

# %%
EXERCISE = (
    "one step of the SimpleRNN, GRU and LSTM cells, and backpropagation "
    "through time, in NumPy"
)

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
