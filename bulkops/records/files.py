"""Our own files: opened without following links, replaced atomically, checked before a run.

``atomic_write``: readers see the old content or the new, never a mix.
``open_own_file``: never through a symbolic link (``O_NOFOLLOW``), only a regular file.
``check_output_path``: a file a run will write later, checked before anything is sent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from bulkops.errors import JobError

LINK_REFUSED = "is a symbolic link; bulkops never follows one for its own files: name the real file"


def open_own_file(
    path: Path, flags: int, what: str, mode: int = 0o644, *, one_name: bool = False
) -> int:
    """``os.open`` that never follows a symbolic link and accepts only a regular file
    (with ``one_name``, one that has no second name: no hard link). Every failure is a
    JobError naming ``what`` and ``path``."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise JobError(f"{what} {path}: {_why(exc)}") from exc
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif one_name and info.st_nlink > 1:
        problem = (
            f"has {info.st_nlink} names (hard links); bulkops refuses a second name "
            "for its files, which would get past the lock: remove the other links"
        )
    if problem:
        os.close(fd)
        raise JobError(f"{what} {path} {problem}")
    return fd


def _why(exc: OSError | ValueError) -> str:
    if not isinstance(exc, OSError):
        return "not a usable path"
    if exc.errno == errno.ELOOP:
        return LINK_REFUSED
    if exc.errno == errno.EISDIR:
        return "is a directory; name a file"
    return f"cannot open it: {exc.strerror or exc}"


def check_output_path(path: Path, what: str) -> None:
    """JobError now if ``atomic_write`` could not later replace ``path``: a link, a
    directory or another non-regular file there, or a parent we cannot write in."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as exc:
        raise JobError(f"{what} {path}: {exc.strerror}") from exc
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise JobError(f"{what} {path} {LINK_REFUSED}")
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise JobError(f"{what} {path} is {kind}; name a file")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # atomic_write creates the missing ones
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise JobError(f"{what} {path}: cannot write in {parent}")


def atomic_write(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Writes ``text`` (UTF-8) to ``path`` through a fsynced temporary file and a rename.

    Parent directories are created. The temporary file is ``.<name>.<random>.tmp``
    in the same directory (never matching ``*.prom`` or ``*.json``, so a
    collector cannot read half a file). On error (OSError) the previous file is
    left as it was and no temporary file remains.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        # interrupted or failed before the rename: the old file stays, the temp goes
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; some filesystems refuse, which is harmless."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
