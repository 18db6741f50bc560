import os

import keras
import numpy as np
import pytest

from mlkeras.layers import PeepholeLSTM
from tests.backends import run_tests_on_backend
from tests.layer_testing import run_layer_test
from tests.layers.test_peephole_lstm_cell import (
    numpy_peephole_step,
    random_weights,
)

BATCH, STEPS, FEATURES, UNITS = 3, 7, 5, 4


def _numpy(tensors):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


def _sequences(seed=0, batch=BATCH, steps=STEPS, features=FEATURES):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, steps, features)).astype("float32")


def numpy_peephole_lstm(
    x, weights, mask=None, go_backwards=False, initial_state=None
):
    """The layer's sequence semantics in NumPy, stepping the formulas.

    A masked step keeps the states and repeats the previous output (zeros
    before the first unmasked step), as `keras.layers.RNN` does.
    """
    batch, steps, _ = x.shape
    units = weights[1].shape[0]
    if initial_state is None:
        h = np.zeros((batch, units))
        c = np.zeros((batch, units))
    else:
        h, c = (np.asarray(s, "float64") for s in initial_state)
    output = np.zeros((batch, units))
    outputs = []
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for t in order:
        h_new, c_new = numpy_peephole_step(x[:, t], h, c, *weights)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        h = np.where(keep, h_new, h)
        c = np.where(keep, c_new, c)
        output = np.where(keep, h_new, output)
        outputs.append(output)
    return np.stack(outputs, 1), h, c


def _pair(seed=0, **kwargs):
    """A zero-peephole layer and a Keras LSTM that share their weights."""
    ours = PeepholeLSTM(UNITS, peephole_initializer="zeros", **kwargs)
    # Keras's generic path: on a GPU its cuDNN path returns a go_backwards
    # sequence in input order, its generic path (and this layer) in the
    # order the steps ran (seen on an H100 with JAX, Keras 3.15.1).
    theirs = keras.layers.LSTM(UNITS, use_cudnn=False, **kwargs)
    for layer in (ours, theirs):
        layer.build((BATCH, STEPS, FEATURES))
    rng = np.random.default_rng(seed + 1)
    weights = random_weights(rng, FEATURES, UNITS)
    if kwargs.get("use_bias") is False:
        del weights[2]
    theirs.set_weights(weights[:-3])
    ours.set_weights(weights[:-3] + [np.zeros(UNITS, "float32")] * 3)
    return ours, theirs


def _assert_all_close(ours, theirs, atol=1e-5):
    ours, theirs = _numpy(ours), _numpy(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=atol)


def _padding_mask(left):
    mask = np.ones((BATCH, STEPS), bool)
    lengths = [STEPS, 4, 2]
    for row, length in enumerate(lengths):
        if left:
            mask[row, : STEPS - length] = False
        else:
            mask[row, length:] = False
    return mask


def test_passes_the_shared_layer_checks_with_sequences_and_states():
    run_layer_test(
        PeepholeLSTM,
        {"units": UNITS, "return_sequences": True, "return_state": True},
        _sequences(),
        [(BATCH, STEPS, UNITS), (BATCH, UNITS), (BATCH, UNITS)],
    )


@pytest.mark.parametrize("go_backwards", [False, True])
def test_sequence_matches_numpy_formulas_with_nonzero_peepholes(go_backwards):
    x = _sequences(3)
    weights = random_weights(
        np.random.default_rng(4), FEATURES, UNITS, peephole_scale=1.0
    )
    layer = PeepholeLSTM(
        UNITS,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
    )
    layer(x)
    layer.set_weights(weights)
    expected = numpy_peephole_lstm(
        x.astype("float64"), weights, go_backwards=go_backwards
    )
    _assert_all_close(layer(x), expected)


@pytest.mark.parametrize("left", [False, True], ids=["right", "left"])
def test_masked_sequence_matches_numpy_formulas_with_nonzero_peepholes(left):
    x = _sequences(5)
    mask = _padding_mask(left)
    weights = random_weights(np.random.default_rng(6), FEATURES, UNITS)
    layer = PeepholeLSTM(UNITS, return_sequences=True, return_state=True)
    layer(x)
    layer.set_weights(weights)
    expected = numpy_peephole_lstm(x.astype("float64"), weights, mask=mask)
    _assert_all_close(layer(x, mask=mask), expected)


