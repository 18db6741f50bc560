"""Matplotlib helpers shared by the labs and callbacks.

Figures are built with `matplotlib.figure.Figure` rather than `pyplot`, so no
GUI backend is ever needed: they render and save the same on a headless
server, in a test or on a laptop.
"""

import pathlib

import numpy as np
from matplotlib.figure import Figure


def new_figure(nrows=1, ncols=1, width=5.0, height=4.0, **subplot_kw):
    """Creates a figure and its axes without touching pyplot.

    Args:
        nrows: rows of subplots.
        ncols: columns of subplots.
        width: width of one subplot in inches.
        height: height of one subplot in inches.
        **subplot_kw: passed to `Figure.subplots`.

    Returns:
        `(figure, axes)`; `axes` is a single Axes when there is one subplot,
        otherwise a NumPy array of them.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)
    return fig, axes


def save_figure(fig, out_dir, name, dpi=100):
    """Saves `fig` as `<out_dir>/<name>.png` and returns the path."""
    path = pathlib.Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def plot_decision_boundary(
    ax, predict, x, y, resolution=200, margin=0.5, title=None
):
    """Draws a 2-D classifier's decision regions with the data on top.

    Args:
        ax: the matplotlib Axes to draw on.
        predict: a function mapping an (n, 2) array to n class labels or
            probabilities of class 1.
        x: the (n, 2) points.
        y: the n integer labels.
        resolution: grid points per axis.
        margin: space added around the data's bounding box.
        title: optional Axes title.
    """
    x = np.asarray(x)
    lo = x.min(axis=0) - margin
    hi = x.max(axis=0) + margin
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution),
        np.linspace(lo[1], hi[1], resolution),
    )
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype("float32")
    z = np.asarray(predict(grid), dtype="float64").reshape(gx.shape)
    ax.contourf(gx, gy, z, levels=20, cmap="RdBu_r", alpha=0.35)
    ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=20)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax
