"""The cases Keras's own MultiHeadAttention tests ask for, on both layers.

Each case runs on `keras.layers.MultiHeadAttention` (the reference: the
case must hold there first) and on ours, through the parametrized `cls`
fixture; cases that compare the two classes take both. The JAX run (started
from `test_multi_head_attention.py`) skips the reference runs, which test
Keras rather than this package.

Keras's test module (3.15,
`keras/src/layers/attention/multi_head_attention_test.py`) has one case
that exists only through a private method, left out here:
`test_compute_attention_combines_causal_and_explicit_mask` calls
`_compute_attention` directly, which on our layer would test Keras's
inherited method, not ours.

Where a Keras case reads a private attribute (`layer._query_dense`,
`layer._gate_dense`, `restored._sliding_window`), the version here reads the
public sublayers, weights or config instead.
"""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from mlkeras.layers import MultiHeadAttention

KerasMHA = keras.layers.MultiHeadAttention
BOTH = [
    pytest.param(KerasMHA, id="reference"),
    pytest.param(MultiHeadAttention, id="ours"),
]
BACKEND = keras.backend.backend()


def as_numpy(*tensors):
    return [ops.convert_to_numpy(t) for t in tensors]


def weight(layer, path_end):
    """The layer's variable whose path ends with `path_end`."""
    (found,) = [w for w in layer.weights if w.path.endswith(path_end)]
    return found


def keras_mask(tensor):
    """The Keras mask of a tensor, read as Keras's tests do."""
    return getattr(tensor, "_keras_mask", None)


def seed_generators(layer):
    """Seed generators own the non-trainable variables that are no weights."""
    return len(layer.non_trainable_variables) - len(layer.non_trainable_weights)


def twins(query, value, key=None, **kwargs):
    """Keras's layer and ours, built alike and holding the same weights."""
    peer = KerasMHA(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    peer(query, value, key, return_attention_scores=not kwargs.get("dropout"))
    ours(query, value, key)
    ours.set_weights(peer.get_weights())
    return peer, ours


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    "init,trainable,seeds",
    [
        ({}, 8, 0),
        ({"value_dim": 4, "use_bias": False, "dropout": 0.5}, 4, 1),
        ({"use_gate": True}, 10, 0),
        (
            {
                "value_dim": 4,
                "use_bias": False,
                "dropout": 0.5,
                "use_gate": True,
            },
            5,
            1,
        ),
    ],
)
def test_basics(cls, init, trainable, seeds):
    kwargs = {"num_heads": 2, "key_dim": 2, **init}
    query = np.random.random((2, 8, 16)).astype("float32")
    value = np.random.random((2, 4, 16)).astype("float32")
    layer = cls(**kwargs)
    assert layer.supports_masking
    symbolic = layer(keras.Input(batch_shape=(2, 8, 16)), keras.Input((4, 16)))
    assert tuple(symbolic.shape) == (2, 8, 16)
    assert tuple(layer(query, value).shape) == (2, 8, 16)
    assert len(layer.trainable_weights) == trainable
    assert len(layer.non_trainable_weights) == 0
    assert seed_generators(layer) == seeds
    assert len(layer.losses) == 0
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config


@pytest.mark.skipif(
    BACKEND not in ("jax", "torch"),
    reason="Keras runs flash attention only on JAX and PyTorch",
)
def test_basics_with_flash_attention_behave_as_keras(flash_enabled):
    """Both layers succeed alike, or fail with the same exception type."""
    query = np.random.random((2, 8, 16)).astype("float16")
    value = np.random.random((2, 4, 16)).astype("float16")
    results = []
    for cls in (KerasMHA, MultiHeadAttention):
        layer = cls(num_heads=2, key_dim=8, dtype="float16")
        try:
            results.append(tuple(layer(query, value).shape))
        except (ImportError, RuntimeError, ValueError) as error:
            results.append(type(error))
    assert results[0] == results[1]


@pytest.fixture
def flash_enabled():
    keras.config.enable_flash_attention()
    try:
        yield
    finally:
        keras.config.disable_flash_attention()


