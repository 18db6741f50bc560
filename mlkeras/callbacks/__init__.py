"""Keras callbacks from mlkeras: gradient-norm logging and early stopping."""

from mlkeras.callbacks.early_stopping import EarlyStopping
from mlkeras.callbacks.gradient_norm_logger import GradientNormLogger

__all__ = [
    "EarlyStopping",
    "GradientNormLogger",
]
