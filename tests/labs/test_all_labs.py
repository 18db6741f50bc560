"""Every lab script runs offline with --quick, writes figures and results."""

import pytest

from mlkeras import labs

ALL_LABS = [lab.lab_id for lab in labs.list_labs()]


def test_lab_numbers_are_unique_and_consecutive():
    numbers = [lab.number for lab in labs.list_labs()]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_lab_header_gives_a_title_and_a_runtime(lab_id):
    lab = labs.find_lab(lab_id)
    assert lab.title and lab.title != lab.path.stem
    assert lab.runtime != "unknown" and "--quick" in lab.runtime


@pytest.mark.parametrize("lab_id", ALL_LABS)
def test_lab_runs_quick_and_writes_a_png_and_results(lab_id, run_lab_quick):
    process, out_dir, results = run_lab_quick(lab_id)
    assert list(out_dir.glob("*.png")), f"{lab_id} saved no PNG in {out_dir}"
    assert isinstance(results, dict) and results, "no results.json written"
    assert "summary" in process.stdout.lower()