HIGH_DIM = [
    ("4d_inputs_1freebatch_mask2", (3, 4), (3, 2), (4, 2), (2,)),
    ("4d_inputs_1freebatch_mask3", (3, 4), (3, 2), (3, 4, 2), (2,)),
    ("4d_inputs_1freebatch_mask4", (3, 4), (3, 2), (3, 2, 4, 2), (2,)),
    ("4d_inputs_2d_attention", (3, 4), (3, 2), (3, 4, 3, 2), (1, 2)),
    ("5d_inputs_2d_attention", (5, 3, 4), (5, 3, 2), (3, 4, 3, 2), (2, 3)),
    (
        "5d_inputs_2d_attention_fullmask",
        (5, 3, 4),
        (5, 3, 2),
        (5, 3, 4, 3, 2),
        (2, 3),
    ),
]


@pytest.mark.parametrize("use_gate", [False, True])
@pytest.mark.parametrize(
    "q_dims,v_dims,mask_dims,axes",
    [pytest.param(*case[1:], id=case[0]) for case in HIGH_DIM],
)
def test_high_dim_attention_matches_keras(
    q_dims, v_dims, mask_dims, axes, use_gate
):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(3, *q_dims, 8)).astype("float32")
    value = rng.normal(size=(3, *v_dims, 8)).astype("float32")
    peer, ours = twins(
        query,
        value,
        num_heads=2,
        key_dim=2,
        attention_axes=axes,
        use_gate=use_gate,
    )
    assert len(ours.trainable_weights) == (10 if use_gate else 8)
    # Keras's case names a mask shape; use it, with one key always visible.
    mask = rng.random((3, *mask_dims)) > 0.3
    mask[..., 0] = True
    for kwargs in ({}, {"attention_mask": mask}):
        expected = as_numpy(
            *peer(query, value, return_attention_scores=True, **kwargs)
        )
        got = as_numpy(
            *ours(query, value, return_attention_scores=True, **kwargs)
        )
        for a, b in zip(got, expected):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-5)
        symbolic = ours(
            keras.Input(query.shape[1:]),
            keras.Input(value.shape[1:]),
            return_attention_scores=True,
        )
        assert tuple(symbolic[0].shape) == (None, *expected[0].shape[1:])
        assert tuple(symbolic[1].shape) == (None, *expected[1].shape[1:])


