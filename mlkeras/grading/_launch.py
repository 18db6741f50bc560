"""Starts bubblewrap as a sandbox's own unprivileged uid (used as root).

In a private mount namespace `enter` makes the paths bubblewrap must bind
reachable for that uid: every folder on the way that others may not enter
(e.g. a 0700 /root holding pyenv) is covered by an empty tmpfs into which
only the needed entries are bind-mounted back. Then it drops every
privilege (groups, gid, uid); bwrap, executed next, builds the sandbox as
that uid.

A single-threaded grader calls `enter` in the forked child, just before
bwrap is executed; otherwise it runs this file as a program,
`python -I -S _launch.py CONFIG`, which calls `enter` and executes bwrap.
"""

import ctypes
import json
import os
import sys

_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = (
    2,
    4,
    4096,
    16384,
    1 << 18,
)
_LIBC = ctypes.CDLL(None, use_errno=True)
# Looked up here, once: a forked child that looked them up itself would
# take the dynamic loader's lock, which another thread may have held at
# the fork.
_UNSHARE = _LIBC.unshare
_MOUNT = _LIBC.mount


def _check(result, what):
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source, target, fstype, flags, data=None):
    _check(
        _MOUNT(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def covers(paths):
    """Maps each folder others may not enter to the `paths` below it.

    A path counts at its first such ancestor only, as the part of it below
    that ancestor.
    """
    found = {}
    for path in paths:
        parts = path.split(os.sep)[1:]
        for depth in range(1, len(parts)):
            ancestor = os.sep + os.sep.join(parts[:depth])
            if not os.stat(ancestor).st_mode & 0o001:
                rest = os.sep.join(parts[depth:])
                found.setdefault(ancestor, set()).add(rest)
                break
    return found


def _expose(paths):
    # Each path is covered at its first ancestor that others may not enter;
    # the path itself is bind-mounted back under that cover, on folders
    # made in the tmpfs, so folders below that are private too (a 0700
    # folder inside a 0700 folder) are passed through.
    found = covers(paths)
    # Shallow covers first; take every handle before covering.
    for ancestor in sorted(found, key=len):
        rests = sorted(found[ancestor], key=lambda rest: rest.count(os.sep))
        handles = [
            (rest, os.open(os.path.join(ancestor, rest), os.O_PATH))
            for rest in rests
            if os.path.lexists(os.path.join(ancestor, rest))
        ]
        _mount("tmpfs", ancestor, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755")
        for rest, fd in handles:
            target = os.path.join(ancestor, rest)
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(target, 0o755, exist_ok=True)
            elif not os.path.exists(target):
                open(target, "w").close()
            _mount(f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC)
            os.close(fd)


def enter(expose, uid, gid):
    """Makes `expose` reachable in a new mount namespace, then becomes
    `uid`/`gid` with no supplementary groups. Needs root."""
    _check(_UNSHARE(_CLONE_NEWNS), "unshare")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _expose(expose)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def main():
    config = json.loads(sys.argv[1])
    enter(config["expose"], config["uid"], config["gid"])
    os.execv(config["argv"][0], config["argv"])


if __name__ == "__main__":
    main()
