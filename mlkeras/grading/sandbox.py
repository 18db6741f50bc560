"""Runs a submission in an isolated child process and calls its functions.

The grader never imports student code. `Sandbox` reads the submission into
memory (`intake`: no link is followed, nothing but regular files accepted),
starts the child program `_child.py` under bubblewrap (`bwrap`) and sends
it the files over a pipe; the child writes them into its work folder,
imports the submission and answers calls with `codec` (JSON plus raw array
bytes; nothing is unpickled). Under bubblewrap the child has:

- new user, PID (with its own `/proc`), IPC, network, UTS and cgroup
  namespaces, a new terminal session, and it dies with the grader;
- a read-only root holding only `/usr`, the Python installation and the
  site-packages the exercise may import (only NumPy for NumPy-only labs),
  wherever they are installed; the class folder, the output and hidden
  folders, home folders, `/run`, the host's `/tmp` and `/dev/shm` and the
  repository's tests are absent;
- one writable work folder and a private `/tmp`, both size-limited tmpfs;
- a uid of its own (distinct per concurrent sandbox; as root, a distinct
  unprivileged host uid), so per-user limits bind each sandbox alone;
- a memory cap, a process cap, a file-size cap and no core dumps;
- a per-call timeout and a wall clock that counts from the start of the
  child, import included; at either deadline the whole sandbox is killed.

Without bubblewrap a `Sandbox` refuses to start unless `Limits.isolation`
is `"reduced"` (limits, timeouts and a private work folder only).
`Sandbox.protections()` says which isolation was used.
"""

import dataclasses
import fcntl
import functools
import importlib.util
import json
import os
import pathlib
import py_compile
import select
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

import numpy as np

from mlkeras.grading import _launch, codec, intake

_GRADING_DIR = pathlib.Path(__file__).resolve().parent
_CHILD = _GRADING_DIR / "_child.py"
_LAUNCH = _GRADING_DIR / "_launch.py"
_INSIDE = "/opt/mlkeras-grader"
_WORK = "/work"
_UID_BASE = 1_900_000_000
_SLOTS = 4096
_MAX_HEADER = 4 * 2**20
INSTALL_HINT = (
    "bubblewrap (bwrap) is needed to isolate submissions: install it "
    "(apt-get install bubblewrap, dnf install bubblewrap) or pass "
    "--reduced-isolation to grade with reduced isolation"
)


class IsolationError(RuntimeError):
    """Full isolation was asked for but bubblewrap cannot run here."""


@dataclasses.dataclass
class Limits:
    """The limits a sandboxed submission runs under.

    Attributes:
        call_timeout: seconds one call may take. Defaults to `10`.
        load_timeout: seconds the start and import of the submission may
            take. Defaults to `30`.
        wall_clock: seconds the whole submission may use, counted from the
            start of its first process, import and restarts included.
            Defaults to `120`.
        memory_bytes: the address-space cap. Defaults to 2 GiB.
        max_processes: the process (and thread) cap. Defaults to `64`.
        max_file_bytes: the largest file the child may write, its output
            included. Defaults to 16 MiB.
        max_output_chars: how much of the child's output is kept.
            Defaults to `4000`.
        forbidden_imports: top-level modules the submission may not use
            (named in the message when it tries).
        packages: the top-level names visible in site-packages, or `None`
            for all of them. NumPy-only labs see `("numpy",)`.
        isolation: `"bubblewrap"` (refuse to run without it) or
            `"reduced"` (no namespaces). Defaults to `"bubblewrap"`.
        work_bytes: the size of the work folder and of `/tmp` (each a
            tmpfs under bubblewrap). Defaults to 64 MiB.
        max_answer_bytes: the largest answer accepted from the child.
            Defaults to 256 MiB.
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
    packages: tuple = None
    isolation: str = "bubblewrap"
    work_bytes: int = 64 * 2**20
    max_answer_bytes: int = 256 * 2**20
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


# ---------------------------------------------------------------- bubblewrap


@functools.lru_cache(maxsize=None)
def bubblewrap():
    """The path of a working `bwrap` and its version, or `(None, reason)`."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bwrap is not installed"
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
        done = subprocess.run(
            [
                path,
                "--unshare-user",
                "--unshare-pid",
                "--unshare-net",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"bwrap cannot run: {err}"
    if done.returncode != 0:
        return None, f"bwrap cannot run: {done.stderr.strip()[:200]}"
    return path, version or "bubblewrap"


def resolve_isolation(isolation):
    """Turns `"auto"` into `"bubblewrap"` or `"reduced"`; checks the rest."""
    if isolation not in ("auto", "bubblewrap", "reduced"):
        raise ValueError(
            f"isolation must be 'auto', 'bubblewrap' or 'reduced'. "
            f"Received: isolation={isolation!r}"
        )
    if isolation == "auto":
        return "bubblewrap" if bubblewrap()[0] else "reduced"
    return isolation


def _real(path):
    return os.path.realpath(path) if path else None


def _under(path, roots):
    return any(path == root or path.startswith(root + os.sep) for root in roots)


@functools.lru_cache(maxsize=None)
def _python_layout():
    """The interpreter's roots and site-packages folders, resolved."""
    roots = []
    for path in (
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(_real(sys.executable))),
    ):
        path = _real(path)
        if path and os.path.isdir(path) and path not in roots:
            roots.append(path)
    sites = []
    candidates = list(site.getsitepackages())
    for base in (sys.prefix, sys.base_prefix):
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base})
        candidates += [paths["purelib"], paths["platlib"]]
    for path in candidates:
        path = _real(path)
        if path and os.path.isdir(path) and path not in sites:
            sites.append(path)
    roots = [r for r in roots if r != "/usr" and not _under(r, ["/usr"])]
    # Drop roots inside other roots.
    roots = [r for r in roots if not _under(r, [o for o in roots if o != r])]
    return tuple(roots), tuple(sites)


