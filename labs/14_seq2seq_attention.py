# %%
"""Lab 14: Sequence to sequence with attention.

Objectives:
- Build a GRU encoder-decoder that rewrites human-written dates ("25 March
  2024", "mar 25 2024", "25/03/2024") as ISO dates ("2024-03-25"), one
  character at a time.
- Train it with teacher forcing (the decoder reads `<bos>` and the true
  previous characters) and decode free-running at inference: start from
  `<bos>`, feed back each greedy guess, stop at `<eos>`.
- See the fixed-size context vector hold the model without attention back,
  and attention lift the exact-match accuracy with three scores: dot
  product, additive (Bahdanau) and cosine similarity.
- Read an attention heat map: which input characters each output character
  looks at, and measure how sharply it looks.
- Try Sutskever's reversed input on the model without attention, on two
  tasks built from the same dates: day-first dates to DD-MM-YYYY (source
  and target in the same order), where reversing brings the source of the
  first outputs next to the decoder and helps, and the ISO task, whose
  sources mostly end with the year the target starts with, where it hurts.

Runtime: about 16 s with --quick, 2 min in full (2-core CPU).
"""

from mlkeras.labs import quiet_tensorflow  # noqa: F401  (before Keras)

# isort: split

import datetime
import re

import keras
import numpy as np
from keras import ops

from mlkeras import datasets, labs, plotting
from mlkeras.labs.stacked_gru import StackedGRU

LAB = "14_seq2seq_attention"
# In a notebook, QUICK picks the fast variant; a script reads --quick.
QUICK = True

SCORES = ("dot", "additive", "cosine")

VARIANTS = (
    ("plain", "plain_reversed") + SCORES + ("dayfirst", "dayfirst_reversed")
)

LABELS = {
    "plain": "no attention",
    "plain_reversed": "no attention, reversed input",
    "dot": "dot-product attention",
    "additive": "additive (Bahdanau) attention",
    "cosine": "cosine attention",
    "dayfirst": "day-first task, no attention",
    "dayfirst_reversed": "day-first task, reversed input",
}

# Two tasks on the same dates: "iso" (any format -> YYYY-MM-DD) and
# "dayfirst" (day-first formats only -> DD-MM-YYYY, built in this lab), each
# read forward or reversed. A variant's task and direction pick its data.
TASKS = ("iso", "dayfirst")

TASK = {v: "dayfirst" if v.startswith("dayfirst") else "iso" for v in VARIANTS}

REVERSED = {v: v.endswith("_reversed") for v in VARIANTS}

SOURCE_KEYS = tuple((task, flip) for task in TASKS for flip in (False, True))

# Formats that write the day first (after an optional weekday), and the
# day-first target they translate to.
DAY_FIRST_FORMATS = tuple(
    f for f in datasets.dates.SOURCE_FORMATS if re.match(r"(%[aA],? )?%d", f)
)

DAY_FIRST_TARGET = "%d-%m-%Y"

# Output positions of the first and last field of each task's target:
# YYYY-MM-DD starts with the year and ends with the day, DD-MM-YYYY the
# other way round.
FIELDS = {
    "iso": {"first": slice(0, 4), "last": slice(8, 10)},
    "dayfirst": {"first": slice(0, 2), "last": slice(6, 10)},
}

NO_ATTENTION = ("plain", "plain_reversed", "dayfirst", "dayfirst_reversed")


# %% [markdown]
# ## Settings
#
# `--quick` (or `QUICK` in a notebook) trains on fewer dates, for fewer
# epochs, with narrower GRUs.


# %%
def choose_sizes(run):
    """Picks the data size, epochs and GRU width."""
    args = run.args
    batch_size = 128
    n_train = 16 * batch_size if args.quick else 48 * batch_size
    n_test = 300 if args.quick else 1000
    epochs = 4 if args.quick else 10
    units = 32 if args.quick else 64
    run.keep(batch_size=batch_size, epochs=epochs, n_test=n_test)
    run.keep(n_train=n_train, units=units)


# %% [markdown]
# ## 1. The data
#
# Human-written dates in, ISO dates out, one character at a time. The
# decoder reads `<bos>` first and stops at `<eos>`. A second task writes
# the same dates day first on both sides.


# %%
def day_first_pairs(iso_dates, seed):
    """The same dates written day first on both sides.

    Each ISO date is rewritten in a randomly chosen day-first format (30 %
    of them lower-cased, as in the ISO data) and its target is DD-MM-YYYY,
    so source and target run in the same order: day, month, year.

    Returns:
        `(sources, targets)`: two lists of strings.
    """
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for iso in iso_dates:
        date = datetime.date.fromisoformat(iso)
        text = date.strftime(
            DAY_FIRST_FORMATS[rng.integers(len(DAY_FIRST_FORMATS))]
        )
        if rng.random() < 0.3:
            text = text.lower()
        sources.append(text)
        targets.append(date.strftime(DAY_FIRST_TARGET))
    return sources, targets


def pad_on_the_left(ids, pad_id=0):
    """Moves each row's padding to the front: `[a b c 0 0]` -> `[0 0 a b c]`.

    The encoder's final state is the context the plain decoder starts from.
    With padding on the left, that state comes right after the last real
    character instead of after a run of padding steps it must carry the
    summary through.
    """
    ids = np.asarray(ids)
    out = np.full_like(ids, pad_id)
    lengths = (ids != pad_id).sum(axis=1)
    for row, n in enumerate(lengths):
        out[row, ids.shape[1] - n :] = ids[row, :n]
    return out


