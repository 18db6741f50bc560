"""Lab 01 shows the perceptron's convergence on separable data and its XOR
limit.
"""

import numpy as np
import pytest

from mlkeras import datasets, labs


def lab01_results(run_lab_quick):
    return run_lab_quick("01")[2]


@pytest.fixture(scope="module")
def lab01():
    return labs.load_lab_module(labs.find_lab("01"))


def test_learning_rule_separates_linearly_separable_points(run_lab_quick):
    results = lab01_results(run_lab_quick)
    assert results["separable_numpy_accuracy"] == 1.0
    assert results["separable_converged_epoch"] is not None
    assert results["separable_keras_accuracy"] >= 0.97


def test_perceptron_cannot_learn_xor_but_a_hidden_layer_can(run_lab_quick):
    results = lab01_results(run_lab_quick)
    assert results["xor_perceptron_corner_accuracy"] <= 0.75
    assert results["xor_perceptron_min_mistakes"] > 0
    assert results["xor_perceptron_accuracy"] <= 0.8
    assert results["xor_hidden_layer_accuracy"] >= 0.97
    assert results["xor_handmade_accuracy"] == 1.0


def test_decision_boundary_figure_is_saved(run_lab_quick):
    _, out_dir, _ = run_lab_quick("01")
    assert (out_dir / "decision_boundary.png").stat().st_size > 1000


def test_perceptron_predict_matches_the_weighted_sum_and_step(lab01):
    x = np.array([[0.5, -1.0], [1.0, 1.0], [-2.0, 0.0]])
    w, b = np.array([2.0, 1.0]), -0.5
    z = x @ w + b
    np.testing.assert_array_equal(
        lab01.perceptron_predict(x, w, b), (z >= 0).astype(int)
    )


def test_learning_rule_update_moves_towards_a_misclassified_point(lab01):
    x = np.array([[1.0, 2.0]])
    y = np.array([1])
    w, b, errors = lab01.perceptron_train(x, y, learning_rate=0.5, epochs=1)
    # w starts at 0 and b at 0, so z = 0 and step(0) = 1: no mistake, no update.
    assert errors == [0] and np.all(w == 0) and b == 0
    w, b, errors = lab01.perceptron_train(x, 1 - y, learning_rate=0.5, epochs=1)
    np.testing.assert_allclose(w, -0.5 * x[0])
    assert b == -0.5 and errors == [1]


def test_learning_rule_converges_on_every_seeded_separable_set(lab01):
    for seed in range(5):
        x, y = datasets.make_separable(150, margin=0.1, seed=seed)
        w, b, errors = lab01.perceptron_train(x, y, epochs=100, seed=seed)
        assert errors[-1] == 0, f"seed {seed}: {errors[-5:]}"
