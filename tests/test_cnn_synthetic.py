"""Synthetic image survey for the CNN tests: redshift encoded in galaxy colour and size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from compute.imagecube import create_cube, open_cube, write_ids


def make_survey(
    folder: Path,
    n: int = 160,
    size: int = 16,
    bands: tuple[str, ...] = ("g", "r", "z"),
    seed: int = 0,
    n_missing: int = 4,
    meta: dict | None = None,
) -> pd.DataFrame:
    """Write an image cube to ``folder`` and return its catalogue.

    Galaxies are round Gaussians whose width shrinks and whose colour reddens with z, plus
    unit pixel noise. Cube rows are in a shuffled order relative to the catalogue, and
    ``n_missing`` catalogue rows have no image.
    """
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.38, n)
    objid = rng.permutation(np.arange(1000, 1000 + n, dtype=np.int64) * 7)
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    width = (3.6 - 6.5 * z) * size / 16
    cx = rng.uniform(-0.7, 0.7, n)
    cy = rng.uniform(-0.7, 0.7, n)
    profile = np.exp(
        -0.5
        * ((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2)
        / width[:, None, None] ** 2
    )
    colour = (1.0 + 5.0 * z)[:, None] ** (np.arange(len(bands))[None, :] - 1.0)
    images = 40.0 * colour[:, :, None, None] * profile[:, None] + rng.normal(
        0.0, 1.0, (n, len(bands), size, size)
    )
    with_image = np.arange(n) >= n_missing
    order = rng.permutation(np.flatnonzero(with_image))
    cube = create_cube(folder, len(order), list(bands), size, meta=meta or {})
    cube[:] = images[order].astype(np.float32)
    cube.flush()
    del cube
    write_ids(folder, objid[order])
    mags = 18.0 - 2.5 * np.log10(np.maximum(colour, 1e-3)) + rng.normal(0, 0.02, (n, len(bands)))
    cat = pd.DataFrame(
        {"objid": objid, "zspec": z, "split": np.where(rng.uniform(size=n) < 0.75, "train", "test")}
    )
    for i, b in enumerate("ugriz"):
        cat[b] = mags[:, min(i, len(bands) - 1)] + 0.1 * i
    return cat


def test_synthetic_survey_roundtrip(tmp_path: Path) -> None:
    cat = make_survey(tmp_path, n=20, size=16)
    cube = open_cube(tmp_path)
    rows = cube.index_of(cat["objid"].to_numpy())
    assert (rows < 0).sum() == 4
    # brighter centres at low z in the bluest band: the signal the CNN must find
    i = np.flatnonzero(rows >= 0)
    peak = cube.images[rows[i], 0, 7:9, 7:9].mean(axis=(1, 2))
    assert np.corrcoef(peak, cat["zspec"].to_numpy()[i])[0, 1] < -0.5
