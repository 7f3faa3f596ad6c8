"""Redshift bins of the p(z) classification: edges, class labels and PIT values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from compute.pz import bin_centres  # noqa: F401 - re-exported for the cnn modules

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
