"""Reproducible train/test split derived from ``objid``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from compute.errors import ZcellsInputError

from .validate import rows_text

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Mix 64-bit integers into well-spread 64-bit hashes (SplitMix64 finaliser)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unit_hash(objid: np.ndarray, salt: int = 0) -> np.ndarray:
    """Map ids to reproducible pseudo-uniform numbers in [0, 1).

    Examples
    --------
    >>> u = unit_hash(np.arange(100_000))
    >>> bool(abs(u.mean() - 0.5) < 0.01), bool(((u >= 0) & (u < 1)).all())
    (True, True)
    """
    with np.errstate(over="ignore"):
        h = _splitmix64(np.asarray(objid, dtype=np.int64).view(np.uint64) ^ np.uint64(salt))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def assign_split(
    df: pd.DataFrame, test_fraction: float = 0.1, salt: int = 0, source: str = "catalogue"
) -> tuple[pd.DataFrame, str]:
    """Add or check the ``split`` column.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated catalogue with ``objid``.
    test_fraction : float
        Fraction of galaxies put in the test set when no ``split`` column exists.
    salt : int
        Changes the split reproducibly.

    Returns
    -------
    (pandas.DataFrame, str)
        The table with ``split`` in {"train", "test"} and a note on where it came from.
    """
    df = df.copy()
    if "split" in df.columns:
        values = df["split"].astype(str).str.strip().str.lower()
        bad = ~values.isin(["train", "test"])
        if bad.any():
            raise ZcellsInputError(
                f"{source}: column 'split' {rows_text(np.flatnonzero(bad.to_numpy()))}: "
                "must be 'train' or 'test'"
            )
        df["split"] = values
        return df, "split taken from the catalogue's 'split' column"
    if not 0.0 < test_fraction < 1.0:
        raise ZcellsInputError(f"config: split.test_fraction must be in (0, 1), got {test_fraction}")
    u = unit_hash(df["objid"].to_numpy(), salt)
    df["split"] = np.where(u < test_fraction, "test", "train")
    return df, f"split derived from objid: {test_fraction:.0%} test (salt {salt})"