def encode_task(sources, targets, source_vocab, target_vocab):
    """Integer arrays for one task: the source forward and reversed (both
    padded on the left), `<bos>` + target for teacher forcing, and target +
    `<eos>` to predict."""
    length = datasets.dates.SOURCE_LENGTH
    steps = len(targets[0]) + 1
    return {
        False: pad_on_the_left(source_vocab.encode(sources, length)),
        True: pad_on_the_left(
            source_vocab.encode([s[::-1] for s in sources], length)
        ),
        "decoder_input": target_vocab.encode(targets, steps, add_bos=True),
        "decoder_target": target_vocab.encode(targets, steps, add_eos=True),
        "sources": list(sources),
        "targets": list(targets),
    }


def the_data(run):
    """Loads human-written dates and their ISO forms, with <bos> and <eos>."""
    args, n_test, n_train = run.args, run.n_test, run.n_train
    print("1. The data: human dates in, ISO dates out, with <bos> and <eos>")
    data = datasets.load_date_translation(n_train + n_test, seed=args.seed)
    tv = data.target_vocab
    for i in range(3):
        print(f"   {data.sources[i]!r:32} -> {data.targets[i]!r}")
    print(
        "   decoder input  (teacher forcing):",
        " ".join(tv.tokens[j] for j in data.decoder_input[0]),
    )
    print(
        "   decoder target (shifted by one): ",
        " ".join(tv.tokens[j] for j in data.decoder_target[0]),
    )
    dayfirst_sources, dayfirst_targets = day_first_pairs(
        data.targets, seed=args.seed + 1
    )
    print(
        "   the same dates as a day-first task (source and target both run "
        "day, month, year):"
    )
    for i in range(2):
        print(f"   {dayfirst_sources[i]!r:32} -> {dayfirst_targets[i]!r}")
    tasks = {
        "iso": encode_task(data.sources, data.targets, data.source_vocab, tv),
        "dayfirst": encode_task(
            dayfirst_sources, dayfirst_targets, data.source_vocab, tv
        ),
    }
    train, test = slice(0, n_train), slice(n_train, n_train + n_test)

    def sources_of(rows):
        return [tasks[task][flip][rows] for task, flip in SOURCE_KEYS]

    def truth(v, key, rows=test):
        return tasks[TASK[v]][key][rows]

    run.keep(data=data, sources_of=sources_of, tasks=tasks, test=test)
    run.keep(train=train, truth=truth, tv=tv)


# %% [markdown]
# ## 2. Encoder-decoders with and without attention
#
# The encoder reads the source and ends in one context vector; the
# decoder starts from it. Without attention that single vector must hold
# the whole date; with attention, every output step looks back at all the
# encoder states (dot, additive or cosine scores). Training uses teacher
# forcing: the decoder reads the true previous characters.


# %%
@keras.saving.register_keras_serializable(package="mlkeras_lab14")
class EncoderDecoderAttention(keras.layers.Layer):
    """Scores every encoder state against every decoder state.

    For decoder state `s_t` and encoder state `h_i` the score is
    - `dot`: `s_t . h_i` (Luong et al. 2015),
    - `additive`: `v . tanh(W_s s_t + W_h h_i)` (Bahdanau et al. 2015),
      a one-hidden-layer network learned with the rest of the model,
    - `cosine`: `beta * cos(s_t, h_i)`, with a learned sharpness `beta`
      (as in the Neural Turing Machine's content addressing): a cosine
      lies in [-1, 1], and without `beta` a softmax over 28 positions
      could never pick one of them out.
    The softmax over `i` turns scores into weights `a_ti`; the context
    for step `t` is `sum_i a_ti h_i`, a new summary for every step.

    Args:
        score: `"dot"`, `"additive"` or `"cosine"`.
        units: width of the additive score's hidden layer. Defaults to
            `32`.

    Call arguments:
        query: decoder states, shape `(batch, target_steps, d)`.
        value: encoder states, shape `(batch, source_steps, d)`.
        value_mask: optional boolean `(batch, source_steps)`, False at
            padding, which then gets zero weight.

    Returns:
        `(context, weights)`: shapes `(batch, target_steps, d)` and
        `(batch, target_steps, source_steps)`.
    """

    def __init__(self, score, units=32, **kwargs):
        if score not in SCORES:
            raise ValueError(
                f"`score` must be one of {SCORES}. Received: score={score!r}"
            )
        if int(units) < 1:
            raise ValueError(
                f"`units` must be a positive integer. Received: units={units}"
            )
        super().__init__(**kwargs)
        self.score = score
        self.units = int(units)

    def build(self, query_shape, value_shape, value_mask_shape=None):
        if self.score == "additive":
            self.query_kernel = self.add_weight(
                (query_shape[-1], self.units), name="query_kernel"
            )
            self.value_kernel = self.add_weight(
                (value_shape[-1], self.units), name="value_kernel"
            )
            self.score_vector = self.add_weight(
                (self.units,), name="score_vector"
            )
        elif self.score == "cosine":
            self.sharpness = self.add_weight(
                (),
                initializer=keras.initializers.Constant(5.0),
                name="sharpness",
            )

    def call(self, query, value, value_mask=None):
        keys = ops.transpose(value, (0, 2, 1))
        if self.score == "dot":
            scores = ops.matmul(query, keys)
        elif self.score == "cosine":
            q = query / ops.sqrt(
                ops.sum(query * query, axis=-1, keepdims=True) + 1e-6
            )
            k = keys / ops.sqrt(
                ops.sum(keys * keys, axis=1, keepdims=True) + 1e-6
            )
            scores = self.sharpness * ops.matmul(q, k)
        else:
            hidden = ops.tanh(
                ops.expand_dims(ops.matmul(query, self.query_kernel), 2)
                + ops.expand_dims(ops.matmul(value, self.value_kernel), 1)
            )
            scores = ops.sum(hidden * self.score_vector, axis=-1)
        if value_mask is not None:
            scores = ops.where(ops.expand_dims(value_mask, 1), scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, value), weights

    def get_config(self):
        config = super().get_config()
        config.update({"score": self.score, "units": self.units})
        return config


