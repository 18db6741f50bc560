"""Checks for lab 08 (optimizers): several steps of each update rule against
the same steps of the rules of `keras.optimizers`."""

import numpy as np

from mlkeras.grading.checks import _formulas
from mlkeras.grading.checks._reference import random_shape
from mlkeras.grading.expect import assert_array, assert_true, assert_type

STEPS, RTOL, ATOL = 4, 1e-4, 1e-6


def _problem(rng):
    w = rng.normal(size=random_shape(rng, (1, 2)))
    return w, [rng.normal(size=w.shape) for _ in range(STEPS)]


def _unpack(result, count, name):
    assert_type(result, (tuple, list), name=f"{name} result")
    assert_true(
        len(result) == count,
        "type",
        f"wrong type: {name} must return {count} values, got {len(result)}",
    )
    return result


def test_sgd_momentum_matches_keras_over_several_steps(submission, rng):
    w, grads = _problem(rng)
    lr, momentum = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.5, 0.95))
    expected = _formulas.sgd_trajectory(w, grads, lr, momentum=momentum)
    velocity = np.zeros_like(w)
    for step, grad in enumerate(grads):
        w, velocity = _unpack(
            submission.sgd_momentum_step(
                w, grad, velocity, learning_rate=lr, momentum=momentum
            ),
            2,
            "sgd_momentum_step",
        )
        assert_array(
            w,
            expected[step],
            rtol=RTOL,
            atol=ATOL,
            name=f"w after step {step + 1}",
        )


def test_rmsprop_matches_keras_over_several_steps(submission, rng):
    w, grads = _problem(rng)
    lr, rho = float(rng.uniform(0.001, 0.05)), float(rng.uniform(0.8, 0.95))
    expected = _formulas.rmsprop_trajectory(w, grads, lr, rho=rho)
    avg_sq = np.zeros_like(w)
    for step, grad in enumerate(grads):
        w, avg_sq = _unpack(
            submission.rmsprop_step(w, grad, avg_sq, learning_rate=lr, rho=rho),
            2,
            "rmsprop_step",
        )
        assert_array(
            w,
            expected[step],
            rtol=RTOL,
            atol=ATOL,
            name=f"w after step {step + 1}",
        )


def test_adam_matches_keras_over_several_steps(submission, rng):
    w, grads = _problem(rng)
    lr = float(rng.uniform(0.001, 0.05))
    beta_1, beta_2 = (
        float(rng.uniform(0.8, 0.95)),
        float(rng.uniform(0.99, 0.9999)),
    )
    expected = _formulas.adam_trajectory(
        w, grads, lr, beta_1=beta_1, beta_2=beta_2
    )
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step, grad in enumerate(grads):
        w, m, v = _unpack(
            submission.adam_step(
                w,
                grad,
                m,
                v,
                step + 1,
                learning_rate=lr,
                beta_1=beta_1,
                beta_2=beta_2,
            ),
            3,
            "adam_step",
        )
        assert_array(
            w,
            expected[step],
            rtol=RTOL,
            atol=ATOL,
            name=f"w after step {step + 1}",
        )


def test_adam_uses_its_default_hyperparameters(submission, rng):
    w, grads = _problem(rng)
    expected = _formulas.adam_trajectory(w, grads[:2])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step, grad in enumerate(grads[:2]):
        w, m, v = _unpack(
            submission.adam_step(w, grad, m, v, step + 1), 3, "adam_step"
        )
        assert_array(
            w,
            expected[step],
            rtol=RTOL,
            atol=ATOL,
            name=f"w after step {step + 1}",
        )