@pytest.mark.parametrize("use_gate", [False, True])
@pytest.mark.parametrize("cls", BOTH)
def test_attention_axes_negative_indexing(cls, use_gate):
    x = np.random.normal(size=(2, 3, 8, 4)).astype("float32")
    positive = cls(num_heads=2, key_dim=4, attention_axes=2, use_gate=use_gate)
    negative = cls(num_heads=2, key_dim=4, attention_axes=-2, use_gate=use_gate)
    positive(x, x)
    negative(x, x)
    negative.set_weights(positive.get_weights())
    z_pos, a_pos = as_numpy(*positive(x, x, return_attention_scores=True))
    z_neg, a_neg = as_numpy(*negative(x, x, return_attention_scores=True))
    assert z_pos.shape == z_neg.shape and a_pos.shape == a_neg.shape
    np.testing.assert_allclose(z_pos, z_neg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a_pos, a_neg, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    "query_dims,value_dims,key_dims,output_shape",
    [
        pytest.param((4, 8), (2, 8), None, None, id="without_key_same_proj"),
        pytest.param((4, 8), (2, 8), (2, 3), None, id="with_key_same_proj"),
        pytest.param(
            (4, 8), (2, 8), None, (3, 4), id="without_key_different_proj"
        ),
        pytest.param(
            (4, 8), (2, 8), (2, 3), (1, 5), id="with_key_different_proj"
        ),
        pytest.param(
            (4, 2, 3, 8), (1, 1, 5, 8), (1, 1, 5, 2), None, id="high_dim"
        ),
        pytest.param(
            (4, 2, 3, 8),
            (1, 1, 5, 8),
            (1, 1, 5, 2),
            (3, 2),
            id="high_dim_different_proj",
        ),
        pytest.param(
            (4, 2, 3, 8),
            (4, 2, 3, 7),
            (4, 2, 3, 8),
            None,
            id="different_qv_last_dims",
        ),
    ],
)
def test_compute_output_shape(
    cls, query_dims, value_dims, key_dims, output_shape
):
    layer = cls(num_heads=2, key_dim=2, value_dim=2, output_shape=output_shape)
    query_shape = (7, *query_dims)
    value_shape = (7, *value_dims)
    key_shape = (7, *key_dims) if key_dims else None
    output = layer(
        query=np.ones(query_shape, "float32"),
        value=np.ones(value_shape, "float32"),
        key=np.ones(key_shape, "float32") if key_shape else None,
    )
    assert output.shape == layer.compute_output_shape(
        query_shape, value_shape, key_shape
    )
    assert output.shape == layer.compute_output_shape(
        list(query_shape),
        list(value_shape),
        list(key_shape) if key_shape else None,
    )


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    "query_shape,value_shape,key_shape",
    [
        pytest.param((2, 4, 8), (2, 2, 7), (2,), id="query_value_dim"),
        pytest.param((2, 4, 8), (2, 2, 8), (2, 1, 7), id="key_value_dim"),
        pytest.param(
            (2, 4, 2, 3, 8),
            (2, 1, 1, 5, 8),
            (2, 1, 15, 5, 2),
            id="key_value_dim_high_dim",
        ),
    ],
)
def test_shape_mismatch_error(cls, query_shape, value_shape, key_shape):
    layer = cls(num_heads=4, key_dim=2, value_dim=2)
    with pytest.raises(ValueError, match="must be equal"):
        layer.compute_output_shape(query_shape, value_shape, key_shape)
    with pytest.raises(ValueError, match="must be equal"):
        layer(np.ones(query_shape), np.ones(value_shape), np.ones(key_shape))


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_invalid_scalar_args_rejected(cls, bad):
    with pytest.raises(ValueError, match="argument `num_heads`"):
        cls(num_heads=bad, key_dim=4)
    with pytest.raises(ValueError, match="argument `key_dim`"):
        cls(num_heads=4, key_dim=bad)
    with pytest.raises(ValueError, match="argument `value_dim`"):
        cls(num_heads=4, key_dim=4, value_dim=bad)
    cls(num_heads=4, key_dim=4, value_dim=None)


