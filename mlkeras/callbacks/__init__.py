"""Keras callbacks that mlkeras adds: gradient-norm logging and early stopping."""