def attention_layer_class():
    """The attention layer class (kept as a function for older callers)."""
    return EncoderDecoderAttention


def stacked_gru_class():
    """The stacked GRU layer class, from `mlkeras.labs.stacked_gru`."""
    return StackedGRU


def seq2seq_layers(source_vocab_size, target_vocab_size, units):
    """Every variant's layers; the GRUs of all variants are stacked."""
    layers = keras.layers
    n = len(VARIANTS)
    encoder = stacked_gru_class()(n, units, name="encoders")
    decoder = stacked_gru_class()(n, units, name="decoders")
    source_embedding = {
        v: layers.Embedding(source_vocab_size, 32, name=f"{v}_source_embedding")
        for v in VARIANTS
    }
    target_embedding = {
        v: layers.Embedding(target_vocab_size, 16, name=f"{v}_target_embedding")
        for v in VARIANTS
    }
    attention = {
        s: attention_layer_class()(s, name=f"{s}_attention") for s in SCORES
    }
    attentional = {
        s: layers.Dense(units, activation="tanh", name=f"{s}_attentional_state")
        for s in SCORES
    }
    output = {
        v: layers.Dense(
            target_vocab_size, activation="softmax", name=f"{v}_next_character"
        )
        for v in VARIANTS
    }
    return dict(
        encoder=encoder,
        decoder=decoder,
        source_embedding=source_embedding,
        target_embedding=target_embedding,
        attention=attention,
        attentional=attentional,
        output=output,
    )


def seq2seq_inputs():
    """The sources (each task, forward and reversed), their padding masks,
    the true prefixes of each task and one prefix input per variant."""
    layers = keras.layers
    sources = {
        key: keras.Input(
            (datasets.dates.SOURCE_LENGTH,),
            dtype="int32",
            name=f"{key[0]}_source" + "_reversed" * key[1],
        )
        for key in SOURCE_KEYS
    }
    truths = {
        task: keras.Input((None,), dtype="int32", name=f"{task}_decoder_input")
        for task in TASKS
    }
    prefixes = {
        v: keras.Input((None,), dtype="int32", name=f"{v}_prefix")
        for v in VARIANTS
    }
    masks = {
        key: layers.Lambda(
            lambda ids: ops.not_equal(ids, 0),
            name=f"{key[0]}_mask" + "_reversed" * key[1],
        )(sources[key])
        for key in SOURCE_KEYS
    }

    return sources, masks, truths, prefixes


def connect(parts, sources, masks, prefix_for, units):
    """Runs every variant on its sources and `prefix_for(variant)`.

    Returns:
        `(probs, weights)`: per variant, the next-character
        probabilities; per attention score, the attention weights.
    """
    layers = keras.layers
    encoder, decoder = parts["encoder"], parts["decoder"]
    source_embedding = parts["source_embedding"]
    target_embedding = parts["target_embedding"]
    attention, attentional = parts["attention"], parts["attentional"]
    output = parts["output"]
    encoder_states, context_vectors = encoder(
        layers.Concatenate()(
            [
                source_embedding[v](sources[TASK[v], REVERSED[v]])
                for v in VARIANTS
            ]
        )
    )
    decoder_states, _ = decoder(
        layers.Concatenate()(
            [target_embedding[v](prefix_for(v)) for v in VARIANTS]
        ),
        initial_state=context_vectors,
    )
    probs, weights = {}, {}
    for i, v in enumerate(VARIANTS):
        own = slice(i * units, (i + 1) * units)
        features = decoder_states[:, :, own]
        if v in SCORES:
            context, weights[v] = attention[v](
                features,
                encoder_states[:, :, own],
                value_mask=masks[TASK[v], REVERSED[v]],
            )
            features = attentional[v](layers.Concatenate()([features, context]))
        probs[v] = output[v](features)
    return probs, weights


def build_side_by_side(source_vocab_size, target_vocab_size, units):
    """Seven GRU encoder-decoders, one per variant, trained on the same batches.

    Every variant is the same encoder-decoder:
    - encoder: an embedding of the source characters, then a GRU that
      returns every state and the last one (the context vector);
    - decoder: an embedding of `<bos>` plus the previous target characters,
      and a GRU that starts from the context vector;
    - with attention, each decoder state is joined with its own context
      (Luong et al.'s order: attend after the recurrent step, so the
      teacher-forced training step runs all target positions at once) in a
      tanh layer; then a softmax over the target characters.
    Each variant has its own weights and loss (see the appendix for how
    they train together).

    Returns:
        `(train_model, infer_model, weight_counts)`. `train_model` maps the
        four sources (`SOURCE_KEYS` order) and the two tasks'
        teacher-forcing inputs (`TASKS` order) to one probability tensor per
        variant (each variant reads the true prefix of its own task).
        `infer_model` maps the four sources and one prefix per variant to
        each variant's probabilities, `(batch, steps, target_vocab_size)`,
        then the attention weights of the three attention variants,
        `(batch, steps, SOURCE_LENGTH)`, so greedy decoding can feed each
        variant its own guesses. `weight_counts[v]` is variant v's number
        of weights.
    """
    layers = keras.layers
    n = len(VARIANTS)
    parts = seq2seq_layers(source_vocab_size, target_vocab_size, units)
    sources, masks, truths, prefixes = seq2seq_inputs()
    teacher, _ = connect(
        parts, sources, masks, lambda v: truths[TASK[v]], units
    )
    train_model = keras.Model(
        [*sources.values(), *truths.values()],
        [layers.Identity(name=v)(teacher[v]) for v in VARIANTS],
    )
    probs, weights = connect(
        parts, sources, masks, lambda v: prefixes[v], units
    )
    infer_model = keras.Model(
        [*sources.values(), *prefixes.values()],
        [probs[v] for v in VARIANTS] + [weights[s] for s in SCORES],
    )
    recurrent = (
        parts["encoder"].count_params() + parts["decoder"].count_params()
    ) // n
    weight_counts = {}
    for v in VARIANTS:
        own = [parts[k][v] for k in ("source_embedding", "target_embedding")]
        own.append(parts["output"][v])
        if v in SCORES:
            own += [parts["attention"][v], parts["attentional"][v]]
        weight_counts[v] = recurrent + sum(
            layer.count_params() for layer in own
        )
    return train_model, infer_model, weight_counts


