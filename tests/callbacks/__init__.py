"""Tests of mlkeras.callbacks."""
