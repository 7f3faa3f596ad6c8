"""Vectorised, chunked best-matching-unit search: cell of every row and its runner-up."""

from __future__ import annotations

from typing import Any

import numpy as np

from compute.som.batch_numpy import DEFAULT_CHUNK, augmented, augmented_codebook
from compute.som.model import check_features, check_weights

DEFAULT_ASSIGN_CHUNK = 200_000


def _refine(X: np.ndarray, Wf: np.ndarray, i1: np.ndarray, i2: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Order two candidate cells by the exact distance ``|x - w|`` (ties: lower index first)."""
    d1 = np.sqrt(((X - Wf[i1]) ** 2).sum(axis=1))
    d2 = np.sqrt(((X - Wf[i2]) ** 2).sum(axis=1))
    swap = (d2 < d1) | ((d2 == d1) & (i2 < i1))
    a = np.where(swap, i2, i1)
    b = np.where(swap, i1, i2)
    da = np.where(swap, d2, d1)
    db = np.where(swap, d1, d2)
    return a, b, da, db


def best_two_flat_numpy(X: np.ndarray, Wf: np.ndarray, chunk: int = DEFAULT_ASSIGN_CHUNK
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat indices and exact distances of the first and second BMU of every row (numpy).

    The search uses ``|w|^2 - 2 x.w`` from one matmul per block of at most
    ``min(chunk, 16384)`` rows (a reused buffer); the two winners are then re-ordered by their exact Euclidean
    distances so that the result agrees with a direct ``argmin |x - w|``
    (minisom's ``winner``), including its lowest-index tie rule.
    """
    n = X.shape[0]
    K = Wf.shape[0]
    first = np.empty(n, dtype=np.int64)
    second = np.empty(n, dtype=np.int64)
    dist1 = np.empty(n, dtype=np.float64)
    dist2 = np.empty(n, dtype=np.float64)
    Wa = augmented_codebook(Wf)
    block = max(1, min(chunk, DEFAULT_CHUNK, n))  # cache-sized blocks within the memory bound
    buf = np.empty((block, K), dtype=np.float64)
    rows = np.arange(block)
    for s in range(0, n, block):
        e = min(n, s + block)
        Xc = X[s:e]
        D = buf[: e - s]
        np.matmul(augmented(Xc), Wa, out=D)
        i1 = np.argmin(D, axis=1)
        if K > 1:
            D[rows[: e - s], i1] = np.inf
            i2 = np.argmin(D, axis=1)
        else:
            i2 = i1.copy()
        first[s:e], second[s:e], dist1[s:e], dist2[s:e] = _refine(Xc, Wf, i1, i2)
    return first, second, dist1, dist2


def _resolve_engine(device: Any) -> str | None:
    """``None`` for numpy, else a torch device string."""
    from compute.som.devices import resolve_device

    return resolve_device(device)


def best_two_flat(weights: Any, X: Any, *, device: Any = None, chunk: int = DEFAULT_ASSIGN_CHUNK
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated front end of the two-BMU search on numpy or torch.

    Returns
    -------
    tuple of numpy.ndarray
        ``(first, second, dist1, dist2)``: flat cell indices (``ix * ny + iy``)
        and exact Euclidean distances of the best and second-best cells.
    """
    w = check_weights(weights)
    nx, ny, d = w.shape
    Xv = check_features(X, d=d)
    if chunk < 1:
        from compute.errors import ZcellsInputError

        raise ZcellsInputError(f"SOM assignment chunk {chunk}: must be >= 1")
    Wf = w.reshape(nx * ny, d)
    engine = _resolve_engine(device)
    if engine is None:
        return best_two_flat_numpy(Xv, Wf, chunk)
    from compute.som.batch_torch import best_two_flat_torch

    return best_two_flat_torch(Xv, Wf, engine, chunk)


def assign_cells(weights: Any, X: Any, *, device: Any = None, chunk: int = DEFAULT_ASSIGN_CHUNK
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Cell ``(ix, iy)`` of the best-matching unit of every row of ``X``.

    Vectorised and processed in blocks of ``chunk`` rows, so memory stays
    bounded by about ``chunk * nx * ny`` floats whatever ``len(X)``.

    Parameters
    ----------
    weights : array_like
        Codebook ``(nx, ny, d)``.
    X : array_like
        Data ``(n, d)`` in the scaling the map was trained on.
    device : None, "auto", "cpu", "cuda" or "cuda:N"
        ``None``/``"auto"``: CUDA when available, else numpy; ``"cpu"``: numpy.
    chunk : int
        Rows per block.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ix, iy)``, int64, equal to minisom's ``winner`` row by row.

    Raises
    ------
    ZcellsInputError
        Bad weights, wrong number of columns, NaN/inf in ``X``.

    Examples
    --------
    >>> w = np.array([[[0.0, 0.0], [0.0, 5.0]], [[5.0, 0.0], [5.0, 5.0]]])
    >>> ix, iy = assign_cells(w, [[4.0, 1.0], [0.5, 4.0]], device="cpu")
    >>> ix.tolist(), iy.tolist()
    ([1, 0], [0, 1])
    """
    ny = np.asarray(weights).shape[1] if np.ndim(weights) == 3 else 1
    first, _, _, _ = best_two_flat(weights, X, device=device, chunk=chunk)
    return first // ny, first % ny


def best_two(weights: Any, X: Any, *, device: Any = None, chunk: int = DEFAULT_ASSIGN_CHUNK
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid positions of the best and second-best matching units.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ix1, iy1, ix2, iy2)``, int64.

    Examples
    --------
    >>> w = np.array([[[0.0], [1.0], [3.0]]])
    >>> [a.tolist() for a in best_two(w, [[0.9]], device="cpu")]
    [[0], [1], [0], [0]]
    """
    ny = np.asarray(weights).shape[1] if np.ndim(weights) == 3 else 1
    first, second, _, _ = best_two_flat(weights, X, device=device, chunk=chunk)
    return first // ny, first % ny, second // ny, second % ny
