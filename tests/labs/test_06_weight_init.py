"""Lab 06 proves what it teaches about weight initialisation."""

import pytest

LAB_ID = "06_weight_init"


@pytest.fixture(scope="module")
def lab(run_lab_quick):
    """The session's one quick run of this lab: (process, out_dir, results)."""
    return run_lab_quick(LAB_ID)


def test_lab_prints_a_summary_and_saves_its_figure(lab):
    proc, out_dir, _ = lab
    assert "Summary:" in proc.stdout
    assert (out_dir / "activation_std_per_layer.png").stat().st_size > 1000


def test_equal_initial_weights_keep_hidden_units_identical(lab):
    _, _, results = lab
    zeros = results["symmetry"]["zeros"]
    constant = results["symmetry"]["constant 0.3"]
    random = results["symmetry"]["Glorot uniform"]
    for same in (zeros, constant):
        assert same["unit_spread"] < 1e-5
        assert same["distinct_hidden_outputs"] == 1
    # The constant network did learn, yet its units stayed copies.
    assert constant["kernel_change"] > 0.05
    # Zero kernels pass no gradient back: they never move.
    assert zeros["kernel_change"] == 0
    assert random["unit_spread"] > 0.1
    assert random["distinct_hidden_outputs"] == 16
    assert (
        random["accuracy"] > max(zeros["accuracy"], constant["accuracy"]) + 0.05
    )


def test_glorot_keeps_tanh_stable_and_small_uniform_vanishes(lab):
    _, _, results = lab
    deep = results["deep"]
    glorot = deep["Glorot uniform / tanh"]
    assert 0.9 < glorot["gain_per_layer"] < 1.05
    assert glorot["last_over_first"] > 0.05
    assert glorot["gradient_first_over_last"] > 0.05
    assert deep["uniform(-0.05, 0.05) / tanh"]["last_over_first"] < 1e-6
    # Too-large weights saturate tanh instead.
    assert deep["uniform(-1, 1) / tanh"]["saturated_last_layer"] > 0.3
    assert glorot["saturated_last_layer"] < 0.05


def test_he_keeps_relu_stable_where_glorot_halves_the_variance(lab):
    _, _, results = lab
    deep = results["deep"]
    he = deep["He normal / relu"]
    assert 0.95 < he["gain_per_layer"] < 1.05
    assert 0.2 < he["last_over_first"] < 5
    assert 0.2 < he["gradient_first_over_last"] < 5
    # Glorot loses a factor sqrt(1/2) of the std per ReLU layer.
    assert deep["Glorot uniform / relu"]["gain_per_layer"] == pytest.approx(
        0.5**0.5, abs=0.04
    )
    assert deep["Glorot uniform / relu"]["last_over_first"] < 1e-3
    assert deep["uniform(-0.05, 0.05) / relu"]["last_over_first"] < 1e-6
    assert deep["uniform(-1, 1) / relu"]["last_over_first"] > 1e6


def test_distribution_shape_matters_less_than_variance(lab):
    _, _, results = lab
    deep = results["deep"]
    uniform = deep["Glorot uniform / tanh"]["gain_per_layer"]
    normal = deep["Glorot normal / tanh"]["gain_per_layer"]
    assert uniform == pytest.approx(normal, abs=0.02)
    width = results["width"]
    variance = results["weight_variance"]
    assert variance["Glorot uniform"] * width == pytest.approx(1.0, abs=0.05)
    assert variance["Glorot normal"] * width == pytest.approx(1.0, abs=0.05)
    assert variance["He normal"] * width == pytest.approx(2.0, abs=0.1)
