"""Classical (Kohonen) batch SOM training with numpy on the CPU."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from compute.som.grid import neighbourhood_matrix, sigma_schedule

DEFAULT_CHUNK = 16_384  # a (chunk, K) block of a few MB stays near the caches


def augmented(X: np.ndarray) -> np.ndarray:
    """``[X, 1]``: lets one matmul give ``|w|^2 - 2 x.w`` for every (row, cell)."""
    Xa = np.empty((X.shape[0], X.shape[1] + 1), dtype=np.float64)
    Xa[:, :-1] = X
    Xa[:, -1] = 1.0
    return Xa


def augmented_codebook(Wf: np.ndarray) -> np.ndarray:
    """``[-2 W^T ; |w|^2]`` of shape ``(d + 1, K)`` matching :func:`augmented`."""
    Wa = np.empty((Wf.shape[1] + 1, Wf.shape[0]), dtype=np.float64)
    Wa[:-1] = -2.0 * Wf.T
    Wa[-1] = np.einsum("kd,kd->k", Wf, Wf)
    return Wa


def bmu_flat(Xa: np.ndarray, Wf: np.ndarray, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Flat index of the best-matching unit of every row (training search).

    Parameters
    ----------
    Xa : numpy.ndarray
        Augmented data from :func:`augmented`, ``(n, d + 1)``.
    Wf : numpy.ndarray
        Flat codebook ``(K, d)``.
    chunk : int
        Rows per block; bounds the temporary ``(chunk, K)`` matrix.

    Returns
    -------
    numpy.ndarray
        int64 indices into ``Wf``.
    """
    Wa = augmented_codebook(Wf)
    n = Xa.shape[0]
    out = np.empty(n, dtype=np.int64)
    buf = np.empty((min(chunk, n), Wa.shape[1]), dtype=np.float64)  # reused: no page faults
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        D = buf[: e - s]
        np.matmul(Xa[s:e], Wa, out=D)
        np.argmin(D, axis=1, out=out[s:e])
    return out


def batch_update(X: np.ndarray, bmu: np.ndarray, Wf: np.ndarray, H: np.ndarray) -> np.ndarray:
    """One batch-SOM step ``W = (H @ sums) / (H @ counts)``.

    ``sums`` and ``counts`` are the per-cell sums of the rows and the number of
    rows whose BMU is that cell (``np.bincount``). Cells whose neighbourhood
    weight underflows to zero keep their previous prototype.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> batch_update(X, np.array([0, 0, 1]), np.zeros((2, 1)), np.eye(2)).ravel().tolist()
    [0.5, 3.0]
    """
    K, d = Wf.shape
    counts = np.bincount(bmu, minlength=K).astype(np.float64)
    sums = np.empty((K, d), dtype=np.float64)
    for j in range(d):
        sums[:, j] = np.bincount(bmu, weights=X[:, j], minlength=K)
    num = H @ sums
    den = H @ counts
    new = Wf.copy()
    ok = den > 0
    new[ok] = num[ok] / den[ok, None]
    return new


def train_batch_numpy(X: np.ndarray, W0: np.ndarray, *, sigma_start: float, sigma_end: float,
                      epochs: int, chunk: int = DEFAULT_CHUNK,
                      progress: bool = False) -> np.ndarray:
    """Train a batch SOM from initial weights ``W0``.

    Parameters
    ----------
    X : numpy.ndarray
        Validated float64 data ``(n, d)``.
    W0 : numpy.ndarray
        Initial codebook ``(nx, ny, d)``.
    sigma_start, sigma_end : float
        Neighbourhood width (cells) of the first and last epoch; it shrinks
        exponentially in between (:func:`compute.som.grid.sigma_schedule`).
    epochs : int
        Number of passes (one BMU search and one update each).
    chunk : int
        Rows per distance block.
    progress : bool
        Show a tqdm bar over epochs.

    Returns
    -------
    numpy.ndarray
        Trained codebook ``(nx, ny, d)`` float64.
    """
    nx, ny, d = W0.shape
    Wf = W0.reshape(nx * ny, d).astype(np.float64, copy=True)
    Xa = augmented(X)
    for sigma in tqdm(sigma_schedule(sigma_start, sigma_end, epochs), disable=not progress,
                      desc="batch SOM (numpy)", unit="epoch"):
        bmu = bmu_flat(Xa, Wf, chunk)
        Wf = batch_update(X, bmu, Wf, neighbourhood_matrix((nx, ny), float(sigma)))
    return Wf.reshape(nx, ny, d)
