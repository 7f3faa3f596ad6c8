"""Galaxy SED templates (CWW, GalSim share dir) and speclite synthetic photometry grids."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from compute.atomic import write_atomic

TEMPLATES: tuple[str, ...] = ("CWW_E_ext", "CWW_Sbc_ext", "CWW_Scd_ext", "CWW_Im_ext")
"""Template sequence; a continuous type t in [0, 3] interpolates between neighbours."""


def template_path(name: str) -> str:
    """Path of a CWW template shipped with GalSim."""
    import galsim

    return os.path.join(galsim.meta_data.share_dir, "SEDs", name + ".sed")


E_UV_DIMMING_MAG = 0.3
"""Calibration: the CWW E template is ~0.2-0.3 mag too blue in u-g against the SDSS red
sequence; its flux below 3500 A (rest) is dimmed by this much (smooth ramp to 3900 A)."""


def load_template(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (wavelength in Angstrom, f_lambda in arbitrary units) of a CWW template."""
    data = np.loadtxt(template_path(name))
    wave, flam = data[:, 0].astype(float), data[:, 1].astype(float)
    if name == "CWW_E_ext":
        ramp = np.clip((3900.0 - wave) / 400.0, 0.0, 1.0)
        flam = flam * 10 ** (-0.4 * E_UV_DIMMING_MAG * ramp)
    return wave, flam


def dust_curve(wave_rest: np.ndarray) -> np.ndarray:
    """A_lambda / A_V for a simple power-law attenuation (Charlot & Fall 2000 ISM, n=0.7)."""
    return (np.asarray(wave_rest) / 5500.0) ** -0.7


@dataclass
class SEDGrid:
    """Observed-frame band fluxes of each template, relative to its rest-frame r luminosity.

    ``ratio[t, iz, ia, b]`` is 10**(-0.4 K) with K = m_b(z) - M_r - DM(z) for template t
    at redshift ``z[iz]`` seen through disk dust ``av[ia]``; M_r is the unattenuated
    rest-frame SDSS r absolute magnitude.
    """

    bands: list[str]
    z: np.ndarray
    av: np.ndarray
    ratio: np.ndarray

    def fluxes(self, t: np.ndarray, z: np.ndarray, av: np.ndarray) -> np.ndarray:
        """Flux ratios (n, n_bands) for continuous types t, redshifts z and dust av.

        Types interpolate linearly in flux between neighbouring templates (a mixture of
        stellar populations normalised in rest-frame r); z and av interpolate bilinearly.
        """
        t = np.clip(np.asarray(t, float), 0.0, len(TEMPLATES) - 1.0)
        z = np.asarray(z, float)
        av = np.clip(np.asarray(av, float), self.av[0], self.av[-1])
        it = np.minimum(t.astype(int), len(TEMPLATES) - 2)
        ft = (t - it)[:, None]
        fz = np.interp(z, self.z, np.arange(len(self.z)))
        iz = np.minimum(fz.astype(int), len(self.z) - 2)
        wz = (fz - iz)[:, None]
        fa = np.interp(av, self.av, np.arange(len(self.av)))
        ia = np.minimum(fa.astype(int), len(self.av) - 2)
        wa = (fa - ia)[:, None]

        def at(tt: np.ndarray) -> np.ndarray:
            r = self.ratio
            return ((1 - wz) * ((1 - wa) * r[tt, iz, ia] + wa * r[tt, iz, ia + 1])
                    + wz * ((1 - wa) * r[tt, iz + 1, ia] + wa * r[tt, iz + 1, ia + 1]))

        return (1 - ft) * at(it) + ft * at(it + 1)

    def k_r_min(self, z: np.ndarray) -> np.ndarray:
        """Smallest r-band K (over templates, no dust) at each z: the brightest case."""
        rb = self.bands.index("r")
        k = -2.5 * np.log10(self.ratio[:, :, 0, rb])
        return np.interp(z, self.z, k.min(axis=0))


