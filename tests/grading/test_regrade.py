"""Regrading: the table keeps each submission's digest; a changed file is
graded again, `--regrade` grades all, and the summary line counts."""

import csv
import hashlib
import pathlib
import shutil

from mlkeras import cli
from mlkeras.grading import api
from mlkeras.grading.sandbox import bubblewrap

LAB03 = pathlib.Path(__file__).parent / "submissions" / "lab03"
REDUCED = ["--reduced-isolation"] if bubblewrap()[0] is None else []


def _rows(out):
    with open(out / "grades.csv", newline="") as stream:
        return {row["submission"]: row for row in csv.DictReader(stream)}


def _grade(capsys, out, *paths, extra=()):
    argv = ["grade", "--lab", "03", "--out", str(out), "--seed", "1"]
    argv += ["--no-canary", *REDUCED, *extra, *map(str, paths)]
    assert cli.main(argv) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_digest_covers_names_and_bytes(tmp_path):
    one = tmp_path / "one.py"
    one.write_bytes(b"x = 1\n")
    # Independent reference: the framing is length-prefixed name and bytes.
    expected = hashlib.sha256()
    expected.update((6).to_bytes(8, "big") + b"one.py")
    expected.update((6).to_bytes(8, "big") + b"x = 1\n")
    assert api.content_digest(one) == expected.hexdigest()
    assert api.content_digest(tmp_path / "missing.py") == ""


def test_changed_submissions_are_regraded(tmp_path, capsys):
    out = tmp_path / "grades"
    alice = tmp_path / "alice.py"
    broken = tmp_path / "bob.py"
    missing = tmp_path / "carol.py"  # an error row: graded again each run
    shutil.copyfile(LAB03 / "fails_relu_dtype.py", alice)
    broken.write_text("def relu(x)\n")
    line = _grade(capsys, out, alice, broken, missing)
    assert line.startswith("graded 2, skipped 0 unchanged, failed 1;")
    assert _rows(out)["alice"]["score"] == "18"
    assert _rows(out)["alice"]["sha256"] == api.content_digest(alice)

    line = _grade(capsys, out, alice, broken, missing)
    assert line.startswith("graded 0, skipped 2 unchanged, failed 1;")
    assert _rows(out)["bob"]["score"] == "0"

    shutil.copyfile(LAB03 / "correct.py", alice)
    line = _grade(capsys, out, alice)
    assert line.startswith("graded 1, skipped 0 unchanged, failed 0;")
    assert _rows(out)["alice"]["score"] == "19"
    assert _rows(out)["alice"]["sha256"] == api.content_digest(alice)

    line = _grade(capsys, out, alice, extra=["--regrade"])
    assert line.startswith("graded 1, skipped 0 unchanged, failed 0;")
