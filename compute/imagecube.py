"""Memory-mappable image cubes (N x bands x H x W) stored beside a catalogue."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compute.errors import ZcellsInputError

CUBE_FILE = "images.npy"
IDS_FILE = "images_objid.npy"
META_FILE = "images.json"


@dataclass
class ImageCube:
    """An opened image cube.

    Attributes
    ----------
    images : numpy.ndarray
        Read-only memory map of shape (N, n_bands, H, W), float32.
    objid : numpy.ndarray
        int64 ids, one per image, in the same order as ``images``.
    bands : list of str
        Band names in cube order, e.g. ``["u", "g", "r", "i", "z"]``.
    meta : dict
        Everything else recorded with the cube (pixel scale, units, provenance, status).
    """

    images: np.ndarray
    objid: np.ndarray
    bands: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def index_of(self, objid: np.ndarray) -> np.ndarray:
        """Return the cube row of each id, or -1 where the id has no image."""
        order = np.argsort(self.objid, kind="stable")
        sorted_ids = self.objid[order]
        pos = np.searchsorted(sorted_ids, objid)
        pos = np.clip(pos, 0, len(sorted_ids) - 1)
        found = sorted_ids[pos] == objid if len(sorted_ids) else np.zeros(len(objid), bool)
        return np.where(found, order[pos], -1)


def create_cube(
    folder: str | os.PathLike[str],
    n: int,
    bands: list[str],
    size: int,
    meta: dict[str, Any] | None = None,
) -> np.ndarray:
    """Create an empty float32 cube on disk and return it as a writable memory map.

    Parameters
    ----------
    folder : path
        Folder that will hold ``images.npy``, ``images_objid.npy`` and ``images.json``.
    n, size : int
        Number of images and their (square) side in pixels.
    bands : list of str
        Band names in cube order.
    meta : dict, optional
        Extra metadata (pixel scale, units, provenance) written to ``images.json``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cube = np.lib.format.open_memmap(
        folder / CUBE_FILE, mode="w+", dtype=np.float32, shape=(n, len(bands), size, size)
    )
    write_meta(folder, bands, meta or {})
    return cube


def write_meta(folder: str | os.PathLike[str], bands: list[str], meta: dict[str, Any]) -> None:
    """Write ``images.json`` (bands plus any metadata) for a cube folder."""
    record = dict(meta)
    record["bands"] = list(bands)
    Path(folder, META_FILE).write_text(json.dumps(record, indent=2, default=str))


def write_ids(folder: str | os.PathLike[str], objid: np.ndarray) -> None:
    """Write the int64 ids of the cube rows."""
    np.save(Path(folder) / IDS_FILE, np.asarray(objid, dtype=np.int64))


def open_cube(folder: str | os.PathLike[str]) -> ImageCube:
    """Open a cube folder read-only (memory-mapped) and check that its parts agree.

    Raises
    ------
    ZcellsInputError
        If a file is missing or the parts disagree in length or band count.
    """
    folder = Path(folder)
    for name in (CUBE_FILE, IDS_FILE, META_FILE):
        if not (folder / name).is_file():
            raise ZcellsInputError(
                f"{folder}: image cube incomplete, {name} is missing. Make a cube with "
                "`zcells simulate` (simulated survey) or `zcells fetch cutouts` (real data)."
            )
    try:
        images = np.load(folder / CUBE_FILE, mmap_mode="r")
        objid = np.load(folder / IDS_FILE)
        meta = json.loads((folder / META_FILE).read_text())
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise ZcellsInputError(f"{folder}: image cube unreadable: {exc}") from None
    bands = list(meta.get("bands", []))
    if images.ndim != 4 or images.shape[0] != len(objid) or images.shape[1] != len(bands):
        raise ZcellsInputError(
            f"{folder}: image cube shape {images.shape} does not match {len(objid)} ids "
            f"and bands {bands}"
        )
    return ImageCube(images=images, objid=objid, bands=bands, meta=meta)
