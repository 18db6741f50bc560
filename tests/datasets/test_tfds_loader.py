import numpy as np
import pytest
import tensorflow_datasets as tfds

from mlkeras import datasets
from mlkeras.datasets import tfds_loader


class MlkerasTinyNumbers(tfds.core.GeneratorBasedBuilder):
    """A data set prepared locally, so the cache path is tested without network."""

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


def test_a_failed_download_becomes_a_clear_error(tmp_path, monkeypatch):
    def no_network(self, *args, **kwargs):
        raise ConnectionError("Temporary failure in name resolution")

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
