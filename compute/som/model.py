"""The trained SOM (``SomModel``), grid-shape parsing and input validation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compute.errors import ZcellsInputError

_SHAPE_RE = re.compile(r"^\s*(\d+)\s*[xX\u00d7*,]\s*(\d+)\s*$")
_MAX_LISTED_ROWS = 10


@dataclass
class SomModel:
    """A trained self-organizing map.

    Attributes
    ----------
    weights : numpy.ndarray
        Codebook of shape ``(nx, ny, d)``, float64; ``weights[ix, iy]`` is the
        prototype of cell ``(ix, iy)`` (minisom's ``(x, y)`` convention).
    shape : tuple of int
        Grid shape ``(nx, ny)``.
    backend : str
        ``"batch"`` (numpy or torch batch SOM) or ``"minisom"``.
    seed : int
        Seed the map was trained with.
    params : dict
        Training parameters actually used (sigma schedule, learning rate,
        epochs or iterations, engine, device, initialisation).
    """

    weights: np.ndarray
    shape: tuple[int, int]
    backend: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """Number of cells ``nx * ny``."""
        return int(self.shape[0] * self.shape[1])


def parse_shape(shape: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Parse a grid shape such as ``"10x12"`` into ``(nx, ny)``.

    Parameters
    ----------
    shape : str or pair of int
        ``"NXxNY"`` (``x``, ``X``, ``*`` or ``,`` as separator) or a pair.

    Returns
    -------
    tuple of int
        ``(nx, ny)``, both >= 1.

    Raises
    ------
    ZcellsInputError
        If the string is malformed or a side is not a positive integer.

    Examples
    --------
    >>> parse_shape("10x12")
    (10, 12)
    >>> parse_shape((6, 8))
    (6, 8)
    """
    if isinstance(shape, str):
        m = _SHAPE_RE.match(shape)
        if m is None:
            raise ZcellsInputError(
                f"SOM shape {shape!r}: expected 'NXxNY' with two positive integers, e.g. '10x12'"
            )
        nx, ny = int(m.group(1)), int(m.group(2))
    else:
        try:
            items = list(shape)
        except TypeError:
            raise ZcellsInputError(
                f"SOM shape {shape!r}: expected 'NXxNY' or a pair of positive integers"
            ) from None
        if len(items) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
        ):
            raise ZcellsInputError(
                f"SOM shape {shape!r}: expected 'NXxNY' or a pair of positive integers"
            )
        nx, ny = int(items[0]), int(items[1])
    if nx < 1 or ny < 1:
        raise ZcellsInputError(
            f"SOM shape {shape!r}: both sides must be >= 1 (got {nx} x {ny})"
        )
    return nx, ny


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_LISTED_ROWS])
    more = f" (and {rows.size - _MAX_LISTED_ROWS} more)" if rows.size > _MAX_LISTED_ROWS else ""
    return shown + more


def check_features(X: Any, *, name: str = "X (feature matrix)", d: int | None = None,
                   min_rows: int = 1) -> np.ndarray:
    """Validate a feature matrix and return it as a C-contiguous float64 array.

    Parameters
    ----------
    X : array_like
        Matrix of shape ``(n, d)``.
    name : str
        How to name the matrix in error messages.
    d : int, optional
        Required number of columns (the codebook dimension).
    min_rows : int
        Minimum number of rows.

    Returns
    -------
    numpy.ndarray
        ``X`` as float64, C-contiguous (no copy when already so).

    Raises
    ------
    ZcellsInputError
        Wrong number of dimensions or columns, too few rows, non-numeric
        values, NaN or infinity (the message names the columns and rows).

    Examples
    --------
    >>> check_features([[0.0, 1.0], [2.0, 3.0]]).shape
    (2, 2)
    """
    try:
        arr = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ZcellsInputError(f"{name}: not a numeric matrix ({exc})") from None
    if arr.ndim != 2:
        raise ZcellsInputError(
            f"{name}: expected a 2-D matrix (rows x features), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise ZcellsInputError(f"{name}: needs at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ZcellsInputError(f"{name}: has no feature columns")
    if d is not None and arr.shape[1] != d:
        raise ZcellsInputError(
            f"{name}: has {arr.shape[1]} feature columns but the SOM codebook has {d}"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        parts = []
        for c in bad_cols:
            rows = np.flatnonzero(~finite[:, c])
            parts.append(f"column {int(c)} rows {_rows_text(rows)}")
        raise ZcellsInputError(f"{name}: " + "; ".join(parts) + ": NaN or infinite")
    return arr


def check_weights(weights: Any) -> np.ndarray:
    """Validate a codebook of shape ``(nx, ny, d)`` and return it as float64.

    Raises
    ------
    ZcellsInputError
        If it is not 3-D, is empty or holds NaN/inf.
    """
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64))
    if w.ndim != 3 or min(w.shape) < 1:
        raise ZcellsInputError(
            f"SOM weights: expected shape (nx, ny, d) with all sides >= 1, got {w.shape}"
        )
    if not np.isfinite(w).all():
        raise ZcellsInputError("SOM weights: contain NaN or infinite values")
    return w
