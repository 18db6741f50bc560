"""Runs a submission in a limited child process and calls its functions.

The grader never imports student code. `Sandbox` starts
`python -I _child.py` in a fresh working folder that holds only a copy of
the submission, and talks to it over two pipes with `codec` (JSON plus raw
array bytes; nothing is unpickled). The child gets, where the OS allows:

- a per-call timeout and a per-submission wall-clock budget (the parent
  kills the child when either runs out);
- a memory cap (`RLIMIT_AS`), a process cap (`RLIMIT_NPROC`), a file-size
  cap (`RLIMIT_FSIZE`) and no core dumps;
- its output captured to a file the grader owns, and shown truncated;
- new network and PID namespaces when the grader runs as root (no network;
  every process it starts dies with it);
- an unprivileged user (`nobody`) when the grader runs as root.

`Sandbox.protections()` says which of these were active.
"""

import dataclasses
import functools
import json
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from mlkeras.grading import codec

_GRADING_DIR = pathlib.Path(__file__).resolve().parent
_CHILD = _GRADING_DIR / "_child.py"
_MAX_SUBMISSION_BYTES = 64 * 2**20


@dataclasses.dataclass
class Limits:
    """The limits a sandboxed submission runs under.

    Attributes:
        call_timeout: seconds one call may take. Defaults to `10`.
        load_timeout: seconds the import of the submission may take.
            Defaults to `30`.
        wall_clock: seconds the whole submission may use, restarts included.
            Defaults to `120`.
        memory_bytes: the address-space cap. Defaults to 2 GiB.
        max_processes: the process (and thread) cap for the child's user.
            Defaults to `64`.
        max_file_bytes: the largest file the child may write, its output
            included. Defaults to 16 MiB.
        max_output_chars: how much of the child's output is kept.
            Defaults to `4000`.
        forbidden_imports: top-level modules the submission may not import.
        isolate: use network/PID namespaces and drop to `nobody` when root.
            Defaults to `True`.
        max_restarts: how often a crashed or timed-out child is restarted
            for the next call. Defaults to `8`.
    """

    call_timeout: float = 10.0
    load_timeout: float = 30.0
    wall_clock: float = 120.0
    memory_bytes: int = 2 * 2**30
    max_processes: int = 64
    max_file_bytes: int = 16 * 2**20
    max_output_chars: int = 4000
    forbidden_imports: tuple = ()
    isolate: bool = True
    max_restarts: int = 8


class SubmissionError(Exception):
    """A call into the submission failed; `reason` says how.

    `reason` is one of `"timeout"`, `"wall_clock"`, `"crash"`, `"memory"`,
    `"raised"` (the student code raised), `"load"` (the module did not
    import), `"missing"` (no such function), `"protocol"` (an unreadable
    answer).
    """

    def __init__(self, reason, message, traceback_text=""):
        super().__init__(message)
        self.reason = reason
        self.traceback_text = traceback_text


