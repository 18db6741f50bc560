"""Keeps TensorFlow's C++ start-up log off a student's screen.

Importing TensorFlow prints several lines from its C++ core (oneDNN notes,
"Could not find cuda drivers", "failed call to cuInit: ... CUDA error" on a
machine without a GPU). None of them is an error for a lab on a CPU, but
they read like one. Import this module before Keras: when the user has not
set `TF_CPP_MIN_LOG_LEVEL`, it sets it (hiding TensorFlow's later C++
messages) and imports TensorFlow with the process's standard error pointed
at the null device, which hides the lines printed before TensorFlow's
logging reads that setting. A user who sets `TF_CPP_MIN_LOG_LEVEL` sees
everything TensorFlow prints at that level; other Keras backends are left
alone.

Example:

```python
from mlkeras.labs import quiet_tensorflow  # noqa: F401

import keras
```
"""

import os
import sys

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


def _backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def import_tensorflow_quietly():
    """Imports TensorFlow with standard error muted; returns the module."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return tensorflow


if LOG_LEVEL_ENV not in os.environ:
    os.environ[LOG_LEVEL_ENV] = "3"
    if _backend() == "tensorflow" and "tensorflow" not in sys.modules:
        try:
            import_tensorflow_quietly()
        except ImportError:
            pass