def _package_entries(site_dir, packages):
    """The entries of `site_dir` that belong to the allowed packages."""
    keep = []
    names = {name.lower() for name in packages}
    for entry in sorted(os.listdir(site_dir)):
        low = entry.lower()
        stem = low.split("-")[0] if low.endswith(".dist-info") else low
        if stem.endswith(".libs"):
            stem = stem[: -len(".libs")]
        if stem.endswith(".py"):
            stem = stem[:-3]
        if stem in names:
            keep.append(entry)
    return keep


def _hidden_paths():
    """Folders that must never be visible: the repository's tests."""
    repository = _GRADING_DIR.parent.parent
    tests = repository / "tests"
    return [str(tests)] if tests.is_dir() else []


def _bytecode(source):
    """The cached bytecode of one of the grader's own files, written if
    missing or older than the source, or `None` where it cannot be: the
    child then compiles the source itself, a few milliseconds more per
    sandbox."""
    # The child runs without -O: it reads the unoptimized bytecode.
    cached = importlib.util.cache_from_source(str(source), optimization="")
    stale = not os.path.isfile(cached) or (
        os.path.getmtime(cached) < os.path.getmtime(source)
    )
    if stale:
        try:
            py_compile.compile(
                str(source), cfile=cached, doraise=True, optimize=0
            )
        except (OSError, py_compile.PyCompileError):
            return None
    return cached


@functools.lru_cache(maxsize=None)
def _filesystem_arguments(packages, work_bytes):
    """bwrap arguments of the read-only root, and the paths they bind."""
    args, sources = [], []

    def bind(path, target=None):
        args.extend(["--ro-bind", path, target or path])
        sources.append(path)

    bind("/usr")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args.extend(["--symlink", os.readlink(path), path])
        elif os.path.isdir(path):
            bind(path)
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(path):
            bind(_real(path), path)
    args += ["--proc", "/proc", "--dev", "/dev"]
    for path, mode in (("/tmp", "1777"), ("/dev/shm", "1777"), (_WORK, "1777")):
        args += ["--size", str(work_bytes), "--tmpfs", path]
        args += ["--chmod", mode, path]
    roots, sites = _python_layout()
    bound = ["/usr", *roots]
    for root in roots:
        bind(root)
    for site_dir in sites:
        if packages is None:
            if not _under(site_dir, bound):
                bind(site_dir)
            continue
        if _under(site_dir, bound):
            args += ["--tmpfs", site_dir]
        else:
            args += ["--dir", site_dir]
        for entry in _package_entries(site_dir, packages):
            bind(os.path.join(site_dir, entry))
        if _under(site_dir, bound):
            args += ["--remount-ro", site_dir]
    for path in _hidden_paths():
        if _under(path, bound + list(sites)):
            args += ["--tmpfs", path, "--remount-ro", path]
    for name in ("_child.py", "codec.py"):
        bind(str(_GRADING_DIR / name), f"{_INSIDE}/{name}")
        compiled = _bytecode(_GRADING_DIR / name)
        if compiled is not None:
            cached_name = os.path.basename(compiled)
            bind(compiled, f"{_INSIDE}/__pycache__/{cached_name}")
    args += ["--remount-ro", "/"]
    return tuple(args), tuple(sources)


