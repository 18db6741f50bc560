"""The public layers train the same on two devices as on one.

Each layer is trained for a few steps on one device and again, from the same
initial weights on the same batches, with its batches split over two
devices: under `tf.distribute.MirroredStrategy` over two logical CPUs, and
under `keras.distribution.DataParallel` over two JAX CPU devices. The two
runs must end with the same weights.

The device set-up has to happen before TensorFlow or JAX starts, so each
strategy runs in a child process (one for all layers) that prints its
results as JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.backends import REPO_ROOT

LAYERS = ["multi_head_attention", "sinusoidal_positional_encoding", "peephole"]

# Shared by both children: tiny models, data, and a training run.
_COMMON = textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    from mlkeras.layers import (
        MultiHeadAttention,
        PeepholeLSTM,
        SinusoidalPositionalEncoding,
    )

    def build(name):
        if name == "multi_head_attention":
            inputs = keras.Input((6, 8))
            attention = MultiHeadAttention(num_heads=2, key_dim=4)
            hidden = attention(inputs, inputs)
            hidden = keras.layers.GlobalAveragePooling1D()(hidden)
        elif name == "sinusoidal_positional_encoding":
            inputs = keras.Input((6,), dtype="int32")
            hidden = keras.layers.Embedding(20, 8)(inputs)
            hidden = SinusoidalPositionalEncoding()(hidden)
            hidden = keras.layers.Dense(4, activation="tanh")(hidden)
            hidden = keras.layers.GlobalAveragePooling1D()(hidden)
        else:
            inputs = keras.Input((5, 3))
            hidden = PeepholeLSTM(4)(inputs)
        outputs = keras.layers.Dense(1)(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss="mse"
        )
        return model

    def data(name):
        rng = np.random.default_rng(0)
        if name == "multi_head_attention":
            x = rng.normal(size=(32, 6, 8)).astype("float32")
        elif name == "sinusoidal_positional_encoding":
            x = rng.integers(0, 20, size=(32, 6)).astype("int32")
        else:
            x = rng.normal(size=(32, 5, 3)).astype("float32")
        y = rng.normal(size=(32, 1)).astype("float32")
        return x, y

    def train(model, name):
        x, y = data(name)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return [w.tolist() for w in model.get_weights()]

    def compare(name, in_scope, copies):
        keras.utils.set_random_seed(0)
        single = build(name)
        initial = [w.tolist() for w in single.get_weights()]
        alone = train(single, name)
        with in_scope():
            model = build(name)
            model.set_weights([np.array(w, "float32") for w in initial])
            split = train(model, name)
        return {
            "initial": initial,
            "single": alone,
            "split": split,
            "copies": copies(model.trainable_weights[0]),
        }
    """
)

_MIRRORED = (
    textwrap.dedent(
        """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu,
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
    """
    )
    + _COMMON
    + textwrap.dedent(
        """
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    results = {}
    for name in NAMES:
        try:
            results[name] = compare(
                name,
                strategy.scope,
                lambda v: len(strategy.experimental_local_results(v.value)),
            )
        except Exception as error:
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    print("RESULTS " + json.dumps(results))
    """
    )
)

_DATA_PARALLEL = _COMMON + textwrap.dedent(
    """
    import contextlib

    devices = keras.distribution.list_devices("cpu")
    assert len(devices) == 2, devices
    distribution = keras.distribution.DataParallel(devices=devices)

    @contextlib.contextmanager
    def data_parallel():
        keras.distribution.set_distribution(distribution)
        try:
            yield
        finally:
            keras.distribution.set_distribution(None)

    results = {}
    for name in NAMES:
        try:
            results[name] = compare(
                name,
                data_parallel,
                lambda v: len(v.value.sharding.device_set),
            )
        except Exception as error:
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    print("RESULTS " + json.dumps(results))
    """
)


def _start_child(script, backend, extra_env):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="2",
        **extra_env,
    )
    return subprocess.Popen(
        [sys.executable, "-c", f"NAMES = {LAYERS!r}\n" + script],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(child, backend):
    try:
        stdout, stderr = child.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    for line in stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS ") :])
    pytest.fail(
        f"The {backend} child failed (exit {child.returncode}):\n"
        f"{stdout[-3000:]}\n{stderr[-5000:]}"
    )


@pytest.fixture(scope="module")
def children():
    """Both children, started together so that they overlap."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("jax")
    flags = os.environ.get("XLA_FLAGS", "")
    started = {
        "tensorflow": _start_child(_MIRRORED, "tensorflow", {}),
        "jax": _start_child(
            _DATA_PARALLEL,
            "jax",
            {
                "JAX_PLATFORMS": "cpu",
                "XLA_FLAGS": (
                    f"{flags} --xla_force_host_platform_device_count=2"
                ),
            },
        ),
    }
    yield started
    for child in started.values():
        if child.poll() is None:
            child.kill()
            child.communicate()


@pytest.fixture(scope="module")
def mirrored_results(children):
    return _results(children["tensorflow"], "tensorflow")


@pytest.fixture(scope="module")
def data_parallel_results(children):
    return _results(children["jax"], "jax")


def _assert_same_training(result):
    assert "error" not in result, result.get("error")
    assert result["copies"] == 2  # the weights live on both devices
    initial, single, split = (
        [np.array(w) for w in result[key]]
        for key in ("initial", "single", "split")
    )
    assert len(single) == len(split) == len(initial)
    # Training moved every run away from the start, so equality means
    # something.
    moved = max(np.abs(s - i).max() for s, i in zip(single, initial))
    assert moved > 1e-3
    for s, d in zip(single, split):
        np.testing.assert_allclose(d, s, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("layer", LAYERS)
def test_trains_the_same_under_mirrored_strategy_on_two_cpus(
    layer, mirrored_results
):
    _assert_same_training(mirrored_results[layer])


@pytest.mark.parametrize("layer", LAYERS)
def test_trains_the_same_under_data_parallel_on_two_jax_devices(
    layer, data_parallel_results
):
    _assert_same_training(data_parallel_results[layer])
