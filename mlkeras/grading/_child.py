"""The sandboxed side of a submission: `main()` with CONFIG in `sys.argv[1]`.

Under bubblewrap the sandboxed Python imports this module (so that its
cached bytecode is used) and calls `main()`; with reduced isolation the
grader runs `python -I _child.py CONFIG`.

It applies the resource limits, receives the submission's files on its
pipe and writes them into its work folder, loads the submission and then
answers call requests from the grader, one at a time, using `codec` (no
pickle). Everything here runs before the submission's own code, so what it
reports in its first message (which limits it applied) is trustworthy;
what the submission does after that can only change the answers it sends.

A Keras model the submission returns is sent back as the bytes of a
`.keras` file, never as facts: in `"verifier"` mode (no student code) this
same program loads such a file with the real Keras and `safe_mode=True`
and reports what Keras says about it.
"""

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


class _ImportBlocker:
    """Refuses imports of the frameworks a NumPy-only exercise forbids.

    Used with reduced isolation only, as advice: under bubblewrap the
    frameworks are simply absent from the sandbox. (A `sys.meta_path`
    entry needs only `find_spec`; `importlib.abc` is not imported because
    it costs every sandbox several milliseconds.)
    """

    def __init__(self, names, lab):
        self.names = frozenset(names)
        self.lab = lab

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(
                f"mlkeras grading: lab {self.lab} is a NumPy-only exercise, so "
                f"importing {fullname!r} is not allowed in this submission "
                f"(forbidden: {', '.join(sorted(self.names))}); write it "
                f"with NumPy.",
                name=fullname,
            )
        return None


def _set_limit(kind, value, applied, label):
    try:
        resource.setrlimit(kind, (value, value))
        applied[label] = value
    except (ValueError, OSError) as err:
        applied[label] = f"failed: {err}"


def _apply_limits(config, applied):
    applied["uid"] = os.getuid()
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


_FORBIDDEN = {"names": (), "lab": ""}


def _error(err):
    """A plain-data description of an exception raised by the submission."""
    try:
        message = str(err)
    except BaseException:  # noqa: BLE001 - the student controls __str__
        message = "<the exception's message could not be printed>"
    name = getattr(err, "name", None)
    if (
        isinstance(err, ImportError)
        and isinstance(name, str)
        and name.split(".")[0] in _FORBIDDEN["names"]
    ):
        message = (
            f"lab {_FORBIDDEN['lab']} is a NumPy-only exercise: {name!r} is "
            f"not installed in its sandbox (forbidden: "
            f"{', '.join(sorted(_FORBIDDEN['names']))}); write it with NumPy."
        )
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

    def __init__(self, workdir, verifier):
        self.objects = {}
        self.workdir = workdir
        self.verifier = verifier

    def hook(self, value):
        keras = sys.modules.get("keras")
        if keras is None or not isinstance(value, keras.Model):
            return None
        handle = len(self.objects) + 1
        self.objects[handle] = value
        if self.verifier:
            return handle, _describe_model(value)
        # The submission's side: only the saved file leaves; the verifier
        # establishes every fact about it.
        path = os.path.join(self.workdir, f".mlkeras-model-{handle}.keras")
        try:
            value.save(path)
            with open(path, "rb") as stream:
                data = stream.read()
            os.unlink(path)
        except BaseException as err:  # noqa: BLE001
            return handle, {"save_error": _error(err)}
        import numpy as np

        return handle, {"keras_file": np.frombuffer(data, dtype=np.uint8)}


_METHODS = {"predict", "count_params"}


def _load_model(workdir, data):
    import keras
    import numpy as np

    data = np.asarray(data, dtype=np.uint8)
    path = os.path.join(workdir, "model.keras")
    with open(path, "wb") as stream:
        stream.write(data.tobytes())
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    finally:
        os.unlink(path)


def _serve(codec, module, fd_in, fd_out, handles):
    while True:
        try:
            request = codec.read_message(fd_in)
        except codec.ChannelClosed:
            return
        try:
            op = request["op"]
            if op == "call" and module is None:
                if request["name"] != "load_model":
                    raise ValueError("the verifier only loads models")
                args = request.get("args", [])

                def target(data):
                    return _load_model(handles.workdir, data)

            elif op == "call":
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
            args = request.get("args", [])
            value = target(*args, **request.get("kwargs", {}))
            data = codec.encode({"value": value}, remote_hook=handles.hook)
        except BaseException as err:  # noqa: BLE001 - includes SystemExit
            data = codec.encode({"error": _error(err)})
        view = memoryview(data)
        while view:
            view = view[os.write(fd_out, view) :]


def _write_files(workdir, files):
    """Writes the submission's files (already checked by the grader)."""
    for name, data in files:
        parts = name.split("/")
        if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad file name {name!r}")
        path = os.path.join(workdir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with open(fd, "wb") as stream:
            stream.write(data.tobytes())


def main():
    config = json.loads(sys.argv[1])
    fd_in, fd_out = config["fd_in"], config["fd_out"]
    os.closerange(3, min(fd_in, fd_out))
    os.closerange(max(fd_in, fd_out) + 1, 4096)
    codec = _load_codec(os.path.dirname(os.path.abspath(__file__)))
    applied = {"pid": os.getpid()}
    _apply_limits(config, applied)
    workdir = config["workdir"]
    _FORBIDDEN["names"] = tuple(config.get("forbidden", ()))
    _FORBIDDEN["lab"] = config.get("lab", "")
    sys.dont_write_bytecode = True
    try:
        intake = codec.read_message(fd_in)
        _write_files(workdir, intake["files"])
    except BaseException as err:  # noqa: BLE001
        codec.write_message(
            fd_out, {"ready": False, "applied": applied, "error": _error(err)}
        )
        return
    os.chdir(workdir)
    verifier = config.get("mode") == "verifier"
    handles = _Handles(workdir, verifier)
    if verifier:
        codec.write_message(fd_out, {"ready": True, "applied": applied})
        _serve(codec, None, fd_in, fd_out, handles)
        return
    sys.path.insert(0, workdir)
    if config.get("forbidden") and config.get("isolation") == "reduced":
        # Advisory only: with bubblewrap the frameworks are simply absent.
        sys.meta_path.insert(
            0, _ImportBlocker(config["forbidden"], config["lab"])
        )
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
    module_path = os.path.join(workdir, *intake["main"].split("/"))
    sys.argv = [module_path]
    try:
        spec = importlib.util.spec_from_file_location("submission", module_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - includes SystemExit at import
        codec.write_message(
            fd_out, {"ready": False, "applied": applied, "error": _error(err)}
        )
        return
    codec.write_message(fd_out, {"ready": True, "applied": applied})
    _serve(codec, module, fd_in, fd_out, handles)


if __name__ == "__main__":
    main()
