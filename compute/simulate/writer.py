"""Streaming output: Parquet tables chunk by chunk, images straight into the on-disk cube."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compute.atomic import replace_folder
from compute.errors import ZcellsInputError
from compute.imagecube import create_cube, write_ids, write_meta

CATALOG_FILE = "catalog.parquet"
TRUTH_FILE = "truth.parquet"
PROVENANCE_FILE = "provenance.json"


class SurveyWriter:
    """Write a simulated survey into a temporary folder, then move it into place atomically.

    The survey size ``n`` is known up front, so images of kept galaxies go straight into a
    memory-mapped ``images.npy`` of that size as they arrive (memory stays bounded by one
    chunk; nothing is copied at the end).
    """

    def __init__(self, out_dir: str | os.PathLike[str], bands: list[str], stamp: int,
                 n: int) -> None:
        self.out_dir = Path(out_dir)
        _check_target(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out_dir.parent / f".{self.out_dir.name}.tmp-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self.bands = list(bands)
        self.stamp = stamp
        self.n_rows = 0
        self.n = n
        self._cube: np.ndarray | None = create_cube(self.tmp, n, self.bands, stamp, {})
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._ids: list[np.ndarray] = []

    def _append_table(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(self.tmp / name, table.schema)
        self._writers[name].write_table(table)

    def append(self, catalog: pa.Table, truth: pa.Table, images: np.ndarray) -> None:
        """Append kept galaxies (same order in all three; tables built from numpy columns)."""
        if len(catalog) == 0:
            return
        if self.n_rows + len(catalog) > self.n or self._cube is None:
            raise ValueError(f"survey writer: more than the {self.n} galaxies planned")
        self._append_table(CATALOG_FILE, catalog)
        self._append_table(TRUTH_FILE, truth)
        self._cube[self.n_rows:self.n_rows + len(catalog)] = images
        self._ids.append(catalog.column("objid").to_numpy().astype(np.int64))
        self.n_rows += len(catalog)

    def finish(self, cube_meta: dict[str, Any], provenance: dict[str, Any]) -> Path:
        """Flush the image cube, write provenance and move the folder into place."""
        if self.n_rows != self.n:
            raise ValueError(f"survey writer: {self.n_rows} galaxies written, {self.n} planned")
        for w in self._writers.values():
            w.close()
        self._close_cube()
        write_meta(self.tmp, self.bands, cube_meta)
        write_ids(self.tmp, np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64))
        (self.tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, default=str))
        return replace_folder(self.tmp, self.out_dir)

    def _close_cube(self) -> None:
        """Flush and drop the memory map of the cube (idempotent)."""
        if isinstance(self._cube, np.memmap):
            self._cube.flush()
        self._cube = None

    def abort(self) -> None:
        """Remove the temporary folder (after an error)."""
        try:
            self._close_cube()
            for w in self._writers.values():
                w.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _check_target(out_dir: Path) -> None:
    """Refuse to replace a folder that is not empty and not an earlier simulation."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ZcellsInputError(f"{out_dir}: output path exists and is not a folder")
        contents = list(out_dir.iterdir())
        if contents and not (out_dir / PROVENANCE_FILE).is_file():
            raise ZcellsInputError(
                f"{out_dir}: output folder exists and is not an earlier `zcells simulate` output; "
                "choose another --out or remove it"
            )