@pytest.mark.parametrize(
    "kwargs,phrase,received",
    [
        ({"num_heads": 0}, "argument `num_heads`", "num_heads=0"),
        ({"key_dim": 1.5}, "argument `key_dim`", "key_dim=1.5"),
        ({"value_dim": -2}, "argument `value_dim`", "value_dim=-2"),
        ({"output_shape": 8.0}, "Invalid `output_shape`", "output_shape=8.0"),
        ({"attention_axes": "x"}, "`attention_axes` must be", "axes=x"),
        ({"sliding_window": 0}, "sliding_window", "sliding_window=0"),
        (
            {"flash_attention": True, "dropout": 0.1},
            "Dropout is not supported when flash attention is enabled",
            "dropout=0.1",
        ),
    ],
)
def test_our_errors_carry_keras_phrase_and_the_value(kwargs, phrase, received):
    """Same type and phrase as Keras's layer raises, plus the value."""
    kwargs = {"num_heads": 2, "key_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=phrase):
        KerasMHA(**kwargs)
    with pytest.raises(ValueError, match=phrase) as error:
        MultiHeadAttention(**kwargs)
    assert received in str(error.value)


@pytest.mark.parametrize("cls", BOTH)
def test_initializer_gives_each_sublayer_its_own_values(cls):
    layer = cls(
        num_heads=12,
        key_dim=64,
        use_gate=True,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
    )
    layer.build((2, 4, 8), (2, 4, 8))
    query = ops.convert_to_numpy(layer.query_dense.kernel)
    for other in (
        layer.key_dense.kernel,
        layer.value_dense.kernel,
        layer.output_dense.kernel,
        weight(layer, "gate/kernel"),
    ):
        other = ops.convert_to_numpy(other)
        assert other.shape != query.shape or not np.allclose(other, query)


QUERY_TOKENS = np.array([[1, 2, 3, 0, 0], [3, 3, 1, 1, 2], [1, 0, 0, 0, 0]])
VALUE_TOKENS = np.array([[5, 4, 0], [3, 0, 0], [2, 1, 1]])


@pytest.mark.parametrize("cls", BOTH)
def test_query_mask_propagation(cls):
    layer = cls(num_heads=2, key_dim=2)
    assert layer.supports_masking
    masked_query = keras.layers.Embedding(4, 8, mask_zero=True)(QUERY_TOKENS)
    query_mask = keras_mask(masked_query)
    value = np.random.normal(size=(3, 3, 8)).astype("float32")
    output = layer(query=masked_query, value=value)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(keras_mask(output)),
        ops.convert_to_numpy(query_mask),
    )


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("use_causal_mask", [True, False])
def test_masking(cls, use_causal_mask):
    layer = cls(num_heads=2, key_dim=2)
    masked_query = keras.layers.Embedding(4, 8, mask_zero=True)(QUERY_TOKENS)
    masked_value = keras.layers.Embedding(6, 8, mask_zero=True)(VALUE_TOKENS)
    output = layer(
        query=masked_query,
        value=masked_value,
        use_causal_mask=use_causal_mask,
    )
    mask = np.array(
        [[[1, 1, 0]] * 3 + [[0, 0, 0]] * 2]
        + [[[1, 0, 0]] * 5]
        + [[[1, 1, 1]] + [[0, 0, 0]] * 4]
    )
    if use_causal_mask:
        mask = mask & np.array([[[1, 0, 0], [1, 1, 0]] + [[1, 1, 1]] * 3])
    bare_query = ops.convert_to_tensor(ops.convert_to_numpy(masked_query))
    bare_value = ops.convert_to_tensor(ops.convert_to_numpy(masked_value))
    manual = layer(query=bare_query, value=bare_value, attention_mask=mask)
    np.testing.assert_allclose(*as_numpy(output, manual), atol=1e-6)


@pytest.mark.parametrize("cls", BOTH)
def test_masking_with_different_shapes(cls):
    x = keras.random.uniform(shape=(2, 5, 8))
    mask = ops.tril(ops.ones((5, 5)))
    layer = cls(num_heads=2, key_dim=4)
    output_1 = layer(query=x, value=x, attention_mask=mask)
    mask = ops.tile(mask[None, ...], (2, 1, 1))
    output_2 = layer(query=x, value=x, attention_mask=mask)
    mask = ops.tile(mask[:, None, ...], (1, 2, 1, 1))
    output_3 = layer(query=x, value=x, attention_mask=mask)
    np.testing.assert_allclose(*as_numpy(output_1, output_2), atol=1e-6)
    np.testing.assert_allclose(*as_numpy(output_1, output_3), atol=1e-6)


@pytest.mark.parametrize("cls", BOTH)
def test_no_warning_with_keras_mask(cls):
    layer = cls(num_heads=2, key_dim=2)
    masked_query = keras.layers.Embedding(4, 8, mask_zero=True)(QUERY_TOKENS)
    masked_value = keras.layers.Embedding(6, 8, mask_zero=True)(VALUE_TOKENS)
    with warnings.catch_warnings(record=True) as logs:
        warnings.simplefilter("always")
        layer(query=masked_query, value=masked_value)
    assert [str(w.message) for w in logs] == []


@pytest.mark.parametrize("cls", BOTH)
def test_sliding_window(cls):
    x = np.random.RandomState(0).randn(1, 6, 8).astype("float32")
    i, j = np.indices((6, 6))
    for causal, allowed in (
        (True, (j <= i) & (i - j < 3)),
        (False, np.abs(i - j) < 3),
    ):
        layer = cls(num_heads=2, key_dim=4, sliding_window=3)
        _, scores = layer(
            x, x, use_causal_mask=causal, return_attention_scores=True
        )
        scores = ops.convert_to_numpy(scores)[0, 0]
        assert (scores[allowed] > 0).all()
        np.testing.assert_array_equal(scores[~allowed], 0.0)


