"""The Gradescope bundle: unpacked into a temporary root, its wheel
installed in a venv, `run_autograder` grades a correct and a wrong
submission and writes results.json."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import mlkeras
from mlkeras import cli

LAB03 = pathlib.Path(__file__).parent / "submissions" / "lab03"


def test_bundle_grades_submissions_in_a_gradescope_layout(tmp_path, capsys):
    bundle = tmp_path / "autograder.zip"
    hidden = tmp_path / "hidden_checks"
    hidden.mkdir()
    (hidden / "test_more.py").write_text(
        "import numpy as np\n\n"
        "def test_relu_of_a_scalar_array(submission):\n"
        "    assert submission.relu(np.array([-2.0]))[0] == 0.0\n"
    )
    code = cli.main(
        ["autograder", "03", "-o", str(bundle), "--hidden", str(hidden)]
    )
    assert code == 0, capsys.readouterr().err
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        archive.extractall(source)
    wheel = f"mlkeras-{mlkeras.__version__}-py3-none-any.whl"
    assert names == {"setup.sh", "run_autograder", wheel, "hidden/test_more.py"}
    with zipfile.ZipFile(source / wheel) as archive:
        assert "mlkeras/grading/checks/lab03.py" in archive.namelist()
        assert not any("__pycache__" in n for n in archive.namelist())
    assert f"pip install ./{wheel}" in (source / "setup.sh").read_text()

    # setup.sh's install, without downloads: the wheel alone, into a venv
    # that sees this machine's packages.
    venv = tmp_path / "venv"
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
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps"]
        + ["--disable-pip-version-check", str(source / wheel)],
        check=True,
    )
    where = subprocess.run(
        [str(python), "-c", "import mlkeras; print(mlkeras.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)), where
    environment = dict(
        os.environ,
        PATH=f"{venv / 'bin'}:{os.environ['PATH']}",
        MLKERAS_AUTOGRADER_ROOT=str(root),
    )
    for submission, score in [
        ("correct.py", 20),
        ("fails_relu_dtype.py", 19),
    ]:
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        (root / "submission").mkdir()
        shutil.copyfile(LAB03 / submission, root / "submission" / "lab.py")
        os.chmod(source / "run_autograder", 0o755)
        done = subprocess.run(
            [str(source / "run_autograder")],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        document = json.loads((root / "results" / "results.json").read_text())
        assert (document["score"], document["max_score"]) == (score, 20)
        hidden_tests = [
            test
            for test in document["tests"]
            if test["name"].startswith("hidden")
        ]
        assert [t["visibility"] for t in hidden_tests] == ["after_published"]
        visible = [t for t in document["tests"] if t not in hidden_tests]
        assert {t["visibility"] for t in visible} == {"visible"}
