"""Photo-z quality metrics: sigma_NMAD, outlier fraction and bias of dz/(1+z_spec)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

NMAD_SCALE = 1.4826


def _normalised_dz(zspec: ArrayLike, zphot: ArrayLike) -> np.ndarray:
    zs = np.asarray(zspec, dtype=np.float64)
    zp = np.asarray(zphot, dtype=np.float64)
    if zs.shape != zp.shape:
        raise ValueError(f"zspec and zphot differ in shape: {zs.shape} vs {zp.shape}")
    dz = (zp - zs) / (1.0 + zs)
    return dz[np.isfinite(dz)]


def sigma_nmad(zspec: ArrayLike, zphot: ArrayLike) -> float:
    r"""Normalised median absolute deviation of the photo-z errors.

    .. math:: \sigma_{\rm NMAD} = 1.4826\,\mathrm{median}\left(\left|\frac{\Delta z}{1+z_{\rm spec}}
              - \mathrm{median}\left(\frac{\Delta z}{1+z_{\rm spec}}\right)\right|\right),
              \quad \Delta z = z_{\rm phot} - z_{\rm spec}

    Non-finite pairs are ignored; an empty input gives NaN.

    Examples
    --------
    >>> round(sigma_nmad([0.0, 0.0, 0.0], [0.0, 0.01, -0.01]), 6)
    0.014826
    >>> sigma_nmad([0.1, 0.2], [0.1, 0.2])
    0.0
    """
    x = _normalised_dz(zspec, zphot)
    if x.size == 0:
        return float("nan")
    return float(NMAD_SCALE * np.median(np.abs(x - np.median(x))))


def nmad(a: ArrayLike, b: ArrayLike) -> float:
    r"""NMAD of the normalised difference between two redshift estimates, :func:`sigma_nmad` of (a, b).

    Used for the decomposition ``sigma_atten = nmad(zspec, zfit)`` and
    ``sigma_scatter = nmad(zfit, zphot)``.

    Examples
    --------
    >>> round(nmad([0.1, 0.1, 0.1], [0.1, 0.111, 0.089]), 6)  # 1.4826 * 0.011 / 1.1
    0.014826
    """
    return sigma_nmad(a, b)


def outlier_fraction(zspec: ArrayLike, zphot: ArrayLike, threshold: float = 0.05) -> float:
    r"""Fraction of galaxies with :math:`|\Delta z / (1 + z_{\rm spec})| > \mathrm{threshold}`.

    Examples
    --------
    >>> outlier_fraction([0.1, 0.1, 0.1, 0.1], [0.1, 0.2, 0.12, 0.0])
    0.5
    """
    x = _normalised_dz(zspec, zphot)
    if x.size == 0:
        return float("nan")
    return float(np.mean(np.abs(x) > threshold))


def bias(zspec: ArrayLike, zphot: ArrayLike) -> float:
    r"""Mean normalised error :math:`\langle \Delta z / (1 + z_{\rm spec}) \rangle`.

    Examples
    --------
    >>> round(bias([0.0, 0.0], [0.01, 0.03]), 6)
    0.02
    """
    x = _normalised_dz(zspec, zphot)
    if x.size == 0:
        return float("nan")
    return float(np.mean(x))
