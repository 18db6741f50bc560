"""Tests of mlkeras.grading.api: a class batch with adversarial submissions.

One batch of lab 03 submissions is graded once per module: the correct one,
the empty starter, the wrong ones and every adversarial one. Each
adversarial submission must score what the starter scores (0) on the
checks it attacks, and every other submission must be graded as if the
adversarial ones were not there.
"""

import csv
import json
import os
import pathlib
import shutil
import time

import pytest

from mlkeras import grading
from mlkeras.grading import exercises, results, sandbox
from tests.grading import processes

HERE = pathlib.Path(__file__).parent / "submissions"
# Where bubblewrap cannot run, `grade` needs the explicit reduced isolation.
REDUCED = sandbox.bubblewrap()[0] is None
ISOLATED = pytest.mark.skipif(
    sandbox.bubblewrap()[0] is None,
    reason="needs bubblewrap: its namespaces guard these",
)
LAB03 = HERE / "lab03"
ADVERSARIAL = sorted((LAB03 / "adversarial").glob("*.py"))
RELU_CHECKS = ("relu_matches_keras", "activation_keeps_float32_dtype[relu]")
SIGMOID_CHECKS = ("sigmoid_matches_keras", "sigmoid_is_stable_for_large_inputs")


def _scores(result):
    return {check.name: check.score for check in result.checks}


def _outputs(result):
    return {check.name: check.output for check in result.checks}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    out = root / "grades"
    submissions = []
    for path in [
        LAB03 / "correct.py",
        exercises.find_exercise("03").starter_path,
        *sorted(LAB03.glob("fails_*.py")),
        *ADVERSARIAL,
    ]:
        target = root / ("starter.py" if path.name == "lab03.py" else path.name)
        shutil.copyfile(path, target)
        submissions.append(target)
    targets = [out / "grades.csv", out / "correct" / "results.json"]
    # Under bubblewrap the writers get the real results as targets, as root
    # and as an ordinary user alike.
    for name in (
        ("background_rewriter.py", "writes_outside.py")
        if sandbox.bubblewrap()[0] is not None
        else ()
    ):
        source = (root / name).read_text()
        paths = [str(p) for p in targets] + [
            str(root / "correct.py"),
            str(root / name),
        ]
        source = source.replace(
            "TARGETS = []  # filled in by the test", f"TARGETS = {paths!r}"
        )
        source = source.replace(
            'TARGETS = ["../escaped.txt", "/etc/mlkeras-escaped.txt"]  '
            "# the test adds more",
            f'TARGETS = ["../escaped.txt", "/etc/mlkeras-escaped.txt", '
            f"*{paths!r}]",
        )
        (root / name).write_text(source)
    missing = root / "never_handed_in.py"
    finished = grading.grade(
        [*submissions, missing],
        lab="03",
        out=out,
        seed=1234,
        call_timeout=2.0,
        reduced_isolation=REDUCED,
    )
    time.sleep(1.0)
    return {"out": out, "root": root, "results": finished}


def test_correct_submission_gets_full_marks_in_a_hostile_batch(batch):
    result = batch["results"]["correct"]
    assert result.status == "graded"
    assert result.score == result.max_score == 19


def test_starter_scores_zero_on_every_check(batch):
    result = batch["results"]["starter"]
    assert result.score == 0
    assert all(
        "NotImplementedError" in output for output in _outputs(result).values()
    )


@pytest.mark.parametrize(
    "name, failing",
    [
        ("fails_softmax_stability", {"softmax_is_stable_for_large_logits"}),
        ("fails_relu_dtype", {"relu_matches_keras"}),
        ("fails_leaky_relu_ignores_alpha", {"leaky_relu_uses_the_given_alpha"}),
    ],
)
def test_wrong_submission_fails_exactly_the_check_its_name_says(
    batch, name, failing
):
    scores = _scores(batch["results"][name])
    assert {check for check, score in scores.items() if score == 0} == failing


@pytest.mark.parametrize("path", ADVERSARIAL, ids=[p.stem for p in ADVERSARIAL])
def test_adversarial_submission_scores_zero_on_the_checks_it_attacks(
    batch, path
):
    result = batch["results"][path.stem]
    starter = _scores(batch["results"]["starter"])
    scores = _scores(result)
    assert result.status == "graded"
    for check in RELU_CHECKS:
        assert scores[check] == starter[check] == 0, (
            check,
            _outputs(result)[check],
        )


@pytest.mark.parametrize(
    "name, reason",
    [
        ("exit_at_import", "SystemExit"),
        ("os_exit_in_relu", "exited with status 0"),
        ("infinite_loop", "did not return within 2 s"),
        ("memory_bomb", "memory"),
        ("eq_always_true", "wrong values"),
        ("broadcast_shape", "wrong shape"),
        ("forbidden_import", "NumPy-only"),
        ("patches_numpy_allclose", "wrong values"),
        ("reads_caller_frame", "wrong values"),
    ],
)
def test_failure_message_says_why(batch, name, reason):
    result = batch["results"][name]
    text = _outputs(result)["relu_matches_keras"]
    if text == results.NOT_IMPORTED:  # the reason is given once
        text = result.load_error
    assert reason in text


