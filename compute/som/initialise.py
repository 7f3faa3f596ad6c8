"""Codebook initialisation: linear (PCA) plane or a seeded sample of the data."""

from __future__ import annotations

import numpy as np

from compute.errors import ZcellsInputError

INIT_METHODS = ("pca", "sample")


def _principal_axes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and unit eigenvectors (columns) of cov(X), signs fixed."""
    cov = np.atleast_2d(np.cov(X, rowvar=False))
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals = np.clip(vals[order], 0.0, None)
    vecs = vecs[:, order]
    # deterministic sign: the largest-magnitude component of each axis is positive
    idx = np.argmax(np.abs(vecs), axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1.0
    return vals, vecs * signs


def pca_init(X: np.ndarray, shape: tuple[int, int], span: float = 2.0) -> np.ndarray:
    """Codebook on the plane of the first two principal components.

    The longer side of the grid follows the first component. Each side spans
    ``mean +- span * std`` along its component (the std is the square root of
    the eigenvalue), so the plane covers the bulk of the data.

    Parameters
    ----------
    X : numpy.ndarray
        Data ``(n, d)``, n >= 2.
    shape : tuple of int
        Grid shape ``(nx, ny)``.
    span : float
        Half-width of the plane in standard deviations.

    Returns
    -------
    numpy.ndarray
        Weights ``(nx, ny, d)`` float64.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.1], [4.0, 0.0], [6.0, -0.1]])
    >>> pca_init(X, (1, 3)).shape
    (1, 3, 2)
    """
    nx, ny = shape
    d = X.shape[1]
    mean = X.mean(axis=0)
    vals, vecs = _principal_axes(X)
    std = np.sqrt(vals)
    pc1 = vecs[:, 0] * std[0]
    pc2 = vecs[:, 1] * std[1] if d > 1 else np.zeros(d)
    ax_x, ax_y = (pc2, pc1) if ny >= nx else (pc1, pc2)
    cx = np.linspace(-span, span, nx) if nx > 1 else np.zeros(1)
    cy = np.linspace(-span, span, ny) if ny > 1 else np.zeros(1)
    w = mean[None, None, :] + cx[:, None, None] * ax_x + cy[None, :, None] * ax_y
    return np.ascontiguousarray(w, dtype=np.float64)


def sample_init(X: np.ndarray, shape: tuple[int, int], seed: int) -> np.ndarray:
    """Codebook drawn from distinct rows of ``X`` with a seeded generator.

    Examples
    --------
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> np.array_equal(sample_init(X, (2, 2), 1), sample_init(X, (2, 2), 1))
    True
    """
    nx, ny = shape
    rng = np.random.default_rng(seed)
    replace = X.shape[0] < nx * ny
    rows = rng.choice(X.shape[0], size=nx * ny, replace=replace)
    return X[rows].reshape(nx, ny, X.shape[1]).astype(np.float64, copy=True)


def initial_weights(X: np.ndarray, shape: tuple[int, int], method: str, seed: int) -> np.ndarray:
    """Dispatch to :func:`pca_init` or :func:`sample_init`.

    Raises
    ------
    ZcellsInputError
        Unknown method.
    """
    if method == "pca":
        return pca_init(X, shape)
    if method == "sample":
        return sample_init(X, shape, seed)
    raise ZcellsInputError(f"SOM init {method!r}: expected one of {', '.join(INIT_METHODS)}")
