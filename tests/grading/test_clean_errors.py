"""Bad paths, a script without a main guard, one import-error message and
a starter that keeps its lab: what users hit first."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from mlkeras import cli, grading
from mlkeras.grading import exercises
from mlkeras.grading.sandbox import bubblewrap

SUBMISSIONS = pathlib.Path(__file__).parent / "submissions"
REDUCED = bubblewrap()[0] is None
ROOT = os.geteuid() == 0


def _bad_folders(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    cases = [
        ("", "''"),
        (str(a_file), "a_file"),
        (str(tmp_path / "missing" / "out"), "missing"),
        ("/proc/self", "/proc/self"),
    ]
    if not ROOT:  # root writes into a 0o555 folder
        cases.append((str(read_only), "read_only"))
    return cases


@pytest.mark.parametrize("command", ["grade", "labs run"])
def test_a_bad_out_folder_is_one_line_naming_it(tmp_path, capsys, command):
    for value, shown in _bad_folders(tmp_path):
        if command == "grade":
            argv = ["grade", "--lab", "03", "--out", value, "x.py"]
        else:
            argv = ["labs", "run", "01", "--quick", "--out", value]
        assert cli.main(argv) == 2, value
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--out=" in err and shown in err
    assert not (tmp_path / "missing").exists()


def test_a_bad_exercise_output_is_one_line_naming_it(tmp_path, capsys):
    for value, shown in [
        ("", "''"),
        (str(tmp_path), str(tmp_path)),
        (str(tmp_path / "missing" / "my03.py"), "missing"),
        ("/proc/self/my03.py", "/proc/self/my03.py"),
    ]:
        assert cli.main(["exercise", "03", "-o", value]) == 2, value
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--output=" in err and shown in err


def test_the_starter_keeps_its_lab_under_any_name(tmp_path, capsys):
    target = tmp_path / "my_work.py"
    assert cli.main(["exercise", "03", "-o", str(target)]) == 0
    hint = capsys.readouterr().out
    assert f"mlkeras check {target}" in hint
    assert exercises.infer_lab(target) == "03"
    unnamed = tmp_path / "unnamed.py"
    unnamed.write_text("import numpy as np\n")
    assert exercises.infer_lab(unnamed) is None
    assert cli.main(["check", str(unnamed)]) == 2
    err = capsys.readouterr().err
    assert "--lab" in err and "lab=" not in err.split("Received")[0]


def test_a_submission_that_does_not_import_gets_one_message(tmp_path):
    broken = tmp_path / "lab03.py"
    broken.write_text("import numpy as np\n\n\ndef relu(x)\n    return x\n")
    result = grading.check(broken, isolation="auto")
    assert result.score == 0 and len(result.checks) == 19
    assert result.status == "graded" and not result.error
    assert "SyntaxError" in result.load_error and "line 4" in result.load_error
    report = grading.results.format_report(result)
    assert report.count("SyntaxError") == 1
    assert all("SyntaxError" not in c.output for c in result.checks)


def test_grade_from_a_script_without_a_main_guard(tmp_path):
    script = tmp_path / "grade_class.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from mlkeras import grading

            results = grading.grade(
                [{str(SUBMISSIONS / "lab03" / "correct.py")!r},
                 {str(SUBMISSIONS / "lab03" / "fails_relu_dtype.py")!r}],
                lab="03", out={str(tmp_path / "out")!r}, jobs=2, seed=1,
                reduced_isolation={REDUCED},
            )
            for name in sorted(results):
                print(name, results[name].score, repr(results[name].error))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "correct 19.0 ''",
        "fails_relu_dtype 18.0 ''",
    ]
