import os
import tempfile

import keras
import numpy as np
import pytest
from keras import ops

from mlkeras.layers import MultiHeadAttention, scaled_dot_product_attention
from mlkeras.layers import multi_head_attention as mha_module
from tests.backends import run_tests_on_backend
from tests.layer_testing import run_layer_test

HEADS, KEY_DIM = 2, 4


def numpy_attention(weights, query, value, key=None, mask=None):
    """Multi-head attention in float64 NumPy from Keras-layout weights.

    `mask` is a boolean (B, T, S) or per head (B, N, T, S), True where query
    t may see key s. A row that sees nothing gets zero weights. Returns
    (output, weights).
    """
    key = value if key is None else key
    wq, bq, wk, bk, wv, bv, wo, bo = [np.asarray(w, "float64") for w in weights]
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("bsd,dnh->bsnh", key, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        mask = mask if mask.ndim == 4 else mask[:, None]  # a head axis
        logits = np.where(mask, logits, -np.inf)
    top = logits.max(-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    exp = np.exp(logits - top)
    total = exp.sum(-1, keepdims=True)
    probs = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    attended = np.einsum("bnts,bsnh->btnh", probs, v)
    return np.einsum("btnh,nhe->bte", attended, wo) + bo, probs


def twin_layers(query, value, key=None, **kwargs):
    """A Keras MultiHeadAttention and ours, holding the same weights."""
    peer = keras.layers.MultiHeadAttention(HEADS, KEY_DIM, **kwargs)
    ours = MultiHeadAttention(HEADS, KEY_DIM, **kwargs)
    # With scores, Keras takes its explicit path: its fused one fails on
    # JAX when value_dim != key_dim (Keras 3.15).
    peer(query, value, key, return_attention_scores=True)
    ours(query, value, key)
    ours.set_weights(peer.get_weights())
    return peer, ours


def inputs(batch=2, length=5, source=6, dim=8, source_dim=8):
    rng = np.random.default_rng(1)
    query = rng.normal(size=(batch, length, dim)).astype("float32")
    value = rng.normal(size=(batch, source, source_dim)).astype("float32")
    return query, value


def as_numpy(*tensors):
    return [ops.convert_to_numpy(t) for t in tensors]


@pytest.fixture
def restore_float32_policy():
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def test_weights_have_keras_names_order_and_shapes():
    query, value = inputs(source_dim=6)
    peer, ours = twin_layers(query, value)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [
        w.path.split("/", 1)[1] for w in peer.weights
    ]
    assert [tuple(w.shape) for w in ours.weights] == [
        tuple(w.shape) for w in peer.weights
    ]


@pytest.mark.parametrize(
    "case",
    [
        "self",
        "cross",
        "separate_key",
        "attention_mask",
        "causal",
        "causal_cross_and_attention_mask",
        "value_dim_and_output_shape",
        "no_bias",
    ],
)
def test_matches_keras_mha_with_the_same_weights(case):
    query, value = inputs()
    rng = np.random.default_rng(2)
    key = None
    init, call = {}, {}
    if case == "self":
        value = query
    if case == "separate_key":
        key = rng.normal(size=value.shape[:2] + (3,)).astype("float32")
    if case == "attention_mask":
        call["attention_mask"] = rng.random((2, 5, 6)) > 0.4
    if case == "causal":
        value = query
        call["use_causal_mask"] = True
    if case == "causal_cross_and_attention_mask":
        call["use_causal_mask"] = True
        call["attention_mask"] = rng.random((2, 5, 6)) > 0.3
    if case == "value_dim_and_output_shape":
        init = {"value_dim": 3, "output_shape": 7}
    if case == "no_bias":
        init = {"use_bias": False}
    peer, ours = twin_layers(query, value, key, **init)
    expected = as_numpy(
        *peer(query, value, key, return_attention_scores=True, **call)
    )
    got = as_numpy(
        *ours(query, value, key, return_attention_scores=True, **call)
    )
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Without scores our layer may take its fused kernel; the outputs still
    # agree wherever a query row sees at least one key. (Keras's own fused
    # path fails on JAX when value_dim != key_dim, so compare with its
    # explicit one.)
    allowed = call.get("attention_mask", np.ones((2, 5, 6), bool))
    if call.get("use_causal_mask"):
        allowed = allowed & np.tri(5, 6, dtype=bool)
    visible = allowed.any(-1)
    peer_out = expected[0]
    our_out = ops.convert_to_numpy(ours(query, value, key, **call))
    np.testing.assert_allclose(our_out[visible], peer_out[visible], atol=1e-5)


@pytest.mark.parametrize("cross", [False, True])
def test_matches_keras_mha_with_keras_masks_from_embeddings(cross):
    query_tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 0]], "int32")
    value_tokens = (
        np.array([[5, 9, 2, 6, 0, 0], [5, 3, 0, 0, 0, 0]], "int32")
        if cross
        else query_tokens
    )
    q_in = keras.Input(shape=(None,), dtype="int32")
    v_in = keras.Input(shape=(None,), dtype="int32")
    q_emb = keras.layers.Embedding(10, 8, mask_zero=True)(q_in)
    v_emb = keras.layers.Embedding(10, 8, mask_zero=True)(v_in)
    peer = keras.layers.MultiHeadAttention(HEADS, KEY_DIM)
    ours = MultiHeadAttention(HEADS, KEY_DIM)
    peer_out = peer(q_emb, v_emb, return_attention_scores=True)
    our_out = ours(q_emb, v_emb, return_attention_scores=True)
    ours.set_weights(peer.get_weights())
    model = keras.Model([q_in, v_in], [*peer_out, *our_out])
    peer_y, peer_s, our_y, our_s = as_numpy(
        *model([query_tokens, value_tokens])
    )
    np.testing.assert_allclose(our_y, peer_y, atol=1e-5)
    np.testing.assert_allclose(our_s, peer_s, atol=1e-5)
    # Padded keys get no weight; padded queries none at all.
    np.testing.assert_array_equal(
        our_s[np.broadcast_to((value_tokens == 0)[:, None, None], our_s.shape)],
        0.0,
    )
    np.testing.assert_array_equal(
        our_s[
            np.broadcast_to((query_tokens == 0)[:, None, :, None], our_s.shape)
        ],
        0.0,
    )


