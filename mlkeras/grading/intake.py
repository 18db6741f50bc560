"""Reads a submission into memory without trusting its file tree.

The grader may run as root, so nothing here follows a symbolic link or
opens anything but a regular file: every entry is examined with `lstat`,
files are opened with `O_NOFOLLOW | O_NONBLOCK` relative to their folder's
descriptor and checked again with `fstat`. Links, devices, FIFOs and
sockets make the whole submission refused with a message that names the
entry. The number of entries, their total size and the folder depth are
bounded while walking, before any content is read. The files then travel
to the sandbox over a pipe; nothing of the submission is copied on the
grader's disk.

`remove_tree` deletes a folder of any depth without recursion and without
following links, so cleanup cannot fail on a hostile tree.
"""

import dataclasses
import os
import stat

MAX_FILES = 256
MAX_BYTES = 32 * 2**20
MAX_DEPTH = 8
_SKIPPED = frozenset({"__pycache__", ".git", ".ipynb_checkpoints"})


class SubmissionRefused(ValueError):
    """The submission's files cannot be accepted (a link, a device, ...)."""


@dataclasses.dataclass
class Submission:
    """A submission read into memory.

    Attributes:
        path: the path it was read from.
        main: the relative path of the main `.py` file.
        files: `[(relative_path, bytes)]`, the main file included.
        is_folder: whether it was a folder.
        notebook: the notebook's file name when the submission is a
            `.ipynb` file (then `main` is its code cells as a module),
            else `""`.
        cells: for a notebook, `(first_line, cell_number)` of each code
            cell in `main` (see `notebooks.to_source`).
    """

    path: str
    main: str
    files: list
    is_folder: bool
    notebook: str = ""
    cells: tuple = ()

    def locate_errors(self, text):
        """`text` with the main module's lines shown as notebook cells."""
        if not self.notebook:
            return text
        from mlkeras.grading import notebooks

        return notebooks.rewrite_locations(
            text, self.main, self.notebook, self.cells
        )

    @property
    def total_bytes(self):
        return sum(len(data) for _, data in self.files)


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    return "not a regular file"


def _refuse(path, what):
    return SubmissionRefused(
        f"refused: {path!r} is {what}; submissions may hold only regular "
        f"files and folders"
    )


def _read_file(dir_fd, name, shown, limit):
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(shown, _kind(info.st_mode) or "not a regular file")
        if info.st_size > limit:
            raise SubmissionRefused(
                f"refused: the submission is larger than "
                f"{MAX_BYTES // 2**20} MiB (at {shown!r})"
            )
        parts, size = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise SubmissionRefused(
                    f"refused: the submission is larger than "
                    f"{MAX_BYTES // 2**20} MiB (at {shown!r})"
                )
        return b"".join(parts)
    finally:
        os.close(fd)


def _walk(root_fd, shown_root):
    """Lists `(relative_path, dir_fd_path_parts)` of every regular file."""
    files, entries = [], 0
    # (descriptor, relative path, depth); descriptors closed as we go.
    pending = [(root_fd, "", 0)]
    opened = []
    try:
        while pending:
            fd, rel, depth = pending.pop()
            for name in sorted(os.listdir(fd)):
                if name in _SKIPPED:
                    continue
                entries += 1
                if entries > MAX_FILES:
                    raise SubmissionRefused(
                        f"refused: the submission holds more than "
                        f"{MAX_FILES} files and folders"
                    )
                shown = f"{rel}{name}"
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                what = _kind(info.st_mode)
                if what is not None:
                    raise _refuse(f"{shown_root}/{shown}", what)
                if stat.S_ISDIR(info.st_mode):
                    if depth + 1 >= MAX_DEPTH:
                        raise SubmissionRefused(
                            f"refused: the submission's folders are nested "
                            f"deeper than {MAX_DEPTH} levels"
                        )
                    child = os.open(
                        name,
                        os.O_RDONLY
                        | os.O_DIRECTORY
                        | os.O_NOFOLLOW
                        | os.O_CLOEXEC,
                        dir_fd=fd,
                    )
                    opened.append(child)
                    pending.append((child, f"{shown}/", depth + 1))
                else:
                    files.append((fd, name, shown, info.st_size))
        total = sum(size for *_, size in files)
        if total > MAX_BYTES:
            raise SubmissionRefused(
                f"refused: the submission is larger than "
                f"{MAX_BYTES // 2**20} MiB"
            )
        contents, left = [], MAX_BYTES
        for fd, name, shown, _ in files:
            data = _read_file(fd, name, f"{shown_root}/{shown}", left)
            left -= len(data)
            contents.append((shown, data))
        return contents
    finally:
        for fd in opened:
            os.close(fd)