def test_initial_state_is_used_as_in_numpy_formulas():
    x = _sequences(7)
    rng = np.random.default_rng(8)
    state = [
        rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2)
    ]
    weights = random_weights(rng, FEATURES, UNITS)
    layer = PeepholeLSTM(UNITS, return_sequences=True, return_state=True)
    layer(x)
    layer.set_weights(weights)
    expected = numpy_peephole_lstm(
        x.astype("float64"), weights, initial_state=state
    )
    _assert_all_close(layer(x, initial_state=state), expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "return_sequences": True, "return_state": True},
        {"go_backwards": True},
        {"unroll": True, "return_sequences": True, "return_state": True},
        {"use_bias": False, "return_sequences": True},
    ],
    ids=[
        "sequences_and_states",
        "backwards_all",
        "backwards_last",
        "unroll",
        "no_bias",
    ],
)
def test_matches_keras_lstm_when_peepholes_are_zero(kwargs):
    ours, theirs = _pair(**kwargs)
    x = _sequences()
    _assert_all_close(ours(x), theirs(x))


@pytest.mark.parametrize(
    "left, go_backwards",
    [(False, False), (True, False), (True, True)],
    ids=["right", "left", "left_backwards"],
)
def test_matches_keras_lstm_with_padding_masks_when_peepholes_are_zero(
    left, go_backwards
):
    ours, theirs = _pair(
        return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    x = _sequences()
    mask = _padding_mask(left)
    _assert_all_close(ours(x, mask=mask), theirs(x, mask=mask))


def test_matches_keras_lstm_behind_a_masking_layer_in_a_model():
    x = _sequences()
    x[1, 4:] = 0.0
    x[2, :3] = 0.0
    ours, theirs = _pair(return_sequences=True)
    outputs = []
    for layer in (ours, theirs):
        inputs = keras.Input((STEPS, FEATURES))
        model = keras.Model(inputs, layer(keras.layers.Masking()(inputs)))
        outputs.append(model(x))
    _assert_all_close(outputs[0], outputs[1])


def test_matches_keras_lstm_when_stateful_and_after_reset_states():
    ours, theirs = _pair(stateful=True, return_state=True)
    first, second = _sequences(10), _sequences(11)
    _assert_all_close(ours(first), theirs(first))
    after_two = ours(second)
    _assert_all_close(after_two, theirs(second))
    _assert_all_close(ours.states, theirs.states)
    ours.reset_states()
    fresh = ours(second)
    assert np.max(np.abs(_numpy(fresh)[0] - _numpy(after_two)[0])) > 1e-4
    theirs.reset_states()
    _assert_all_close(fresh, theirs(second))


def test_stateful_layer_carries_states_between_calls_as_numpy_formulas():
    x = _sequences(12)
    weights = random_weights(np.random.default_rng(13), FEATURES, UNITS)
    layer = PeepholeLSTM(UNITS, stateful=True, return_state=True)
    layer.build((BATCH, STEPS, FEATURES))
    layer.set_weights(weights)
    layer(x[:, :3])
    _, h, c = numpy_peephole_lstm(x[:, :3].astype("float64"), weights)
    expected = numpy_peephole_lstm(
        x[:, 3:].astype("float64"), weights, initial_state=(h, c)
    )
    got = layer(x[:, 3:])
    _assert_all_close(got, [expected[0][:, -1], expected[1], expected[2]])


def test_gradients_are_finite_and_nonzero_over_200_steps():
    # One SGD step moves every weight by -lr * gradient, so finite, moved
    # weights mean finite, non-zero gradients on any backend.
    x = _sequences(14, batch=2, steps=200, features=3)
    layer = PeepholeLSTM(8, return_sequences=True)
    inputs = keras.Input((200, 3))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    before = _numpy(layer.trainable_weights)
    target = np.random.default_rng(15).normal(size=(2, 200, 8))
    history = model.fit(x, target.astype("float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = _numpy(layer.trainable_weights)
    for name, old, new in zip(
        [w.name for w in layer.trainable_weights], before, after
    ):
        assert np.all(np.isfinite(new)), name
        assert np.max(np.abs(new - old)) > 0.0, name


def _twin_models(go_backwards, return_sequences, steps=STEPS):
    """Two models with the same weights; the second masks every step.

    An all-true mask keeps every step, so both compute the same function,
    but only the first takes the layer's hand-written backward pass (the
    mask sends the second through `keras.layers.RNN`'s loop and automatic
    differentiation). The peepholes are large enough (up to 1) for their
    terms to matter. Dense layers in front of the sequence and the
    initial states carry the gradients of those inputs into weights too.
    """
    models = []
    for masked in (False, True):
        keras.utils.set_random_seed(21)
        sequence = keras.Input((steps, FEATURES))
        seed = keras.Input((2,))
        hidden = keras.layers.Dense(FEATURES)(sequence)
        mask = None
        if masked:
            mask = keras.ops.not_equal(hidden[:, :, 0], 1e9)
        h0 = keras.layers.Dense(UNITS)(seed)
        c0 = keras.layers.Dense(UNITS)(seed)
        output, h, c = PeepholeLSTM(
            UNITS,
            return_sequences=return_sequences,
            return_state=True,
            go_backwards=go_backwards,
            peephole_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
        )(hidden, initial_state=[h0, c0], mask=mask)
        if return_sequences:
            output = keras.layers.Reshape((steps * UNITS,))(output)
        joined = keras.layers.Concatenate()([output, h, c])
        models.append(keras.Model([sequence, seed], joined))
    models[1].set_weights(models[0].get_weights())
    return models


@pytest.mark.filterwarnings("ignore:Layer 'reshape")  # drops the mask
@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize(
    "go_backwards,return_sequences",
    [(False, True), (True, True), (False, False)],
    ids=["sequences", "backwards", "last"],
)
def test_hand_written_backward_pass_matches_automatic_differentiation(
    go_backwards, return_sequences, jit_compile
):
    fused, reference = _twin_models(go_backwards, return_sequences)
    rng = np.random.default_rng(22)
    x = [_sequences(23), rng.normal(size=(BATCH, 2)).astype("float32")]
    _assert_all_close(fused(x), reference(x))
    width = fused.output.shape[-1]
    target = rng.normal(size=(BATCH, width)).astype("float32")
    # One plain SGD step moves every weight by -gradient.
    for model in (fused, reference):
        model.compile(
            optimizer=keras.optimizers.SGD(1.0),
            loss="mse",
            jit_compile=jit_compile,
        )
        model.fit(x, target, batch_size=BATCH, epochs=1, verbose=0)
    before = _twin_models(go_backwards, return_sequences)[0].get_weights()
    for a, b, old in zip(fused.get_weights(), reference.get_weights(), before):
        assert np.max(np.abs(b - old)) > 0.0
        np.testing.assert_allclose(a, b, atol=1e-5)


# On TensorFlow up to 32 steps run without a loop (STEPS, 7, is covered
# above); beyond that each loop iteration runs two steps and an odd last
# step runs outside the loops: an even count (no odd step) and an odd one,
# with what the steps keep packed into one tensor per iteration (as this
# small layer has it) and not (as a layer with more values per step).
@pytest.mark.filterwarnings("ignore:Layer 'reshape")  # drops the mask
@pytest.mark.parametrize(
    "steps,pack",
    [(1, True), (2, True), (32, True), (33, True), (34, True)]
    + [(33, False), (34, False)],
)
def test_hand_written_backward_pass_matches_at_every_step_count(
    monkeypatch, steps, pack
):
    from mlkeras.layers import peephole_lstm_backprop

    if not pack:
        monkeypatch.setattr(peephole_lstm_backprop, "_PACK_VALUES", 0)
    fused, reference = _twin_models(False, True, steps=steps)
    rng = np.random.default_rng(26)
    x = [
        _sequences(27, steps=steps),
        rng.normal(size=(BATCH, 2)).astype("float32"),
    ]
    _assert_all_close(fused(x), reference(x))
    target = rng.normal(size=(BATCH, fused.output.shape[-1]))
    gradients = []
    for model in (fused, reference):
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        before = _numpy(model.trainable_weights)
        model.fit(
            x, target.astype("float32"), batch_size=BATCH, epochs=1, verbose=0
        )
        gradients.append(
            [b - a for a, b in zip(_numpy(model.trainable_weights), before)]
        )
    for ours, theirs in zip(*gradients):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert max(np.max(np.abs(g)) for g in gradients[1]) > 0.0


# Batches of 3 and 2 make TensorFlow trace the step with an unknown batch
# size, where the layer decides packing by Keras's default batch size.
@pytest.mark.filterwarnings("ignore:Layer 'reshape")  # drops the mask
@pytest.mark.parametrize("pack", [True, False])
def test_hand_written_backward_pass_matches_with_a_partial_last_batch(
    monkeypatch, pack
):
    from mlkeras.layers import peephole_lstm_backprop

    if not pack:
        monkeypatch.setattr(peephole_lstm_backprop, "_PACK_VALUES", 0)
    steps, samples = 34, 5
    fused, reference = _twin_models(False, True, steps=steps)
    rng = np.random.default_rng(29)
    x = [
        _sequences(30, batch=samples, steps=steps),
        rng.normal(size=(samples, 2)).astype("float32"),
    ]
    target = rng.normal(size=(samples, fused.output.shape[-1]))
    before = fused.get_weights()
    for model in (fused, reference):
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        model.fit(
            x,
            target.astype("float32"),
            batch_size=3,
            epochs=2,
            shuffle=False,
            verbose=0,
        )
    for a, b, old in zip(fused.get_weights(), reference.get_weights(), before):
        assert np.max(np.abs(b - old)) > 0.0
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("steps", [7, 40])
def test_loop_schedule_follows_the_compiler(monkeypatch, steps):
    # TensorFlow without XLA writes short sequences out and runs two steps
    # per loop iteration; XLA (JAX, or TensorFlow's jit_compile) is faster
    # with a plain loop of one step per iteration at every length.
    from mlkeras.layers import peephole_lstm_backprop

    schedules = []
    original = peephole_lstm_backprop._Schedule

    def recorded(steps, unroll, inline=0, pack=False):
        schedules.append((unroll, inline, pack))
        return original(steps, unroll, inline, pack)

    monkeypatch.setattr(peephole_lstm_backprop, "_Schedule", recorded)
    x = _sequences(28, steps=steps)
    target = np.zeros((BATCH, UNITS), "float32")
    used = {}
    for jit_compile in (False, True):
        del schedules[:]
        model = keras.Sequential(
            [keras.Input((steps, FEATURES)), PeepholeLSTM(UNITS)]
        )
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
        model.train_on_batch(x, target)
        used[jit_compile] = set(schedules)
    xla = {(1, 0, False)}
    if keras.backend.backend() == "tensorflow":
        # A batch of 3 and 4 units are few values per step: packed.
        assert used == {False: {(2, 32, True)}, True: xla}
    else:
        assert used == {False: xla, True: xla}


def _tensorflow_optimized_nodes(function, *specs):
    """The nodes of `function`'s graph after TensorFlow's graph optimizer."""
    import tensorflow as tf

    grappler = pytest.importorskip("tensorflow.python.grappler.tf_optimizer")
    config = pytest.importorskip("tensorflow.core.protobuf.config_pb2")
    concrete = tf.function(function).get_concrete_function(*specs)
    graph = tf.compat.v1.train.export_meta_graph(
        graph_def=concrete.graph.as_graph_def(add_shapes=True),
        graph=concrete.graph,
    )
    fetches = graph.collection_def["train_op"].node_list.value
    fetches.extend(t.name for t in concrete.outputs)
    optimized = grappler.OptimizeGraph(config.ConfigProto(), graph)
    functions = optimized.library.function
    return list(optimized.node) + [n for f in functions for n in f.node_def]


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow's graph optimizer",
)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("steps", [7, 40])
def test_tensorflow_optimizer_finds_no_chain_of_additions(
    steps, return_sequences
):
    # TensorFlow rewrites a chain of three or more additions into one
    # n-ary sum, which in the step's loops ran as an accumulation through a
    # temporary variable, several times slower than the additions. Written
    # as plain sums, the gate pre-activations and the weight gradients of
    # two steps per loop iteration were such chains.
    import tensorflow as tf

    layer = PeepholeLSTM(UNITS, return_sequences=return_sequences)
    layer.build((BATCH, steps, FEATURES))

    def gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, layer.trainable_variables)

    nodes = _tensorflow_optimized_nodes(
        gradients, tf.TensorSpec((BATCH, steps, FEATURES))
    )
    assert any("while" in n.name for n in nodes) == (steps > 32)
    assert [n.name for n in nodes if "AddOpsRewrite" in n.name] == []


def test_hand_written_backward_pass_is_used_only_where_it_applies(monkeypatch):
    from mlkeras.layers import peephole_lstm

    calls = []
    original = peephole_lstm.peephole_lstm_sequence

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(peephole_lstm, "peephole_lstm_sequence", counted)
    x = _sequences(24)

    def used(mask=None, training=False, **kwargs):
        del calls[:]
        PeepholeLSTM(UNITS, **kwargs)(x, mask=mask, training=training)
        return bool(calls)

    assert used()
    assert used(dropout=0.5, training=True)
    assert used(recurrent_dropout=0.5, training=False)
    assert not used(mask=_padding_mask(left=False))
    assert not used(recurrent_dropout=0.5, training=True)
    assert not used(activation="relu")
    assert not used(recurrent_activation="hard_sigmoid")
    assert not used(unroll=True)


def _switch_model(use_fused_backprop, return_sequences):
    keras.utils.set_random_seed(31)
    sequence = keras.Input((STEPS, FEATURES))
    hidden = keras.layers.Dense(FEATURES)(sequence)
    output = PeepholeLSTM(
        UNITS,
        return_sequences=return_sequences,
        peephole_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
        use_fused_backprop=use_fused_backprop,
        name="peephole",
    )(hidden)
    if return_sequences:
        output = keras.layers.Reshape((STEPS * UNITS,))(output)
    return keras.Model(sequence, keras.layers.Dense(3)(output))


@pytest.mark.parametrize("return_sequences", [True, False])
def test_switch_gives_the_same_outputs_and_gradients_either_way(
    monkeypatch, return_sequences
):
    from mlkeras.layers import peephole_lstm

    calls = []
    original = peephole_lstm.peephole_lstm_sequence

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(peephole_lstm, "peephole_lstm_sequence", counted)
    x = _sequences(32)
    target = np.random.default_rng(33).normal(size=(BATCH, 3))
    results = {}
    for setting in (True, False, "auto"):
        model = _switch_model(setting, return_sequences)
        del calls[:]
        outputs = _numpy(model(x))
        # The hand-written pass runs exactly where the switch says.
        assert bool(calls) == (setting is not False)
        # One plain SGD step moves every weight by -gradient.
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        before = _numpy(model.trainable_weights)
        model.fit(x, target.astype("float32"), batch_size=BATCH, verbose=0)
        gradients = [
            b - a for a, b in zip(_numpy(model.trainable_weights), before)
        ]
        results[setting] = outputs, gradients
    assert min(np.max(np.abs(g)) for g in results[False][1]) > 0.0
    for setting in (True, "auto"):
        _assert_all_close(results[setting][0], results[False][0], atol=1e-6)
        for ours, theirs in zip(results[setting][1], results[False][1]):
            np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("setting", ["auto", True, False])
def test_switch_config_saves_and_loads(tmp_path, setting):
    model = _switch_model(setting, return_sequences=False)
    assert model.get_layer("peephole").get_config()["use_fused_backprop"] == (
        setting
    )
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("peephole").use_fused_backprop == setting
    x = _sequences(34)
    _assert_all_close(loaded(x), model(x), atol=1e-6)


def test_switch_true_raises_where_the_pass_cannot_apply():
    layer = PeepholeLSTM(UNITS, use_fused_backprop=True)
    with pytest.raises(ValueError, match="use_fused_backprop=True"):
        layer(_sequences(), mask=_padding_mask(left=False))
    layer = PeepholeLSTM(UNITS, activation="relu", use_fused_backprop=True)
    with pytest.raises(ValueError, match="use_fused_backprop=True"):
        layer(_sequences())
    # Where it applies, the same layer computes as with the default.
    layer = PeepholeLSTM(UNITS, use_fused_backprop=True)
    assert layer(_sequences()).shape == (BATCH, UNITS)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.5])
