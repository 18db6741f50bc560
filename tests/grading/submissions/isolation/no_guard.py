"""Attack: remove every import hook and search the machine for Keras, then
use it in a NumPy-only exercise."""

import os
import sys

sys.meta_path[:] = [
    finder for finder in sys.meta_path
    if type(finder).__module__.startswith(("importlib", "_frozen"))
]
for root in (sys.prefix, sys.base_prefix, "/usr", "/opt", "/root", "/home"):
    for folder, subfolders, files in os.walk(root):
        if folder.count(os.sep) > 8:
            subfolders[:] = []
        if "keras" in subfolders or "tensorflow" in subfolders:
            sys.path.append(folder)
            subfolders[:] = []


def relu(x):
    import keras

    return keras.ops.convert_to_numpy(keras.ops.relu(x))
