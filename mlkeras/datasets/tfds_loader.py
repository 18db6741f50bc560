"""Loads TensorFlow Datasets through a local cache; fails clearly offline."""

import os
import pathlib
import socket
import threading
import urllib.parse
import urllib.request

DATA_DIR_ENV = "MLKERAS_DATA_DIR"
OFFLINE_ENV = "MLKERAS_OFFLINE"

_OFFLINE_ALTERNATIVES = {
    "mnist": "mlkeras.datasets.load_digits()",
    "fashion_mnist": "mlkeras.datasets.load_digits() or make_shapes()",
    "emnist": "mlkeras.datasets.load_digits()",
    "kmnist": "mlkeras.datasets.load_digits()",
    "cifar10": "mlkeras.datasets.make_shapes(image_size=32)",
    "cifar100": "mlkeras.datasets.make_shapes(image_size=32)",
    "tf_flowers": "mlkeras.datasets.make_shapes(image_size=64)",
    "cats_vs_dogs": "mlkeras.datasets.make_shapes(image_size=64)",
    "imagenette": "mlkeras.datasets.make_shapes(image_size=64)",
}
# TFDS fetches data set metadata and many data sets from Google Cloud
# Storage. Where that host cannot be reached, TFDS retries for minutes
# before it gives up, so `load_tfds` asks once, briefly, first.
REACHABILITY_ADDRESS = ("storage.googleapis.com", 443)
REACHABILITY_TIMEOUT = 2.0
_reachability = {}

_DEFAULT_ALTERNATIVE = (
    "mlkeras.datasets.load_digits() or make_shapes() for images, "
    "make_adding_problem() or load_date_translation() for sequences"
)


class DatasetUnavailableError(RuntimeError):
    """Raised when a TFDS data set is neither cached nor downloadable."""


def default_data_dir():
    """The TFDS cache: `$MLKERAS_DATA_DIR`, else the checkout's `data/`."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return pathlib.Path(override)
    return pathlib.Path(__file__).resolve().parents[2] / "data"


def offline_alternative(name):
    """Names the offline mlkeras data set that can stand in for `name`."""
    return _OFFLINE_ALTERNATIVES.get(
        name.split("/")[0].split(":")[0], _DEFAULT_ALTERNATIVE
    )


def _is_offline():
    return os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes")


def _probe_address():
    """The HTTPS proxy when one is configured, else the TFDS storage host."""
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"//{proxy}")
        if parts.hostname:
            default_port = 443 if parts.scheme == "https" else 80
            return parts.hostname, parts.port or default_port
    return REACHABILITY_ADDRESS


def network_reachable():
    """Whether a TCP connection to the TFDS storage host opens in seconds.

    Asked once per process and address (the answer is cached), with a
    deadline of `REACHABILITY_TIMEOUT` seconds that covers the name lookup
    too. Where an HTTPS proxy is configured, the proxy is asked instead.

    Returns:
        `True` when the connection opened in time, `False` otherwise.
    """
    address = _probe_address()
    if address not in _reachability:
        answer = []

        def probe():
            try:
                socket.create_connection(
                    address, timeout=REACHABILITY_TIMEOUT
                ).close()
                answer.append(True)
            except OSError:
                answer.append(False)

        # A thread, because a stuck name lookup ignores the socket timeout.
        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(REACHABILITY_TIMEOUT)
        _reachability[address] = bool(answer and answer[0])
    return _reachability[address]


def _downloads_from_network(builder):
    """Whether preparing `builder` fetches data from the network.

    True for the data sets of the TFDS catalog prepared by TFDS's own
    `download_and_prepare`; false for builders defined elsewhere (they may
    generate their data locally) and under `tfds.testing.mock_data`, whose
    stand-in downloads nothing.
    """
    prepare = type(builder).download_and_prepare
    return type(builder).__module__.startswith(
        "tensorflow_datasets."
    ) and getattr(prepare, "__module__", "").startswith(
        "tensorflow_datasets.core."
    )


def _download_failed(name, data_dir, builder, reason):
    return DatasetUnavailableError(
        f"Could not download the TFDS data set {name!r} into "
        f"{data_dir} ({reason}). This machine may be offline. Use the "
        f"offline alternative {offline_alternative(name)}, or prepare the "
        f"data set on a connected machine and copy "
        f"{data_dir / builder.name} here."
    )


def load_tfds(
    name,
    split="train",
    data_dir=None,
    download=True,
    as_supervised=True,
    as_numpy=False,
    **as_dataset_kwargs,
):
    """Loads a TFDS data set, using the local cache first.

    Order of attempts: a copy prepared in `data_dir` is used as is; otherwise,
    when `download` is True and `MLKERAS_OFFLINE` is not set, TFDS downloads
    and prepares it there; otherwise, or when the download fails, a
    `DatasetUnavailableError` says what was tried and names an offline
    alternative from `mlkeras.datasets`. Before a download, one short
    connection attempt (`network_reachable`) checks that the storage host
    answers, so an offline machine fails within seconds instead of after
    minutes of retries.

    Args:
        name: the TFDS name, e.g. `"mnist"` or `"mnist:3.0.1"`.
        split: the split, e.g. `"train"` or `"test[:10%]"`.
        data_dir: the cache folder. Defaults to `default_data_dir()`.
        download: allow a download when the cache misses. Defaults to `True`.
        as_supervised: yield `(input, label)` pairs. Defaults to `True`.
        as_numpy: return an iterable of NumPy values instead of a
            `tf.data.Dataset`. Defaults to `False`.
        **as_dataset_kwargs: passed to `DatasetBuilder.as_dataset`
            (`batch_size`, `shuffle_files`, ...).

    Returns:
        A `tf.data.Dataset`, or NumPy values with `as_numpy=True`.

    Example:
    >>> ds = load_tfds("mnist", split="train[:1%]")  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    data_dir = pathlib.Path(data_dir) if data_dir else default_data_dir()
    try:
        builder = tfds.builder(name, data_dir=str(data_dir))
    except Exception as err:  # TFDS raises several types for unknown names.
        raise ValueError(
            f"TFDS does not know the data set {name!r}: {err}. "
            f"Received: name={name!r}"
        ) from err
    if not builder.is_prepared():
        alternative = offline_alternative(name)
        if not download or _is_offline():
            reason = (
                "download=False" if not download else f"{OFFLINE_ENV} is set"
            )
            raise DatasetUnavailableError(
                f"The TFDS data set {name!r} is not in the local cache "
                f"{data_dir} and {reason}, so it cannot be fetched. Copy a "
                f"prepared copy there, or use the offline alternative "
                f"{alternative}."
            )
        if _downloads_from_network(builder) and not network_reachable():
            host, port = _probe_address()
            raise _download_failed(
                name,
                data_dir,
                builder,
                f"no connection to {host}:{port} within "
                f"{REACHABILITY_TIMEOUT:g} s",
            )
        try:
            builder.download_and_prepare()
        except ImportError:
            raise  # A missing package is no network problem: show it as is.
        except Exception as err:  # network, DNS and HTTP failures vary by host.
            raise _download_failed(
                name, data_dir, builder, f"{type(err).__name__}: {err}"
            ) from err
    dataset = builder.as_dataset(
        split=split, as_supervised=as_supervised, **as_dataset_kwargs
    )
    return tfds.as_numpy(dataset) if as_numpy else dataset
