"""Keras layers that mlkeras adds: positional encoding, attention, peephole LSTM."""

from mlkeras.layers.peephole_lstm import PeepholeLSTM
from mlkeras.layers.peephole_lstm_cell import PeepholeLSTMCell