def test_rejects_a_switch_value_other_than_auto_true_false(value):
    with pytest.raises(ValueError, match="use_fused_backprop="):
        PeepholeLSTM(UNITS, use_fused_backprop=value)


def test_trains_with_an_unknown_number_of_steps():
    inputs = keras.Input((None, FEATURES))
    model = keras.Model(inputs, PeepholeLSTM(UNITS)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    target = np.zeros((BATCH, UNITS), "float32")
    for steps in (3, 6):
        history = model.fit(
            _sequences(25, steps=steps), target, epochs=1, verbose=0
        )
        assert np.isfinite(history.history["loss"][0])


def test_save_and_load_keeps_weights_and_outputs(tmp_path):
    x = _sequences(16)
    inputs = keras.Input((STEPS, FEATURES))
    hidden = keras.layers.Masking()(inputs)
    outputs = PeepholeLSTM(
        UNITS,
        return_sequences=True,
        go_backwards=True,
        dropout=0.1,
        recurrent_dropout=0.1,
        seed=3,
        name="peephole",
    )(hidden)
    model = keras.Model(inputs, outputs)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("peephole")) is PeepholeLSTM
    assert (
        loaded.get_layer("peephole").get_config()
        == model.get_layer("peephole").get_config()
    )
    _assert_all_close(loaded(x), model(x), atol=1e-6)