def test_output_carries_the_keras_mask_of_the_query():
    tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 0]], "int32")
    inputs_ = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(inputs_)
    attended = MultiHeadAttention(HEADS, KEY_DIM)(embedded, embedded)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)  # uses the mask
    outputs, means = as_numpy(*keras.Model(inputs_, [attended, pooled])(tokens))
    keep = (tokens != 0)[..., None]
    np.testing.assert_allclose(
        means, (outputs * keep).sum(1) / keep.sum(1), atol=1e-5
    )


def test_explicit_query_mask_is_honoured():
    query, value = inputs()
    peer, ours = twin_layers(query, value)
    query_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    output, scores = as_numpy(
        *ours(query, value, query_mask=query_mask, return_attention_scores=True)
    )
    mask = np.broadcast_to(query_mask[:, :, None], (2, 5, 6))
    expected, probs = numpy_attention(
        ours.get_weights(), query, value, mask=mask
    )
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_allclose(scores, probs, atol=1e-6)
    # The same without scores, where a fused kernel may run.
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(query, value, query_mask=query_mask)),
        expected,
        atol=1e-5,
    )


def test_all_masks_are_combined_with_and():
    query, value = inputs(length=6)
    rng = np.random.default_rng(3)
    key = rng.normal(size=value.shape).astype("float32")
    query_mask = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], bool)
    key_mask = np.array([[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 1]], bool)
    attention_mask = rng.random((2, 6, 6)) > 0.2
    causal = np.tril(np.ones((6, 6), bool))
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    output, scores = as_numpy(
        *layer(
            query,
            value,
            key,
            query_mask=query_mask,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            use_causal_mask=True,
            return_attention_scores=True,
        )
    )
    mask = (
        query_mask[:, :, None]
        & value_mask[:, None]
        & key_mask[:, None]
        & attention_mask
        & causal
    )
    expected, probs = numpy_attention(
        layer.get_weights(), query, value, key, mask=mask
    )
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_allclose(scores, probs, atol=1e-6)


