"""Tells a test's own sandbox processes from those of parallel test workers.

Some tests scan every process on the machine for sandboxes that a grading
batch left running. Under `pytest -n auto` the workers beside this one grade
batches of their own at the same moment: their sandboxes descend from those
workers (processes with the same parent as this one) and are theirs to
check. A process that this worker left behind either still descends from it
or was orphaned, so neither is excused.
"""

import os


def parent_of(pid):
    """The parent pid of `pid`, read from `/proc`. Raises `OSError`."""
    with open(f"/proc/{pid}/stat", "rb") as stream:
        # The command name, in parentheses, may hold spaces.
        return int(stream.read().rsplit(b")", 1)[1].split()[1])


def other_workers():
    """The pids of the live processes that share this process's parent."""
    me, parent = os.getpid(), os.getppid()
    found = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(name) != me and parent_of(name) == parent:
                found.add(int(name))
        except OSError:
            continue
    return found


def descends_from_one_of(pid, ancestors):
    """Whether one of `ancestors` is among the ancestors of `pid`."""
    pid = int(pid)
    while pid > 1:
        try:
            pid = parent_of(pid)
        except OSError:
            return False
        if pid in ancestors:
            return True
    return False
