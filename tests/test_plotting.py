import numpy as np
from matplotlib.figure import Figure

from mlkeras import plotting


def test_new_figure_returns_pyplot_free_figure_and_axes():
    fig, axes = plotting.new_figure(2, 3, width=2, height=1)
    assert isinstance(fig, Figure)
    assert axes.shape == (2, 3)
    assert tuple(fig.get_size_inches()) == (6.0, 2.0)


def test_save_figure_writes_a_png(tmp_path):
    fig, ax = plotting.new_figure()
    ax.plot([0, 1], [1, 0])
    path = plotting.save_figure(fig, tmp_path / "sub", "line")
    assert path == tmp_path / "sub" / "line.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_decision_boundary_draws_the_predicted_regions():
    x = np.array([[-1.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1])
    calls = []

    def predict(grid):
        calls.append(grid.shape)
        return (grid[:, 0] > 0).astype(float)

    fig, ax = plotting.new_figure()
    plotting.plot_decision_boundary(ax, predict, x, y, resolution=50, title="t")
    assert calls == [(2500, 2)]
    assert ax.get_title() == "t"
    assert len(ax.collections) >= 2  # the filled regions and the points
