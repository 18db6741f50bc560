"""Keras layers from mlkeras: positional encoding, attention, peephole LSTM."""

from mlkeras.layers.multi_head_attention import MultiHeadAttention
from mlkeras.layers.peephole_lstm import PeepholeLSTM
from mlkeras.layers.peephole_lstm_cell import PeepholeLSTMCell
from mlkeras.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)
from mlkeras.layers.sinusoidal_positional_encoding import (
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
)

__all__ = [
    "MultiHeadAttention",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "scaled_dot_product_attention",
    "SinusoidalPositionalEncoding",
    "sinusoidal_encoding",
]
