"""Adversarial: at import, forks a detached process that keeps trying to
overwrite the grader's results (the test writes the real paths into TARGETS)."""

import os
import time

TARGETS = []  # filled in by the test


def _rewrite():
    deadline = time.time() + 20
    while time.time() < deadline:
        for path in TARGETS:
            try:
                with open(path, "w") as stream:
                    stream.write("submission,score,max_score,status\nbackground_rewriter,999,19,graded\n")
            except OSError:
                pass
        time.sleep(0.1)


if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _rewrite()
    os._exit(0)


def relu(x):
    raise NotImplementedError
