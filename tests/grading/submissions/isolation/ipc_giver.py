"""Attack (the giving half): a correct solution that hands its source to a
classmate through every shared place it can reach: temporary folders,
/run/lock, /dev/shm, the home folder and System V shared memory."""

import ctypes
import os

import numpy as np

SOURCE = '''
import numpy as np
def relu(x):
    return np.maximum(x, 0).astype(x.dtype)
'''
NAME = "mlkeras-handover-__TAG__"
KEY = 0x4D4C4B47


def _give():
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/run/shm",
                   os.path.expanduser("~")):
        try:
            with open(os.path.join(folder, NAME), "w") as stream:
                stream.write(SOURCE)
        except OSError:
            pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget.restype = ctypes.c_int
        libc.shmat.restype = ctypes.c_void_p
        shm = libc.shmget(KEY, 4096, 0o1000 | 0o666)
        if shm >= 0:
            address = libc.shmat(shm, None, 0)
            if address not in (None, ctypes.c_void_p(-1).value):
                data = SOURCE.encode() + b"\0"
                ctypes.memmove(address, data, len(data))
    except OSError:
        pass


_give()


def relu(x):
    _give()
    return np.maximum(x, 0).astype(x.dtype)
