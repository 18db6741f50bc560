"""Attack: copy a classmate's solution found through /proc (command lines,
environments, working folders and roots of every visible process)."""

import os

_FOUND = []


def _candidates():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as stream:
                    for word in stream.read().split(b"\0"):
                        text = word.decode(errors="ignore").split("=")[-1]
                        if text.endswith(".py"):
                            yield text
            except OSError:
                pass
        for link in ("cwd", "root"):
            try:
                folder = f"/proc/{pid}/{link}"
                for name in os.listdir(folder):
                    if name.endswith(".py"):
                        yield os.path.join(folder, name)
            except OSError:
                pass


for path in _candidates():
    try:
        source = open(path).read()
    except OSError:
        continue
    if "def relu" in source and "NotImplementedError" not in source:
        _FOUND.append(source)


def relu(x):
    for source in _FOUND:
        space = {}
        exec(source, space)
        return space["relu"](x)
    raise NotImplementedError("nothing to copy")
