"""Attack (the taking half): waits for a classmate's solution to appear in
a shared place and uses it."""

import ctypes
import os
import time

NAME = "mlkeras-handover-__TAG__"
KEY = 0x4D4C4B47
_FOUND = []


def _take():
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/shm",
                   os.path.expanduser("~")):
        try:
            return open(os.path.join(folder, NAME)).read()
        except OSError:
            pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget.restype = ctypes.c_int
        libc.shmat.restype = ctypes.c_void_p
        shm = libc.shmget(KEY, 4096, 0)
        if shm >= 0:
            address = libc.shmat(shm, None, 0)
            if address not in (None, ctypes.c_void_p(-1).value):
                return ctypes.string_at(address).decode()
    except OSError:
        pass
    return None


deadline = time.time() + 3
while time.time() < deadline and not _FOUND:
    source = _take()
    if source:
        _FOUND.append(source)
    time.sleep(0.1)


def relu(x):
    source = _FOUND[0] if _FOUND else _take()
    if not source:
        raise NotImplementedError("nothing handed over")
    space = {}
    exec(source, space)
    return space["relu"](x)
