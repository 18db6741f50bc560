"""mlkeras: a Keras 3 add-on, a deep-learning course and a sandboxed grader.

The sub-packages are imported on first use, so ``import mlkeras`` stays cheap
(the command line lists labs without loading a Keras backend). mlkeras never
chooses the Keras backend: set ``KERAS_BACKEND`` before importing Keras.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = (
    "callbacks",
    "datasets",
    "grading",
    "labs",
    "layers",
    "plotting",
    "transfer",
)

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'mlkeras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
