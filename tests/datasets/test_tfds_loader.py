import socket
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mlkeras import datasets
from mlkeras.datasets import tfds_loader


class MlkerasTinyNumbers(tfds.core.GeneratorBasedBuilder):
    """A data set prepared locally: the cache path, tested without network."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Scalar(dtype=np.int64),
                    "label": tfds.features.ClassLabel(num_classes=2),
                }
            ),
            supervised_keys=("x", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(12)}

    def _generate_examples(self, n):
        for i in range(n):
            yield i, {"x": i, "label": i % 2}


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch):
    """No test reaches the network: a connection attempt fails the test.

    Tests that need the storage host to answer, or to be unreachable, say so
    with `host_reachable` or `host_unreachable`. The cached answer of the
    reachability check is cleared around every test.
    """

    def refuse(*args, **kwargs):
        pytest.fail(f"a test tried to open a connection: {args}")

    monkeypatch.setattr(tfds_loader, "_reachability", {})
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


# A stand-in for `download_and_prepare` claims TFDS's module, so that the
# loader treats it as TFDS's own download (which checks the network first).
_TFDS_OWN = "tensorflow_datasets.core.dataset_builder"


class _FakeConnection:
    def close(self):
        pass


@pytest.fixture
def host_reachable(monkeypatch):
    attempts = []

    def connect(address, timeout=None):
        attempts.append(address)
        return _FakeConnection()

    monkeypatch.setattr(socket, "create_connection", connect)
    return attempts


@pytest.fixture
def host_unreachable(monkeypatch):
    """Every connection attempt fails as on a machine without a route out."""
    attempts = []

    def connect(address, timeout=None):
        attempts.append(address)
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", connect)
    return attempts


def test_mock_data_flows_through_load_tfds(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        ds = datasets.load_tfds("mnist", split="train", data_dir=tmp_path)
        examples = list(ds.as_numpy_iterator())
    assert len(examples) == 6
    image, label = examples[0]
    assert image.shape == (28, 28, 1) and 0 <= label < 10


def test_mock_data_as_numpy_with_batches(tmp_path):
    with tfds.testing.mock_data(num_examples=8):
        batches = list(
            datasets.load_tfds(
                "mnist",
                split="test",
                data_dir=tmp_path,
                as_numpy=True,
                batch_size=4,
            )
        )
    assert [b[0].shape for b in batches] == [(4, 28, 28, 1)] * 2


def test_a_cached_data_set_is_read_without_downloading(tmp_path, monkeypatch):
    MlkerasTinyNumbers(data_dir=str(tmp_path)).download_and_prepare()
    monkeypatch.setenv(tfds_loader.OFFLINE_ENV, "1")
    ds = datasets.load_tfds(
        "mlkeras_tiny_numbers", data_dir=tmp_path, download=False, as_numpy=True
    )
    pairs = sorted((int(x), int(y)) for x, y in ds)
    assert pairs == [(i, i % 2) for i in range(12)]


def test_a_missing_data_set_is_prepared_when_downloads_are_allowed(tmp_path):
    ds = datasets.load_tfds(
        "mlkeras_tiny_numbers", data_dir=tmp_path, as_numpy=True
    )
    assert len(list(ds)) == 12
    assert (tmp_path / "mlkeras_tiny_numbers" / "1.0.0").is_dir()


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(tfds_loader.DATA_DIR_ENV, str(tmp_path))
    assert datasets.default_data_dir() == tmp_path
    datasets.load_tfds("mlkeras_tiny_numbers")
    assert (tmp_path / "mlkeras_tiny_numbers").is_dir()


def test_offline_and_not_cached_names_the_offline_alternative(tmp_path):
    with pytest.raises(
        datasets.DatasetUnavailableError, match="load_digits"
    ) as info:
        datasets.load_tfds("mnist", data_dir=tmp_path, download=False)
    assert str(tmp_path) in str(info.value)


def test_offline_environment_forbids_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv(tfds_loader.OFFLINE_ENV, "1")
    with pytest.raises(
        datasets.DatasetUnavailableError, match="MLKERAS_OFFLINE"
    ):
        datasets.load_tfds("cifar10", data_dir=tmp_path)


def test_a_failed_download_becomes_a_clear_error(
    tmp_path, monkeypatch, host_reachable
):
    def no_network(self, *args, **kwargs):
        raise ConnectionError("Temporary failure in name resolution")

    no_network.__module__ = _TFDS_OWN

    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", no_network
    )
    with pytest.raises(
        datasets.DatasetUnavailableError, match="make_shapes.*|offline"
    ) as info:
        datasets.load_tfds("cifar10", data_dir=tmp_path)
    assert "ConnectionError" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionError)


def test_an_unknown_name_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="name='no_such_dataset_xyz'"):
        datasets.load_tfds("no_such_dataset_xyz", data_dir=tmp_path)


def _forbid_downloads(monkeypatch):
    def download(self, *args, **kwargs):
        pytest.fail("download_and_prepare ran although the host is unreachable")

    download.__module__ = _TFDS_OWN

    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", download
    )


def test_an_unreachable_network_fails_fast_with_the_clear_error(
    tmp_path, monkeypatch, host_unreachable
):
    _forbid_downloads(monkeypatch)
    start = time.monotonic()
    with pytest.raises(
        datasets.DatasetUnavailableError, match="make_shapes"
    ) as info:
        datasets.load_tfds("cifar10", data_dir=tmp_path)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "storage.googleapis.com:443" in message and "offline" in message
    assert str(tmp_path) in message
    assert host_unreachable == [tfds_loader.REACHABILITY_ADDRESS]


def test_reachability_is_checked_once_per_process(
    tmp_path, monkeypatch, host_unreachable
):
    _forbid_downloads(monkeypatch)
    for name in ("cifar10", "mnist"):
        with pytest.raises(datasets.DatasetUnavailableError):
            datasets.load_tfds(name, data_dir=tmp_path)
    assert len(host_unreachable) == 1


def test_a_hanging_connection_counts_as_unreachable(monkeypatch):
    # A name lookup that never answers ignores the socket timeout; the
    # check still gives up after REACHABILITY_TIMEOUT seconds.
    def hang(address, timeout=None):
        time.sleep(5)
        return _FakeConnection()

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(tfds_loader, "REACHABILITY_TIMEOUT", 0.2)
    start = time.monotonic()
    assert tfds_loader.network_reachable() is False
    assert time.monotonic() - start < 2


def test_a_reachable_host_lets_the_download_run(host_reachable):
    assert tfds_loader.network_reachable() is True
    assert host_reachable == [tfds_loader.REACHABILITY_ADDRESS]


def test_a_configured_https_proxy_is_probed_instead(
    monkeypatch, host_reachable
):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert tfds_loader.network_reachable() is True
    assert host_reachable == [("proxy.example", 3128)]


def test_a_locally_built_data_set_needs_no_network(tmp_path, host_unreachable):
    ds = datasets.load_tfds(
        "mlkeras_tiny_numbers", data_dir=tmp_path, as_numpy=True
    )
    assert len(list(ds)) == 12
    assert host_unreachable == []
