"""Synthetic galaxy-like colours (u-r, g-r, r-i, r-z) for tests and benchmarks."""

from __future__ import annotations

import numpy as np


def synthetic_colours(n: int, seed: int = 0) -> np.ndarray:
    """Draw ``n`` rows of galaxy-like colours u-r, g-r, r-i, r-z.

    Colours are driven by a redshift ``z`` (gamma distributed, mean ~0.1) and
    a spectral type ``t`` in [0, 1] (a red sequence and a broader blue cloud),
    with mild curvature and Gaussian noise, so the rows lie near a curved 2-D
    sheet in 4-D, much like the SDSS Main Galaxy Sample (means and spreads
    roughly match it). Not a physical model.

    Examples
    --------
    >>> synthetic_colours(5, seed=1).shape
    (5, 4)
    """
    rng = np.random.default_rng(seed)
    z = np.clip(rng.gamma(4.0, 0.025, n), 0.005, 0.35)
    red = rng.random(n) < 0.55
    t = np.where(red, rng.normal(0.85, 0.07, n), rng.normal(0.35, 0.15, n))
    t = np.clip(t, 0.0, 1.0)
    ur = 1.0 + 1.9 * t + 1.5 * z + rng.normal(0.0, 0.15, n)
    gr = 0.2 + 0.6 * t + 1.8 * z - 1.5 * z**2 + rng.normal(0.0, 0.04, n)
    ri = 0.22 + 0.12 * t + 0.8 * z + 0.5 * (t - 0.6) ** 2 + rng.normal(0.0, 0.035, n)
    rz = 0.3 + 0.35 * t + 1.2 * z + rng.normal(0.0, 0.05, n)
    return np.stack([ur, gr, ri, rz], axis=1)


def standardise(X: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column (columns with zero spread are only centred).

    Examples
    --------
    >>> standardise(np.array([[1.0, 2.0], [3.0, 2.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - mu) / sd