@functools.lru_cache(maxsize=None)
def _namespace_prefix():
    """The `unshare` command line that isolates a child, or `None`."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return None
    prefix = ["unshare", "--net", "--pid", "--mount", "--fork", "--kill-child"]
    try:
        done = subprocess.run(
            prefix + ["true"], capture_output=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def _unprivileged_ids():
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Sandbox:
    """One submission, loaded in a limited child process.

    Args:
        module_path: the submission's main `.py` file.
        limits: a `Limits`. Defaults to `Limits()`.
        lab: the lab identifier, for messages.
        copy_folder: copy the file's whole folder (a folder submission)
            instead of the file alone. Defaults to `False`.

    Call `close()` (or use `with`) to kill the child and delete its folder.
    """

    def __init__(self, module_path, limits=None, lab="", copy_folder=False):
        self.module_path = pathlib.Path(module_path)
        if not self.module_path.is_file():
            raise FileNotFoundError(f"no submission file at {self.module_path}")
        self.limits = limits or Limits()
        self.lab = lab
        self.copy_folder = copy_folder
        self._root = None
        self._proc = None
        self._to_child = None
        self._from_child = None
        self._output_file = None
        self._started = None
        self._restarts = 0
        self._load_error = None
        self._applied = {}
        self._crashes = []

    # ------------------------------------------------------------ lifecycle

    def _prepare_folder(self):
        self._root = pathlib.Path(tempfile.mkdtemp(prefix="mlkeras-sandbox-"))
        os.chmod(self._root, 0o711)
        work = self._root / "work"
        if self.copy_folder:
            total = sum(
                p.stat().st_size
                for p in self.module_path.parent.rglob("*")
                if p.is_file() and not p.is_symlink()
            )
            if total > _MAX_SUBMISSION_BYTES:
                raise ValueError(
                    f"the submission folder is larger than "
                    f"{_MAX_SUBMISSION_BYTES // 2**20} MiB"
                )
            shutil.copytree(
                self.module_path.parent,
                work,
                symlinks=False,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            work.mkdir()
            shutil.copyfile(self.module_path, work / self.module_path.name)
        if self._drop_ids() is not None:
            uid, gid = self._drop_ids()
            for path in [work, *work.rglob("*")]:
                os.lchown(path, uid, gid)
        return work

    def _drop_ids(self):
        if self.limits.isolate and os.geteuid() == 0:
            return _unprivileged_ids()
        return None

    def _spawn(self):
        if self._root is None:
            self._workdir = self._prepare_folder()
            self._output_file = open(self._root / "output.txt", "w+b")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        drop = self._drop_ids()
        config = {
            "fd_in": to_child_r,
            "fd_out": from_child_w,
            "grading_dir": str(_GRADING_DIR),
            "workdir": str(self._workdir),
            "module_path": str(self._workdir / self.module_path.name),
            "lab": self.lab,
            "forbidden": list(self.limits.forbidden_imports),
            "memory_bytes": self.limits.memory_bytes,
            "max_processes": self.limits.max_processes,
            "max_file_bytes": self.limits.max_file_bytes,
            "uid": drop[0] if drop else None,
            "gid": drop[1] if drop else None,
        }
        prefix = _namespace_prefix() if self.limits.isolate else None
        config["mount_namespace"] = prefix is not None
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self._workdir),
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("KERAS_BACKEND",):
            if name in os.environ:
                env[name] = os.environ[name]
        command = [
            *(prefix or []),
            sys.executable,
            "-I",
            str(_CHILD),
            json.dumps(config),
        ]
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._output_file,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child_r, from_child_w),
                cwd=self._workdir,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._to_child, self._from_child = to_child_w, from_child_r
        self._namespaces = prefix is not None
        deadline = time.monotonic() + min(
            self.limits.load_timeout, self._remaining()
        )
        try:
            ready = codec.read_message(self._from_child, deadline=deadline)
            if not isinstance(ready, dict) or not isinstance(
                ready.get("applied"), dict
            ):
                raise codec.ProtocolError("bad first message")
        except codec.ChannelTimeout:
            self._kill()
            self._load_error = SubmissionError(
                "timeout",
                f"importing the submission took longer than "
                f"{self.limits.load_timeout:g} s (an infinite loop at import?)",
            )
            raise self._load_error from None
        except codec.ProtocolError as err:
            status = self._kill()
            self._load_error = self._death_error(status, "while importing", err)
            raise self._load_error from None
        self._applied = ready["applied"]
        if self._started is None:
            self._started = time.monotonic()
        if not ready.get("ready"):
            self._kill()
            info = (
                ready.get("error")
                if isinstance(ready.get("error"), dict)
                else {}
            )
            self._load_error = SubmissionError(
                "memory" if info.get("type") == "MemoryError" else "load",
                f"the submission failed to import: {info.get('type', '?')}: "
                f"{info.get('message', '')}",
                str(info.get("traceback", "")),
            )
            raise self._load_error

    def _remaining(self):
        if self._started is None:
            return self.limits.wall_clock
        return self.limits.wall_clock - (time.monotonic() - self._started)

    def _alive(self):
        return self._proc is not None and self._proc.poll() is None

    def _kill(self):
        """Kills the child and everything it started; returns its exit status."""
        if self._proc is None:
            return None
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            status = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            status = None
        for fd in (self._to_child, self._from_child):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._to_child = self._from_child = None
        self._proc = None
        return status

    def _death_error(self, status, when, err):
        if isinstance(err, codec.ChannelClosed):
            if status is not None and status < 0:
                how = f"was killed by {_signal_name(-status)}"
            elif status is not None and status > 128:
                how = f"was killed by {_signal_name(status - 128)}"
            else:
                how = f"exited with status {status}"
            hint = ""
            if status in (
                -signal.SIGKILL,
                -signal.SIGSEGV,
                128 + signal.SIGKILL,
                128 + signal.SIGSEGV,
            ):
                hint = (
                    f" (perhaps it hit the {self.limits.memory_bytes / 2**30:g} GiB "
                    f"memory cap)"
                )
            return SubmissionError(
                "crash", f"the submission's process {how} {when}{hint}"
            )
        return SubmissionError(
            "protocol", f"unreadable answer from the submission {when}: {err}"
        )

    def start(self):
        """Starts the child and loads the submission (done lazily by `call`)."""
        if self._load_error is not None:
            raise self._load_error
        if not self._alive():
            self._spawn()

    def close(self):
        """Kills the child and removes its folder."""
        self._kill()
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ calls

    def call(self, name, args=(), kwargs=None, timeout=None, handle=None):
        """Calls `name(*args, **kwargs)` in the submission and returns the result.

        Args:
            name: the function's name (or a method name when `handle` is set).
            args: positional arguments (values the codec can carry).
            kwargs: keyword arguments.
            timeout: seconds for this call. Defaults to `limits.call_timeout`.
            handle: the number of a `codec.Remote` object to call a method on.

        Raises:
            SubmissionError: the call timed out, crashed, ran out of memory,
                raised, or the submission did not load.
        """
        if self._load_error is not None:
            raise self._load_error
        if self._started is not None and self._remaining() <= 0:
            raise SubmissionError(
                "wall_clock",
                f"the submission used up its {self.limits.wall_clock:g} s "
                f"wall-clock budget",
            )
        if not self._alive():
            if self._proc is None and self._started is not None:
                if self._restarts >= self.limits.max_restarts:
                    raise SubmissionError(
                        "crash",
                        "the submission crashed too often; no more restarts",
                    )
                self._restarts += 1
            elif self._proc is not None:
                self._kill()
            self._spawn()
        timeout = self.limits.call_timeout if timeout is None else timeout
        budget = min(timeout, self._remaining())
        request = {
            "op": "method" if handle is not None else "call",
            "name": name,
            "args": list(args),
            "kwargs": dict(kwargs or {}),
        }
        if handle is not None:
            request["handle"] = handle
        try:
            codec.write_message(self._to_child, request)
            answer = codec.read_message(
                self._from_child, deadline=time.monotonic() + budget
            )
        except codec.ChannelTimeout:
            self._kill()
            if budget < timeout:
                raise SubmissionError(
                    "wall_clock",
                    f"{name}() ran past the submission's "
                    f"{self.limits.wall_clock:g} s wall-clock budget",
                ) from None
            raise SubmissionError(
                "timeout",
                f"{name}() did not return within {timeout:g} s "
                f"(an infinite loop, or too slow)",
            ) from None
        except (codec.ProtocolError, BrokenPipeError) as err:
            status = self._kill()
            if isinstance(err, BrokenPipeError):
                err = codec.ChannelClosed(str(err))
            raise self._death_error(status, f"during {name}()", err) from None
        if not isinstance(answer, dict) or not (
            {"value"} == set(answer) or {"error"} == set(answer)
        ):
            self._kill()
            raise SubmissionError("protocol", f"malformed answer from {name}()")
        if "error" in answer:
            info = answer["error"] if isinstance(answer["error"], dict) else {}
            kind = str(info.get("type", "?"))
            reason = {"MemoryError": "memory"}.get(kind, "raised")
            if (
                kind == "AttributeError"
                and name
                and "defines no" in str(info.get("message"))
            ):
                reason = "missing"
            message = f"{name}() raised {kind}: {info.get('message', '')}"
            if reason == "memory":
                message += (
                    f" (the sandbox caps memory at "
                    f"{self.limits.memory_bytes / 2**30:g} GiB)"
                )
            raise SubmissionError(
                reason, message, str(info.get("traceback", ""))
            )
        return answer["value"]

    # ------------------------------------------------------------ reports

    def output(self):
        """The child's captured stdout and stderr, truncated."""
        if self._output_file is None:
            return ""
        self._output_file.flush()
        self._output_file.seek(0)
        keep = self.limits.max_output_chars
        data = self._output_file.read(keep + 1)
        text = data.decode("utf-8", errors="replace")
        if len(text) > keep:
            text = text[:keep] + "\n[... output truncated ...]"
        return text

    def protections(self):
        """Which protections were active, as `{name: description}`."""
        applied = self._applied
        dropped = isinstance(applied.get("uid"), int) and applied["uid"] != 0
        limits = self.limits

        def active(label, value):
            return (
                isinstance(applied.get(label), int) and applied[label] == value
            )

        return {
            "separate process": "yes (no pickle, JSON + raw arrays only)",
            "call timeout": f"{limits.call_timeout:g} s",
            "wall-clock limit": f"{limits.wall_clock:g} s",
            "memory cap": (
                f"{limits.memory_bytes / 2**30:g} GiB (RLIMIT_AS)"
                if active("as", limits.memory_bytes)
                else "not active"
            ),
            "process cap": (
                f"{limits.max_processes} (RLIMIT_NPROC)"
                if active("nproc", limits.max_processes) and dropped
                else "not active (RLIMIT_NPROC does not bind root)"
            ),
            "file-size cap": (
                f"{limits.max_file_bytes // 2**20} MiB"
                if active("fsize", limits.max_file_bytes)
                else "not active"
            ),
            "output": f"captured, first {limits.max_output_chars} characters kept",
            "network": (
                "cut (new network namespace)"
                if getattr(self, "_namespaces", False)
                else "not cut (no network namespace available)"
            ),
            "process tree": (
                "new PID namespace: all its processes die with it"
                if getattr(self, "_namespaces", False)
                else "process group only"
            ),
            "user": (
                f"unprivileged (uid {applied['uid']})"
                if dropped
                else "same as the grader"
            ),
            "working folder": "a fresh copy holding only the submission",
            "temporary folders": (
                ", ".join(applied["private_tmp"]) + " private (tmpfs)"
                if isinstance(applied.get("private_tmp"), list)
                else "shared with the machine"
            ),
            "forbidden imports": ", ".join(limits.forbidden_imports) or "none",
        }
