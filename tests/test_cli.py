"""The mlkeras command: labs list/run and info, in-process and as installed."""

import os
import subprocess
import sys

import pytest

from mlkeras import cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_command(*args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        args,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_labs_list_prints_number_title_and_runtime(fake_labs, capsys):
    assert cli.main(["labs", "list"]) == 0
    out = capsys.readouterr().out
    assert "01_alpha" in out and "Fake lab 2" in out
    assert "about 1 s with --quick" in out


def test_labs_run_unknown_id_exits_non_zero_listing_labs(fake_labs, capsys):
    assert cli.main(["labs", "run", "99"]) == 2
    err = capsys.readouterr().err
    assert "Unknown lab: '99'" in err and "02_beta_gamma" in err


def test_labs_run_with_out_folder(fake_labs, tmp_path):
    assert (
        cli.main(["labs", "run", "2", "--quick", "--out", str(tmp_path)]) == 0
    )
    assert (tmp_path / "results.json").exists()


def test_labs_notebook_writes_a_valid_notebook(tmp_path, capsys):
    import nbformat

    assert cli.main(["labs", "notebook", "01", "-o", str(tmp_path)]) == 0
    path = tmp_path / "01_perceptron.ipynb"
    assert str(path) in capsys.readouterr().out
    notebook = nbformat.read(str(path), as_version=4)
    nbformat.validate(notebook)
    assert "QUICK = True" in notebook.cells[0].source


def test_labs_notebook_unknown_id_exits_non_zero(fake_labs, capsys):
    assert cli.main(["labs", "notebook", "99"]) == 2
    assert "02_beta_gamma" in capsys.readouterr().err


def test_missing_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_installed_command_lists_the_real_labs():
    result = run_command("mlkeras", "labs", "list")
    assert result.returncode == 0, result.stderr
    assert (
        "01_perceptron" in result.stdout and "The perceptron" in result.stdout
    )


def test_python_dash_m_runs_the_same_cli_and_rejects_unknown_lab():
    result = run_command(sys.executable, "-m", "mlkeras", "labs", "run", "99")
    assert result.returncode != 0
    assert "01_perceptron" in result.stderr


def test_mlkeras_labs_run_01_prints_results_and_saves_a_decision_boundary(
    tmp_path,
):
    result = run_command(
        "mlkeras", "labs", "run", "01", "--quick", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Results" in result.stdout and "Summary" in result.stdout
    assert (tmp_path / "decision_boundary.png").stat().st_size > 1000


def test_info_reports_versions_backend_and_devices():
    result = run_command("mlkeras", "info")
    assert result.returncode == 0, result.stderr[-3000:]
    for word in ("mlkeras", "keras backend", "tensorflow", "devices", "CPU"):
        assert word in result.stdout