def _main_file(names, shown):
    top = sorted(name for name in names if "/" not in name)
    candidates = [name for name in top if name.endswith(".py")]
    from mlkeras.grading import exercises

    preferred = [
        name
        for name in candidates
        if exercises.infer_lab(name) or name == "submission.py"
    ]
    if len(preferred) == 1:
        return preferred[0]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(
        f"cannot tell which .py file in the folder is the submission "
        f"(name it submission.py). Received: submission={shown!r}"
    )


def read_submission(path):
    """Reads a submission file or folder into memory, refusing unsafe trees.

    A folder submission's main file is `labNN.py`, `submission.py`, or its
    only top-level `.py` file.

    Args:
        path: a `.py` file, a `.ipynb` notebook (its code cells become
            the module, see `notebooks.to_source`) or a folder.

    Returns:
        A `Submission`.

    Raises:
        FileNotFoundError: nothing is at `path`.
        SubmissionRefused: a link, device, FIFO or socket, or a limit.
        ValueError: not a `.py` file, or no clear main file in the folder.
    """
    shown = str(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no such submission file or folder. Received: submission={shown!r}"
        ) from None
    what = _kind(info.st_mode)
    if what is not None:
        raise _refuse(shown, what)
    if stat.S_ISREG(info.st_mode):
        if not shown.endswith((".py", ".ipynb")):
            raise ValueError(
                f"a submission must be a .py file, a .ipynb notebook or a "
                f"folder. Received: submission={shown!r}"
            )
        parent, name = os.path.split(os.path.abspath(path))
        dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            data = _read_file(dir_fd, name, shown, MAX_BYTES)
        finally:
            os.close(dir_fd)
        if name.endswith(".ipynb"):
            from mlkeras.grading import notebooks

            source, cells = notebooks.to_source(data, shown)
            module = name[: -len(".ipynb")] + ".py"
            return Submission(
                shown,
                module,
                [(module, source.encode("utf-8"))],
                False,
                notebook=name,
                cells=cells,
            )
        return Submission(shown, name, [(name, data)], False)
    root_fd = os.open(
        path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    )
    try:
        files = _walk(root_fd, shown)
    finally:
        os.close(root_fd)
    main = _main_file([name for name, _ in files], shown)
    return Submission(shown, main, files, True)


def remove_tree(path):
    """Deletes a folder tree of any depth; never follows links, never raises.

    Deep sub-folders are first moved up next to the top folder's entries,
    so no path grows long and nothing recurses.
    """
    try:
        top = os.open(
            path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        )
    except FileNotFoundError:
        return
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    counter = 0
    try:
        os.fchmod(top, 0o700)
    except OSError:
        pass
    try:
        queue = [name for name in os.listdir(top)]
        while queue:
            name = queue.pop()
            try:
                info = os.stat(name, dir_fd=top, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(info.st_mode):
                try:
                    os.unlink(name, dir_fd=top)
                except OSError:
                    pass
                continue
            try:
                os.chmod(name, 0o700, dir_fd=top, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
            try:
                fd = os.open(
                    name,
                    os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                    dir_fd=top,
                )
            except OSError:
                continue
            try:
                children = os.listdir(fd)
                moved = False
                for child in children:
                    try:
                        child_info = os.stat(
                            child, dir_fd=fd, follow_symlinks=False
                        )
                    except OSError:
                        continue
                    if stat.S_ISDIR(child_info.st_mode):
                        counter += 1
                        new = f".rm-{counter}"
                        while True:
                            try:
                                os.stat(new, dir_fd=top, follow_symlinks=False)
                            except FileNotFoundError:
                                break
                            counter += 1
                            new = f".rm-{counter}"
                        try:
                            os.rename(child, new, src_dir_fd=fd, dst_dir_fd=top)
                            queue.append(new)
                            moved = True
                        except OSError:
                            pass
                    else:
                        try:
                            os.unlink(child, dir_fd=fd)
                        except OSError:
                            pass
            finally:
                os.close(fd)
            try:
                os.rmdir(name, dir_fd=top)
            except OSError:
                if moved:
                    queue.insert(0, name)
    finally:
        os.close(top)
    try:
        os.rmdir(path)
    except OSError:
        pass
