"""Adversarial isolation tests: attacks by submissions on their classmates,
on the grader and on the machine, graded under bubblewrap.

One lab 03 class is graded with `jobs=2`: honest classmates (some with
names chosen to collide), one attacker per class of weakness, and
submissions whose file trees are hostile. It is graded as root and, in a
user created by the test, as an ordinary user (or only as the current
user when the tests do not run as root). Each attacker must gain nothing,
every honest classmate's `results.json` must be exactly what it is when
the honest ones are graded alone, nothing may outlive the batch and
nothing outside the grader's output folder may change.
"""

import csv
import hashlib
import json
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pytest

from mlkeras import cli, grading
from mlkeras.grading import api, exercises, intake, sandbox
from mlkeras.grading.sandbox import Limits, Sandbox, SubmissionError
from tests.grading import processes

HERE = pathlib.Path(__file__).parent / "submissions"
ATTACKS = HERE / "isolation"
LAB03 = HERE / "lab03"
REPOSITORY = HERE.parent.parent.parent
TEST_USER = "mlkeras-grading-test"
SHM_KEY = 0x4D4C4B47
RELU_CHECKS = ("relu_matches_keras", "activation_keeps_float32_dtype[relu]")
ROOT = os.geteuid() == 0

pytestmark = pytest.mark.skipif(
    sandbox.bubblewrap()[0] is None, reason="bubblewrap is not installed"
)

HONEST = {
    "correct.py": "correct",
    "starter.py": "starter",
    "alice.py": "correct",
    "_alice.py": "starter",
    "grades.csv.py": "correct",
    '=cmd|"\\c calc",x\n\x1b[2J.py': "correct",
    "forks_correct.py": "forks_correct",
}
ATTACKERS = [
    "steal_proc.py",
    "read_out_hidden.py",
    "ipc_giver.py",
    "ipc_taker.py",
    "starver.py",
    "disk_fill.py",
    "oversized.py",
    "escapes.py",
    "no_guard.py",
    "answer_key.py",
]
REFUSED = {
    "link_to_classmate.py": "symbolic link",
    "folder_link": "symbolic link",
    "ptmx_link": "symbolic link",
    "zero_link": "symbolic link",
    "fifo_inside": "FIFO",
    "deep_tree": "nested deeper",
}


def _source(kind):
    if kind == "correct":
        return (LAB03 / "correct.py").read_text()
    if kind == "starter":
        return exercises.find_exercise("03").starter_path.read_text()
    return (ATTACKS / f"{kind}.py").read_text()


def _deep_chain(folder, depth):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def _build_class(root, tag):
    """Writes the class, the hidden checks; returns the submission paths."""
    klass, out, hidden = root / "class", root / "out", root / "hidden"
    klass.mkdir()
    hidden.mkdir()
    (hidden / "test_hidden.py").write_text(
        f"# HIDDEN-SECRET-{tag}\n"
        "import numpy as np\n"
        "from mlkeras.grading.expect import assert_array\n\n"
        "def test_relu_of_negative_zero(submission):\n"
        "    assert_array(submission.relu(np.array([-0.0, -1.0])),\n"
        "                 np.zeros(2), atol=0, rtol=0)\n"
    )
    paths = []
    for name, kind in HONEST.items():
        (klass / name).write_text(_source(kind))
        paths.append(klass / name)
    for name in ATTACKERS:
        text = _source(name[:-3]).replace("__TAG__", tag)
        text = text.replace("__REPO__", str(REPOSITORY))
        loot = [out, out / "grades.csv", out / "correct", hidden]
        loot += [hidden / "test_hidden.py", REPOSITORY / "tests", klass]
        text = text.replace(
            "PATHS = []  # filled in by the test",
            f"PATHS = {[str(p) for p in loot]!r}",
        )
        (klass / name).write_text(text)
        paths.append(klass / name)
    starter = _source("starter")
    os.symlink(klass / "correct.py", klass / "link_to_classmate.py")
    for folder, link, target in (
        ("folder_link", "notes.txt", hidden / "test_hidden.py"),
        ("ptmx_link", "tty.py", "/dev/ptmx"),
        ("zero_link", "data.bin", "/dev/zero"),
    ):
        (klass / folder).mkdir()
        (klass / folder / "lab03.py").write_text(starter)
        os.symlink(target, klass / folder / link)
    (klass / "fifo_inside").mkdir()
    (klass / "fifo_inside" / "lab03.py").write_text(starter)
    os.mkfifo(klass / "fifo_inside" / "input.py")
    (klass / "deep_tree").mkdir()
    (klass / "deep_tree" / "lab03.py").write_text(starter)
    _deep_chain(klass / "deep_tree", 3000)
    paths += [klass / name for name in REFUSED]
    return paths