def test_dropout_changes_training_outputs_only_and_trains():
    x = _sequences(17)
    layer = PeepholeLSTM(
        UNITS, dropout=0.5, recurrent_dropout=0.5, seed=2, return_sequences=True
    )
    inference = _numpy(layer(x))[0]
    np.testing.assert_array_equal(
        _numpy(layer(x, training=False))[0], inference
    )
    training = _numpy(layer(x, training=True))[0]
    assert np.max(np.abs(training - inference)) > 1e-4
    inputs = keras.Input((STEPS, FEATURES))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(
        x, np.zeros((BATCH, STEPS, UNITS), "float32"), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])


def test_input_dropout_mask_is_the_same_at_every_step():
    # A feature dropped for the whole sequence never reaches the
    # recurrence, so its row of the kernel gets no gradient at all; with a
    # new mask at every step each row would get some gradient.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient probe written with tf.GradientTape")
    import tensorflow as tf

    x = _sequences(18, batch=1, steps=20, features=40)
    layer = PeepholeLSTM(2, dropout=0.5, seed=4)
    layer(x)
    kernel = layer.weights[0]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True))
    gradient = tape.gradient(loss, kernel.value).numpy()
    zero_rows = np.all(gradient == 0.0, axis=1)
    # About half the 40 features are dropped for the whole sequence.
    assert 8 <= zero_rows.sum() <= 32


