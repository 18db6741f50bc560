"""Keras layers that mlkeras adds: positional encoding, attention, peephole LSTM."""
