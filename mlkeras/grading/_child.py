"""The sandboxed side of a submission: run by path as `python -I _child.py CONFIG`.

It applies the limits, drops privileges, loads the submission from its
working folder and then answers call requests from the grader on a pipe,
one at a time, using `codec` (no pickle). Everything here runs before the
submission's own code, so what it reports in its first message (which
protections it applied) is trustworthy; what the submission does after that
can only change the answers it sends back.
"""

import importlib.abc
import importlib.util
import io
import json
import os
import resource
import signal
import sys
import traceback

_MAX_TEXT = 2000


def _load_codec(grading_dir):
    spec = importlib.util.spec_from_file_location(
        "_mlkeras_sandbox_codec", os.path.join(grading_dir, "codec.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses imports of the frameworks a NumPy-only exercise forbids."""

    def __init__(self, names, lab):
        self.names = frozenset(names)
        self.lab = lab

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(
                f"mlkeras grading: lab {self.lab} is a NumPy-only exercise, so "
                f"importing {fullname!r} is not allowed in this submission "
                f"(forbidden: {', '.join(sorted(self.names))}); write it with NumPy.",
                name=fullname,
            )
        return None


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC = (
    1,
    2,
    4,
    32,
    4096,
    16384,
)


def _mount(source, target, fstype, flags, data):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
        != 0
    ):
        raise OSError(ctypes.get_errno(), f"mount {target}")


def _expose_python(applied):
    """Makes the Python installation readable after the drop to `nobody`.

    In the child's private mount namespace, every folder on the way to the
    interpreter and its libraries that others may not enter (e.g. a 0700
    /root holding pyenv) is covered by an empty tmpfs into which only the
    needed sub-folder is bind-mounted back, read-only. The grader's other
    files there stay invisible to the submission.
    """
    needed = {
        os.path.realpath(p)
        for p in [
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            os.path.dirname(os.path.realpath(sys.executable)),
            *sys.path,
        ]
        if p
    }
    covers = {}
    for path in sorted(needed):
        parts = path.split(os.sep)[1:]
        for depth in range(1, len(parts)):
            ancestor = os.sep + os.sep.join(parts[:depth])
            if not os.stat(ancestor).st_mode & 0o001:
                covers.setdefault(ancestor, set()).add(parts[depth])
                break
    exposed = []
    for ancestor, names in sorted(covers.items()):
        handles = {
            name: os.open(os.path.join(ancestor, name), os.O_PATH)
            for name in names
            if os.path.exists(os.path.join(ancestor, name))
        }
        _mount(
            "tmpfs",
            ancestor,
            "tmpfs",
            _MS_NOSUID | _MS_NODEV,
            "mode=0755,size=1m",
        )
        for name, fd in handles.items():
            target = os.path.join(ancestor, name)
            os.mkdir(target, 0o755)
            _mount(
                f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC, None
            )
            _mount(
                "none", target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None
            )
            os.close(fd)
            exposed.append(target)
    applied["exposed"] = exposed


def _private_tmp(workdir, applied):
    """Gives the child empty, private /tmp, /var/tmp and /dev/shm.

    The working folder lives under /tmp, so it is bind-mounted back at the
    same path inside the new /tmp.
    """
    keep = os.open(workdir, os.O_PATH)
    covered = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(folder) and not os.path.islink(folder):
            _mount(
                "tmpfs",
                folder,
                "tmpfs",
                _MS_NOSUID | _MS_NODEV,
                "mode=1777,size=64m",
            )
            covered.append(folder)
    os.makedirs(workdir, exist_ok=True)
    _mount(f"/proc/self/fd/{keep}", workdir, None, _MS_BIND, None)
    os.close(keep)
    applied["private_tmp"] = covered


def _set_limit(kind, value, applied, label):
    try:
        resource.setrlimit(kind, (value, value))
        applied[label] = value
    except (ValueError, OSError) as err:
        applied[label] = f"failed: {err}"


def _apply_limits(config, applied):
    if config.get("uid") is not None:
        if config.get("mount_namespace"):
            try:
                _expose_python(applied)
            except OSError as err:
                applied["exposed"] = f"failed: {err}"
            try:
                _private_tmp(config["workdir"], applied)
            except OSError as err:
                applied["private_tmp"] = f"failed: {err}"
        try:
            os.setgroups([])
            os.setgid(config["gid"])
            os.setuid(config["uid"])
            applied["uid"] = os.getuid()
        except OSError as err:
            applied["uid"] = f"failed: {err}"
    _set_limit(resource.RLIMIT_CORE, 0, applied, "core")
    _set_limit(
        resource.RLIMIT_FSIZE, config["max_file_bytes"], applied, "fsize"
    )
    if config.get("max_processes"):
        _set_limit(
            resource.RLIMIT_NPROC, config["max_processes"], applied, "nproc"
        )
    if config.get("memory_bytes"):
        _set_limit(resource.RLIMIT_AS, config["memory_bytes"], applied, "as")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _error(err):
    """A plain-data description of an exception raised by the submission."""
    try:
        message = str(err)
    except BaseException:  # noqa: BLE001 - the student controls __str__
        message = "<the exception's message could not be printed>"
    try:
        lines = traceback.format_exception(type(err), err, err.__traceback__)
        trace = "".join(lines[-12:])
    except BaseException:  # noqa: BLE001
        trace = ""
    return {
        "type": type(err).__name__[:100],
        "message": message[:_MAX_TEXT],
        "traceback": trace[-4 * _MAX_TEXT :],
    }


def _describe_model(model):
    """Architecture facts about a Keras model, as plain data."""

    def layer_facts(layer, depth):
        facts = {
            "class": type(layer).__name__,
            "name": str(layer.name),
            "trainable": bool(layer.trainable),
        }
        try:
            facts["params"] = int(layer.count_params())
        except Exception:  # noqa: BLE001 - an unbuilt layer
            facts["params"] = 0
        facts["trainable_params"] = int(
            sum(int(w.numpy().size) for w in layer.trainable_weights)
        )
        if depth < 2 and hasattr(layer, "layers"):
            facts["layers"] = [
                layer_facts(sub, depth + 1) for sub in layer.layers
            ]
        return facts

    def shape(value):
        try:
            return [None if n is None else int(n) for n in value]
        except TypeError:
            return None

    return {
        "layers": [layer_facts(layer, 1) for layer in model.layers],
        "input_shape": shape(getattr(model, "input_shape", None) or ()),
        "output_shape": shape(getattr(model, "output_shape", None) or ()),
        "params": int(model.count_params()),
        "trainable_params": int(
            sum(int(w.numpy().size) for w in model.trainable_weights)
        ),
    }


class _Handles:
    """Objects that stay in the sandbox (Keras models), by number."""

    def __init__(self):
        self.objects = {}

    def hook(self, value):
        keras = sys.modules.get("keras")
        if keras is None or not isinstance(value, keras.Model):
            return None
        handle = len(self.objects) + 1
        self.objects[handle] = value
        return handle, _describe_model(value)


_METHODS = {"predict", "count_params"}


def _serve(codec, module, fd_in, fd_out, handles):
    while True:
        try:
            request = codec.read_message(fd_in)
        except codec.ChannelClosed:
            return
        try:
            op = request["op"]
            if op == "call":
                target = getattr(module, request["name"], None)
                if target is None:
                    raise AttributeError(
                        f"the submission defines no {request['name']!r}"
                    )
                if not callable(target):
                    raise TypeError(f"{request['name']!r} is not a function")
            elif op == "method":
                obj = handles.objects.get(request["handle"])
                if obj is None or request["name"] not in _METHODS:
                    raise AttributeError(
                        f"no method {request['name']!r} on that object"
                    )
                target = getattr(obj, request["name"])
            else:
                raise ValueError(f"unknown request {op!r}")
            value = target(
                *request.get("args", []), **request.get("kwargs", {})
            )
            data = codec.encode({"value": value}, remote_hook=handles.hook)
        except BaseException as err:  # noqa: BLE001 - includes SystemExit
            data = codec.encode({"error": _error(err)})
        view = memoryview(data)
        while view:
            view = view[os.write(fd_out, view) :]


def main():
    config = json.loads(sys.argv[1])
    fd_in, fd_out = config["fd_in"], config["fd_out"]
    codec = _load_codec(config["grading_dir"])
    os.closerange(3, min(fd_in, fd_out))
    os.closerange(max(fd_in, fd_out) + 1, 4096)
    applied = {"pid": os.getpid()}
    _apply_limits(config, applied)
    os.chdir(config["workdir"])
    sys.path.insert(0, config["workdir"])
    if config.get("forbidden"):
        sys.meta_path.insert(
            0, _ImportBlocker(config["forbidden"], config["lab"])
        )
    sys.dont_write_bytecode = True
    for name, fd in (("stdout", 1), ("stderr", 2)):
        setattr(
            sys,
            name,
            io.TextIOWrapper(
                open(fd, "wb", buffering=0, closefd=False),
                encoding="utf-8",
                errors="backslashreplace",
                write_through=True,
            ),
        )
    sys.argv = [config["module_path"]]
    try:
        spec = importlib.util.spec_from_file_location(
            "submission", config["module_path"]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - includes SystemExit at import
        codec.write_message(
            fd_out, {"ready": False, "applied": applied, "error": _error(err)}
        )
        return
    codec.write_message(fd_out, {"ready": True, "applied": applied})
    _serve(codec, module, fd_in, fd_out, _Handles())


if __name__ == "__main__":
    main()
