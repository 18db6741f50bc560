"""Offline data sets for the labs, and a TFDS loader with a local cache.

Every generator takes a `seed` and returns NumPy arrays, so a lab or test
gives the same numbers on every run and needs no network.
"""

from mlkeras.datasets.dates import CharVocabulary
from mlkeras.datasets.dates import DateTranslation
from mlkeras.datasets.dates import load_date_translation
from mlkeras.datasets.dates import make_date_pairs
from mlkeras.datasets.images import SHAPE_NAMES
from mlkeras.datasets.images import load_digits
from mlkeras.datasets.images import make_shapes
from mlkeras.datasets.sequences import make_adding_problem
from mlkeras.datasets.sequences import make_copy_task
from mlkeras.datasets.sequences import make_reverse_task
from mlkeras.datasets.tfds_loader import DatasetUnavailableError
from mlkeras.datasets.tfds_loader import default_data_dir
from mlkeras.datasets.tfds_loader import load_tfds
from mlkeras.datasets.toy import make_circles
from mlkeras.datasets.toy import make_function_regression
from mlkeras.datasets.toy import make_moons
from mlkeras.datasets.toy import make_separable
from mlkeras.datasets.toy import make_spirals
from mlkeras.datasets.toy import make_xor
