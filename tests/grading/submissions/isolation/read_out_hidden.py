"""Attack: read the grader's output folder and hidden checks and print them
into the submission's own feedback (the test fills in the paths)."""

import os

PATHS = []  # filled in by the test


def _loot():
    found = []
    for path in PATHS:
        try:
            if os.path.isdir(path):
                for name in os.listdir(path):
                    found.append(name)
                    try:
                        found.append(open(os.path.join(path, name)).read())
                    except OSError:
                        pass
            else:
                found.append(open(path).read())
        except OSError:
            pass
    return "\n".join(found)


print(_loot())


def relu(x):
    raise ValueError("LOOT:" + _loot())
