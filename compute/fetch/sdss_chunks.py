"""RA slices of the SDSS query and the on-disk chunk folder that lets a fetch resume."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from compute.errors import ZcellsInputError
from compute.fetch.atomic import write_bytes_atomic, write_parquet_atomic


@dataclass(frozen=True)
class RaChunk:
    """A half-open RA slice ``[lo, hi)`` in degrees; ``depth`` counts halvings."""

    lo: float
    hi: float
    depth: int = 0

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``ra [0, 15)``."""
        return f"ra [{self.lo:g}, {self.hi:g})"

    @property
    def stem(self) -> str:
        """File-name part, e.g. ``ra000.000000-015.000000``."""
        return f"ra{self.lo:010.6f}-{self.hi:010.6f}"

    def halves(self) -> tuple[RaChunk, RaChunk]:
        """Split in two at the middle."""
        mid = self.lo + (self.hi - self.lo) / 2.0
        return RaChunk(self.lo, mid, self.depth + 1), RaChunk(mid, self.hi, self.depth + 1)


def plan_ra_chunks(n: int) -> list[RaChunk]:
    """Cut the sky into ``n`` equal RA slices covering ``[0, 360)`` exactly.

    Examples
    --------
    >>> [c.label for c in plan_ra_chunks(3)]
    ['ra [0, 120)', 'ra [120, 240)', 'ra [240, 360)']
    """
    if not 1 <= int(n) <= 360:
        raise ZcellsInputError(f"--chunks must be between 1 and 360, got {n}")
    n = int(n)
    edges = [360.0 * k / n for k in range(n + 1)]
    return [RaChunk(edges[k], edges[k + 1]) for k in range(n)]


class ChunkStore:
    """A folder of finished chunks (Parquet) and split markers for one query.

    Every file name carries ``fingerprint`` (a hash of the query and release), so a changed
    query never reuses chunks of another one. Files are written atomically, so a killed
    fetch leaves only whole chunks behind.
    """

    def __init__(self, folder: str | os.PathLike[str], fingerprint: str) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint

    def _path(self, chunk: RaChunk, suffix: str) -> Path:
        return self.folder / f"chunk_{self.fingerprint}_{chunk.stem}{suffix}"

    def has(self, chunk: RaChunk) -> bool:
        """Whether ``chunk`` was fetched completely before."""
        return self._path(chunk, ".parquet").is_file()

    def load(self, chunk: RaChunk) -> pd.DataFrame:
        """Read a finished chunk."""
        path = self._path(chunk, ".parquet")
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # a damaged chunk file: say which, and how to recover
            raise ZcellsInputError(
                f"{path}: chunk file unreadable ({exc}); delete it and run the fetch again"
            ) from None

    def save(self, chunk: RaChunk, df: pd.DataFrame) -> None:
        """Store a finished chunk atomically."""
        write_parquet_atomic(self._path(chunk, ".parquet"), df)

    def is_split(self, chunk: RaChunk) -> bool:
        """Whether ``chunk`` hit the row limit before and is fetched as two halves."""
        return self._path(chunk, ".split").is_file()

    def mark_split(self, chunk: RaChunk, rows: int) -> None:
        """Record that ``chunk`` returned ``rows`` rows (the limit) and is split."""
        write_bytes_atomic(self._path(chunk, ".split"), f"{rows}\n".encode())

    def clear(self) -> None:
        """Delete this query's chunk files, and the folder when nothing else is left in it."""
        if not self.folder.is_dir():
            return
        for path in self.folder.glob(f"chunk_{self.fingerprint}_*"):
            path.unlink(missing_ok=True)
        for path in self.folder.glob(".chunk_*.tmp"):
            path.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass


def query_fingerprint(*parts: str) -> str:
    """Short stable hash of the query text and settings.

    Examples
    --------
    >>> len(query_fingerprint("SELECT 1", "dr12"))
    12
    """
    return hashlib.sha256("\n\x1f".join(parts).encode()).hexdigest()[:12]
