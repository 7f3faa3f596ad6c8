"""Map-quality measures: quantisation and topographic error, U-matrix, occupancy."""

from __future__ import annotations

from typing import Any

import numpy as np

from compute.errors import ZcellsInputError
from compute.som.assign import DEFAULT_ASSIGN_CHUNK, best_two_flat
from compute.som.model import check_weights, parse_shape

# the 8 grid neighbours of a cell on the rectangular grid (as minisom's distance_map)
_NEIGHBOUR_OFFSETS = ((0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1))


def quantization_error(weights: Any, X: Any, *, device: Any = None,
                       chunk: int = DEFAULT_ASSIGN_CHUNK) -> float:
    """Mean Euclidean distance of the rows of ``X`` to their best-matching unit.

    Same definition as ``MiniSom.quantization_error``.

    Examples
    --------
    >>> w = np.array([[[0.0], [10.0]]])
    >>> quantization_error(w, [[1.0], [7.0]], device="cpu")
    2.0
    """
    _, _, d1, _ = best_two_flat(weights, X, device=device, chunk=chunk)
    return float(d1.mean())


def adjacent(ix1: np.ndarray, iy1: np.ndarray, ix2: np.ndarray, iy2: np.ndarray) -> np.ndarray:
    """True where two cells touch on the rectangular grid (8-neighbourhood, diagonals included).

    This is minisom's rectangular rule: grid distance <= 1.42, i.e. 1 or sqrt(2).

    Examples
    --------
    >>> adjacent(np.array([0, 0, 0]), np.array([0, 0, 0]), np.array([1, 2, 1]), np.array([1, 0, 2])).tolist()
    [True, False, False]
    """
    return (np.abs(ix1 - ix2) <= 1) & (np.abs(iy1 - iy2) <= 1)


def topographic_error(weights: Any, X: Any, *, device: Any = None,
                      chunk: int = DEFAULT_ASSIGN_CHUNK) -> float:
    """Fraction of rows whose best and second-best units are not grid neighbours.

    Neighbours are the 8 surrounding cells (minisom's rectangular topology).
    Returns NaN for a 1 x 1 map, where it is undefined (as minisom does).

    Examples
    --------
    >>> w = np.array([[[0.0], [1.0], [2.0]]])
    >>> topographic_error(w, [[0.2], [1.6]], device="cpu")
    0.0
    """
    w = check_weights(weights)
    nx, ny, _ = w.shape
    if nx * ny == 1:
        return float("nan")
    first, second, _, _ = best_two_flat(w, X, device=device, chunk=chunk)
    ok = adjacent(first // ny, first % ny, second // ny, second % ny)
    return float(1.0 - ok.mean())


def u_matrix(weights: Any, *, scaling: str = "mean", normalize: bool = False) -> np.ndarray:
    """Distance of every prototype to its grid neighbours (U-matrix).

    Parameters
    ----------
    weights : array_like
        Codebook ``(nx, ny, d)``.
    scaling : {"mean", "sum"}
        Mean (default) or sum of the Euclidean distances to the up to 8
        surrounding cells (fewer at the edges).
    normalize : bool
        If True divide by the maximum, which gives exactly
        ``MiniSom.distance_map(scaling=scaling)``; the default keeps the
        distances in the units of the (standardised) features.

    Returns
    -------
    numpy.ndarray
        ``(nx, ny)`` float64.

    Examples
    --------
    >>> u_matrix(np.array([[[0.0], [1.0], [3.0]]])).tolist()
    [[1.0, 1.5, 2.0]]
    """
    if scaling not in ("mean", "sum"):
        raise ZcellsInputError(f"U-matrix scaling {scaling!r}: expected 'mean' or 'sum'")
    w = check_weights(weights)
    nx, ny, d = w.shape
    pad = np.full((nx + 2, ny + 2, d), np.nan)
    pad[1:-1, 1:-1] = w
    total = np.zeros((nx, ny))
    count = np.zeros((nx, ny))
    for dx, dy in _NEIGHBOUR_OFFSETS:
        nb = pad[1 + dx:1 + dx + nx, 1 + dy:1 + dy + ny]
        dist = np.sqrt(((w - nb) ** 2).sum(axis=2))
        valid = np.isfinite(dist)
        total += np.where(valid, dist, 0.0)
        count += valid
    if scaling == "mean":
        um = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    else:
        um = total
    if normalize:
        top = um.max()
        um = um / top if top > 0 else um
    return um


def occupancy(ix: Any, iy: Any, shape: Any) -> np.ndarray:
    """Number of rows in every cell.

    Parameters
    ----------
    ix, iy : array_like of int
        Cell of every row (from :func:`compute.som.assign.assign_cells`).
    shape : str or pair of int
        Grid shape ``(nx, ny)`` or ``"NXxNY"``.

    Returns
    -------
    numpy.ndarray
        ``(nx, ny)`` int64 counts.

    Raises
    ------
    ZcellsInputError
        Mismatched lengths or indices outside the grid.

    Examples
    --------
    >>> occupancy([0, 1, 1], [2, 0, 0], (2, 3)).tolist()
    [[0, 0, 1], [2, 0, 0]]
    """
    nx, ny = parse_shape(shape)
    ix = np.asarray(ix)
    iy = np.asarray(iy)
    if ix.shape != iy.shape or ix.ndim != 1:
        raise ZcellsInputError(
            f"SOM occupancy: ix and iy must be 1-D of equal length, got {ix.shape} and {iy.shape}"
        )
    if ix.size and not (np.issubdtype(ix.dtype, np.integer) and np.issubdtype(iy.dtype, np.integer)):
        raise ZcellsInputError("SOM occupancy: ix and iy must be integer arrays")
    bad = np.flatnonzero((ix < 0) | (ix >= nx) | (iy < 0) | (iy >= ny))
    if bad.size:
        rows = ", ".join(str(int(r)) for r in bad[:10])
        raise ZcellsInputError(f"SOM occupancy: rows {rows}: cell outside the {nx}x{ny} grid")
    flat = ix.astype(np.int64) * ny + iy.astype(np.int64)
    return np.bincount(flat, minlength=nx * ny).reshape(nx, ny)