@pytest.mark.parametrize("fused", [True, False])
def test_per_head_mask_combines_with_the_other_masks(fused, monkeypatch):
    query, value = inputs()
    rng = np.random.default_rng(6)
    per_head = rng.random((2, HEADS, 5, 6)) > 0.3
    per_head[1, 0, 4] = False  # a row of head 0 that sees nothing
    query_mask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1]], bool)
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    kwargs = dict(
        query_mask=query_mask, value_mask=value_mask, attention_mask=per_head
    )
    output, scores = as_numpy(
        *layer(query, value, return_attention_scores=True, **kwargs)
    )
    mask = per_head & query_mask[:, None, :, None] & value_mask[:, None, None]
    expected, probs = numpy_attention(
        layer.get_weights(), query, value, mask=mask
    )
    np.testing.assert_allclose(scores, probs, atol=1e-6)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    table = {key: fused for key in mha_module._FUSED_IS_FASTER}
    table[(keras.backend.backend(), mha_module._device_kind())] = fused
    monkeypatch.setattr(mha_module, "_FUSED_IS_FASTER", table)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(query, value, **kwargs)),
        expected,
        atol=1e-5,
    )


def test_fully_masked_rows_give_zero_weights_and_the_output_bias():
    query, value = inputs()
    layer = MultiHeadAttention(HEADS, KEY_DIM, bias_initializer="ones")
    attention_mask = np.ones((2, 5, 6), bool)
    attention_mask[0, 2] = False  # query 2 of sample 0 may see nothing
    output, scores = as_numpy(
        *layer(
            query,
            value,
            attention_mask=attention_mask,
            return_attention_scores=True,
        )
    )
    assert np.isfinite(output).all() and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores[0, :, 2], 0.0)
    output_bias = ops.convert_to_numpy(layer.weights[-1])
    np.testing.assert_allclose(output[0, 2], output_bias, atol=1e-6)
    fast = ops.convert_to_numpy(
        layer(query, value, attention_mask=attention_mask)
    )
    np.testing.assert_allclose(fast, output, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_fused_and_explicit_kernels_agree(fused, monkeypatch):
    query, value = inputs()
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    attention_mask = np.random.default_rng(4).random((2, 5, 6)) > 0.5
    attention_mask[1, 0] = False
    reference = []
    for kwargs in (
        {"attention_mask": attention_mask},
        {"use_causal_mask": True},
    ):
        reference.append(
            ops.convert_to_numpy(
                layer(query, value, return_attention_scores=True, **kwargs)[0]
            )
        )
    table = {key: fused for key in mha_module._FUSED_IS_FASTER}
    table[(keras.backend.backend(), mha_module._device_kind())] = fused
    monkeypatch.setattr(mha_module, "_FUSED_IS_FASTER", table)
    for kwargs, expected in zip(
        ({"attention_mask": attention_mask}, {"use_causal_mask": True}),
        reference,
    ):
        np.testing.assert_allclose(
            ops.convert_to_numpy(layer(query, value, **kwargs)),
            expected,
            atol=1e-5,
        )


def test_causal_output_at_t_ignores_every_input_after_t():
    query, _ = inputs(length=7)
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    before = ops.convert_to_numpy(layer(query, query, use_causal_mask=True))
    for t in range(6):
        changed = query.copy()
        changed[:, t + 1 :] = (
            np.random.default_rng(t).normal(size=changed[:, t + 1 :].shape) * 10
        )
        after = ops.convert_to_numpy(
            layer(changed, changed, use_causal_mask=True)
        )
        np.testing.assert_allclose(
            after[:, : t + 1], before[:, : t + 1], atol=1e-5
        )
        assert not np.allclose(after[:, t + 1 :], before[:, t + 1 :], atol=1e-3)


def test_symbolic_scores_have_shape_batch_heads_target_source():
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    output, scores = layer(
        keras.Input((5, 8)), keras.Input((6, 8)), return_attention_scores=True
    )
    assert tuple(output.shape) == (None, 5, 8)
    assert tuple(scores.shape) == (None, HEADS, 5, 6)


@pytest.mark.parametrize("cross", [False, True])
def test_passes_the_shared_layer_checks(cross):
    query, value = inputs()
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": HEADS, "key_dim": KEY_DIM, "flash_attention": False},
        (query, value) if cross else (query, query),
        [(2, 5, 8), (2, HEADS, 5, 6 if cross else 5)],
        call_kwargs={
            "return_attention_scores": True,
            "use_causal_mask": not cross,
        },
        atol=1e-5,
    )


