"""README's Python examples run as written, and README stays short.

All blocks run in one child process on the TensorFlow backend (one Keras
import instead of one per block), each in a fresh namespace and a fresh
working folder, so a block cannot lean on names another block defined.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
MAX_README_BYTES = 15_000
TIMEOUT_SECONDS = 300

_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)

_RUNNER = textwrap.dedent(
    """
    import json, os, sys, tempfile, traceback

    blocks = json.load(sys.stdin)
    results = []
    for line, source in blocks:
        folder = tempfile.mkdtemp()
        os.chdir(folder)
        try:
            # Padded so that a traceback gives README's own line numbers.
            code = compile("\\n" * (line - 1) + source, "README.md", "exec")
            exec(code, {"__name__": "__main__"})
            results.append(None)
        except BaseException:
            results.append(traceback.format_exc())
        import keras

        keras.backend.clear_session()
    print("RESULTS" + json.dumps(results))
    """
)


def python_blocks(text):
    """Returns `(first line, source)` of every ```python block of `text`."""
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in _BLOCK.finditer(text)
    ]


def test_python_blocks_are_found():
    blocks = python_blocks("a\n```python\nx = 1\n```\nb\n```bash\nls\n```\n")
    assert blocks == [(3, "x = 1\n")]


def test_readme_is_at_most_15000_bytes():
    assert README.stat().st_size <= MAX_README_BYTES


@pytest.fixture(scope="module")
def block_results():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    env = dict(
        os.environ,
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="Agg",
    )
    process = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(blocks),
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    marker = [
        line for line in process.stdout.splitlines() if line[:7] == "RESULTS"
    ]
    assert process.returncode == 0 and marker, process.stderr[-3000:]
    return blocks, json.loads(marker[-1][len("RESULTS") :])


def test_readme_has_python_examples(block_results):
    blocks, _ = block_results
    assert len(blocks) >= 5


def test_every_python_block_runs(block_results):
    blocks, results = block_results
    failures = [
        f"README.md block from line {line}:\n{error}"
        for (line, _), error in zip(blocks, results)
        if error is not None
    ]
    assert not failures, "\n".join(failures)
