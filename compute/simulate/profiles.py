"""Radial Fourier tables of GalSim profiles (deV, exponential) and the Kolmogorov PSF transfer function."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

DEV_TRUNC = 8.0
"""de Vaucouleurs profiles are truncated at 8 half-light radii (as SDSS photo does)."""
EXP_TRUNC = 4.0
"""Exponential profiles are truncated at 4 half-light radii (as SDSS photo does)."""


@dataclass(frozen=True)
class RadialTable:
    """A radial function sampled uniformly in kappa, evaluated by linear interpolation.

    The last samples are zero, so arguments past the table end evaluate to zero.
    """

    step: float
    values: np.ndarray
    slopes: np.ndarray  # values[i + 1] - values[i]

    def __call__(self, kappa: np.ndarray) -> np.ndarray:
        return self.value_and_slope(kappa, slope=False)[0]

    def value_and_slope(self, kappa: np.ndarray, slope: bool = True
                        ) -> tuple[np.ndarray, np.ndarray | None]:
        """Interpolated value and, optionally, its derivative d/dkappa."""
        x = np.asarray(kappa, dtype=np.float32) * np.float32(1.0 / self.step)
        np.minimum(x, len(self.values) - 2, out=x)
        i = x.astype(np.int32)
        x -= i
        d = self.slopes[i]
        out = self.values[i] + x * d
        return out, (d * np.float32(1.0 / self.step) if slope else None)


def _tabulate(obj: object, kmax: float, n: int) -> RadialTable:
    ks = np.linspace(0.0, kmax, n)
    vals = np.array([obj.kValue(k, 0.0).real for k in ks])  # type: ignore[attr-defined]
    vals[-2:] = 0.0
    return RadialTable(step=float(ks[1] - ks[0]), values=vals.astype(np.float32),
                       slopes=np.diff(vals, append=0.0).astype(np.float32))


@cache
def dev_table() -> RadialTable:
    """Fourier transform of a unit-flux, unit half-light-radius truncated deV profile."""
    import galsim

    return _tabulate(galsim.DeVaucouleurs(half_light_radius=1.0, trunc=DEV_TRUNC), 150.0, 30001)


@cache
def exp_table() -> RadialTable:
    """Fourier transform of a unit-flux, unit half-light-radius truncated exponential."""
    import galsim

    return _tabulate(galsim.Sersic(n=1, half_light_radius=1.0, trunc=EXP_TRUNC), 150.0, 30001)


@cache
def kolmogorov_coefficient() -> float:
    """c in the Kolmogorov transfer function exp(-c (k FWHM)^(5/3)), read off GalSim.

    A Kolmogorov PSF's Fourier transform is exactly this stretched exponential, so the
    renderer evaluates it directly (one exp per mode) instead of interpolating a table.
    """
    import galsim

    k = 1.0
    return float(-np.log(galsim.Kolmogorov(fwhm=1.0).kValue(k, 0.0).real) / k ** (5.0 / 3.0))


def kolmogorov_ft(k53_fwhm53: np.ndarray) -> np.ndarray:
    """Kolmogorov transfer function from (k FWHM)^(5/3) (float32 in, float32 out)."""
    x = np.multiply(k53_fwhm53, np.float32(-kolmogorov_coefficient()), dtype=np.float32)
    return np.exp(x, out=x)


def galsim_profile(kind: str, hlr: float, q: float, beta_rad: float, flux: float = 1.0) -> object:
    """The GalSim object that the tables describe (used to validate the batch renderer).

    ``hlr`` is the circularised half-light radius (GalSim's shear convention keeps area).
    """
    import galsim

    if kind == "dev":
        prof = galsim.DeVaucouleurs(half_light_radius=hlr, trunc=DEV_TRUNC * hlr, flux=flux)
    elif kind == "exp":
        prof = galsim.Sersic(n=1, half_light_radius=hlr, trunc=EXP_TRUNC * hlr, flux=flux)
    else:
        raise ValueError(kind)
    return prof.shear(q=q, beta=beta_rad * galsim.radians)