def test_mixed_precision_computes_in_float16_close_to_float32():
    x = _sequences(19)
    reference = PeepholeLSTM(UNITS, return_sequences=True)
    expected = _numpy(reference(x))[0]
    layer = PeepholeLSTM(UNITS, return_sequences=True, dtype="mixed_float16")
    layer(x)
    layer.set_weights(reference.get_weights())
    assert all(w.dtype == "float32" for w in layer.weights)
    output = layer(x)
    assert keras.backend.standardize_dtype(output.dtype) == "float16"
    np.testing.assert_allclose(
        _numpy(output)[0].astype("float32"), expected, atol=1e-2
    )


@pytest.mark.parametrize("switch", ["auto", False])
def test_integer_inputs_are_computed_in_the_layers_dtype(switch):
    x = np.round(_sequences(21) * 3)
    layer = PeepholeLSTM(
        UNITS, return_sequences=True, use_fused_backprop=switch
    )
    expected = _numpy(layer(x))[0]
    output = layer(x.astype("int32"))
    assert keras.backend.standardize_dtype(output.dtype) == "float32"
    np.testing.assert_allclose(_numpy(output)[0], expected, atol=1e-6)


@pytest.mark.parametrize("switch", ["auto", False])
def test_stateless_call_with_float32_inputs_under_a_mixed_policy(switch):
    x = _sequences(22)
    layer = PeepholeLSTM(
        UNITS, dtype="mixed_float16", use_fused_backprop=switch
    )
    layer.build(x.shape)
    output, _ = layer.stateless_call(
        layer.trainable_variables, layer.non_trainable_variables, x
    )
    assert keras.backend.standardize_dtype(output.dtype) == "float16"
    np.testing.assert_allclose(
        _numpy(output)[0].astype("float32"), _numpy(layer(x))[0], atol=1e-3
    )