def test_saved_model_with_both_layers_loads_with_identical_outputs():
    from mlkeras.layers import SinusoidalPositionalEncoding

    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(12, 8, mask_zero=True)(tokens)
    x = SinusoidalPositionalEncoding()(x)
    x = MultiHeadAttention(HEADS, KEY_DIM, dropout=0.1, seed=3)(
        x, x, use_causal_mask=True
    )
    model = keras.Model(tokens, x)
    data = np.array([[3, 4, 5, 0], [1, 2, 0, 0]], "int32")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(data)),
        ops.convert_to_numpy(model(data)),
        atol=1e-6,
    )


def test_config_round_trips_flash_attention_setting():
    for setting in (True, False, None):
        layer = MultiHeadAttention(HEADS, KEY_DIM, flash_attention=setting)
        config = layer.get_config()
        assert config["flash_attention"] is setting
        assert MultiHeadAttention.from_config(config).flash_attention is setting


def test_trains_in_a_jit_compiled_model_with_dropout():
    query, value = inputs()
    q_in, v_in = keras.Input((5, 8)), keras.Input((6, 8))
    out = MultiHeadAttention(HEADS, KEY_DIM, dropout=0.2, seed=1)(
        q_in, v_in, attention_mask=np.ones((1, 5, 6), bool)
    )
    model = keras.Model([q_in, v_in], out)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    history = model.fit(
        [query, value], np.zeros((2, 5, 8), "float32"), epochs=2, verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()


def test_dropout_acts_only_in_training():
    query, value = inputs()
    peer, ours = twin_layers(query, value)
    dropped = MultiHeadAttention(HEADS, KEY_DIM, dropout=0.5, seed=0)
    dropped(query, value)
    dropped.set_weights(peer.get_weights())
    inference = ops.convert_to_numpy(dropped(query, value, training=False))
    np.testing.assert_allclose(
        inference, ops.convert_to_numpy(ours(query, value)), atol=1e-5
    )
    training = ops.convert_to_numpy(dropped(query, value, training=True))
    assert not np.allclose(training, inference, atol=1e-3)


def test_mixed_bfloat16_keeps_logits_and_softmax_in_float32(
    restore_float32_policy,
):
    keras.config.set_dtype_policy("mixed_bfloat16")
    # One head of size 2 whose projections are identities: the logits are
    # 64 * 16 + k2, where the second key coordinate k2 in {0, .5, 1, 1.5}.
    # bfloat16 spaces numbers near 1024 by 8, so logits rounded to bfloat16
    # would all be 1024 and the weights uniform.
    layer = MultiHeadAttention(1, 2, use_bias=False)
    query = np.array([[[64.0, 1.0]]], "float32")
    value = np.array([[[16.0, k] for k in (0.0, 0.5, 1.0, 1.5)]], "float32")
    layer(query, value)
    eye = np.eye(2, dtype="float32")
    layer.set_weights([eye[:, None], eye[:, None], eye[:, None], eye[None]])
    output, scores = layer(query, value, return_attention_scores=True)
    assert keras.backend.standardize_dtype(output.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(scores.dtype) == "bfloat16"
    logits = (1024.0 + np.array([0.0, 0.5, 1.0, 1.5])) / np.sqrt(2.0)
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    got = ops.convert_to_numpy(ops.cast(scores, "float32"))[0, 0, 0]
    np.testing.assert_allclose(got, expected, atol=1e-2)


def test_scaled_dot_product_attention_matches_numpy():
    rng = np.random.default_rng(5)
    q = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    k = rng.normal(size=(2, 3, 6, 8)).astype("float32")
    v = rng.normal(size=(2, 3, 6, 5)).astype("float32")
    mask = rng.random((2, 1, 4, 6)) > 0.4
    mask[0, 0, 1] = False
    output, weights = as_numpy(*scaled_dot_product_attention(q, k, v, mask))
    logits = np.where(mask, q @ np.swapaxes(k, -1, -2) / np.sqrt(8), -np.inf)
    exp = np.exp(
        logits
        - np.where(
            mask.any(-1, keepdims=True), logits.max(-1, keepdims=True), 0
        )
    )
    total = exp.sum(-1, keepdims=True)
    probs = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    np.testing.assert_allclose(weights, probs, atol=1e-6)
    np.testing.assert_allclose(output, probs @ v, atol=1e-5)
    np.testing.assert_array_equal(output[:, :, 1][0], 0.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_heads": 0, "key_dim": 4}, "num_heads=0"),
        ({"num_heads": 2, "key_dim": -1}, "key_dim=-1"),
        ({"num_heads": 2, "key_dim": 4, "value_dim": 0}, "value_dim=0"),
        ({"num_heads": 2, "key_dim": 4, "dropout": 1.5}, "dropout=1.5"),
        (
            {"num_heads": 2, "key_dim": 4, "flash_attention": "yes"},
            "flash_attention=yes",
        ),
        (
            {
                "num_heads": 2,
                "key_dim": 4,
                "flash_attention": True,
                "dropout": 0.1,
            },
            "dropout=0.1",
        ),
    ],
)
def test_bad_constructor_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_bad_call_arguments_name_the_value():
    query, value = inputs()
    layer = MultiHeadAttention(HEADS, KEY_DIM)
    layer(query, value)
    with pytest.raises(ValueError, match=r"query.shape=\(2, 5, 3\)"):
        layer(query[..., :3], value)
    with pytest.raises(ValueError, match=r"key.shape=\(2, 4, 8\)"):
        layer(query, value, value[:, :4])
    with pytest.raises(ValueError, match=r"attention_mask.shape=\(2, 5, 4\)"):
        layer(query, value, attention_mask=np.ones((2, 5, 4), bool))
    with pytest.raises(ValueError, match=r"query_mask.shape=\(2, 6\)"):
        layer(query, value, query_mask=np.ones((2, 6), bool))
    with pytest.raises(ValueError, match=r"query.shape=\(5, 8\)"):
        MultiHeadAttention(HEADS, KEY_DIM)(query[0], value)
    with pytest.raises(ValueError, match="return_attention_scores=True"):
        MultiHeadAttention(HEADS, KEY_DIM, flash_attention=True)(
            query, value, return_attention_scores=True
        )


# Keras cases about arguments, shapes and configs only, which no backend
# computes: the TensorFlow run covers them.
NOT_ON_JAX = (
    "on_jax_backend",
    "reference",
    "compute_output_shape",
    "shape_mismatch",
    "invalid_scalar",
    "errors_carry",
    "validation_and_serialization",
    "initializer_gives",
    "constraints_reach",
    "dtype_policy_map",
)


def test_layer_runs_on_jax_backend():
    # One child process for the three attention test modules: its start-up
    # is much of the cost. Keras's own layer is checked on TensorFlow only.
    here = os.path.dirname(__file__)
    run_tests_on_backend(
        "jax",
        __file__,
        os.path.join(here, "test_multi_head_attention_keras_cases.py"),
        os.path.join(here, "test_multi_head_attention_parity.py"),
        "-k",
        " and ".join(f"not {name}" for name in NOT_ON_JAX),
    )
