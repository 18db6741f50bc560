"""`WeightsUnavailableError`: pretrained weights that cannot be had offline."""


class WeightsUnavailableError(RuntimeError):
    """Raised when ImageNet weights are neither cached nor downloadable.

    Keras downloads the weights of `keras.applications` models on first use
    into `~/.keras/models` (or `$KERAS_HOME/models`). Offline, that download
    fails; the message of this error names the model and the ways round it:
    copy the weights file into that cache, pass the path of a local weights
    file, or build with `weights=None`.
    """