def _gradients_of_the_sum(layer, x):
    """Gradients of the sum of every output, one per trainable weight."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # A batch size unknown when traced, as in a serving signature.
        @tf.function(
            input_signature=[tf.TensorSpec((None, *x.shape[1:]), tf.float32)]
        )
        def gradients(x):
            with tf.GradientTape() as tape:
                total = sum(tf.reduce_sum(t) for t in layer(x))
            return tape.gradient(total, layer.trainable_variables)

        return _numpy(gradients(x))
    import jax

    def total(trainable, x):
        outputs, _ = layer.stateless_call(
            trainable, [v.value for v in layer.non_trainable_variables], x
        )
        return sum(t.sum() for t in outputs)

    values = [v.value for v in layer.trainable_variables]
    return _numpy(jax.jit(jax.grad(total))(values, x))


# Steps 7 run without a loop on TensorFlow, 40 in one.
@pytest.mark.parametrize("steps", [STEPS, 40])
@pytest.mark.parametrize("switch", ["auto", True, False])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(switch, steps):
    layer = PeepholeLSTM(
        UNITS,
        return_sequences=True,
        return_state=True,
        use_fused_backprop=switch,
    )
    x = np.zeros((0, steps, FEATURES), "float32")
    outputs = layer(x)
    assert [tuple(t.shape) for t in outputs] == [
        (0, steps, UNITS),
        (0, UNITS),
        (0, UNITS),
    ]
    gradients = _gradients_of_the_sum(layer, x)
    assert [g.shape for g in gradients] == [
        tuple(v.shape) for v in layer.trainable_variables
    ]
    assert all(not np.any(g) for g in gradients)


def test_trains_under_jit_compile_with_the_eager_loss():
    x = _sequences(20, steps=4)
    x[0, 2:] = 0.0
    inputs = keras.Input((4, FEATURES))
    hidden = keras.layers.Masking()(inputs)
    outputs = keras.layers.Dense(1)(PeepholeLSTM(UNITS)(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    target = np.ones((BATCH, 1), "float32")
    eager_loss = np.mean((_numpy(model(x))[0] - target) ** 2)
    before = _numpy(model.trainable_weights)
    # One full batch: the reported loss is the compiled forward pass.
    history = model.fit(x, target, batch_size=BATCH, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(eager_loss, rel=1e-5)
    after = _numpy(model.trainable_weights)
    assert all(np.all(np.isfinite(w)) for w in after)
    assert all(np.max(np.abs(a - b)) > 0 for a, b in zip(after, before))


def test_config_round_trips_every_argument():
    layer = PeepholeLSTM(
        5,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        peephole_initializer="ones",
        unit_forget_bias=False,
        peephole_regularizer="l2",
        peephole_constraint="non_neg",
        dropout=0.2,
        recurrent_dropout=0.3,
        seed=9,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        stateful=True,
        unroll=True,
        use_fused_backprop=False,
        name="rnn",
    )
    config = layer.get_config()
    assert "cell" not in config
    assert config["peephole_initializer"]["class_name"] == "Ones"
    clone = PeepholeLSTM.from_config(config)
    assert clone.get_config() == config
    assert clone.units == 5 and clone.dropout == 0.2 and clone.go_backwards


@pytest.mark.parametrize("units", [0, -1, 1.5])
def test_rejects_units_that_are_not_positive_integers(units):
    with pytest.raises(ValueError, match=f"units={units}"):
        PeepholeLSTM(units)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4, 5)])
def test_rejects_inputs_that_are_not_rank_3(shape):
    layer = PeepholeLSTM(UNITS)
    with pytest.raises(ValueError, match="rank 3"):
        layer(np.zeros(shape, "float32"))


@pytest.mark.parametrize(
    "mask_shape", [(BATCH, STEPS + 1), (BATCH,), (BATCH, STEPS, 1)]
)
def test_rejects_a_mask_whose_shape_differs_from_the_inputs(mask_shape):
    layer = PeepholeLSTM(UNITS)
    with pytest.raises(ValueError, match="mask.shape"):
        layer(_sequences(), mask=np.ones(mask_shape, bool))


def test_layer_and_cell_tests_pass_on_jax_backend():
    # One child process re-runs both modules: JAX's start-up is the bulk of
    # it. Left out: tests that never touch the backend (configs, argument
    # errors), the 200-step gradient check, and the jit_compile test (JAX
    # compiles every fit anyway, so the other fit-based tests cover it).
    cell_tests = os.path.join(
        os.path.dirname(__file__), "test_peephole_lstm_cell.py"
    )
    run_tests_on_backend(
        "jax",
        __file__,
        cell_tests,
        "-k",
        "not on_jax_backend and not config and not rejects and not 200"
        " and not jit_compile",
    )
