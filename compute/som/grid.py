"""Grid geometry of a rectangular SOM: cell coordinates and Gaussian neighbourhood."""

from __future__ import annotations

import numpy as np


def cell_coords(shape: tuple[int, int]) -> np.ndarray:
    """Grid coordinates ``(ix, iy)`` of every cell in flat (C) order.

    Examples
    --------
    >>> cell_coords((2, 3)).tolist()
    [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    """
    nx, ny = shape
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    return np.stack([ix.ravel(), iy.ravel()], axis=1)


def neighbourhood_matrix(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian neighbourhood ``H[k, l] = exp(-|r_k - r_l|^2 / (2 sigma^2))``.

    Parameters
    ----------
    shape : tuple of int
        Grid shape ``(nx, ny)``.
    sigma : float
        Width in cells (> 0).

    Returns
    -------
    numpy.ndarray
        Symmetric ``(nx*ny, nx*ny)`` float64 matrix with ones on the diagonal.

    Examples
    --------
    >>> H = neighbourhood_matrix((1, 2), 1.0)
    >>> bool(np.isclose(H[0, 1], np.exp(-0.5)))
    True
    """
    r = cell_coords(shape).astype(np.float64)
    d2 = ((r[:, None, :] - r[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-d2 / (2.0 * sigma * sigma))


def sigma_schedule(sigma_start: float, sigma_end: float, epochs: int) -> np.ndarray:
    """Exponentially shrinking neighbourhood widths, one per epoch.

    Examples
    --------
    >>> sigma_schedule(4.0, 1.0, 3).tolist()
    [4.0, 2.0, 1.0]
    """
    if epochs == 1:
        return np.array([float(sigma_end)])
    t = np.arange(epochs) / (epochs - 1)
    return sigma_start * (sigma_end / sigma_start) ** t
