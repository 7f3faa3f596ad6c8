"""Disk cache of cutout answers, keyed by a hash of (kind, layer, ra, dec, size, pixscale, bands)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from compute.fetch.atomic import write_bytes_atomic

#: file suffix of an answer that came back 404 (kept so a second run does not ask again)
MISSING_SUFFIX = ".404"


@dataclass(frozen=True)
class CutoutKey:
    """Everything that decides a cutout's content."""

    kind: str  # "fits" or "jpg"
    layer: str
    ra: float
    dec: float
    size: int
    pixscale: float
    bands: str = ""

    def text(self) -> str:
        """Canonical text form (6 decimals in RA/Dec: 4 mas), hashed into the file name.

        Examples
        --------
        >>> CutoutKey("jpg", "ls-dr10", 10.0, -2.5, 96, 0.262).text()
        'jpg|ls-dr10|10.000000|-2.500000|96|0.262|'
        """
        return (
            f"{self.kind}|{self.layer}|{self.ra:.6f}|{self.dec:.6f}|{int(self.size)}|"
            f"{self.pixscale:g}|{self.bands}"
        )

    def digest(self) -> str:
        """SHA-256 of `text`, hex."""
        return hashlib.sha256(self.text().encode()).hexdigest()


class CutoutCache:
    """Cached answers in ``folder/<kind>/<h[:2]>/<h>.<kind>``; 404s as ``<h>.404`` markers."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, key: CutoutKey) -> Path:
        """File that holds the answer for ``key``."""
        digest = key.digest()
        return self.folder / key.kind / digest[:2] / f"{digest}.{key.kind}"

    def _missing_path(self, key: CutoutKey) -> Path:
        return self.path(key).with_suffix(MISSING_SUFFIX)

    def get(self, key: CutoutKey) -> bytes | None:
        """Cached body, or None."""
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def missing(self, key: CutoutKey, source: str = "") -> str | None:
        """The message recorded when ``source`` (the service root) answered 404, or None.

        A 404 from another root (say a mistyped ``--base-url``) does not count.
        """
        try:
            recorded, _, message = self._missing_path(key).read_text().partition("\n")
        except FileNotFoundError:
            return None
        return message if recorded == source else None

    def put(self, key: CutoutKey, data: bytes) -> None:
        """Store a body atomically."""
        write_bytes_atomic(self.path(key), data)

    def put_missing(self, key: CutoutKey, message: str, source: str = "") -> None:
        """Record a 404 answer from ``source`` (the service root)."""
        write_bytes_atomic(self._missing_path(key), f"{source}\n{message}".encode())

    def prune(self, keep: int) -> int:
        """Delete the oldest entries (by modification time) beyond ``keep``; returns how many.

        Bounds a long-lived cache such as the dashboard's cutout proxy.
        """
        files = [p for p in self.folder.glob("*/*/*") if p.is_file()]
        if len(files) <= keep:
            return 0
        files.sort(key=lambda p: p.stat().st_mtime)
        for old in files[: len(files) - keep]:
            old.unlink(missing_ok=True)
        return len(files) - keep

    def drop(self, key: CutoutKey) -> None:
        """Forget a (damaged) entry so the next run asks again."""
        self.path(key).unlink(missing_ok=True)