def build_models(run):
    """Builds the seven encoder-decoders and prepares their data."""
    args, data, sources_of = run.args, run.data, run.sources_of
    tasks, train, truth, tv = run.tasks, run.train, run.truth, run.tv
    units = run.units
    print(
        f"2. Seven encoder-decoders ({units}-unit GRUs), trained side by side "
        "with teacher forcing"
    )
    keras.utils.set_random_seed(args.seed)
    train_model, infer_model, weight_counts = build_side_by_side(
        len(data.source_vocab), len(tv), units
    )
    train_model.compile(
        keras.optimizers.Adam(0.01),
        ["sparse_categorical_crossentropy"] * len(VARIANTS),
        jit_compile=False,
    )
    x_train = sources_of(train) + [
        tasks[t]["decoder_input"][train] for t in TASKS
    ]
    y_train = [truth(v, "decoder_target", train) for v in VARIANTS]
    # Create Adam's slots and the loss trackers now, outside the training
    # graph: a first training step that creates variables is traced twice
    # by TensorFlow, and tracing 14 recurrent loops and their gradients is
    # most of this lab's running time.
    train_model.optimizer.build(train_model.trainable_variables)
    few = [x[:2] for x in x_train]
    train_model.compute_loss(
        x=few,
        y=[y[:2] for y in y_train],
        y_pred=[np.zeros(y[:2].shape + (len(tv),), "float32") for y in y_train],
    )
    run.keep(infer_model=infer_model, train_model=train_model)
    run.keep(weight_counts=weight_counts, x_train=x_train, y_train=y_train)


# %% [markdown]
# All seven train on the same batches (see the appendix for how they
# share one `fit`).


# %%
def train_models(run):
    """Trains all variants and records their test accuracy per epoch."""
    batch_size, epochs = run.batch_size, run.epochs
    infer_model, sources_of, test = run.infer_model, run.sources_of, run.test
    train_model, truth = run.train_model, run.truth
    weight_counts, x_train = run.weight_counts, run.x_train
    y_train = run.y_train
    x_test = sources_of(test)
    teacher_inputs = x_test + [truth(v, "decoder_input") for v in VARIANTS]
    curves = {v: [] for v in VARIANTS}

    class TestAccuracyPerEpoch(keras.callbacks.Callback):
        """Teacher-forced test character accuracy of each variant, per epoch."""

        def on_epoch_end(self, epoch, logs=None):
            probs = infer_model.predict_on_batch(teacher_inputs)
            for i, v in enumerate(VARIANTS):
                curves[v].append(
                    float(
                        np.mean(
                            np.asarray(probs[i]).argmax(-1)
                            == truth(v, "decoder_target")
                        )
                    )
                )

    history = train_model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[TestAccuracyPerEpoch()],
    )
    losses = {
        v: [float(x) for x in history.history[f"{v}_loss"]] for v in VARIANTS
    }
    for v in VARIANTS:
        print(
            f"   {LABELS[v]:30} training loss {losses[v][0]:.3f} -> "
            f"{losses[v][-1]:.3f}, {weight_counts[v]} weights"
        )
    run.keep(curves=curves, losses=losses, teacher_inputs=teacher_inputs)
    run.keep(x_test=x_test)


# %% [markdown]
# ## 3. Teacher-forced and free-running decoding
#
# At inference there is no true previous character: the decoder feeds
# back its own greedy guess, so one mistake can derail the rest.


# %%
def greedy_decode(infer_model, sources, bos_id, eos_id, max_steps):
    """Free-running decoding for all variants at once.

    Every sequence starts with `<bos>`; at step t each variant's most likely
    character becomes its own input at step t + 1. Decoding stops once every
    sequence of every variant has produced `<eos>` (or after `max_steps`).

    Args:
        sources: the four source arrays, in `SOURCE_KEYS` order.

    Returns:
        int32 `(len(VARIANTS), n, max_steps)`: the greedy outputs.
    """
    n = len(sources[0])
    prefixes = np.zeros((len(VARIANTS), n, max_steps), dtype="int32")
    prefixes[:, :, 0] = bos_id
    tokens = np.full((len(VARIANTS), n, max_steps), eos_id, dtype="int32")
    finished = np.zeros((len(VARIANTS), n), dtype=bool)
    for t in range(max_steps):
        outputs = infer_model.predict_on_batch([*sources, *prefixes])
        for i in range(len(VARIANTS)):
            guess = np.asarray(outputs[i])[:, t].argmax(axis=-1)
            tokens[i, :, t] = np.where(finished[i], eos_id, guess)
            finished[i] |= guess == eos_id
            if t + 1 < max_steps:
                prefixes[i, :, t + 1] = tokens[i, :, t]
        if finished.all():
            break
    return tokens


