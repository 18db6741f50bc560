"""Lab 04 proves what it teaches about batch sizes and learning rates."""

import pytest

LAB_ID = "04_gradient_descent"


@pytest.fixture(scope="module")
def lab(run_lab_quick):
    """The session's one quick run of this lab: (process, out_dir, results)."""
    return run_lab_quick(LAB_ID)


def methods(results):
    by_size = {m["batch_size"]: m for m in results["methods"].values()}
    n, b = results["n_samples"], results["batch_size"]
    return by_size[n], by_size[1], by_size[b]


def test_lab_prints_a_summary_and_saves_its_figures(lab):
    proc, out_dir, _ = lab
    assert "Summary:" in proc.stdout
    for name in ("batch_sizes.png", "learning_rates.png"):
        assert (out_dir / name).stat().st_size > 1000


def test_keras_sgd_takes_the_hand_written_update(lab):
    _, _, results = lab
    assert results["hand_vs_keras_max_abs_diff"] < 1e-5


def test_updates_per_epoch_are_one_n_and_n_over_b(lab):
    _, _, results = lab
    n, b = results["n_samples"], results["batch_size"]
    assert n % b == 0
    batch, stochastic, mini = methods(results)
    assert batch["updates_per_epoch"] == 1
    assert stochastic["updates_per_epoch"] == n
    assert mini["updates_per_epoch"] == n // b
    # Whatever the batch size, an epoch sees every sample once.
    for m in (batch, stochastic, mini):
        assert m["samples_per_epoch"] == n


def test_more_updates_per_epoch_mean_more_progress_per_epoch(lab):
    _, _, results = lab
    batch, stochastic, mini = methods(results)
    after_one = [m["epoch_losses"][1] for m in (stochastic, mini, batch)]
    assert after_one[0] < after_one[1] < after_one[2], after_one
    assert batch["final_loss"] > 5 * mini["final_loss"]
    # Loss was recorded against time too, and time only moves forward.
    assert all(m["seconds"] > 0 for m in (batch, stochastic, mini))


def test_gradient_from_fewer_samples_is_noisier(lab):
    _, _, results = lab
    noise = results["gradient_noise"]
    sizes = sorted(noise, key=int)
    errors = [noise[s]["relative_error"] for s in sizes]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-6  # the full batch is the exact gradient
    # Roughly 1/sqrt(B): 16 samples cut the error by at least 2.
    assert noise["16"]["relative_error"] < noise["1"]["relative_error"] / 2


def test_too_large_learning_rate_diverges_and_too_small_crawls(lab):
    _, _, results = lab
    rates = results["learning_rates"]
    big = rates["too large (1.1 x limit)"]["final_over_initial"]
    good = rates["good (0.5 x limit)"]["final_over_initial"]
    small = rates["too small (0.01 x limit)"]["final_over_initial"]
    assert big > 10
    assert good < 0.05
    assert small > 0.1 and small > 5 * good
    near = rates["near the limit (0.95 x limit)"]["final_over_initial"]
    assert near < 1
