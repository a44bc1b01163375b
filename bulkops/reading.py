"""Reading files bulkops is given, with a bound: only regular files, lines of bounded length.

A FIFO would block ``open`` until a writer comes, a device such as /dev/zero
never ends, and a line of hundreds of megabytes read whole exhausts memory:
every file a person names goes through these first.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

NOT_REGULAR = "not a regular file (a FIFO, a device or a directory): name a file"


def open_regular(path: Path | str) -> BinaryIO:
    """``path`` opened for reading in binary; OSError (``NOT_REGULAR`` as its strerror)
    if it is no regular file. Never blocks on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def bounded_lines(f: BinaryIO, max_bytes: int) -> Iterator[bytes | None]:
    """Each line of ``f`` with its newline, or None for a line longer than ``max_bytes``
    (newline included), which is read past in chunks and never held whole."""
    while raw := f.readline(max_bytes + 1):
        if len(raw) <= max_bytes:
            yield raw
            continue
        while not raw.endswith(b"\n") and (raw := f.readline(1 << 20)):
            pass  # the rest of an absurd line
        yield None
