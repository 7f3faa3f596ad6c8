"""Result containers for the robust line fits, and the slope-to-angle helper."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Status strings (per group). Anything other than ``OK`` comes with NaN parameters.
OK = "ok"
TOO_FEW = "too_few"            # fewer than ``min_n`` usable (finite) points
DEGENERATE_X = "degenerate_x"  # all usable x equal (no spread in x)
FIT_FAILED = "degenerate"      # the fit itself came out non-finite (e.g. a degenerate kept set)


@dataclass
class LineFit:
    """One robust straight-line fit ``y = intercept + slope * x``.

    Attributes
    ----------
    slope, intercept : float
        Best-fitting line; ``intercept`` is the value at ``x = 0`` (the fit itself
        is done about the pivot ``x0``; see ``intercept_pivot``).
    slope_err, intercept_err : float
        1-sigma errors from the weighted least-squares covariance on the kept points
        (the intercept error includes the slope-intercept covariance moved to x = 0).
    sig_int : float
        Intrinsic scatter in y (``epsilon_y``), 0 when ``epsy=False`` or when the
        errors alone already explain the scatter.
    mask : numpy.ndarray of bool
        True where the point was kept (not clipped); False for clipped points and
        for points with non-finite x, y, sigx or sigy.
    status : str
        ``"ok"``, ``"too_few"``, ``"degenerate_x"`` or ``"degenerate"``.
    n : int
        Usable points (finite x, y, sigx, sigy).
    n_kept : int
        Points kept by the LTS + sigma clipping.
    n_nonfinite : int
        Points dropped because some input was non-finite.
    x0 : float
        Pivot (median of the usable x).
    intercept_pivot, intercept_pivot_err : float
        Intercept at ``x = x0`` and its error.
    cov_slope_intercept : float
        Covariance between slope and intercept (at x = 0).
    rms : float
        RMS of the y residuals of the kept points.
    """

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    sig_int: float
    mask: np.ndarray
    status: str
    n: int
    n_kept: int
    n_nonfinite: int = 0
    x0: float = float("nan")
    intercept_pivot: float = float("nan")
    intercept_pivot_err: float = float("nan")
    cov_slope_intercept: float = float("nan")
    rms: float = float("nan")


@dataclass
class LineFits:
    """Per-group robust line fits from :func:`compute.lts.fit_lines`.

    Every per-group array has one entry per distinct label in ``groups``, sorted by
    label. ``mask`` has the length and order of the input points.
    """

    groups: np.ndarray
    slope: np.ndarray
    intercept: np.ndarray
    slope_err: np.ndarray
    intercept_err: np.ndarray
    sig_int: np.ndarray
    n: np.ndarray
    n_kept: np.ndarray
    n_nonfinite: np.ndarray
    status: np.ndarray
    mask: np.ndarray
    x0: np.ndarray
    intercept_pivot: np.ndarray
    intercept_pivot_err: np.ndarray
    cov_slope_intercept: np.ndarray
    rms: np.ndarray

    def __len__(self) -> int:
        return int(self.groups.size)

    def index(self, label: int) -> int:
        """Row of the group with this label (KeyError when absent)."""
        i = int(np.searchsorted(self.groups, label))
        if i >= self.groups.size or self.groups[i] != label:
            raise KeyError(label)
        return i


def theta_deg(slope, slope_err):
    """Slope as an angle in degrees and its propagated error.

    ``theta = degrees(arctan(slope))`` and ``theta_err = degrees(slope_err / (1 + slope**2))``.
    Works on scalars and arrays; NaN in, NaN out.

    >>> t, e = theta_deg(1.0, 0.1)
    >>> round(float(t), 6), round(float(e), 6)
    (45.0, 2.864789)
    """
    s = np.asarray(slope, dtype=float)
    e = np.asarray(slope_err, dtype=float)
    theta = np.degrees(np.arctan(s))
    theta_err = np.degrees(e / (1.0 + s * s))
    if theta.ndim == 0 and theta_err.ndim == 0:
        return float(theta), float(theta_err)
    return theta, theta_err
