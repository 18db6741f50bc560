"""The lab runner finds labs by number or name and runs them in-process."""

import json

import pytest

from mlkeras import labs


def test_list_labs_reads_title_and_runtime_without_running(fake_labs):
    found = labs.list_labs()
    assert [lab.lab_id for lab in found] == ["01_alpha", "02_beta_gamma"]
    assert found[0].title == "Fake lab 1"
    assert found[0].runtime == "about 1 s with --quick, 2 s in full"


@pytest.mark.parametrize(
    "key", ["02", "2", 2, "02_beta_gamma", "beta_gamma", "02_beta_gamma.py"]
)
def test_find_lab_accepts_number_name_or_file(fake_labs, key):
    assert labs.find_lab(key).lab_id == "02_beta_gamma"


def test_unknown_lab_lists_the_valid_ones(fake_labs):
    with pytest.raises(labs.UnknownLabError) as info:
        labs.find_lab("99")
    message = str(info.value)
    assert (
        "'99'" in message
        and "01_alpha" in message
        and "02_beta_gamma" in message
    )


def test_run_lab_passes_quick_and_out_and_writes_results(fake_labs, tmp_path):
    out = tmp_path / "out"
    results = labs.run_lab("1", quick=True, out=out)
    assert results["quick"] is True
    written = json.loads((out / labs.RESULTS_FILE).read_text())
    assert written == {"quick": True, "value": "nan", "n": 1}


def test_default_output_folder_is_runs_lab_id(fake_labs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labs.run_lab("02")
    assert (tmp_path / "runs" / "02_beta_gamma" / labs.RESULTS_FILE).exists()


def test_missing_labs_folder_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(labs.LABS_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="MLKERAS_LABS_DIR"):
        labs.list_labs()


def test_format_table_aligns_columns():
    table = labs.format_table(
        ("name", "value"), [("a", 0.123456), ("long name", 2)]
    )
    lines = table.splitlines()
    assert lines[0].startswith("name     ")
    assert lines[2] == "a          0.1235"
    assert lines[3] == "long name  2"
