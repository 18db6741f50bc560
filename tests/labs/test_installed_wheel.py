"""An installed wheel carries the labs, and a lab's output stays readable.

The wheel is built from a copy of the sources and installed without its
dependencies into a fresh virtual environment that sees the system's
packages (Keras and TensorFlow are not downloaded again). Its `mlkeras`
command lists the labs and runs one from the installed package, with
`TF_CPP_MIN_LOG_LEVEL` unset as on a student's machine: no TensorFlow C++
log line may reach the screen.
"""

import os
import re
import shutil
import subprocess
import sys
import venv

import pytest

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md")
SOURCE_DIRS = ("mlkeras", "labs")
# A C++ log line starts with its severity and the date: I0000, W1206, E0000.
CPP_LOG_LINE = re.compile(r"^[IWEF]\d{4} ")
PRINT_LABS_DIR = "import mlkeras.labs as m; print(m.labs_dir())"


def run(args, cwd, env=None, timeout=300):
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the mlkeras wheel installed: returns its `bin` folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        shutil.copy(os.path.join(REPO_ROOT, name), source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE_DIRS:
        shutil.copytree(
            os.path.join(REPO_ROOT, name), source / name, ignore=ignore
        )
    build = run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps"]
        + ["--no-build-isolation", "-w", str(root / "dist")],
        cwd=root,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (root / "dist").glob("mlkeras-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    install = run(
        [sys.executable, "-m", "pip", "--python", str(bin_dir / "python")]
        + ["install", "--no-deps", "--no-index", str(wheel)],
        cwd=root,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return bin_dir


def student_env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.pop("MLKERAS_LABS_DIR", None)
    env.pop("PYTHONPATH", None)
    return env


def test_installed_wheel_lists_its_labs(installed, tmp_path):
    result = run(
        [str(installed / "mlkeras"), "labs", "list"], tmp_path, student_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "01_perceptron" in result.stdout
    assert "16_transfer_learning" in result.stdout
    where = run(
        [str(installed / "python"), "-c", PRINT_LABS_DIR],
        tmp_path,
        student_env(),
    )
    assert "site-packages" in where.stdout and "_labs" in where.stdout


@pytest.fixture(scope="module")
def quick_run(installed, tmp_path_factory):
    out = tmp_path_factory.mktemp("lab01")
    result = run(
        [str(installed / "mlkeras"), "labs", "run", "01", "--quick"]
        + ["--out", str(out)],
        out,
        student_env(),
    )
    return result, out


def test_installed_wheel_runs_a_lab(quick_run):
    result, out = quick_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Summary" in result.stdout
    assert (out / "results.json").exists()
    assert (out / "decision_boundary.png").stat().st_size > 1000


def test_lab_output_has_no_tensorflow_cpp_log_lines(quick_run):
    result, _ = quick_run
    lines = (result.stdout + result.stderr).splitlines()
    noise = [
        line
        for line in lines
        if CPP_LOG_LINE.match(line)
        or "cuInit" in line
        or "absl::InitializeLog" in line
        or "cuda drivers" in line
    ]
    assert not noise, "\n".join(noise[:10])
