"""Lab 08: the update rules match Keras; adaptive methods win in a narrow
valley.
"""

import numpy as np
import pytest

from mlkeras import labs


def lab08_results(run_lab_quick):
    return run_lab_quick("08")[2]


@pytest.fixture(scope="module")
def lab08():
    return labs.load_lab_module(labs.find_lab("08"))


def test_numpy_update_rules_follow_keras_optimizers(run_lab_quick):
    diffs = lab08_results(run_lab_quick)["numpy_vs_keras_max_abs_diff"]
    assert set(diffs) == {"SGD", "momentum", "RMSProp", "Adam"}
    assert max(diffs.values()) < 1e-4


def test_adaptive_optimizers_need_fewer_steps_in_an_ill_conditioned_valley(
    run_lab_quick,
):
    results = lab08_results(run_lab_quick)
    curvatures = results["curvatures"]
    assert max(curvatures) / min(curvatures) >= 50
    steps = {k: v["steps"] for k, v in results["quadratic"].items()}
    assert all(v is not None for v in steps.values()), steps
    assert steps["RMSProp"] < steps["SGD"] / 1.5
    assert steps["Adam"] < steps["SGD"] / 1.5
    assert steps["momentum"] < steps["SGD"]


def test_sgd_diverges_above_two_over_the_largest_curvature(run_lab_quick):
    results = lab08_results(run_lab_quick)
    assert results["sgd_stability_limit"] == pytest.approx(
        2 / max(results["curvatures"])
    )
    start = results["start_loss"]
    assert results["target_loss"] < start
    assert results["sgd_final_loss_below_limit"] < start
    assert results["sgd_final_loss_above_limit"] > 100 * start


def test_rotating_the_valley_changes_nothing_for_sgd_and_momentum(
    run_lab_quick,
):
    results = lab08_results(run_lab_quick)
    for name in ("SGD", "momentum"):
        assert (
            results["rotated_quadratic"][name]["steps"]
            == results["quadratic"][name]["steps"]
        )


def test_every_optimizer_trains_the_small_model(run_lab_quick):
    small = lab08_results(run_lab_quick)["small_model"]
    for name, row in small.items():
        assert row["final_loss"] < 0.7 * row["loss"][0], name
        assert row["test_accuracy"] > 0.85, name


def test_quadratic_gradient_is_the_matrix_times_the_point(lab08):
    problem = lab08.Quadratic((1.0, 9.0), angle=0.3)
    w = np.array([0.7, -1.2])
    eps = 1e-6
    numeric = [
        (problem.loss(w + eps * e) - problem.loss(w - eps * e)) / (2 * eps)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(problem.grad(w), numeric, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.eigvalsh(problem.a), [1.0, 9.0])


def test_steps_to_reach_counts_from_the_last_time_above_target(lab08):
    assert lab08.steps_to_reach(np.array([5.0, 0.5, 2.0, 0.5, 0.1]), 1.0) == 3
    assert lab08.steps_to_reach(np.array([5.0, 4.0]), 1.0) is None