@pytest.mark.parametrize("cls", BOTH)
def test_causal_only_fast_path(cls):
    layer = cls(num_heads=2, key_dim=4)
    x = np.random.RandomState(0).randn(2, 5, 8).astype("float32")
    layer(x, x, use_causal_mask=True)
    fast = layer(x, x, use_causal_mask=True)
    slow = layer(x, x, attention_mask=np.tril(np.ones((1, 5, 5), "bool")))
    np.testing.assert_allclose(*as_numpy(fast, slow), atol=1e-5)


@pytest.mark.parametrize("cls", BOTH)
def test_causal_only_skipped_for_subclass(cls):
    """A subclass overriding `_compute_attention` gets the causal mask."""
    seen = {}

    class Sub(cls):
        def _compute_attention(
            self,
            query,
            key,
            value,
            attention_mask=None,
            training=None,
            return_attention_scores=False,
        ):
            seen["mask"] = attention_mask
            return super()._compute_attention(
                query,
                key,
                value,
                attention_mask,
                training,
                return_attention_scores,
            )

    layer = Sub(num_heads=2, key_dim=4)
    x = np.random.RandomState(0).randn(2, 5, 8).astype("float32")
    output = layer(x, x, use_causal_mask=True)
    assert seen["mask"] is not None
    causal = np.tril(np.ones((5, 5), bool))
    mask = np.broadcast_to(ops.convert_to_numpy(seen["mask"]), (2, 2, 5, 5))
    np.testing.assert_array_equal(mask, np.broadcast_to(causal, mask.shape))
    plain = cls(num_heads=2, key_dim=4)
    plain(x, x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        *as_numpy(output, plain(x, x, use_causal_mask=True)), atol=1e-5
    )


@pytest.mark.parametrize("cls", BOTH)
def test_causal_only_with_other_mask_falls_back(cls):
    layer = cls(num_heads=2, key_dim=4)
    x = np.random.RandomState(0).randn(2, 5, 8).astype("float32")
    layer.build(query_shape=x.shape, value_shape=x.shape)
    extra = np.ones((2, 5, 5), dtype="bool")
    extra[:, 2, 3] = False
    merged = extra & np.tril(np.ones((5, 5), dtype="bool"))
    out1 = layer(x, x, attention_mask=extra, use_causal_mask=True)
    out2 = layer(x, x, attention_mask=merged, use_causal_mask=False)
    assert tuple(out1.shape) == (2, 5, 8)
    np.testing.assert_allclose(*as_numpy(out1, out2), atol=1e-5)


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    "dropout,scores",
    [
        pytest.param(0.0, True, id="scores_only"),
        pytest.param(0.1, False, id="dropout_only"),
        pytest.param(0.1, True, id="dropout_and_scores"),
    ],
)
def test_causal_only_masks_when_fused_path_disabled(cls, dropout, scores):
    future = np.triu(np.ones((6, 6)), k=1).astype(bool)
    x = np.random.RandomState(0).randn(1, 6, 8).astype("float32")
    layer = cls(num_heads=2, key_dim=4, dropout=dropout)
    if scores:
        _, weights = layer(
            x,
            x,
            use_causal_mask=True,
            return_attention_scores=True,
            training=False,
        )
        assert ops.convert_to_numpy(weights)[..., future].sum() < 1e-6
    else:
        causal = layer(x, x, use_causal_mask=True, training=False)
        explicit = layer(x, x, attention_mask=(~future)[None], training=False)
        np.testing.assert_allclose(*as_numpy(causal, explicit), atol=1e-5)


@pytest.mark.parametrize("cls", BOTH)
def test_causal_only_masks_non_4d_inputs(cls):
    future = np.triu(np.ones((5, 5)), k=1).astype(bool)
    x = np.random.RandomState(0).randn(1, 5, 3, 8).astype("float32")
    layer = cls(num_heads=2, key_dim=4, attention_axes=1)
    _, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    assert ops.convert_to_numpy(scores)[..., future].sum() < 1e-6


