"""Redshift bins of the p(z) classification: edges, class labels and PIT values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

N_BINS = 180
Z_MAX = 0.4


def bin_edges(n_bins: int = N_BINS, z_max: float = Z_MAX) -> np.ndarray:
    """Return the ``n_bins + 1`` equally spaced edges from 0 to ``z_max``.

    Examples
    --------
    >>> e = bin_edges()
    >>> len(e), float(e[0]), float(e[-1])
    (181, 0.0, 0.4)
    """
    return np.linspace(0.0, z_max, n_bins + 1)


def bin_centres(edges: np.ndarray) -> np.ndarray:
    """Return the centre of each bin.

    Examples
    --------
    >>> bin_centres(np.array([0.0, 0.2, 0.4])).tolist()
    [0.1, 0.30000000000000004]
    """
    return 0.5 * (edges[:-1] + edges[1:])


def class_of(z: ArrayLike, edges: np.ndarray) -> np.ndarray:
    """Return the class (bin index) of each redshift; values outside the range go to the end bins.

    Examples
    --------
    >>> class_of([0.0, 0.001, 0.25, 0.4, 0.9], bin_edges()).tolist()
    [0, 0, 112, 179, 179]
    """
    z = np.asarray(z, dtype=np.float64)
    idx = np.searchsorted(edges, z, side="right") - 1
    return np.clip(idx, 0, len(edges) - 2).astype(np.int64)


def pit(pz: ArrayLike, edges: np.ndarray, zspec: ArrayLike) -> np.ndarray:
    """Probability integral transform: the p(z) CDF at the true redshift.

    The CDF is linear inside each bin (uniform density within a bin). A well calibrated
    p(z) gives PIT values uniform on [0, 1]. Rows with a non-finite p(z) or z_spec give NaN.

    Parameters
    ----------
    pz : array (n, n_bins)
        Probabilities per bin (rows sum to 1).
    edges : array (n_bins + 1,)
        Bin edges.
    zspec : array (n,)
        True redshifts.

    Examples
    --------
    >>> e = np.array([0.0, 0.1, 0.2])
    >>> pit([[0.5, 0.5], [1.0, 0.0]], e, [0.1, 0.05]).tolist()
    [0.5, 0.5]
    """
    p = np.asarray(pz, dtype=np.float64)
    zs = np.asarray(zspec, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(edges) - 1 or p.shape[0] != zs.shape[0]:
        raise ValueError(
            f"pit: pz shape {p.shape} does not match {len(edges) - 1} bins and {zs.shape[0]} redshifts"
        )
    cdf = np.concatenate([np.zeros((p.shape[0], 1)), np.cumsum(p, axis=1)], axis=1)
    zc = np.clip(zs, edges[0], edges[-1])
    k = np.clip(np.searchsorted(edges, np.nan_to_num(zc), side="right") - 1, 0, len(edges) - 2)
    rows = np.arange(p.shape[0])
    frac = (zc - edges[k]) / (edges[k + 1] - edges[k])
    out = cdf[rows, k] + frac * p[rows, k]
    bad = ~np.isfinite(zs) | ~np.all(np.isfinite(p), axis=1)
    out[bad] = np.nan
    return np.clip(out, 0.0, 1.0)
