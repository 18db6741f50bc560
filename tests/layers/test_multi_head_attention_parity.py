"""Our MultiHeadAttention against Keras's: same weights, config, results.

Each test builds `keras.layers.MultiHeadAttention` and ours with the same
arguments, copies the weights across with `set_weights`, and compares what
a Keras user would look at: weight names and shapes, `get_config`, outputs
and scores, dropout in training, and quantized models. The JAX run of this
module is started from `test_multi_head_attention.py`.
"""

import keras
import numpy as np
import pytest
from keras import ops

from mlkeras.layers import MultiHeadAttention

CONFIGS = {
    "default": {},
    "gate": {"use_gate": True},
    "value_dim_output_shape": {"value_dim": 3, "output_shape": (2, 3)},
    "no_bias_gate": {"use_bias": False, "use_gate": True},
    "sliding_window": {"sliding_window": 2},
    "regularized_constrained": {
        "kernel_regularizer": "l2",
        "bias_regularizer": "l1",
        "activity_regularizer": "l2",
        "kernel_constraint": "non_neg",
        "bias_constraint": "unit_norm",
    },
}


def data(batch=2, length=4, source=5, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(batch, length, dim)).astype("float32")
    value = rng.normal(size=(batch, source, dim)).astype("float32")
    return query, value


def twins(query, value, **kwargs):
    kwargs = {"num_heads": 2, "key_dim": 3, **kwargs}
    peer = keras.layers.MultiHeadAttention(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    peer(query, value, return_attention_scores=True)
    ours(query, value)
    ours.set_weights(peer.get_weights())
    return peer, ours


def as_numpy(*tensors):
    return [ops.convert_to_numpy(t) for t in tensors]


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_weights_sublayers_losses_and_config_match_keras(config):
    query, value = data()
    peer, ours = twins(query, value, **config)
    assert isinstance(ours, keras.layers.MultiHeadAttention)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [
        w.path.split("/", 1)[1] for w in peer.weights
    ]
    assert [tuple(w.shape) for w in ours.weights] == [
        tuple(w.shape) for w in peer.weights
    ]
    for name in ("query_dense", "key_dense", "value_dense", "output_dense"):
        assert isinstance(getattr(ours, name), keras.layers.EinsumDense)
        assert getattr(ours, name).name == getattr(peer, name).name
    ours_config, peer_config = ours.get_config(), peer.get_config()
    assert ours_config.pop("flash_attention") is None
    ours_config.pop("name"), peer_config.pop("name")
    assert ours_config == peer_config
    peer(query, value)
    ours(query, value)
    ours_losses = as_numpy(*ours.losses)
    peer_losses = as_numpy(*peer.losses)
    assert len(ours_losses) == len(peer_losses)
    np.testing.assert_allclose(
        sorted(float(x) for x in ours_losses),
        sorted(float(x) for x in peer_losses),
        rtol=1e-5,
    )


def per_head_mask(seed=1):
    mask = np.random.default_rng(seed).random((2, 2, 4, 5)) > 0.4
    mask[..., 0] = True
    return mask


CALLS = {
    "plain": {},
    "causal": {"use_causal_mask": True},
    "per_head_mask": {"attention_mask": per_head_mask()},
    "mask_2d": {"attention_mask": np.tri(4, 5, dtype=bool)},
    "value_mask": {"value_mask": np.array([[1, 1, 1, 0, 0], [1] * 5], bool)},
    "key_and_causal": {
        "key_mask": np.array([[1, 0, 1, 1, 1], [1] * 5], bool),
        "use_causal_mask": True,
    },
}


@pytest.mark.parametrize(
    "config",
    [CONFIGS["default"], CONFIGS["gate"], CONFIGS["sliding_window"]],
    ids=["default", "gate", "sliding_window"],
)
def test_outputs_and_scores_match_keras(config):
    query, value = data()
    peer, ours = twins(query, value, **config)
    for name, call in CALLS.items():
        expected = as_numpy(
            *peer(query, value, return_attention_scores=True, **call)
        )
        got = as_numpy(
            *ours(query, value, return_attention_scores=True, **call)
        )
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)
        # Without scores either layer may take a fused kernel.
        np.testing.assert_allclose(
            *as_numpy(ours(query, value, **call), peer(query, value, **call)),
            atol=1e-5,
            err_msg=name,
        )