@pytest.mark.parametrize(
    "name", ["os_exit_in_relu", "infinite_loop", "memory_bomb"]
)
def test_attack_on_one_function_leaves_the_others_graded(batch, name):
    scores = _scores(batch["results"][name])
    assert all(scores[check] == 1 for check in SIGMOID_CHECKS)


@ISOLATED
def test_nothing_outside_the_sandbox_was_rewritten(batch):
    out, root = batch["out"], batch["root"]
    rows = {
        row["submission"]: row
        for row in csv.DictReader(open(out / "grades.csv"))
    }
    assert rows["correct"]["score"] == "19"
    assert rows["background_rewriter"]["score"] == "0"
    assert (
        json.loads((out / "correct" / "results.json").read_text())["score"]
        == 19
    )
    assert not (root / "escaped.txt").exists()
    assert "escaped" not in (root / "correct.py").read_text()


@ISOLATED
def test_no_sandboxed_process_outlives_the_batch(batch):
    others = processes.other_workers()
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            state = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")")[-1]
        except OSError:
            continue
        if (
            b"mlkeras-grader/_child.py" in cmdline
            and b" Z " not in state
            and not processes.descends_from_one_of(pid, others)
        ):
            leftovers.append(pid)
    assert leftovers == []


def test_fake_output_stays_in_the_output_field(batch):
    document = json.loads(
        (batch["out"] / "prints_fake_results" / "results.json").read_text()
    )
    assert document["score"] == 0
    assert "19 passed" in document["output"]
    assert all(test["score"] == 0 for test in document["tests"])


def test_grades_csv_has_a_row_and_a_column_per_check(batch):
    with open(batch["out"] / "grades.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
        columns = reader.fieldnames
    assert columns[:5] == [
        "submission",
        "score",
        "max_score",
        "status",
        "sha256",
    ]
    assert "relu_matches_keras" in columns and len(columns) == 5 + 19
    assert len(rows) == 2 + 3 + len(ADVERSARIAL) + 1
    missing = [row for row in rows if row["submission"] == "never_handed_in"][0]
    assert missing["status"].startswith("error: FileNotFoundError")


def test_results_json_follows_the_gradescope_format(batch):
    document = json.loads(
        (batch["out"] / "correct" / "results.json").read_text()
    )
    assert document["score"] == 19
    test = document["tests"][0]
    assert set(test) >= {
        "name",
        "score",
        "max_score",
        "status",
        "output",
        "visibility",
    }
    assert test["visibility"] == "visible" and test["status"] == "passed"
    assert "network" in document["extra_data"]["protections"]


def test_rerun_resumes_and_regrades_only_what_is_missing(batch, tmp_path):
    out = tmp_path / "grades"
    first = LAB03 / "correct.py"
    done = grading.grade(
        [first], lab="03", out=out, seed=1, reduced_isolation=REDUCED
    )
    assert list(done) == ["correct"]
    starter = tmp_path / "starter.py"
    shutil.copyfile(exercises.find_exercise("03").starter_path, starter)
    again = grading.grade(
        [first, starter], lab="03", out=out, seed=1, reduced_isolation=REDUCED
    )
    assert list(again) == ["starter"]
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [row["submission"] for row in rows] == ["correct", "starter"]


def test_hidden_checks_count_and_are_published_after_the_deadline(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden_relu.py").write_text(
        "import numpy as np\n"
        "from mlkeras.grading.expect import assert_array\n\n"
        "def test_relu_of_negative_zero_is_zero(submission):\n"
        "    assert_array(submission.relu(np.array([-0.0, -1.0])),\n"
        "                 np.zeros(2), atol=0, rtol=0)\n"
    )
    result = grading.check(
        LAB03 / "correct.py", lab="03", hidden=hidden, seed=3
    )
    hidden_checks = [c for c in result.checks if c.hidden]
    assert [c.name for c in hidden_checks] == [
        "hidden: relu_of_negative_zero_is_zero"
    ]
    assert hidden_checks[0].status == "passed"
    document = result.to_gradescope()
    assert document["tests"][-1]["visibility"] == "after_published"


def test_check_rejects_an_unknown_lab_naming_it(tmp_path):
    with pytest.raises(ValueError, match="lab='99'"):
        grading.check(LAB03 / "correct.py", lab="99")


def test_parallel_jobs_grade_like_a_single_job(tmp_path):
    paths = [
        LAB03 / "correct.py",
        LAB03 / "fails_softmax_stability.py",
        LAB03 / "adversarial" / "exit_at_import.py",
    ]
    finished = grading.grade(
        paths,
        lab="03",
        out=tmp_path / "grades",
        jobs=2,
        seed=5,
        reduced_isolation=REDUCED,
    )
    assert {name: result.score for name, result in finished.items()} == {
        "correct": 19,
        "fails_softmax_stability": 18,
        "exit_at_import": 0,
    }
    rows = list(csv.DictReader(open(tmp_path / "grades" / "grades.csv")))
    assert len(rows) == 3