@pytest.mark.parametrize("cls", BOTH)
def test_sliding_window_validation_and_serialization(cls):
    for bad in (0, -3):
        with pytest.raises(ValueError, match="sliding_window"):
            cls(num_heads=2, key_dim=4, sliding_window=bad)
    config = cls(num_heads=2, key_dim=4, sliding_window=5).get_config()
    assert config["sliding_window"] == 5
    assert cls.from_config(config).get_config()["sliding_window"] == 5


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("flash", [False, True])
def test_correctness(cls, flash, request):
    if flash:
        request.getfixturevalue("flash_enabled")
    heads = key_dim = 8
    query = key = np.identity(key_dim)[None]
    value = np.arange(key_dim * key_dim).reshape(1, key_dim, key_dim) / 100.0
    layer = cls(num_heads=heads, key_dim=key_dim, dtype="float16")
    layer.build(query.shape, key.shape, value.shape)
    kernel = np.repeat(np.identity(key_dim)[:, None, :], heads, axis=1)
    bias = np.zeros((heads, key_dim))
    layer.set_weights([kernel, bias] * 3 + [kernel, np.zeros((key_dim,))])
    expected = np.array(
        [2.406, 2.440, 2.473, 2.504, 2.535, 2.568, 2.602, 2.633]
    )
    expected = np.tile(expected[None, :, None], (1, 1, key_dim))
    row = np.full((key_dim, key_dim), 0.1187) + np.eye(key_dim) * 0.0504
    try:
        if flash:
            output = layer(query=query, value=value, key=key)
        else:
            output, scores = layer(
                query=query, value=value, key=key, return_attention_scores=True
            )
            np.testing.assert_allclose(
                ops.convert_to_numpy(scores).astype("float32"),
                np.tile(row[None, None], (1, heads, 1, 1)),
                atol=1e-2,
            )
    except (ImportError, RuntimeError) as error:
        # Keras's case accepts a backend without a flash kernel.
        assert flash, error
        return
    np.testing.assert_allclose(
        ops.convert_to_numpy(output).astype("float32"), expected, atol=1e-2
    )


@pytest.mark.parametrize("cls", BOTH)
def test_constraints_reach_every_sublayer(cls):
    shape = (1, 2, 2)
    for argument, part in (
        ("kernel_constraint", "kernel"),
        ("bias_constraint", "bias"),
    ):
        layer = cls(
            num_heads=2, key_dim=2, use_gate=True, **{argument: "non_neg"}
        )
        layer.build(shape, shape, shape)
        for name in ("query", "key", "value", "gate"):
            constraint = weight(layer, f"{name}/{part}").constraint
            assert isinstance(constraint, keras.constraints.NonNeg)


@pytest.mark.parametrize("cls", BOTH)
def test_lora(cls, tmp_path):
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
    key = np.array([[[0.0, 1.0], [1.0, 0.0]]], "float32")
    value = np.array([[[1.0, 2.0], [3.0, 4.0]]], "float32")
    kwargs = dict(num_heads=3, key_dim=8, use_bias=False, use_gate=True)
    layer = cls(**kwargs)
    layer.build(query.shape, key.shape, value.shape)
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense):
        dense.enable_lora(2)
    assert len(layer.trainable_variables) == 8
    assert len(layer.non_trainable_variables) == 3
    x = {"query": query, "key": key, "value": value}
    layer(**x)

    def model_of(mha):
        inputs = {name: keras.Input((2, 2)) for name in x}
        outputs = mha(inputs["query"], inputs["key"], inputs["value"])
        return keras.Model(inputs, outputs)

    model = model_of(layer)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.random.random((1, 2, 2)), verbose=0)
    path = str(tmp_path / "lora.keras")
    model.save(path)
    predicted = model.predict(x, verbose=0)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), predicted)
    weights_path = str(tmp_path / "lora.weights.h5")
    model.save_weights(weights_path)
    plain = model_of(cls(**kwargs))
    plain.load_weights(weights_path)
    np.testing.assert_allclose(plain.predict(x, verbose=0), predicted, 1e-6)
    plain.save_weights(weights_path)
    model.load_weights(weights_path)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), plain.predict(x, verbose=0), 1e-6
    )


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("shape", [(1, 2, 3), (2, 3, 5)])
def test_symbolic_return_attention_scores(cls, shape):
    layer = cls(num_heads=4, key_dim=2)
    symbolic = layer(
        keras.Input(batch_shape=shape),
        keras.Input(batch_shape=shape),
        return_attention_scores=True,
    )
    assert len(symbolic) == 2
    x = np.random.random(shape).astype("float32")
    eager = layer(x, x, return_attention_scores=True)
    assert len(eager) == 2
    assert symbolic[0].shape == eager[0].shape
    assert symbolic[1].shape == eager[1].shape


