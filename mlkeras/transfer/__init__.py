"""Transfer-learning helpers over ``keras.applications``."""

from mlkeras.transfer.build import build_transfer_model
from mlkeras.transfer.errors import WeightsUnavailableError
from mlkeras.transfer.fine_tune import fine_tune
from mlkeras.transfer.freezing import freeze, get_base, unfreeze
from mlkeras.transfer.inference_mode import InferenceMode
from mlkeras.transfer.losses import head_loss
from mlkeras.transfer.model_info import ModelInfo, model_info
from mlkeras.transfer.preprocessing import ImagenetPreprocessing
from mlkeras.transfer.registry import PREPROCESSING_MODES, list_models

__all__ = [
    "build_transfer_model",
    "WeightsUnavailableError",
    "fine_tune",
    "freeze",
    "get_base",
    "unfreeze",
    "InferenceMode",
    "head_loss",
    "ModelInfo",
    "model_info",
    "ImagenetPreprocessing",
    "PREPROCESSING_MODES",
    "list_models",
]
