"""The class report: summary.md's figures agree with grades.csv."""

import csv
import pathlib
import re
import shutil

import numpy as np

from mlkeras import grading
from mlkeras.grading import report
from mlkeras.grading.sandbox import bubblewrap

LAB03 = pathlib.Path(__file__).parent / "submissions" / "lab03"


def test_summary_numbers_match_grades_csv(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def relu(x)\n")
    paths = [
        LAB03 / "correct.py",
        LAB03 / "fails_relu_dtype.py",
        LAB03 / "fails_softmax_stability.py",
        LAB03 / "fails_leaky_relu_ignores_alpha.py",
        broken,
        tmp_path / "missing.py",
    ]
    copy = tmp_path / "correct_too.py"
    shutil.copyfile(LAB03 / "correct.py", copy)
    paths.append(copy)
    out = tmp_path / "grades"
    grading.grade(
        paths,
        lab="03",
        out=out,
        seed=3,
        reduced_isolation=bubblewrap()[0] is None,
    )
    with open(out / "grades.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
        checks = reader.fieldnames[5:]
    scores = np.array([float(row["score"]) for row in rows])
    maxima = np.array([float(r["max_score"]) for r in rows])
    # A row with nothing to score (max 0, e.g. a missing file) counts as 0%.
    percents = np.array(
        [100 * s / m if m else 0.0 for s, m in zip(scores, maxima)]
    )
    text = (out / "summary.md").read_text()

    assert "7 submission(s): 6 graded, 1 with an error." in text
    stats = re.search(
        r"\n\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", text
    )
    assert [float(v) for v in stats.groups()] == [
        round(scores.mean(), 2),
        np.median(scores),
        scores.min(),
        scores.max(),
    ]
    expected_bins, _ = np.histogram(percents, bins=np.linspace(0, 100, 11))
    found_bins = [
        int(n) for n in re.findall(r"\| \[\d+, \d+[\])] \| (\d+) \|", text)
    ]
    assert found_bins == list(expected_bins) and sum(found_bins) == 7

    graded = [row for row in rows if row["status"] == "graded"]
    for check in checks:
        passed = sum(1 for row in graded if float(row[check]) > 0)
        line = f"| {check} | {passed}/{len(graded)} |"
        assert line in text, line
    assert len(checks) == 19 and "| tanh_matches_keras | 5/6 | 83% |" in text
    assert "- missing: error: FileNotFoundError" in text
    png = (out / report.HISTOGRAM_FILE).read_bytes()
    assert png.startswith(b"\x89PNG")
