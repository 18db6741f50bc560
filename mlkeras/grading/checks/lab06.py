"""Checks for lab 06 (weight initialisation): statistics of the student's
draws against the spread of `keras.initializers`' draws, range limits and
seeding."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_true

TRUNCATION = 0.87962566103423978


def _fans(rng):
    return int(rng.integers(150, 300)), int(rng.integers(150, 300))


def _draw(submission, name, fan_in, fan_out, seed):
    weights = getattr(submission, name)(fan_in, fan_out, seed)
    assert_array(weights, np.zeros((fan_in, fan_out)), values=False, name=name)
    return weights


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal"])
def test_spread_matches_keras(submission, rng, name):
    fan_in, fan_out = _fans(rng)
    seed = int(rng.integers(10_000))
    weights = _draw(submission, name, fan_in, fan_out, seed)
    reference = (
        _formulas.glorot_uniform_std(fan_in, fan_out)
        if name == "glorot_uniform"
        else _formulas.he_normal_std(fan_in)
    )
    assert_true(
        abs(weights.std() / reference - 1) < 0.05,
        "values",
        f"wrong values: standard deviation {weights.std():.4g}, "
        f"Keras's initializer gives "
        f"{reference:.4g} (more than 5% apart)",
    )
    assert_true(
        abs(weights.mean()) < 0.05 * reference,
        "values",
        f"wrong values: mean {weights.mean():.3g} is not close to 0",
    )


def test_glorot_uniform_stays_within_the_limit_and_fills_it(submission, rng):
    fan_in, fan_out = _fans(rng)
    limit = _formulas.glorot_uniform_limit(fan_in, fan_out)
    weights = _draw(
        submission, "glorot_uniform", fan_in, fan_out, int(rng.integers(10_000))
    )
    assert_true(
        np.abs(weights).max() <= limit and np.abs(weights).max() > 0.99 * limit,
        "values",
        f"wrong values: largest |w| is {np.abs(weights).max():.4g}, "
        f"the limit is {limit:.4g}",
    )


def test_he_normal_is_truncated_at_two_deviations(submission, rng):
    fan_in, fan_out = _fans(rng)
    bound = 2 * _formulas.he_normal_std(fan_in) / TRUNCATION
    weights = _draw(
        submission, "he_normal", fan_in, fan_out, int(rng.integers(10_000))
    )
    assert_true(
        np.abs(weights).max() <= bound * (1 + 1e-9),
        "values",
        f"wrong values: largest |w| is {np.abs(weights).max():.4g}, beyond the "
        f"truncation bound {bound:.4g}",
    )


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal"])
def test_same_seed_same_weights_other_seed_other_weights(submission, rng, name):
    seed = int(rng.integers(10_000))
    first = _draw(submission, name, 20, 30, seed)
    assert_array(
        _draw(submission, name, 20, 30, seed),
        first,
        rtol=0,
        atol=0,
        name="a second draw with the same seed",
    )
    assert_true(
        not np.array_equal(_draw(submission, name, 20, 30, seed + 1), first),
        "values",
        "wrong values: a different seed gave the same weights",
    )
