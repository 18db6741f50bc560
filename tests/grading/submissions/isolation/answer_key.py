"""Attack: import the package's own correct solutions (an editable install
keeps them next to the code); the test fills in the repository's path."""

import os
import sys

REPOSITORY = "__REPO__"
_FOUND = []

for attempt in (
    lambda: __import__("tests.grading.submissions.lab03.correct"),
    lambda: open(os.path.join(
        REPOSITORY, "tests", "grading", "submissions", "lab03", "correct.py"
    )).read(),
):
    try:
        value = attempt()
        if isinstance(value, str):
            _FOUND.append(value)
    except Exception:
        pass
for entry in list(sys.path):
    for folder, subfolders, files in os.walk(entry or "."):
        if folder.count(os.sep) > 12:
            subfolders[:] = []
        if folder.endswith(os.path.join("submissions", "lab03")):
            _FOUND.append(open(os.path.join(folder, "correct.py")).read())


def relu(x):
    for source in _FOUND:
        space = {}
        exec(source, space)
        return space["relu"](x)
    raise NotImplementedError("no answer key")