@functools.lru_cache(maxsize=None)
def _needs_exposure(sources):
    """Whether an unprivileged uid cannot reach one of `sources`."""
    if _launch.covers(sources):
        return True
    for path in sources:
        info = os.stat(path)
        if not info.st_mode & (0o005 if stat.S_ISDIR(info.st_mode) else 4):
            return True
    return False


def _lock_folder():
    folder = os.path.join(
        tempfile.gettempdir(), f"mlkeras-sandbox-ids-{os.geteuid()}"
    )
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or info.st_mode & 0o077
    ):
        raise IsolationError(
            f"the sandbox id folder {folder} is not a private folder of "
            f"this user; remove it"
        )
    return folder


def _claim_slot():
    """A sandbox id no other live sandbox on this machine holds, locked."""
    folder = _lock_folder()
    for slot in range(_SLOTS):
        fd = os.open(
            os.path.join(folder, str(slot)),
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise IsolationError(f"more than {_SLOTS} sandboxes are running")


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONUNBUFFERED": "1",
}


class Sandbox:
    """One submission, loaded in an isolated child process.

    Args:
        module_path: the submission's main `.py` file, or `None` with
            `submission`.
        limits: a `Limits`. Defaults to `Limits()`.
        lab: the lab identifier, for messages.
        copy_folder: take the file's whole folder (a folder submission)
            instead of the file alone. Defaults to `False`.
        submission: an `intake.Submission` already read, instead of
            `module_path`.
        mode: `"submission"`, or `"verifier"` for a child that runs no
            student code and loads Keras models with `safe_mode=True`.

    Raises:
        FileNotFoundError: nothing is at `module_path`.
        intake.SubmissionRefused: the submission holds a link, a device,
            a FIFO or a socket, or is too large or too deep.

    Call `close()` (or use `with`) to kill the child.
    """

    def __init__(
        self,
        module_path=None,
        limits=None,
        lab="",
        copy_folder=False,
        submission=None,
        mode="submission",
    ):
        self.limits = limits or Limits()
        self.lab = lab
        self.mode = mode
        if submission is None and mode == "submission":
            path = pathlib.Path(module_path)
            if copy_folder:
                submission = intake.read_submission(path.parent)
                submission.main = path.name
            else:
                submission = intake.read_submission(path)
        self.submission = submission
        self.isolation = resolve_isolation(self.limits.isolation)
        self._slot = None
        self._proc = None
        self._to_child = None
        self._from_child = None
        self._output_file = None
        self._workdir = None
        self._started = None
        self._restarts = 0
        self._load_error = None
        self._applied = {}
        self._verifier = None
        self._info = None
        self._init_pid = None
        self._booting = False
        self._deadline = None

    # ------------------------------------------------------------ lifecycle

    def _uid(self):
        return _UID_BASE + self._slot[0]

    def _command(self, config):
        """The command line that starts the child, and the files it needs."""
        if self.isolation == "reduced":
            # A fresh work folder per child, like bubblewrap's tmpfs.
            if self._workdir is not None:
                intake.remove_tree(self._workdir)
            self._workdir = tempfile.mkdtemp(prefix="mlkeras-sandbox-")
            config["workdir"] = self._workdir
            return (
                [sys.executable, "-I", str(_CHILD), json.dumps(config)],
                self._workdir,
                None,
                None,
            )
        path, _ = bubblewrap()
        if path is None:
            raise IsolationError(INSTALL_HINT)
        if self._slot is None:
            self._slot = _claim_slot()
        uid = self._uid()
        config["workdir"] = _WORK
        filesystem, sources = _filesystem_arguments(
            self.limits.packages, int(self.limits.work_bytes)
        )
        env = dict(_ENV, HOME=_WORK)
        if "KERAS_BACKEND" in os.environ:
            env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
        bwrap = [
            path,
            "--unshare-user",
            "--uid",
            str(uid),
            "--gid",
            str(uid),
            "--disable-userns",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-net",
            "--unshare-uts",
            "--hostname",
            "sandbox",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--info-fd",
            str(config["fd_info"]),
            "--new-session",
            *filesystem,
            "--chdir",
            _WORK,
            "--clearenv",
        ]
        for name, value in env.items():
            bwrap += ["--setenv", name, value]
        # Imported rather than run as a script, so that its bytecode (and
        # codec's), bound next to it, is used instead of compiled again.
        bwrap += [
            sys.executable,
            "-I",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {_INSIDE!r}); import _child; "
            f"del sys.path[0]; _child.main()",
            json.dumps(config),
        ]
        if os.geteuid() != 0:
            return bwrap, "/", None, None
        # As root, bwrap runs as the sandbox's own unprivileged host uid, so
        # no sandbox runs as root or shares a uid with another. Where that
        # uid cannot reach a path to bind (e.g. Python under a 0700 /root),
        # the paths are first made reachable in a private mount namespace:
        # in the forked child when this process has a single thread (a
        # Python function between fork and exec is safe only then), else
        # by a launcher program.
        if not _needs_exposure(sources):
            return bwrap, "/", uid, None
        expose = sorted(set(sources))
        if threading.active_count() == 1:
            return (
                bwrap,
                "/",
                None,
                functools.partial(_launch.enter, expose, uid, uid),
            )
        launch = {"uid": uid, "gid": uid, "expose": expose, "argv": bwrap}
        return (
            [sys.executable, "-I", "-S", str(_LAUNCH), json.dumps(launch)],
            "/",
            None,
            None,
        )

    def _spawn(self, wait=True):
        """Starts the child and sends it the files; with `wait`, also waits
        until the submission is imported."""
        if self._output_file is None:
            self._output_file = tempfile.TemporaryFile()
        if self._started is None:
            self._started = time.monotonic()
        deadline = time.monotonic() + max(
            0.0, min(self.limits.load_timeout, self._remaining())
        )
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        info_r, info_w = os.pipe()
        config = {
            "fd_in": to_child_r,
            "fd_out": from_child_w,
            "lab": self.lab,
            "mode": self.mode,
            "forbidden": list(self.limits.forbidden_imports),
            "memory_bytes": self.limits.memory_bytes,
            "max_processes": self.limits.max_processes,
            "max_file_bytes": self.limits.max_file_bytes,
            "isolation": self.isolation,
            "fd_info": info_w,
        }
        try:
            command, cwd, user, before_exec = self._command(config)
            ids = {}
            if user is not None:
                ids = dict(user=user, group=user, extra_groups=[])
            self._proc = subprocess.Popen(
                command,
                **ids,
                preexec_fn=before_exec,
                stdin=subprocess.DEVNULL,
                stdout=self._output_file,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child_r, from_child_w, info_w),
                cwd=cwd,
                env=dict(_ENV, HOME=self._workdir or "/"),
                start_new_session=True,
            )
        except subprocess.SubprocessError as err:
            if before_exec is None:
                raise
            raise IsolationError(
                f"could not make the Python installation reachable for the "
                f"sandbox's uid {self._uid()}: {err}"
            ) from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
            os.close(info_w)
            if self._proc is None:
                os.close(to_child_w)
                os.close(from_child_r)
                os.close(info_r)
        self._to_child, self._from_child = to_child_w, from_child_r
        self._info = info_r
        self._init_pid = None
        self._read_init_pid(deadline)
        files = []
        main = None
        if self.submission is not None:
            files = [
                [name, np.frombuffer(data, dtype=np.uint8)]
                for name, data in self.submission.files
            ]
            main = self.submission.main
        self._deadline = deadline
        try:
            codec.write_message(
                self._to_child,
                {"files": files, "main": main},
                deadline=deadline,
            )
        except (codec.ProtocolError, BrokenPipeError) as err:
            self._fail_start(err)
        self._booting = True
        if wait:
            self._await_ready()

    def _await_ready(self):
        """Reads the child's first message: the submission imported or not."""
        self._booting = False
        try:
            ready = codec.read_message(
                self._from_child,
                deadline=self._deadline,
                max_payload=2**20,
                max_header=2**20,
            )
            if not isinstance(ready, dict) or not isinstance(
                ready.get("applied"), dict
            ):
                raise codec.ProtocolError("bad first message")
        except (codec.ProtocolError, BrokenPipeError) as err:
            self._fail_start(err)
        self._applied = ready["applied"]
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

    def _fail_start(self, err):
        """Kills a child that did not start; raises the reason (kept)."""
        if isinstance(err, codec.ChannelTimeout):
            self._kill()
            if self._remaining() <= 0:
                message = (
                    f"the submission used up its "
                    f"{self.limits.wall_clock:g} s wall-clock budget "
                    f"while starting"
                )
                self._load_error = SubmissionError("wall_clock", message)
            else:
                self._load_error = SubmissionError(
                    "timeout",
                    f"importing the submission took longer than "
                    f"{self.limits.load_timeout:g} s (an infinite loop at "
                    f"import?)",
                )
            raise self._load_error from None
        status = self._kill(grace=1.0)
        if isinstance(err, BrokenPipeError):
            err = codec.ChannelClosed(str(err))
        self._load_error = self._death_error(status, "while importing", err)
        raise self._load_error from None

    def _read_init_pid(self, deadline):
        """The host pid of the sandbox's PID-namespace init (from bwrap)."""
        try:
            data = b""
            while self.isolation == "bubblewrap" and len(data) < 4096:
                wait = max(0.0, deadline - time.monotonic())
                ready = select.select([self._info], [], [], wait)[0]
                chunk = os.read(self._info, 4096) if ready else b""
                if not chunk:
                    break
                data += chunk
                try:
                    pid = json.loads(data.decode()).get("child-pid")
                except ValueError:
                    continue
                self._init_pid = pid if isinstance(pid, int) else None
                break
        except OSError:
            self._init_pid = None
        finally:
            os.close(self._info)
            self._info = None

    def _kill_namespace(self):
        """Kills the PID namespace's init: the kernel then kills every
        process in the namespace and the init exits only once all are gone,
        so when bwrap has exited nothing of the sandbox is left."""
        pid = self._init_pid
        self._init_pid = None
        if pid is None or self._proc is None:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
            if int(fields[1]) != self._proc.pid:
                return False
            os.kill(pid, signal.SIGKILL)
            return True
        except (OSError, ValueError, IndexError):
            return False

    def _remaining(self):
        if self._started is None:
            return self.limits.wall_clock
        return self.limits.wall_clock - (time.monotonic() - self._started)

    def _alive(self):
        return self._proc is not None and self._proc.poll() is None

    def _kill(self, grace=0.0):
        """Kills the whole sandbox; returns the child's exit status.

        With `grace`, a child that closed its pipe gets that many seconds
        to exit on its own, so that its real exit status is reported.
        """
        self._booting = False
        if self._proc is None:
            return None
        if grace:
            try:
                self._proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if self._info is not None:
            os.close(self._info)
            self._info = None
        if self._kill_namespace():
            # bwrap exits once the namespace's init is gone, i.e. after
            # every process of the sandbox has been killed and reaped.
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for kill in (os.killpg, os.kill):
            try:
                kill(self._proc.pid, signal.SIGKILL)
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
                    f" (perhaps it hit the "
                    f"{self.limits.memory_bytes / 2**30:g} GiB memory cap)"
                )
            return SubmissionError(
                "crash", f"the submission's process {how} {when}{hint}"
            )
        return SubmissionError(
            "protocol", f"unreadable answer from the submission {when}: {err}"
        )

    def prestart(self):
        """Starts the child without waiting for it, so that it imports the
        submission while the grader prepares its checks. A failure to start
        is reported by the first `call`."""
        if self._load_error is None and self._proc is None:
            try:
                self._spawn(wait=False)
            except SubmissionError:
                pass

    def start(self):
        """Starts the child and loads the submission (done lazily by `call`)."""
        if self._load_error is not None:
            raise self._load_error
        if self._booting:
            self._await_ready()
        elif not self._alive():
            self._spawn()

    def close(self):
        """Kills the sandbox (and its verifier) and frees what it held."""
        self._kill()
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None
        if self._workdir is not None:
            intake.remove_tree(self._workdir)
            self._workdir = None
        if self._slot is not None:
            os.close(self._slot[1])
            self._slot = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ models

    def verify_model(self, remote):
        """Loads a model the submission returned in a separate verifier.

        The submission's child sends the model as a `.keras` file; a second
        sandbox that runs no student code loads it with the real Keras and
        `safe_mode=True`, so every fact about the model comes from Keras.

        Returns:
            `(verifier, codec.Remote)`: the verifier `Sandbox` and the
            handle of the loaded model there, with its facts.
        """
        facts = remote.facts if isinstance(remote.facts, dict) else {}
        error = facts.get("save_error")
        if isinstance(error, dict):
            raise SubmissionError(
                "raised",
                f"the returned model could not be saved as a .keras file: "
                f"{error.get('type', '?')}: {error.get('message', '')}",
            )
        data = facts.get("keras_file")
        if not (
            isinstance(data, np.ndarray)
            and data.dtype == np.uint8
            and data.ndim == 1
        ):
            raise SubmissionError(
                "protocol", "the returned model did not arrive as a .keras file"
            )
        if self._verifier is None:
            self._verifier = Sandbox(
                # It runs no student code: importing Keras may take long on
                # a loaded machine without that being anyone's fault.
                limits=dataclasses.replace(
                    self.limits,
                    packages=None,
                    max_restarts=2,
                    load_timeout=max(self.limits.load_timeout, 120.0),
                ),
                lab=self.lab,
                mode="verifier",
            )
        try:
            value = self._verifier.call(
                "load_model", (data,), timeout=self.limits.call_timeout
            )
        except SubmissionError as err:
            raise SubmissionError(
                "raised",
                f"the returned model could not be loaded with Keras "
                f"(safe_mode=True): {err}",
            ) from None
        if not isinstance(value, codec.Remote):
            raise SubmissionError("protocol", "the model verifier failed")
        return self._verifier, value

    # ------------------------------------------------------------ calls

    def call(self, name, args=(), kwargs=None, timeout=None, handle=None):
        """Calls `name(*args, **kwargs)` in the submission; returns the result.

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
        if self._booting:
            self._await_ready()
        if self._started is not None and self._remaining() <= 0:
            self._kill()
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
            deadline = time.monotonic() + budget
            codec.write_message(self._to_child, request, deadline=deadline)
            answer = codec.read_message(
                self._from_child,
                deadline=deadline,
                max_payload=self.limits.max_answer_bytes,
                max_header=_MAX_HEADER,
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
            closed = isinstance(err, (codec.ChannelClosed, BrokenPipeError))
            status = self._kill(grace=1.0 if closed else 0.0)
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
        limits = self.limits

        def active(label, value):
            return (
                isinstance(applied.get(label), int) and applied[label] == value
            )

        full = self.isolation == "bubblewrap"
        uid = applied.get("uid")
        if full:
            isolation = (
                f"{bubblewrap()[1]}: new user, PID, IPC, network, UTS and "
                f"cgroup namespaces"
            )
        else:
            isolation = (
                "reduced (no bubblewrap): the submission runs as the "
                "grader's user and sees its files"
            )
        return {
            "isolation": isolation,
            "separate process": "yes (no pickle, JSON + raw arrays only)",
            "call timeout": f"{limits.call_timeout:g} s",
            "wall-clock limit": f"{limits.wall_clock:g} s, import included",
            "memory cap": (
                f"{limits.memory_bytes / 2**30:g} GiB (RLIMIT_AS)"
                if active("as", limits.memory_bytes)
                else "not active"
            ),
            "process cap": (
                f"{limits.max_processes} (RLIMIT_NPROC, own user)"
                if active("nproc", limits.max_processes) and full
                else f"{limits.max_processes} (RLIMIT_NPROC, shared user)"
                if active("nproc", limits.max_processes)
                else "not active"
            ),
            "file-size cap": (
                f"{limits.max_file_bytes // 2**20} MiB"
                if active("fsize", limits.max_file_bytes)
                else "not active"
            ),
            "output": (
                f"captured, first {limits.max_output_chars} characters kept"
            ),
            "network": (
                "cut (new network namespace)"
                if full
                else "not cut (reduced isolation)"
            ),
            "process tree": (
                "new PID namespace with its own /proc; all its processes "
                "die with it"
                if full
                else "process group only"
            ),
            "user": (
                "a uid of its own, distinct from every other sandbox "
                "(user namespace)"
                if full and isinstance(uid, int)
                else "same as the grader"
            ),
            "file system": (
                f"read-only: system, Python and "
                f"{', '.join(limits.packages) if limits.packages else 'all'}"
                f" site-packages; writable {_WORK} and /tmp "
                f"({limits.work_bytes // 2**20} MiB tmpfs each)"
                if full
                else "the grader's, with a private work folder"
            ),
            "packages": (
                ", ".join(limits.packages)
                if limits.packages is not None and full
                else "all installed"
            ),
        }
