"""Transfer-learning helpers over ``keras.applications``."""

from mlkeras.transfer.build import build_transfer_model
from mlkeras.transfer.errors import WeightsUnavailableError
from mlkeras.transfer.fine_tune import fine_tune
from mlkeras.transfer.freezing import freeze
from mlkeras.transfer.freezing import get_base
from mlkeras.transfer.freezing import unfreeze
from mlkeras.transfer.inference_mode import InferenceMode
from mlkeras.transfer.losses import head_loss
from mlkeras.transfer.model_info import ModelInfo
from mlkeras.transfer.model_info import model_info
from mlkeras.transfer.preprocessing import ImagenetPreprocessing
from mlkeras.transfer.registry import PREPROCESSING_MODES
from mlkeras.transfer.registry import list_models
