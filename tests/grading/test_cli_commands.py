"""Tests of the `mlkeras exercise`, `check` and `grade` commands."""

import csv
import pathlib

from mlkeras import cli
from mlkeras.grading.sandbox import bubblewrap

SUBMISSIONS = pathlib.Path(__file__).parent / "submissions"


def test_exercise_writes_the_starter_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "lab05.py"
    assert cli.main(["exercise", "05", "-o", str(target)]) == 0
    assert "def clip_by_global_norm(grads, max_norm):" in target.read_text()
    assert cli.main(["exercise", "05", "-o", str(target)]) == 2
    assert "exists" in capsys.readouterr().err


def test_exercise_for_an_unknown_lab_fails_with_the_value(capsys):
    assert cli.main(["exercise", "42"]) == 2
    assert "lab='42'" in capsys.readouterr().err


def test_check_prints_the_report_and_exits_with_the_verdict(tmp_path, capsys):
    target = tmp_path / "lab05.py"
    cli.main(["exercise", "05", "-o", str(target)])
    assert cli.main(["check", str(target)]) == 1
    assert "score: 0/8" in capsys.readouterr().out
    assert (
        cli.main(
            ["check", str(SUBMISSIONS / "lab05" / "correct.py"), "--lab", "05"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "score: 8/8" in out and "sandbox:" in out


def test_grade_writes_a_table_with_one_row_per_submission(tmp_path, capsys):
    out = tmp_path / "grades"
    code = cli.main(
        [
            "grade",
            "--lab",
            "05",
            "--out",
            str(out),
            "--jobs",
            "1",
            str(SUBMISSIONS / "lab05" / "correct.py"),
            str(SUBMISSIONS / "lab05" / "fails_clip_zero_gradients.py"),
            # Where bubblewrap cannot run, grade needs the explicit flag.
            *(["--reduced-isolation"] if bubblewrap()[0] is None else []),
        ]
    )
    assert code == 0
    rows = {
        row["submission"]: row
        for row in csv.DictReader(open(out / "grades.csv"))
    }
    assert (
        rows["correct"]["score"] == "8"
        and rows["fails_clip_zero_gradients"]["score"] == "7"
    )
    assert (out / "correct" / "results.json").exists()