def test_dropout_in_training_matches_keras_with_the_same_seed():
    query, value = data()
    peer, ours = twins(query, value, dropout=0.5, seed=7)
    for _ in range(2):  # the seed generators advance alike
        expected, got = as_numpy(
            peer(query, value, training=True), ours(query, value, training=True)
        )
        np.testing.assert_allclose(got, expected, atol=1e-5)
    inference = ops.convert_to_numpy(ours(query, value, training=False))
    assert not np.allclose(inference, got, atol=1e-3)


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
def test_quantized_models_stay_within_keras_tolerance(mode):
    """`model.quantize(mode)` reaches our projections as it reaches Keras's.

    Keras's own test of its layer accepts a mean squared error below 1e-2
    between the float and the int8-quantized outputs; both layers, side by
    side in one model, must meet it, and agree with each other.
    """
    query, value = data(dim=8)
    peer, ours = twins(query, value, key_dim=8, use_gate=mode == "int8")
    q_in, v_in = keras.Input((4, 8)), keras.Input((5, 8))
    model = keras.Model([q_in, v_in], [peer(q_in, v_in), ours(q_in, v_in)])
    float_peer, float_ours = as_numpy(*model([query, value]))
    np.testing.assert_allclose(float_ours, float_peer, atol=1e-5)
    model.quantize(mode)
    for layer in (peer, ours):
        assert layer.query_dense.quantization_mode == mode
        assert layer.output_dense.quantization_mode == mode
    quant_peer, quant_ours = as_numpy(*model([query, value]))
    assert np.mean((quant_peer - float_peer) ** 2) < 1e-2
    assert np.mean((quant_ours - float_ours) ** 2) < 1e-2
    assert not np.allclose(quant_ours, float_ours, atol=1e-7)
    np.testing.assert_allclose(quant_ours, quant_peer, atol=1e-4)


def test_enable_lora_matches_keras():
    query, value = data()
    peer, ours = twins(query, value)
    for layer in (peer, ours):
        for dense in (layer.query_dense, layer.value_dense, layer.output_dense):
            dense.enable_lora(2)
    ours.set_weights(peer.get_weights())
    # LoRA's B factors start at zero: move them so that they count.
    rng = np.random.default_rng(2)
    for a, b in zip(peer.weights, ours.weights):
        if "lora_kernel_b" in a.path:
            values = rng.normal(size=a.shape).astype("float32")
            a.assign(values)
            b.assign(values)
    np.testing.assert_allclose(
        *as_numpy(ours(query, value), peer(query, value)), atol=1e-5
    )
    assert len(ours.trainable_weights) == len(peer.trainable_weights)


def test_weight_files_load_across_the_two_classes(tmp_path):
    query, value = data()

    def model_of(cls):
        q_in, v_in = keras.Input((4, 6)), keras.Input((5, 6))
        layer = cls(num_heads=2, key_dim=3, use_gate=True, name="mha")
        return keras.Model([q_in, v_in], layer(q_in, v_in))

    path = str(tmp_path / "mha.weights.h5")
    for source, target in (
        (keras.layers.MultiHeadAttention, MultiHeadAttention),
        (MultiHeadAttention, keras.layers.MultiHeadAttention),
    ):
        saved, loaded = model_of(source), model_of(target)
        saved.save_weights(path)
        loaded.load_weights(path)
        np.testing.assert_allclose(
            *as_numpy(loaded([query, value]), saved([query, value])),
            atol=1e-5,
        )
