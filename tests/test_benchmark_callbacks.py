"""benchmarks/callbacks.py run as a script on a tiny setting."""

import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "callbacks.py")
TINY = [
    "--models",
    "MLP",
    "--repeats",
    "1",
    "--epochs",
    "1",
    "--fits",
    "2",
    "--first-fits",
    "1",
    "--step-rounds",
    "1",
    "--step-block",
    "2",
]
PERCENT = re.compile(r"^[+-]\d+\.\d %$")
MILLISECONDS = re.compile(r"^[+-]\d+$")
# Every table has a row per arm except the plain one; the second plain arm's
# row is the table's noise floor.
LOGGED_ARMS = ["default", "batch_logs=True", "plain, second model"]


def _tables(text):
    """Each markdown table of `text` as a list of rows of cells."""
    tables, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            tables.append(rows)
            rows = []
    return tables


def test_tiny_run_prints_four_tables_with_every_overhead_column():
    result = subprocess.run(
        [sys.executable, SCRIPT, *TINY],
        cwd=REPO_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    one_fit, repeated, first, steps = _tables(result.stdout)
    for table in (one_fit, repeated, first, steps):
        header, rule, *rows = table
        assert set(rule) == {"---"} and len(rule) == len(header)
        assert all(len(row) == len(header) for row in rows)

    header, _, *rows = one_fit
    assert "overhead, CPU time" in header
    assert header[-2:] == [
        "overhead, wall, paired",
        "overhead, CPU time, paired",
    ]
    assert [row[2] for row in rows] == LOGGED_ARMS
    for row in rows:
        assert row[:2] == ["MLP", "128"]  # 8192 samples, batch 64
        assert float(row[3]) > 0 and float(row[4]) > 0
        assert all(PERCENT.match(cell) for cell in row[5:]), row

    header, _, *rows = repeated
    assert header[-3:] == [
        "overhead, CPU time",
        "overhead, wall, paired",
        "overhead, CPU time, paired",
    ]
    assert [row[2] for row in rows] == LOGGED_ARMS
    for row in rows:
        assert row[:2] == ["MLP", "2 x 128"]
        assert all(PERCENT.match(cell) for cell in row[5:]), row

    header, _, *rows = first
    assert header[-2:] == [
        "extra wall time, paired (ms)",
        "extra CPU time, paired (ms)",
    ]
    assert [row[:2] for row in rows] == [["MLP", arm] for arm in LOGGED_ARMS]
    for row in rows:
        assert float(row[2]) > 0 and float(row[3]) > 0
        assert all(MILLISECONDS.match(cell) for cell in row[4:]), row

    _, _, *rows = steps
    assert [row[1] for row in rows] == LOGGED_ARMS
    for row in rows:
        assert all(PERCENT.match(cell) for cell in row[4:]), row
