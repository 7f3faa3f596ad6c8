"""p(z) summaries shared by every method that gives one: PIT values and bin centres."""

from __future__ import annotations

import numpy as np


def pit(pz: np.ndarray, edges: np.ndarray, zspec: np.ndarray) -> np.ndarray:
    """Probability integral transform: the p(z) CDF evaluated at each true redshift.

    The CDF is linear within each bin. Rows of ``pz`` need not be normalised; rows that are
    all NaN or sum to zero give NaN.

    Parameters
    ----------
    pz : numpy.ndarray
        (n, n_bins) probabilities per bin.
    edges : numpy.ndarray
        (n_bins + 1,) bin edges.
    zspec : numpy.ndarray
        (n,) true redshifts.

    Examples
    --------
    >>> edges = np.array([0.0, 0.1, 0.2])
    >>> pit(np.array([[1.0, 1.0], [0.0, 2.0]]), edges, np.array([0.1, 0.15])).round(12).tolist()
    [0.5, 0.5]
    """
    pz = np.asarray(pz, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    zspec = np.asarray(zspec, dtype=np.float64)
    if pz.ndim != 2 or pz.shape[1] != len(edges) - 1 or pz.shape[0] != zspec.shape[0]:
        raise ValueError(
            f"pit: pz shape {pz.shape} does not match {len(edges) - 1} bins and "
            f"{zspec.shape[0]} redshifts"
        )
    total = pz.sum(axis=1)
    cdf = np.concatenate([np.zeros((len(pz), 1)), np.cumsum(pz, axis=1)], axis=1)
    k = np.clip(np.searchsorted(edges, zspec, side="right") - 1, 0, len(edges) - 2)
    frac = np.clip((zspec - edges[k]) / (edges[k + 1] - edges[k]), 0.0, 1.0)
    rows = np.arange(len(pz))
    value = cdf[rows, k] + frac * pz[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, value / total, np.nan)
    out[zspec <= edges[0]] = 0.0
    out[zspec >= edges[-1]] = 1.0
    out[~np.isfinite(total) | (total <= 0) | ~np.isfinite(zspec)] = np.nan
    return out


def bin_centres(edges: np.ndarray) -> np.ndarray:
    """Centres of the p(z) bins.

    Examples
    --------
    >>> bin_centres(np.array([0.0, 0.2, 0.4])).tolist()
    [0.1, 0.30000000000000004]
    """
    edges = np.asarray(edges, dtype=np.float64)
    return 0.5 * (edges[1:] + edges[:-1])
