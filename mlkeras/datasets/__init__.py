"""Offline data sets for the labs, and a TFDS loader with a local cache.

Every generator takes a `seed` and returns NumPy arrays, so a lab or test
gives the same numbers on every run and needs no network.
"""

from mlkeras.datasets.dates import (
    CharVocabulary,
    DateTranslation,
    load_date_translation,
    make_date_pairs,
)
from mlkeras.datasets.images import SHAPE_NAMES, load_digits, make_shapes
from mlkeras.datasets.sequences import (
    make_adding_problem,
    make_copy_task,
    make_reverse_task,
)
from mlkeras.datasets.tfds_loader import (
    DatasetUnavailableError,
    default_data_dir,
    load_tfds,
)
from mlkeras.datasets.toy import (
    make_circles,
    make_function_regression,
    make_moons,
    make_separable,
    make_spirals,
    make_xor,
)

__all__ = [
    "CharVocabulary",
    "DateTranslation",
    "load_date_translation",
    "make_date_pairs",
    "SHAPE_NAMES",
    "load_digits",
    "make_shapes",
    "make_adding_problem",
    "make_copy_task",
    "make_reverse_task",
    "DatasetUnavailableError",
    "default_data_dir",
    "load_tfds",
    "make_circles",
    "make_function_regression",
    "make_moons",
    "make_separable",
    "make_spirals",
    "make_xor",
]