def _snapshot(folder):
    """Every entry under `folder` (no link followed): type, mode, content."""
    found = {}
    stack = [str(folder)]
    while stack:
        top = stack.pop()
        for entry in os.scandir(top):
            info = entry.stat(follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                found[entry.path] = ("dir", info.st_mode)
                if entry.name != "d":
                    stack.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(open(entry.path, "rb").read())
                found[entry.path] = ("file", info.st_mode, digest.hexdigest())
            else:
                found[entry.path] = ("other", info.st_mode)
    return found


def _shared_places(tag):
    name = f"mlkeras-handover-{tag}"
    places = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/shm"]
    places.append(os.path.expanduser("~"))
    leaks = [
        os.path.join(folder, leak)
        for folder in places
        for leak in (name, "fill-0")
        if os.path.lexists(os.path.join(folder, leak))
    ]
    with open("/proc/sysvipc/shm") as stream:
        keys = [int(line.split()[0]) for line in stream.readlines()[1:]]
    if SHM_KEY in keys:
        leaks.append("System V shared memory segment")
    return leaks


def _sandbox_processes(uid=None):
    """Live processes of sandboxes (zombies are dead and hold nothing).

    Those of parallel test workers' batches are left out.
    """
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as stream:
                fields = dict(
                    line.split(":", 1) for line in stream if ":" in line
                )
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                cmdline = stream.read()
        except OSError:
            continue
        real = int(fields["Uid"].split()[0])
        if fields["State"].strip().startswith("Z"):
            continue
        if sandbox._UID_BASE <= real < sandbox._UID_BASE + sandbox._SLOTS:
            found.append((pid, fields["Name"].strip(), cmdline[:80]))
        elif b"mlkeras-grader/_child.py" in cmdline and (
            uid is None or real == uid
        ):
            found.append((pid, fields["Name"].strip(), cmdline[:80]))
    if not found:
        return found
    others = processes.other_workers()
    return [
        process
        for process in found
        if not processes.descends_from_one_of(process[0], others)
    ]


_RUNNER = """
import json, sys
from mlkeras import grading

if __name__ == "__main__":
    paths, out, hidden, report = json.loads(sys.argv[1])
    done = grading.grade(paths, lab="03", out=out, hidden=hidden, jobs=2,
                         seed=99, call_timeout=2.0)
    json.dump(sorted(done), open(report, "w"))
"""


def _test_user():
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("useradd is not available to create a test user")
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                TEST_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(TEST_USER)
    return entry.pw_uid, entry.pw_gid


def _chown_tree(folder, uid, gid):
    for top, folders, files in os.walk(folder):
        os.lchown(top, uid, gid)
        for name in files:
            os.lchown(os.path.join(top, name), uid, gid)
        folders[:] = [f for f in folders if f != "d"]


def _grade_as_user(root, paths, out, hidden, uid, gid):
    """Runs the batch as an ordinary user, from this root test process."""
    _chown_tree(root, uid, gid)
    script = root / "runner.py"
    script.write_text(_RUNNER)
    os.chown(script, uid, gid)
    roots, _ = sandbox._python_layout()
    launch = {
        "uid": uid,
        "gid": gid,
        "expose": sorted({*roots, str(REPOSITORY), str(root)}),
        "argv": [
            sys.executable,
            str(script),
            json.dumps(
                [
                    [str(p) for p in paths],
                    str(out),
                    str(hidden),
                    str(root / "report.json"),
                ]
            ),
        ],
    }
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(sandbox._LAUNCH), json.dumps(launch)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(root),
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(root),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _documents(out, names):
    return {
        name: json.loads((out / name / "results.json").read_text())
        for name in names
        if (out / name / "results.json").exists()
    }


MODES = ["root", "user"] if ROOT else ["user"]


@pytest.fixture(scope="module", params=MODES)
def batch(request):
    root = pathlib.Path(tempfile.mkdtemp(prefix="mlkeras-isolation-"))
    os.chmod(root, 0o755)
    tag = f"{os.getpid()}-{request.param}"
    paths = _build_class(root, tag)
    out, hidden = root / "out", root / "hidden"
    before = _snapshot(root / "class"), _snapshot(hidden)
    leaks_before = _shared_places(tag)
    started = time.monotonic()
    if request.param == "user" and ROOT:
        uid, gid = _test_user()
        _grade_as_user(root, paths, out, hidden, uid, gid)
        owner = uid
    else:
        grading.grade(
            paths,
            lab="03",
            out=out,
            hidden=hidden,
            jobs=2,
            seed=99,
            call_timeout=2.0,
        )
        owner = os.geteuid()
    seconds = time.monotonic() - started
    time.sleep(0.5)
    names = dict(zip(map(str, paths), api.submission_names(paths)))
    alone_out = root / "alone"
    honest = [root / "class" / name for name in HONEST]
    grading.grade(
        honest,
        lab="03",
        out=alone_out,
        hidden=hidden,
        jobs=1,
        seed=99,
        call_timeout=2.0,
    )
    data = {
        "mode": request.param,
        "root": root,
        "out": out,
        "names": names,
        "keys": {pathlib.Path(p).name: k for p, k in names.items()},
        "documents": _documents(out, names.values()),
        "alone": _documents(alone_out, api.submission_names(honest)),
        "before": before,
        "after": (_snapshot(root / "class"), _snapshot(hidden)),
        "leaks": (leaks_before, _shared_places(tag)),
        "processes": _sandbox_processes(owner),
        "seconds": seconds,
    }
    yield data
    intake.remove_tree(root)


def _scores(document):
    return {test["name"]: test["score"] for test in document["tests"]}


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def test_every_honest_classmate_is_graded_exactly_as_alone(batch):
    for name in HONEST:
        key = batch["keys"][name]
        assert batch["documents"][key] == batch["alone"][key], name
    correct = batch["documents"][batch["keys"]["correct.py"]]
    assert correct["score"] == correct["max_score"] == 20
    forks = batch["documents"][batch["keys"]["forks_correct.py"]]
    assert _scores(forks)["relu_matches_keras"] == 1


@pytest.mark.parametrize("name", ATTACKERS[:2] + ATTACKERS[3:])
def test_attacker_gains_nothing_on_the_checks_it_attacks(batch, name):
    scores = _scores(batch["documents"][batch["keys"][name]])
    for check in (*RELU_CHECKS, "hidden: relu_of_negative_zero"):
        assert scores[check] == 0, (name, check)


def test_ipc_hand_over_reaches_no_classmate_and_leaves_nothing(batch):
    giver = _scores(batch["documents"][batch["keys"]["ipc_giver.py"]])
    assert giver["relu_matches_keras"] == 1
    before, after = batch["leaks"]
    assert before == [] and after == []


def test_output_and_hidden_folders_are_out_of_reach(batch):
    document = batch["documents"][batch["keys"]["read_out_hidden.py"]]
    text = json.dumps(document)
    assert "LOOT:" in text
    for leak in (
        "HIDDEN-SECRET",
        "submission,score",
        "test_hidden",
        "alice",
        "forks_correct",
        "results.json",
        "conftest",
    ):
        assert leak not in text, leak


def test_disk_fill_stops_at_the_work_folder_size(batch):
    document = batch["documents"][batch["keys"]["disk_fill.py"]]
    text = json.dumps(document)
    written = int(text.split("WROTE:", 1)[1].split(":", 1)[0])
    assert 0 < written <= 3 * Limits().work_bytes


def test_oversized_answer_is_refused_before_it_is_read(batch):
    document = batch["documents"][batch["keys"]["oversized.py"]]
    (relu,) = [
        t for t in document["tests"] if t["name"] == "relu_matches_keras"
    ]
    # Encoding 300 MiB may outlast the 2 s call on a loaded machine; either
    # way the grader never reads the answer (the memory bound itself is
    # measured in test_grader_memory_stays_bounded_whatever_the_answer).
    assert relu["score"] == 0
    assert "too large" in relu["output"] or "did not return" in relu["output"]


def test_hostile_file_trees_are_refused_with_a_clear_status(batch):
    with open(batch["out"] / "grades.csv", newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    for name, what in REFUSED.items():
        row = rows[batch["keys"][name]]
        assert row["status"].startswith("error: SubmissionRefused: refused")
        assert what in row["status"], row["status"]
        document = batch["documents"][batch["keys"][name]]
        assert "HIDDEN-SECRET" not in json.dumps(document)


def test_names_are_unique_and_cannot_take_a_row_or_an_output_file(batch):
    keys = list(batch["names"].values())
    assert len(set(keys)) == len(keys)
    assert batch["keys"]["alice.py"] == "alice"
    assert batch["keys"]["_alice.py"] == "_alice"
    with open(batch["out"] / "grades.csv", newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    assert len(rows) == len(keys)
    assert rows["alice"]["score"] == "20" and rows["_alice"]["score"] == "0"
    weird = batch["keys"]['=cmd|"\\c calc",x\n\x1b[2J.py']
    assert rows[weird]["score"] == "20"
    assert rows[batch["keys"]["grades.csv.py"]]["score"] == "20"
    assert (batch["out"] / "grades.csv").is_file()
    assert api.submission_names(list(batch["names"])) == keys


def test_no_control_character_or_formula_reaches_csv_or_json(batch):
    raw = (batch["out"] / "grades.csv").read_text()
    for bad in ("\x1b", "\x9b", "\x07", "\u202e", "\r"):
        assert bad not in raw
    for row in csv.reader(raw.splitlines()):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    for document in batch["documents"].values():
        for text in _texts(document):
            assert not any(
                ch in text for ch in ("\x1b", "\x9b", "\x07", "\u202e")
            )


def test_nothing_outlives_the_batch_and_nothing_outside_changed(batch):
    assert batch["processes"] == []
    assert batch["before"] == batch["after"]
    expected = {
        "grades.csv",
        "summary.md",
        "score_histogram.png",
        *batch["names"].values(),
    }
    assert {p.name for p in batch["out"].iterdir()} == expected


def test_check_never_prints_raw_escape_sequences(tmp_path, capsys):
    path = tmp_path / "lab03.py"
    shutil.copyfile(ATTACKS / "escapes.py", path)
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr()
    assert "score: 0/19" in out.out
    for bad in ("\x1b", "\x9b", "\x07", "\u202e"):
        assert bad not in out.out + out.err


# ---------------------------------------------------------------- sandbox


def _marker_processes(marker):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                if marker.encode() in stream.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_signal_ignoring_import_dies_at_the_deadline(tmp_path):
    path = tmp_path / "lab03.py"
    shutil.copyfile(ATTACKS / "slow_import_ignores_signals.py", path)
    limits = Limits(load_timeout=1.5, wall_clock=20.0)
    started = time.monotonic()
    with Sandbox(path, limits, lab="03") as box:
        with pytest.raises(SubmissionError) as info:
            box.call("relu", (np.zeros(2),))
        assert info.value.reason == "timeout"
        assert time.monotonic() - started < 5
        assert _sandbox_processes(os.geteuid()) == []


def test_wall_clock_counts_the_import(tmp_path):
    path = tmp_path / "lab03.py"
    path.write_text(
        "import time\n"
        "end = time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
        "def relu(x):\n"
        "    return x\n"
    )
    started = time.monotonic()
    with Sandbox(path, Limits(wall_clock=1.0), lab="03") as box:
        with pytest.raises(SubmissionError) as info:
            box.call("relu", (np.zeros(2),))
    assert info.value.reason == "wall_clock"
    assert time.monotonic() - started < 3


def test_grader_memory_stays_bounded_whatever_the_answer(tmp_path):
    path = tmp_path / "lab03.py"
    shutil.copyfile(ATTACKS / "oversized.py", path)
    with Sandbox(path, Limits(max_answer_bytes=64 * 2**20), lab="03") as box:
        box.start()
        tracemalloc.start()
        with pytest.raises(SubmissionError) as info:
            box.call("relu", (np.zeros(2),))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert info.value.reason == "protocol" and "too large" in str(info.value)
    assert peak < 8 * 2**20


def test_process_starvation_in_one_sandbox_leaves_the_next_its_budget(
    tmp_path,
):
    starver = tmp_path / "starver.py"
    shutil.copyfile(ATTACKS / "starver.py", starver)
    victim = tmp_path / "victim.py"
    shutil.copyfile(ATTACKS / "forks_correct.py", victim)
    with Sandbox(starver, Limits(), lab="03") as hog:
        with pytest.raises(SubmissionError) as info:
            hog.call("relu", (np.zeros(2),))
        held = int(str(info.value).split("holding ")[1].split()[0])
        assert 0 < held < Limits().max_processes
        with Sandbox(victim, Limits(), lab="03") as other:
            x = np.array([-1.0, 2.0])
            np.testing.assert_array_equal(other.call("relu", (x,)), [0, 2])


def test_cleanup_removes_a_tree_of_any_depth(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    _deep_chain(folder, 3000)
    fd = os.open(folder, os.O_RDONLY)
    os.symlink("/etc", "link", dir_fd=fd)
    os.close(fd)
    intake.remove_tree(folder)
    assert not folder.exists() and os.path.isdir("/etc")


def test_reduced_isolation_cleans_up_a_deep_tree_the_child_made(tmp_path):
    path = tmp_path / "lab03.py"
    path.write_text(
        "import os\n"
        "def relu(x):\n"
        "    fd = os.open('.', os.O_RDONLY)\n"
        "    for _ in range(3000):\n"
        "        os.mkdir('d', dir_fd=fd)\n"
        "        parent, fd = fd, os.open('d', os.O_RDONLY, dir_fd=fd)\n"
        "        os.close(parent)\n"
        "    return os.getcwd()\n"
    )
    with Sandbox(path, Limits(isolation="reduced"), lab="03") as box:
        workdir = box.call("relu", (np.zeros(2),))
        assert os.path.isdir(os.path.join(workdir, "d", "d"))
    assert not os.path.exists(workdir)


def test_intake_refuses_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "lab03.py")
    started = time.monotonic()
    with pytest.raises(intake.SubmissionRefused, match="FIFO"):
        intake.read_submission(tmp_path / "lab03.py")
    assert time.monotonic() - started < 1


def test_grade_refuses_without_bubblewrap_unless_reduced(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: (None, "not found"))
    path = LAB03 / "correct.py"
    out = tmp_path / "out"
    assert cli.main(["grade", "--lab", "03", "--out", str(out), str(path)]) == 2
    assert "bubblewrap" in capsys.readouterr().err
    assert not (out / "grades.csv").exists()
    code = cli.main(
        [
            "grade",
            "--lab",
            "03",
            "--out",
            str(out),
            "--reduced-isolation",
            str(path),
        ]
    )
    assert code == 0
    document = json.loads((out / "correct" / "results.json").read_text())
    assert document["extra_data"]["isolation"].startswith("reduced")
    assert document["score"] == 19


def test_fake_keras_facts_score_nothing():
    result = grading.check(ATTACKS / "fake_keras_lab12.py", lab="12", seed=11)
    assert result.score == 0
    assert any("safe_mode" in check.output for check in result.checks)


_CHECK_IN_VENV = """
import json, sys
import mlkeras
from mlkeras import grading

correct, attack = sys.argv[1:3]
full = grading.check(correct, lab="04", seed=1)
scores = [
    full.max_score - full.score,
    grading.check(attack, lab="03", seed=1).score,
]
print(json.dumps([mlkeras.__file__, scores]))
"""


def test_a_venv_and_a_checkout_under_tmp_grade_correct_code_fully():
    root = pathlib.Path(tempfile.mkdtemp(prefix="mlkeras-venv-"))
    try:
        venv = root / "venv"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "venv",
                "--system-site-packages",
                "--without-pip",
                str(venv),
            ],
            check=True,
        )
        checkout = root / "checkout"
        shutil.copytree(
            REPOSITORY / "mlkeras",
            checkout / "mlkeras",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for lab in ("lab03", "lab04"):
            shutil.copytree(
                HERE / lab,
                checkout / "tests" / "grading" / "submissions" / lab,
            )
        # An editable install: the checkout's root is on sys.path.
        (site_dir,) = venv.glob("lib/python3*/site-packages")
        (site_dir / "checkout.pth").write_text(f"{checkout}\n")
        attack = root / "answer_key.py"
        attack.write_text(
            (ATTACKS / "answer_key.py")
            .read_text()
            .replace("__REPO__", str(checkout))
        )
        done = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                _CHECK_IN_VENV,
                str(checkout / "tests/grading/submissions/lab04/correct.py"),
                str(attack),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(root),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        package, scores = json.loads(done.stdout.strip().splitlines()[-1])
        assert package.startswith(str(checkout))
        # The correct solution loses nothing; the attack scores nothing.
        assert scores == [0, 0]
    finally:
        intake.remove_tree(root)
