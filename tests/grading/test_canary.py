"""The canary: `mlkeras grade` grades the reference solution first and
grades nobody when the sandbox would grade correct code wrong."""

import csv
import pathlib

import pytest

from mlkeras import cli, grading
from mlkeras.grading import exercises
from mlkeras.grading.sandbox import bubblewrap

SUBMISSIONS = pathlib.Path(__file__).parent / "submissions"
REDUCED = ["--reduced-isolation"] if bubblewrap()[0] is None else []


def test_the_checkout_knows_the_reference_solution():
    assert (
        exercises.reference_solution("3")
        == (SUBMISSIONS / "lab03" / "correct.py").resolve()
    )


def test_grade_runs_the_canary_then_the_class(tmp_path, capsys):
    out = tmp_path / "grades"
    code = cli.main(
        [
            "grade",
            "--lab",
            "03",
            "--out",
            str(out),
            "--seed",
            "1",
            str(SUBMISSIONS / "lab03" / "fails_relu_dtype.py"),
            *REDUCED,
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["submission"], r["score"]) for r in rows] == [
        ("fails_relu_dtype", "18")
    ]


def test_a_sandbox_without_numpy_grades_nobody(tmp_path, capsys, monkeypatch):
    # A broken environment: the sandbox's package view lacks NumPy.
    monkeypatch.setattr(
        exercises.Exercise, "packages", property(lambda self: ("absent",))
    )
    out = tmp_path / "grades"
    code = cli.main(
        [
            "grade",
            "--lab",
            "03",
            "--out",
            str(out),
            str(SUBMISSIONS / "lab03" / "correct.py"),
            *REDUCED,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "reference solution scored 0/19" in err
    assert "No module named 'numpy'" in err
    assert not (out / "grades.csv").exists()
    with pytest.raises(grading.CanaryError, match="starter scored 0/19"):
        grading.grade(
            [SUBMISSIONS / "lab03" / "correct.py"],
            lab="03",
            out=out,
            canary=True,
            reduced_isolation=bool(REDUCED),
        )
    assert not (out / "grades.csv").exists()


def test_a_solution_that_loses_points_stops_the_batch(tmp_path):
    with pytest.raises(grading.CanaryError, match="relu"):
        grading.grade(
            [SUBMISSIONS / "lab03" / "correct.py"],
            lab="03",
            out=tmp_path / "grades",
            canary=True,
            solution=SUBMISSIONS / "lab03" / "fails_relu_dtype.py",
            reduced_isolation=bool(REDUCED),
        )
    assert not (tmp_path / "grades").exists()