def after_first_mistake(greedy_right, teacher_right):
    """Accuracy on the characters after each sequence's first greedy mistake.

    Up to and including its first mistake, a greedy decoder has read exactly
    the prefix teacher forcing gives it, so both make that mistake at the
    same place. After it, the greedy decoder reads its own wrong character
    while teacher forcing reads the true one: comparing the two on the
    positions that follow measures what feeding back one's own errors costs
    (exposure bias).

    Args:
        greedy_right: boolean `(n, steps)`, greedy character correct.
        teacher_right: boolean `(n, steps)`, teacher-forced character correct.

    Returns:
        `(greedy_accuracy, teacher_forced_accuracy)` over those positions,
        or `(None, None)` when no sequence has a mistake before its end.
    """
    greedy_right = np.asarray(greedy_right, dtype=bool)
    teacher_right = np.asarray(teacher_right, dtype=bool)
    steps = greedy_right.shape[1]
    wrong = ~greedy_right
    first = np.where(wrong.any(1), wrong.argmax(1), steps)
    after = np.arange(steps)[None, :] > first[:, None]
    if not after.any():
        return None, None
    return (
        float(greedy_right[after].mean()),
        float(teacher_right[after].mean()),
    )


def decoding(run):
    """Decodes greedily from <bos> to <eos> and
    compares with teacher forcing.
    """
    data, infer_model = run.data, run.infer_model
    teacher_inputs, truth, tv = run.teacher_inputs, run.truth, run.tv
    x_test = run.x_test
    print(
        "3. Decoding: teacher-forced vs free-running (greedy, <bos> to <eos>)"
    )
    teacher = infer_model.predict_on_batch(teacher_inputs)
    teacher_tokens = np.stack(
        [np.asarray(p).argmax(-1) for p in teacher[: len(VARIANTS)]]
    )
    teacher_attention = [np.asarray(a) for a in teacher[len(VARIANTS) :]]
    steps = data.decoder_target.shape[1]
    greedy_tokens = greedy_decode(
        infer_model, x_test, tv.bos_id, tv.eos_id, max_steps=steps
    )

    metrics = {}
    for i, v in enumerate(VARIANTS):
        y_test = truth(v, "decoder_target")
        decoded = [tv.decode(row) for row in greedy_tokens[i]]
        greedy_right = greedy_tokens[i] == y_test
        teacher_right = teacher_tokens[i] == y_test
        after_greedy, after_teacher = after_first_mistake(
            greedy_right, teacher_right
        )
        metrics[v] = {
            "exact_match": float(
                np.mean([d == t for d, t in zip(decoded, truth(v, "targets"))])
            ),
            "greedy_char_accuracy": float(greedy_right.mean()),
            "teacher_forced_char_accuracy": float(teacher_right.mean()),
            "teacher_forced_exact_match": float(teacher_right.all(1).mean()),
            "stops_at_eos": float(np.mean([len(d) == 10 for d in decoded])),
            "greedy_accuracy_after_first_mistake": after_greedy,
            "teacher_forced_accuracy_after_first_mistake": after_teacher,
            "greedy_position_accuracy": greedy_right.mean(0).tolist(),
            "teacher_forced_position_accuracy": teacher_right.mean(0).tolist(),
        }
    example = 0
    for i, v in enumerate(VARIANTS):
        print(
            f"   {truth(v, 'sources')[example]!r} -> "
            f"{tv.decode(greedy_tokens[i][example])!r}  ({LABELS[v]})"
        )
    run.keep(example=example, greedy_tokens=greedy_tokens, metrics=metrics)
    run.keep(steps=steps, teacher_attention=teacher_attention)


# %% [markdown]
# ## 4. Where the attention looks
#
# Each row of a heat map is one output character; its colours show which
# input characters it reads.


# %%
def field_spans(source):
    """Character spans of the year (4 digits) and the day (2 digits) in a
    source.

    Every source format writes the year as the only four-digit run and the
    day, zero-padded, as the first two-digit run.
    """
    year = re.search(r"(?<!\d)\d{4}(?!\d)", source).span()
    day = re.search(r"(?<!\d)\d{2}(?!\d)", source).span()
    return {"year": year, "day": day}


def attention_alignment(weights, sources):
    """How sharply, and where, the decoder looks.

    Args:
        weights: `(n, target_steps, SOURCE_LENGTH)` attention weights over
            left-padded sources.
        sources: the n source strings.

    Returns:
        A dict: `mean_max_weight` (largest weight per output character,
        averaged over the ten date characters), `uniform_weight` (the same
        for a decoder that spreads its attention evenly, 1/len(source)),
        `year_mass` and `day_mass` (weight the year's four output characters
        put on the source's year, and the day's two on the source's day),
        with the uniform baselines `year_mass_uniform` and `day_mass_uniform`.
    """
    weights = np.asarray(weights)[:, :10]
    length = weights.shape[-1]
    out = {
        "mean_max_weight": float(weights.max(axis=-1).mean()),
        "uniform_weight": float(np.mean([1 / len(s) for s in sources])),
    }
    # ISO "YYYY-MM-DD": positions 0-3 are the year, 8-9 the day.
    for field, positions, width in (
        ("year", slice(0, 4), 4),
        ("day", slice(8, 10), 2),
    ):
        masses = []
        for w, s in zip(weights, sources):
            start, end = field_spans(s)[field]
            offset = length - len(s)  # left padding
            masses.append(
                w[positions, offset + start : offset + end].sum(-1).mean()
            )
        out[f"{field}_mass"] = float(np.mean(masses))
        out[f"{field}_mass_uniform"] = float(
            np.mean([width / len(s) for s in sources])
        )
    return out


