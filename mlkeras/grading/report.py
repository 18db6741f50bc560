"""The class report: `summary.md` and a score histogram next to grades.csv.

Everything is computed from `grades.csv`, so the report always describes
the whole table, however many runs of `grade` filled it.
"""

import csv
import pathlib

import numpy as np

from mlkeras.grading import results as results_lib

SUMMARY_FILE = "summary.md"
HISTOGRAM_FILE = "score_histogram.png"
BINS = 10


def read_table(path):
    """The rows and check columns of a `grades.csv` file.

    Returns:
        `(rows, checks)`: a list of row dicts and the check column names.
    """
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
        fixed = results_lib.GradesTable.FIXED
        checks = [name for name in reader.fieldnames or () if name not in fixed]
    return rows, checks


def summarize(path):
    """The class's figures from a `grades.csv` file.

    A check passes when it earned points. Scores are counted for every row,
    an errored one included (it scores what its row says, usually 0).

    Returns:
        A dict: `count`, `graded`, `errored` (`[(name, status)]`),
        `scores` and `percents` (NumPy arrays), `max_score`, `mean`,
        `median`, `min`, `max`, `std`, `bins` (`[(low, high, count)]` of
        percentages, the last bin closed) and `pass_rates`
        (`[(check, passed, graded)]`, over graded rows).
    """
    rows, checks = read_table(path)
    scores = np.array([float(row["score"] or 0) for row in rows])
    maxima = np.array([float(row["max_score"] or 0) for row in rows])
    top = float(maxima.max()) if len(maxima) else 0.0
    percents = (
        np.where(
            maxima > 0, 100.0 * scores / np.where(maxima > 0, maxima, 1), 0
        )
        if len(rows)
        else np.zeros(0)
    )
    edges = np.linspace(0.0, 100.0, BINS + 1)
    counts, _ = np.histogram(percents, bins=edges)
    graded = [row for row in rows if row["status"] == "graded"]
    pass_rates = []
    for check in checks:
        cells = [row.get(check, "") for row in graded]
        cells = [cell for cell in cells if cell != ""]
        passed = sum(1 for cell in cells if float(cell) > 0)
        pass_rates.append((check, passed, len(cells)))

    def stat(function):
        return float(function(scores)) if len(scores) else 0.0

    return {
        "count": len(rows),
        "graded": len(graded),
        "errored": [
            (row["submission"], row["status"])
            for row in rows
            if row["status"] != "graded"
        ],
        "scores": scores,
        "percents": percents,
        "max_score": top,
        "mean": stat(np.mean),
        "median": stat(np.median),
        "min": stat(np.min),
        "max": stat(np.max),
        "std": stat(np.std),
        "bins": [
            (float(low), float(high), int(count))
            for low, high, count in zip(edges[:-1], edges[1:], counts)
        ],
        "pass_rates": pass_rates,
    }


def _cell(text):
    """A Markdown table cell: one line, no pipes or control characters."""
    return results_lib.clean_text(text, single_line=True).replace("|", "\\|")


def write_histogram(figures, path):
    """Draws the score-percentage histogram as a PNG at `path`."""
    from mlkeras import plotting

    fig, ax = plotting.new_figure(width=6.0, height=3.5)
    ax.hist(figures["percents"], bins=np.linspace(0, 100, BINS + 1))
    ax.set_xlabel("score (% of the maximum)")
    ax.set_ylabel("submissions")
    ax.set_title(f"{figures['count']} submission(s)")
    fig.savefig(path, dpi=80)
    return pathlib.Path(path)


def write_summary(out, histogram=True):
    """Writes `OUT/summary.md` (and the histogram) from `OUT/grades.csv`.

    Args:
        out: the grading output folder.
        histogram: also draw `score_histogram.png`. Defaults to `True`.

    Returns:
        The path of `summary.md`.
    """
    out = pathlib.Path(out)
    figures = summarize(out / "grades.csv")
    lines = [
        "# Class summary",
        "",
        f"{figures['count']} submission(s): {figures['graded']} graded, "
        f"{len(figures['errored'])} with an error.",
        "",
        "## Scores",
        "",
        "| mean | median | min | max | std | max score |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {figures['mean']:.2f} | {figures['median']:g} | "
        f"{figures['min']:g} | {figures['max']:g} | {figures['std']:.2f} | "
        f"{figures['max_score']:g} |",
        "",
        "| score (% of max) | submissions |",
        "|---|---:|",
    ]
    for index, (low, high, count) in enumerate(figures["bins"]):
        closing = "]" if index == len(figures["bins"]) - 1 else ")"
        lines.append(f"| [{low:g}, {high:g}{closing} | {count} |")
    if histogram:
        write_histogram(figures, out / HISTOGRAM_FILE)
        lines += ["", f"![score histogram]({HISTOGRAM_FILE})"]
    lines += [
        "",
        "## Checks",
        "",
        "| check | passed | pass rate |",
        "|---|---:|---:|",
    ]
    for check, passed, graded in figures["pass_rates"]:
        rate = f"{100.0 * passed / graded:.0f}%" if graded else "-"
        lines.append(f"| {_cell(check)} | {passed}/{graded} | {rate} |")
    lines += ["", "## Submissions with an error", ""]
    if figures["errored"]:
        lines += [
            f"- {_cell(name)}: {_cell(status)[:300]}"
            for name, status in figures["errored"]
        ]
    else:
        lines.append("None.")
    path = out / SUMMARY_FILE
    results_lib.atomic_write(path, "\n".join(lines) + "\n")
    return path
