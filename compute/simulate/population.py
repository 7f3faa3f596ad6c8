"""Galaxy population: Schechter luminosity function, volume-weighted redshifts, footprint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compute.simulate.config import SimConfig
from compute.simulate.seds import SEDGrid


@dataclass
class Cosmology:
    """Distance tables on a fine redshift grid (flat LCDM via astropy)."""

    z: np.ndarray
    distmod: np.ndarray
    da_mpc: np.ndarray
    dvdz: np.ndarray

    @classmethod
    def make(cls, h0: float, om0: float, z_max: float) -> Cosmology:
        from astropy.cosmology import FlatLambdaCDM

        cosmo = FlatLambdaCDM(H0=h0, Om0=om0)
        z = np.linspace(1e-4, z_max * 1.05 + 0.01, 2000)
        return cls(
            z=z,
            distmod=np.asarray(cosmo.distmod(z).value),
            da_mpc=np.asarray(cosmo.angular_diameter_distance(z).value),
            dvdz=np.asarray(cosmo.differential_comoving_volume(z).value),
        )

    def dm(self, z: np.ndarray) -> np.ndarray:
        """Distance modulus."""
        return np.interp(z, self.z, self.distmod)

    def kpc_per_arcsec(self, z: np.ndarray) -> np.ndarray:
        """Proper kpc per arcsec."""
        return np.interp(z, self.z, self.da_mpc) * 1e3 * np.pi / (180 * 3600)


def schechter_cdf_grid(mstar: float, alpha: float, m_bright: float,
                       m_faint: float, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative number (from the bright end) of a Schechter LF on an absolute-mag grid."""
    m = np.linspace(m_bright, m_faint, n)
    x = 10 ** (-0.4 * (m - mstar))
    phi = x ** (alpha + 1) * np.exp(-x)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(m))])
    return m, cdf


@dataclass
class Population:
    """Sampler of (z, M_r): n(z) ∝ dV/dz * N(M < M_faint(z)), then M | z from the LF.

    ``M_faint(z)`` is the faintest absolute magnitude that could still pass the apparent
    limit (plus a margin) with the brightest k-correction and no dust; fainter galaxies
    cannot pass, so leaving them out changes nothing but the run time.
    """

    cfg: SimConfig
    cosmo: Cosmology
    m_grid: np.ndarray
    cdf_m: np.ndarray
    z_grid: np.ndarray
    cdf_z: np.ndarray
    m_faint_z: np.ndarray

    @classmethod
    def make(cls, cfg: SimConfig, sed: SEDGrid, cosmo: Cosmology) -> Population:
        m_grid, cdf_m = schechter_cdf_grid(cfg.lf_mstar, cfg.lf_alpha, cfg.m_bright, -10.0)
        z_grid = np.linspace(cfg.z_min, cfg.z_max, 1500)
        m_faint = cfg.mag_limit + cfg.mag_margin - cosmo.dm(z_grid) - sed.k_r_min(z_grid)
        n_lum = np.interp(np.clip(m_faint, m_grid[0], m_grid[-1]), m_grid, cdf_m)
        dens = np.interp(z_grid, cosmo.z, cosmo.dvdz) * n_lum
        cdf_z = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(z_grid))])
        return cls(cfg, cosmo, m_grid, cdf_m, z_grid, cdf_z / cdf_z[-1], m_faint)

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw n (redshift, rest-frame absolute r magnitude) pairs."""
        z = np.interp(rng.random(n), self.cdf_z, self.z_grid)
        m_f = np.clip(np.interp(z, self.z_grid, self.m_faint_z), self.m_grid[0], self.m_grid[-1])
        cmax = np.interp(m_f, self.m_grid, self.cdf_m)
        m = np.interp(rng.random(n) * cmax, self.cdf_m, self.m_grid)
        return z, m


def draw_footprint(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in an SDSS-like footprint: the northern cap (b > 30 deg, dec > -5)
    plus a southern equatorial stripe (Stripe 82-like, |dec| < 1.25)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    ra_out = np.empty(0)
    dec_out = np.empty(0)
    while len(ra_out) < n:
        m = 3 * (n - len(ra_out)) + 16
        ra = rng.uniform(0.0, 360.0, m)
        dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-5.0)), np.sin(np.radians(70.0)), m)))
        b = SkyCoord(ra=ra * u.deg, dec=dec * u.deg).galactic.b.deg
        north = (b > 30.0) & (ra > 105.0) & (ra < 265.0)
        stripe = (np.abs(dec) < 1.25) & ((ra > 310.0) | (ra < 60.0))
        keep = north | stripe
        ra_out = np.concatenate([ra_out, ra[keep]])
        dec_out = np.concatenate([dec_out, dec[keep]])
    return ra_out[:n], dec_out[:n]