def plot_heatmap(ax, weights, source, output, title):
    """One example's attention: output characters
    (rows) over source characters.
    """
    weights = np.asarray(weights)[: len(output) + 1, -len(source) :]
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)))
    ax.set_xticklabels(list(source), fontsize=8)
    ax.set_yticks(range(len(output) + 1))
    ax.set_yticklabels(list(output) + ["<eos>"], fontsize=8)
    ax.set_xlabel("source character")
    ax.set_ylabel("output character")
    ax.set_title(title, fontsize=10)
    return image


def where_attention_looks(run):
    """Draws the attention heat maps and measures their alignment."""
    example, out, tasks = run.example, run.out, run.tasks
    teacher_attention, test = run.teacher_attention, run.test
    print("4. Where the attention looks")
    test_sources = tasks["iso"]["sources"][test]
    test_targets = tasks["iso"]["targets"][test]
    alignment = {
        s: attention_alignment(a, test_sources)
        for s, a in zip(SCORES, teacher_attention)
    }
    picks = [
        example,
        next(k for k, s in enumerate(test_sources) if re.match(r"\d\d[/.]", s)),
    ]
    fig, axes = plotting.new_figure(
        len(picks), len(SCORES), width=5.5, height=3.6
    )
    for row, k in enumerate(picks):
        for col, s in enumerate(SCORES):
            image = plot_heatmap(
                axes[row, col],
                teacher_attention[col][k],
                test_sources[k],
                test_targets[k],
                f"{LABELS[s]}",
            )
    fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    labs.save_figure(fig, out, "attention_heatmaps")
    run.keep(alignment=alignment)


# %% [markdown]
# ## 5. Reversed input without attention
#
# Reversing the source brings its first characters next to the decoder.
# That helps when source and target run in the same order (day first) and
# hurts when they do not (the ISO task starts with the year).


# %%
def reversed_input(run):
    """Compares forward and reversed sources on two tasks."""
    curves, greedy_tokens, losses = run.curves, run.greedy_tokens, run.losses
    metrics, truth = run.metrics, run.truth
    print(
        "5. Reversed input without attention: same-order vs opposite-order task"
    )
    reversal = {}
    partner = {
        "plain": "plain_reversed",
        "plain_reversed": "plain",
        "dayfirst": "dayfirst_reversed",
        "dayfirst_reversed": "dayfirst",
    }
    for v in NO_ATTENTION:
        right = greedy_tokens[VARIANTS.index(v)] == truth(v, "decoder_target")
        fields = FIELDS[TASK[v]]
        reversal[v] = {
            "exact_match": metrics[v]["exact_match"],
            "char_accuracy": metrics[v]["greedy_char_accuracy"],
            "first_field_accuracy": float(right[:, fields["first"]].mean()),
            "last_field_accuracy": float(right[:, fields["last"]].mean()),
            "final_loss": losses[v][-1],
            "mean_loss": float(np.mean(losses[v])),
            "loss_curve": losses[v],
            "teacher_forced_accuracy_by_epoch": curves[v],
            "epochs_ahead": int(
                np.sum(np.array(curves[v]) > np.array(curves[partner[v]]))
            ),
        }
    run.keep(reversal=reversal)


# %% [markdown]
# Training loss, accuracy per output position, the reversed-input curves
# and the final accuracy of every variant.


# %%
def plot_losses_and_positions(axes, run):
    """Draws the training losses and the accuracy per output position."""
    epochs, losses = run.epochs, run.losses
    metrics, steps = run.metrics, run.steps
    for v in VARIANTS:
        axes[0].plot(
            range(1, epochs + 1), losses[v], marker="o", label=LABELS[v]
        )
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss (teacher forcing)")
    axes[0].legend(fontsize=6)
    axes[0].set_title("training loss per variant")
    positions = np.arange(steps)
    names = ["Y", "Y", "Y", "Y", "-", "M", "M", "-", "D", "D", "<eos>"]
    for v, style in (("plain", "o-"), ("dot", "^-")):
        axes[1].plot(
            positions,
            metrics[v]["teacher_forced_position_accuracy"],
            style,
            alpha=0.5,
            label=f"{LABELS[v]}, teacher forced",
        )
        axes[1].plot(
            positions,
            metrics[v]["greedy_position_accuracy"],
            style.replace("-", "--"),
            label=f"{LABELS[v]}, greedy",
        )
    axes[1].set_xticks(positions)
    axes[1].set_xticklabels(names, fontsize=8)
    axes[1].set_xlabel("output character")
    axes[1].set_ylabel("character accuracy (test, fraction)")
    axes[1].legend(fontsize=6)
    axes[1].set_title("accuracy per output position (ISO)")


def plot_reversal_and_accuracy(axes, run):
    """Draws the reversed-input curves and every variant's accuracy."""
    curves, epochs, metrics = run.curves, run.epochs, run.metrics
    for v, style in (
        ("plain", "o"),
        ("plain_reversed", "s"),
        ("dayfirst", "^"),
        ("dayfirst_reversed", "v"),
    ):
        axes[2].plot(
            range(1, epochs + 1),
            curves[v],
            style + ("--" if REVERSED[v] else "-"),
            label=LABELS[v],
        )
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("test character accuracy (fraction)")
    axes[2].legend(fontsize=6)
    axes[2].set_title("reversed input, no attention")
    width = 0.35
    x = np.arange(len(VARIANTS))
    axes[3].bar(
        x - width / 2,
        [metrics[v]["exact_match"] for v in VARIANTS],
        width,
        label="exact match (greedy)",
    )
    axes[3].bar(
        x + width / 2,
        [metrics[v]["greedy_char_accuracy"] for v in VARIANTS],
        width,
        label="character accuracy (greedy)",
    )
    axes[3].set_xticks(x)
    axes[3].set_xticklabels(
        [
            "plain",
            "plain\nrev.",
            "dot",
            "additive",
            "cosine",
            "day-\nfirst",
            "day-first\nrev.",
        ],
        fontsize=7,
    )
    axes[3].set_ylabel("fraction of the test set")
    axes[3].legend(fontsize=7)
    axes[3].set_title("test accuracy, greedy decoding")


