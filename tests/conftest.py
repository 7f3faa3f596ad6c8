"""Shared pytest fixtures: synthetic catalogues and the real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real SDSS reference samples; skips the test when the folder is absent."""
    if not (SHARED_DATA / "sdss_mgs_real_5k.csv").is_file():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


def synthetic_catalog(n: int = 3000, seed: int = 0, methods: tuple[str, ...] = ("a", "b"),
                      attenuation: dict[str, float] | None = None) -> pd.DataFrame:
    """A catalogue whose colours follow redshift and whose photo-z's have known slopes.

    ``zphot_m = mean_z + slope_m * (zspec - mean_z) + noise``; slopes default to 0.6 and 0.95.
    """
    rng = np.random.default_rng(seed)
    z = rng.gamma(4.0, 0.025, n).clip(0.005, 0.39)
    bt = rng.uniform(0, 1, n)
    gr = 0.4 + 2.0 * z + 0.3 * bt + rng.normal(0, 0.05, n)
    ug = 1.0 + 1.5 * z + 0.6 * bt + rng.normal(0, 0.1, n)
    ri = 0.2 + 1.0 * z + 0.1 * bt + rng.normal(0, 0.03, n)
    iz = 0.1 + 0.5 * z + rng.normal(0, 0.03, n)
    r = rng.uniform(14.5, 17.7, n)
    df = pd.DataFrame({
        "objid": np.arange(1_000_000, 1_000_000 + n, dtype=np.int64) * 7919,
        "ra": rng.uniform(120, 240, n), "dec": rng.uniform(0, 60, n),
        "zspec": z, "u": r + gr + ug, "g": r + gr, "r": r, "i": r - ri, "z": r - ri - iz,
        "petro_r": r + 0.05, "frac_dev_r": bt, "exp_ab_r": rng.uniform(0.2, 1, n),
    })
    slopes = attenuation or {m: s for m, s in zip(methods, (0.6, 0.95, 0.8, 0.7), strict=False)}
    for m in methods:
        b = slopes[m]
        df[f"zphot_{m}"] = z.mean() + b * (z - z.mean()) + rng.normal(0, 0.01, n) * (1 + z)
    return df


@pytest.fixture
def catalog_csv(tmp_path: Path) -> Path:
    """A valid synthetic catalogue written as CSV."""
    path = tmp_path / "catalog.csv"
    synthetic_catalog().to_csv(path, index=False)
    return path
