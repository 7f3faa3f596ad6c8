"""Galaxy structure: de Vaucouleurs bulge + two-zone exponential disk + blue clumps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compute.simulate.config import SimConfig
from compute.simulate.population import Cosmology
from compute.simulate.profiles import dev_table, exp_table, galsim_profile
from compute.simulate.render import KGrid, clumps_ft, kgrid, profile_ft, psf_ft
from compute.simulate.seds import SEDGrid

MAX_CLUMPS = 6
Q0_DISK = 0.15
"""Intrinsic thickness of disks (edge-on axis ratio)."""
CLUMP_TYPE = 3.0
"""Clumps carry the bluest template (CWW Im) with half the disk dust."""
CLUMP_SIZE_KPC = 0.4


@dataclass
class Galaxies:
    """Parameters of a batch of galaxies (all arrays have the batch length first).

    Fluxes are nanomaggies, sizes pixels (circularised half-light radii), angles radians.
    ``flux_*`` arrays are (n, n_bands) for the bulge, inner disk, outer disk and clumps.
    """

    z: np.ndarray
    abs_r: np.ndarray
    red: np.ndarray
    bt_rest: np.ndarray
    type_bulge: np.ndarray
    type_disk: np.ndarray
    type_disk_inner: np.ndarray
    type_disk_outer: np.ndarray
    av_disk: np.ndarray
    cos_incl: np.ndarray
    hlr_bulge: np.ndarray
    q_bulge: np.ndarray
    hlr_disk: np.ndarray
    q_disk: np.ndarray
    beta: np.ndarray
    clump_frac: np.ndarray
    n_clumps: np.ndarray
    clump_dx: np.ndarray
    clump_dy: np.ndarray
    clump_sigma: np.ndarray  # (n,) one knot size per galaxy
    clump_weight: np.ndarray
    flux_bulge: np.ndarray
    flux_disk_in: np.ndarray
    flux_disk_out: np.ndarray
    flux_clumps: np.ndarray
    fwhm: np.ndarray  # (n, n_bands) PSF FWHM in pixels

    def __len__(self) -> int:
        return len(self.z)

    @property
    def flux_total(self) -> np.ndarray:
        """True total flux per band (n, n_bands)."""
        return self.flux_bulge + self.flux_disk_in + self.flux_disk_out + self.flux_clumps


INNER_SCALE = 0.65
OUTER_SCALE = 1.35


def draw_galaxies(rng: np.random.Generator, z: np.ndarray, abs_r: np.ndarray, cfg: SimConfig,
                  sed: SEDGrid, cosmo: Cosmology) -> Galaxies:
    """Draw morphology, stellar populations, dust, sizes and band fluxes for each galaxy."""
    n = len(z)
    red = rng.random(n) < 1.0 / (1.0 + np.exp((abs_r - cfg.red_mid) / cfg.red_width))
    # bulge-to-total (rest-frame r): high on the red sequence, rising with luminosity
    bt_red = rng.beta(4.0, 2.0, n)
    bt_blue = rng.beta(1.3, 5.0, n) * np.clip(1.0 - 0.25 * (abs_r + 20.5), 0.5, 1.6)
    bt = np.clip(np.where(red, bt_red, bt_blue), 0.0, 1.0)
    # stellar populations: bulges old (E, a little younger at times); disks continuous types
    t_bulge = np.clip(np.abs(rng.normal(0.0, 0.2, n)), 0.0, 0.8)
    t_disk_red = rng.uniform(0.0, 0.9, n)
    t_disk_blue = 1.9 + 0.45 * (abs_r + 20.5) + rng.normal(0.0, 0.45, n)
    t_disk = np.clip(np.where(red, t_disk_red, t_disk_blue), 0.0, 3.0)
    half = 0.5 * cfg.disk_gradient
    t_in = np.clip(t_disk - half, 0.0, 3.0)
    t_out = np.clip(t_disk + half, 0.0, 3.0)
    # inclination -> axis ratio and dust
    cos_i = rng.random(n)
    q_disk = np.sqrt((1.0 - Q0_DISK**2) * cos_i**2 + Q0_DISK**2)
    av_scale = np.where(red, 0.5, 1.0)
    av = av_scale * (cfg.av_face + cfg.av_slope * np.log10(1.0 / q_disk))
    # sizes (kpc, h=0.7): Shen et al. (2003)-like size-luminosity relations with scatter
    r_disk_kpc = 10 ** (0.55 - 0.10 * (abs_r + 21.0) + rng.normal(0.0, 0.16, n))
    r_et_kpc = 10 ** (0.45 - 0.24 * (abs_r + 21.0) + rng.normal(0.0, 0.12, n))
    r_bulge_kpc = (bt * r_et_kpc + (1 - bt) * 0.25 * r_disk_kpc) * 10 ** rng.normal(0.0, 0.08, n)
    kpc_pix = cosmo.kpc_per_arcsec(z) * cfg.pixel_scale
    hlr_disk = np.clip(r_disk_kpc / kpc_pix, 0.3, cfg.max_disk_hlr)
    hlr_bulge = np.clip(r_bulge_kpc / kpc_pix, 0.3, cfg.max_bulge_hlr)
    q_bulge = rng.uniform(0.55, 1.0, n)
    beta = rng.uniform(0.0, np.pi, n)
    # star-forming clumps in the disk
    rate = cfg.clump_rate * (1.0 - bt) * np.where(red, 0.15, 1.0)
    n_cl = np.minimum(rng.poisson(rate), MAX_CLUMPS)
    clump_frac = np.where(n_cl > 0, rng.uniform(0.3, 1.0, n) * cfg.clump_frac_max, 0.0)
    h = hlr_disk / 1.678
    rad = rng.gamma(2.0, 1.0, (n, MAX_CLUMPS)) * h[:, None]
    phi = rng.uniform(0, 2 * np.pi, (n, MAX_CLUMPS))
    # disk frame (major axis along beta): circularised scale h -> major h/sqrt(q), minor h*sqrt(q)
    xd = rad * np.cos(phi) / np.sqrt(q_disk)[:, None]
    yd = rad * np.sin(phi) * np.sqrt(q_disk)[:, None]
    cb, sb = np.cos(beta)[:, None], np.sin(beta)[:, None]
    dx = xd * cb - yd * sb
    dy = xd * sb + yd * cb
    sig = np.clip(CLUMP_SIZE_KPC / kpc_pix, 0.25, None) * rng.uniform(0.6, 1.4, n)
    w = rng.gamma(1.0, 1.0, (n, MAX_CLUMPS)) * (np.arange(MAX_CLUMPS)[None, :] < n_cl[:, None])
    w = np.where(w.sum(1, keepdims=True) > 0, w / np.maximum(w.sum(1, keepdims=True), 1e-30), 0.0)
    # band fluxes (nanomaggies) of each component, from rest-frame r luminosity fractions
    norm = 10 ** (-0.4 * (abs_r + cosmo.dm(z) - 22.5))[:, None]
    disk_lum = (1.0 - bt) * (1.0 - clump_frac)
    f_b = norm * bt[:, None] * sed.fluxes(t_bulge, z, np.zeros(n))
    f_in = norm * (0.5 * disk_lum)[:, None] * sed.fluxes(t_in, z, av)
    f_out = norm * (0.5 * disk_lum)[:, None] * sed.fluxes(t_out, z, av)
    f_cl = norm * ((1.0 - bt) * clump_frac)[:, None] * sed.fluxes(np.full(n, CLUMP_TYPE), z, 0.5 * av)
    seeing = np.exp(rng.normal(0.0, cfg.seeing_scatter, n))
    fwhm = np.array([[cfg.psf_fwhm[b] for b in cfg.bands]]) * seeing[:, None] / cfg.pixel_scale
    return Galaxies(z=z, abs_r=abs_r, red=red, bt_rest=bt, type_bulge=t_bulge, type_disk=t_disk,
                    type_disk_inner=t_in, type_disk_outer=t_out, av_disk=av, cos_incl=cos_i,
                    hlr_bulge=hlr_bulge, q_bulge=q_bulge, hlr_disk=hlr_disk, q_disk=q_disk,
                    beta=beta, clump_frac=clump_frac, n_clumps=n_cl, clump_dx=dx, clump_dy=dy,
                    clump_sigma=sig, clump_weight=w, flux_bulge=f_b, flux_disk_in=f_in,
                    flux_disk_out=f_out, flux_clumps=f_cl, fwhm=fwhm)


def extent_pixels(gal: Galaxies) -> np.ndarray:
    """Radius (pixels) that holds every component (truncations, clumps) plus the PSF wings."""
    from compute.simulate.profiles import DEV_TRUNC, EXP_TRUNC

    bulge = DEV_TRUNC * gal.hlr_bulge / np.sqrt(gal.q_bulge)
    disk = EXP_TRUNC * OUTER_SCALE * gal.hlr_disk / np.sqrt(gal.q_disk)
    knots = np.max(np.hypot(gal.clump_dx, gal.clump_dy) * (gal.clump_weight > 0), axis=1)
    knots = knots + 4 * gal.clump_sigma
    return np.maximum.reduce([bulge, disk, knots]) + 3 * np.max(gal.fwhm, axis=1)


GRID_FACTORS = (1.125, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
"""FFT grid sides tried in turn, as multiples of the stamp side (2-3-5-7-smooth for 64)."""


def render_grid_sizes(stamp: int) -> tuple[int, ...]:
    """FFT grid sizes tried in turn (the smallest that holds a galaxy is used)."""
    return tuple(sorted({2 * int(round(f * stamp / 2)) for f in GRID_FACTORS}))


def fits_grid(need: np.ndarray, size: int, stamp: int) -> np.ndarray:
    """Whether light out to radius ``need`` can be drawn on a ``size`` grid for the stamp.

    A Fourier-space render is periodic: light at offset x > size/2 from the centre lands
    at x - size. It stays off the central ``stamp`` pixels as long as size - x > stamp/2,
    so the grid must satisfy need <= size - stamp/2 (the stamp itself sees no wrap-around).
    """
    return need <= size - stamp / 2


def render_noiseless(gal: Galaxies, stamp: int) -> np.ndarray:
    """Noise-free PSF-convolved, pixel-integrated images (n, n_bands, stamp, stamp).

    Each galaxy is drawn in Fourier space on the smallest FFT grid that holds it without
    wrap-around onto the stamp, then cropped.
    """
    need = extent_pixels(gal)
    out = np.empty((len(gal), gal.fwhm.shape[1], stamp, stamp), np.float32)
    done = np.zeros(len(gal), bool)
    sizes = render_grid_sizes(stamp)
    for k, size in enumerate(sizes):
        sel = np.nonzero(~done & (fits_grid(need, size, stamp) | (k == len(sizes) - 1)))[0]
        if len(sel) == 0:
            continue
        out[sel] = render_on(gal, sel, kgrid(size), stamp)
        done[sel] = True
    return out


def render_on(gal: Galaxies, sel: np.ndarray, grid: KGrid, stamp: int) -> np.ndarray:
    """Render galaxies ``sel`` on one FFT grid and crop them to the stamp."""
    from compute.simulate.render import to_image

    bulge = profile_ft(grid, dev_table(), gal.hlr_bulge[sel], gal.q_bulge[sel], gal.beta[sel])
    d_in = profile_ft(grid, exp_table(), gal.hlr_disk[sel] * INNER_SCALE, gal.q_disk[sel], gal.beta[sel])
    d_out = profile_ft(grid, exp_table(), gal.hlr_disk[sel] * OUTER_SCALE, gal.q_disk[sel], gal.beta[sel])
    clumps = clumps_ft(grid, gal.clump_dx[sel], gal.clump_dy[sel], gal.clump_sigma[sel],
                       gal.clump_weight[sel])
    out = np.empty((len(sel), gal.fwhm.shape[1], stamp, stamp), np.float32)
    f = np.float32
    for ib in range(gal.fwhm.shape[1]):
        ft = ((gal.flux_bulge[sel, ib, None, None].astype(f) * bulge
               + gal.flux_disk_in[sel, ib, None, None].astype(f) * d_in
               + gal.flux_disk_out[sel, ib, None, None].astype(f) * d_out)
              + gal.flux_clumps[sel, ib, None, None].astype(f) * clumps)
        out[:, ib] = to_image(grid, ft * psf_ft(grid, gal.fwhm[sel, ib]), stamp)
    return out


def galsim_galaxy(gal: Galaxies, i: int, ib: int) -> object:
    """GalSim model of galaxy ``i`` in band ``ib`` (PSF-convolved): the reference renderer."""
    import galsim

    parts = [
        galsim_profile("dev", gal.hlr_bulge[i], gal.q_bulge[i], gal.beta[i], gal.flux_bulge[i, ib]),
        galsim_profile("exp", gal.hlr_disk[i] * INNER_SCALE, gal.q_disk[i], gal.beta[i],
                       gal.flux_disk_in[i, ib]),
        galsim_profile("exp", gal.hlr_disk[i] * OUTER_SCALE, gal.q_disk[i], gal.beta[i],
                       gal.flux_disk_out[i, ib]),
    ]
    for j in range(MAX_CLUMPS):
        w = gal.clump_weight[i, j]
        if w > 0:
            parts.append(galsim.Gaussian(sigma=gal.clump_sigma[i], flux=w * gal.flux_clumps[i, ib])
                         .shift(gal.clump_dx[i, j], gal.clump_dy[i, j]))
    return galsim.Convolve(galsim.Add(parts), galsim.Kolmogorov(fwhm=gal.fwhm[i, ib]))
