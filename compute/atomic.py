"""Atomic file writes: a temporary file beside the target, then ``os.replace`` over it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    Readers see the old file or the whole new one, never a partial write; on any error the
    temporary file is removed and the target is untouched. The temporary name ends with the
    target's suffix (writers such as ``numpy.savez`` go by it), and the file is made readable
    by everyone (0644) like a normally created one (``mkstemp`` would leave it 0600).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_atomic(p, lambda tmp: tmp.write_text("hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def replace_folder(tmp: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Move the finished folder ``tmp`` to ``out``, replacing an earlier ``out`` if any.

    The earlier folder is renamed aside first and deleted only after the new one is in
    place, so ``out`` is at every moment either the old complete folder or the new one.
    """
    tmp, out = Path(tmp), Path(out)
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}-{time.time_ns()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
