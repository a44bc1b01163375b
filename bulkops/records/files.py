"""Replacing a file atomically: readers see the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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