def plot_training_and_accuracy(run):
    """Draws losses, accuracies per position and per variant."""
    fig, axes = plotting.new_figure(1, 4, width=4.6, height=3.6)
    plot_losses_and_positions(axes[:2], run)
    plot_reversal_and_accuracy(axes, run)
    labs.save_figure(fig, run.out, "training_and_accuracy")


# %% [markdown]
# Greedy decoding against teacher forcing, per variant.


# %%
def _or_dash(value):
    return "-" if value is None else value


def print_decoding_table(run):
    """Prints the decoding results of every variant."""
    metrics = run.metrics
    labs.print_table(
        "Test set: free-running (greedy) decoding vs teacher forcing (TF)",
        (
            "model",
            "exact match",
            "TF exact",
            "char acc",
            "TF char acc",
            "after 1st mistake",
            "TF after",
            "length right (<eos>)",
        ),
        [
            (
                LABELS[v],
                metrics[v]["exact_match"],
                metrics[v]["teacher_forced_exact_match"],
                metrics[v]["greedy_char_accuracy"],
                metrics[v]["teacher_forced_char_accuracy"],
                _or_dash(metrics[v]["greedy_accuracy_after_first_mistake"]),
                _or_dash(
                    metrics[v]["teacher_forced_accuracy_after_first_mistake"]
                ),
                metrics[v]["stops_at_eos"],
            )
            for v in VARIANTS
        ],
    )


# %% [markdown]
# How sharply each score attends, and the reversal results.


# %%
def print_attention_tables(run):
    """Prints how sharply each attention score attends."""
    alignment = run.alignment
    labs.print_table(
        "Attention (test set, ten date characters)",
        (
            "score",
            "mean max weight",
            "uniform",
            "year mass",
            "uniform",
            "day mass",
            "uniform",
        ),
        [
            (
                s,
                a["mean_max_weight"],
                a["uniform_weight"],
                a["year_mass"],
                a["year_mass_uniform"],
                a["day_mass"],
                a["day_mass_uniform"],
            )
            for s, a in alignment.items()
        ],
    )


def print_reversal_table(run):
    """Prints the reversed-input results of the models without attention."""
    epochs, reversal = run.epochs, run.reversal
    order = {
        "plain": "opposite (year last -> year first)",
        "plain_reversed": "same (reversed: year first)",
        "dayfirst": "same (day first -> day first)",
        "dayfirst_reversed": "opposite (reversed: day last)",
    }
    labs.print_table(
        "Without attention: source forward vs reversed (greedy decoding)",
        (
            "model",
            "source vs target order",
            "exact match",
            "char acc",
            "first field",
            "last field",
            "mean loss",
            "final loss",
            "epochs ahead",
        ),
        [
            (
                LABELS[v],
                order[v],
                r["exact_match"],
                r["char_accuracy"],
                r["first_field_accuracy"],
                r["last_field_accuracy"],
                r["mean_loss"],
                r["final_loss"],
                f"{r['epochs_ahead']}/{epochs}",
            )
            for v, r in reversal.items()
        ],
    )


# %% [markdown]
# ## Summary
#
# Every measurement goes into `results.json`; the lab's tests check its
# claims there.


# %%
def collect_results(run):
    """Collects the measurements into the results dict."""
    alignment, epochs, losses = run.alignment, run.epochs, run.losses
    metrics, n_test, n_train = run.metrics, run.n_test, run.n_train
    reversal, units = run.reversal, run.units
    results = {
        "n_train": n_train,
        "n_test": n_test,
        "epochs": epochs,
        "units": units,
        "final_loss": {v: losses[v][-1] for v in VARIANTS},
        "metrics": metrics,
        "attention": alignment,
        "reversal": reversal,
        "day_first_formats": list(DAY_FIRST_FORMATS),
    }
    run.keep(results=results)


# %% [markdown]
# The conclusion, written from this run's numbers (rerun with `--seed N` to
# see which parts hold from run to run).