def build_sed_grid(bands: list[str], z_max: float, dz: float = 0.005,
                   av_max: float = 3.0, n_av: int = 13) -> SEDGrid:
    """Cached :func:`compute_sed_grid` (the grid depends only on its arguments)."""
    return _cached_grid(tuple(bands), float(z_max), dz, av_max, n_av)


@lru_cache(maxsize=8)
def _cached_grid(bands: tuple[str, ...], z_max: float, dz: float, av_max: float,
                 n_av: int) -> SEDGrid:
    path = _disk_cache_path(bands, z_max, dz, av_max, n_av)
    try:
        with np.load(path) as f:
            return SEDGrid(bands=list(bands), z=f["z"], av=f["av"], ratio=f["ratio"])
    except (OSError, KeyError, ValueError):
        pass
    grid = compute_sed_grid(list(bands), z_max, dz, av_max, n_av)
    try:  # a cache that cannot be written only costs the ~2 s of computing the grid again
        write_atomic(path, lambda tmp: np.savez(tmp, z=grid.z, av=grid.av, ratio=grid.ratio))
    except OSError:
        pass
    return grid


def _disk_cache_path(bands: tuple[str, ...], z_max: float, dz: float, av_max: float,
                     n_av: int) -> Path:
    """Where the grid for these settings is kept: keyed by the settings, this module's
    source, the template files and the galsim/speclite versions (any change recomputes)."""
    import hashlib
    from importlib.metadata import version

    from compute.cache import content_key, default_cache_dir

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in TEMPLATES:
        digest.update(Path(template_path(name)).read_bytes())
    key = content_key("sed-grid", list(bands), z_max, dz, av_max, n_av, digest.hexdigest(),
                      version("galsim"), version("speclite"))
    return default_cache_dir() / "sed-grid" / f"{key}.npz"


def compute_sed_grid(bands: list[str], z_max: float, dz: float = 0.005,
                     av_max: float = 3.0, n_av: int = 13) -> SEDGrid:
    """Synthetic photometry of all templates on a (z, A_V) grid with speclite SDSS filters.

    Parameters
    ----------
    bands : list of str
        Bands (subset of ugriz) in output order.
    z_max : float
        Largest redshift needed; the grid covers [0, z_max + 2 dz].
    dz : float
        Redshift step.
    av_max, n_av : float, int
        Dust grid.
    """
    import astropy.units as u
    import speclite.filters

    filters = speclite.filters.load_filters(*[f"sdss2010-{b}" for b in bands])
    r_filter = speclite.filters.load_filters("sdss2010-r")
    zs = np.arange(0.0, z_max + 2.5 * dz, dz)
    avs = np.linspace(0.0, av_max, n_av)
    wave_obs = np.arange(2800.0, 11500.0, 5.0)
    flam_unit = u.erg / (u.s * u.cm**2 * u.AA)
    ratio = np.empty((len(TEMPLATES), len(zs), len(avs), len(bands)))
    for it, name in enumerate(TEMPLATES):
        w, f = load_template(name)
        # reference: rest-frame r luminosity, unattenuated
        rest = np.interp(wave_obs, w, f)
        ref = r_filter.get_ab_maggies(rest * flam_unit, wave_obs * u.AA)["sdss2010-r"][0]
        spectra = np.empty((len(zs), len(avs), len(wave_obs)))
        for iz, z in enumerate(zs):
            wr = wave_obs / (1.0 + z)
            base = np.interp(wr, w, f) / (1.0 + z)
            att = 10 ** (-0.4 * np.outer(avs, dust_curve(wr)))
            spectra[iz] = base[None, :] * att
        flat = spectra.reshape(-1, len(wave_obs))
        maggies = filters.get_ab_maggies(flat * flam_unit, wave_obs * u.AA)
        for ib, b in enumerate(bands):
            ratio[it, :, :, ib] = np.asarray(maggies[f"sdss2010-{b}"]).reshape(len(zs), len(avs)) / ref
    return SEDGrid(bands=list(bands), z=zs, av=avs, ratio=ratio)