@pytest.mark.parametrize("cls", BOTH)
def test_dtype_policy_map_quantizes_sublayers(cls):
    quantized = keras.dtype_policies.QuantizedDTypePolicy("int8", "float32")
    policy_map = keras.dtype_policies.DTypePolicyMap()
    for name in ("query", "key", "value"):
        policy_map[f"mha/{name}"] = quantized
    layer = cls(
        num_heads=3, key_dim=8, use_bias=False, dtype=policy_map, name="mha"
    )
    layer.build((1, 2, 2), (1, 2, 2), (1, 2, 2))
    for name in ("query", "key", "value"):
        dtype = weight(layer, f"{name}/kernel").dtype
        assert keras.backend.standardize_dtype(dtype) == "int8"


@pytest.mark.skipif(
    BACKEND in ("numpy", "tensorflow"),
    reason="Keras's case runs where flash attention exists",
)
@pytest.mark.parametrize("cls", BOTH)
def test_flash_attention_with_errors(cls):
    with pytest.raises(
        ValueError,
        match="Dropout is not supported when flash attention is enabled.",
    ):
        cls(num_heads=2, key_dim=2, flash_attention=True, dropout=0.1)
    layer = cls(num_heads=2, key_dim=2, flash_attention=True)
    query = np.random.random((2, 4, 8)).astype("float32")
    with pytest.raises(
        ValueError,
        match="Returning attention scores is not supported when flash "
        "attention is enabled. Please disable flash attention to access"
        " attention scores.",
    ):
        layer(query=query, value=query, return_attention_scores=True)


@pytest.mark.parametrize("cls", BOTH)
def test_output_shape_as_int_tuple_and_error(cls):
    query = keras.random.uniform((2, 4, 16))
    layer = cls(num_heads=2, key_dim=16, output_shape=8)
    assert tuple(layer(query=query, value=query).shape) == (2, 4, 8)
    layer = cls(num_heads=2, key_dim=16, output_shape=(8, 8))
    assert tuple(layer(query=query, value=query).shape) == (2, 4, 8, 8)
    with pytest.raises(ValueError, match=r"Invalid `output_shape`"):
        cls(num_heads=2, key_dim=16, output_shape=8.0)


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("use_gate", [False, True])
def test_quantize_int8(cls, use_gate):
    keras.utils.set_random_seed(1347)
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
    key = np.array([[[0.0, 1.0], [1.0, 0.0]]], "float32")
    value = np.array([[[1.0, 2.0], [3.0, 4.0]]], "float32")
    layer = cls(num_heads=3, key_dim=8, use_bias=False, use_gate=use_gate)
    layer.build(query.shape, value.shape, key.shape)
    float_output = ops.convert_to_numpy(layer(query, key, value))
    names = ["query", "key", "value", "attention_output"]
    names += ["gate"] if use_gate else []
    if use_gate:
        # No public handle on the gate: quantize through a model.
        inputs = [keras.Input((2, 2)) for _ in range(3)]
        keras.Model(inputs, layer(*inputs)).quantize("int8")
    else:
        for sublayer in (
            layer.query_dense,
            layer.key_dense,
            layer.value_dense,
            layer.output_dense,
        ):
            sublayer.quantize("int8")
    for name in names:
        dtype = weight(layer, f"{name}/kernel").dtype
        assert keras.backend.standardize_dtype(dtype) == "int8"
    quantized = ops.convert_to_numpy(layer(query, key, value))
    assert np.mean((float_output - quantized) ** 2) < 1e-2