# %%
def conclude(run):
    """Says what the measurements show."""
    alignment, metrics = run.alignment, run.metrics
    best = max(SCORES, key=lambda s: metrics[s]["exact_match"])
    p = metrics["plain"]
    slips_greedy = [
        metrics[v]["greedy_accuracy_after_first_mistake"]
        for v in VARIANTS
        if metrics[v]["greedy_accuracy_after_first_mistake"] is not None
    ]
    slips_teacher = [
        metrics[v]["teacher_forced_accuracy_after_first_mistake"]
        for v in VARIANTS
        if metrics[v]["teacher_forced_accuracy_after_first_mistake"] is not None
    ]
    print(
        "\nSummary: squeezed through one context vector, the plain "
        f"encoder-decoder gets {p['greedy_char_accuracy']:.0%} of the "
        f"characters right but only {p['exact_match']:.0%} of the dates. "
        "Attention gives every output step its own weighted view of the "
        "source, and all three scores lift exact match (dot "
        f"{metrics['dot']['exact_match']:.0%}, additive "
        f"{metrics['additive']['exact_match']:.0%}, cosine "
        f"{metrics['cosine']['exact_match']:.0%}). The weights are sharp and "
        f"in the right place: with {best} scores the largest weight per output "
        f"character averages {alignment[best]['mean_max_weight']:.2f} against "
        f"{alignment[best]['uniform_weight']:.2f} for even attention, and the "
        f"year's output characters put {alignment[best]['year_mass']:.0%} of "
        "their weight on the source's year (even attention: "
        f"{alignment[best]['year_mass_uniform']:.0%}). Training fed the true "
        "previous character (teacher forcing); at inference every model fed "
        "back its own guesses from <bos> and stopped at <eos>, which every "
        "model placed after exactly ten characters in at least "
        f"{min(m['stops_at_eos'] for m in metrics.values()):.1%} of the "
        "dates. A date is right under one exactly when it is right under "
        "the other. After the first slip, though, the free-running decoders "
        f"get {np.mean(slips_greedy):.0%} of the remaining characters right "
        f"on average, against {np.mean(slips_teacher):.0%} when the truth is "
        "fed back: exposure bias, the price of training on a prefix the model "
        "never sees at inference."
    )


def conclude_reversal(run):
    """Says what the reversed-input runs show."""
    epochs, reversal = run.epochs, run.reversal
    same, flipped = reversal["dayfirst"], reversal["dayfirst_reversed"]
    iso, iso_flipped = reversal["plain"], reversal["plain_reversed"]
    print(
        "Reversing the source (Sutskever et al.) "
        "helps a model without attention when source and target run in the "
        "same order: reversed, the source of the first outputs is the last "
        "thing the encoder read, right next to the decoder. On the day-first "
        "task (day, month, year on both sides), with the same budget, "
        "reversal takes the training loss, averaged over the epochs, "
        f"{same['mean_loss']:.3f} -> {flipped['mean_loss']:.3f} (final "
        f"{same['final_loss']:.3f} -> {flipped['final_loss']:.3f}), test "
        f"character accuracy {same['char_accuracy']:.1%} -> "
        f"{flipped['char_accuracy']:.1%} and exact match "
        f"{same['exact_match']:.1%} -> {flipped['exact_match']:.1%}, with "
        f"the first field, the day, going {same['first_field_accuracy']:.1%} "
        f"-> {flipped['first_field_accuracy']:.1%}; its teacher-forced test "
        "accuracy is ahead after "
        f"{flipped['epochs_ahead']} of the {epochs} epochs"
        + (
            ". "
            if flipped["char_accuracy"] >= same["char_accuracy"]
            else ", but with this longer training the forward model catches up "
            "and ends ahead: reversal gives the first outputs short "
            "dependencies, which is what gets learning started, but it "
            "stretches the last ones (the year must now cross the whole "
            "source and all the outputs before it), and once both are "
            "learning the forward order, where every field is equally far, "
            "wins. "
        )
        + "The ISO task is the mirror image: nine formats in ten put the "
        "year last and the ISO target starts with it, so its source already "
        "runs opposite to the target, and reversing it sends the year far "
        "from the decoder: mean training loss "
        f"{iso['mean_loss']:.3f} -> {iso_flipped['mean_loss']:.3f}, "
        f"character accuracy {iso['char_accuracy']:.1%} -> "
        f"{iso_flipped['char_accuracy']:.1%}, year digits "
        f"{iso['first_field_accuracy']:.1%} -> "
        f"{iso_flipped['first_field_accuracy']:.1%}"
        + (
            ": here reversal hurts. "
            if iso_flipped["char_accuracy"] < iso["char_accuracy"]
            else ": in this run the reversed model still came out ahead; "
            "models "
            "without attention vary a lot from seed to seed, so compare "
            "several runs (--seed). "
        )
        + "What helps is not reversal as such but putting the source of the "
        "first outputs last."
    )


# %% [markdown]
# ## The lab from start to end
#
# `main` runs the sections in order and writes what they measured to
# `results.json` under `--out` (default `runs/14_seq2seq_attention/`).


# %%
def main(argv=None):
    run = labs.start_run(argv, __doc__, LAB)
    choose_sizes(run)
    the_data(run)
    build_models(run)
    train_models(run)
    decoding(run)
    where_attention_looks(run)
    reversed_input(run)
    plot_training_and_accuracy(run)
    print_decoding_table(run)
    print_attention_tables(run)
    print_reversal_table(run)
    collect_results(run)
    conclude(run)
    conclude_reversal(run)
    return labs.finish_run(run, 14, EXERCISE)


# %% [markdown]
# ## Appendix: why the runs are fast
#
# The seven variants are ordinary GRU encoder-decoders, but tracing
# fourteen recurrent loops and their gradients would take most of the
# lab's running time. `build_side_by_side` therefore runs the seven
# encoder GRUs as one `mlkeras.labs.stacked_gru.StackedGRU` (and the seven
# decoder GRUs as another): one recurrent loop in which every member keeps
# its own weights and reads its own slice of the features. Embeddings,
# attention and output layers stay separate, each variant has its own loss,
# and Adam updates every weight on its own, so training them together is
# training each one alone.

# %% [markdown]
# ## Exercise
#
# Compute dot, additive and cosine attention scores and the context
# vector in NumPy.
#
# - Get the starter: `mlkeras exercise 14 -o lab14.py`
# - Check your work: `mlkeras check lab14.py --lab 14`

# %%
EXERCISE = "attention scores and the context vector, in NumPy"

if __name__ == "__main__":
    main(labs.lab_argv(QUICK))
