"""Batch rendering in Fourier space: PSF, pixel, noise; images in nanomaggies per pixel."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from compute.simulate.profiles import RadialTable, kolmogorov_ft


@dataclass
class KGrid:
    """Wave-vector grid (radians per pixel) of an N x N real FFT, centred at pixel N/2."""

    n: int
    kx: np.ndarray  # (1, n//2+1)
    ky: np.ndarray  # (n, 1)
    kk: np.ndarray  # |k|, (n, n//2+1)
    kk53: np.ndarray  # |k|^(5/3), for the Kolmogorov PSF
    pixel: np.ndarray  # pixel-response transfer function
    centre: np.ndarray  # phase that puts the origin at pixel (n/2, n/2)

    @classmethod
    def make(cls, n: int) -> KGrid:
        """Grid for an even size n (float32 arrays: all batch work is single precision)."""
        kx = 2 * np.pi * np.fft.rfftfreq(n)[None, :]
        ky = 2 * np.pi * np.fft.fftfreq(n)[:, None]
        mx = np.arange(n // 2 + 1)[None, :]
        my = np.fft.fftfreq(n, 1.0 / n).astype(int)[:, None]
        pixel = np.sinc(kx / (2 * np.pi)) * np.sinc(ky / (2 * np.pi))
        # exp(-i k n/2) = (-1)^m on each axis for even n: puts the origin at pixel n/2
        centre = np.where((mx + my) % 2 == 0, 1.0, -1.0)
        f = np.float32
        kk = np.hypot(kx, ky)
        return cls(n=n, kx=kx.astype(f), ky=ky.astype(f), kk=kk.astype(f),
                   kk53=(kk ** (5.0 / 3.0)).astype(f), pixel=pixel.astype(f),
                   centre=centre.astype(f))


@cache
def kgrid(n: int) -> KGrid:
    """The wave-vector grid of an n x n FFT, built once per process (and shared by forks)."""
    return KGrid.make(n)


def elliptical_kappa(grid: KGrid, hlr: np.ndarray, q: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """|A^T k| for profiles of circularised half-light radius hlr, axis ratio q, angle beta.

    With eta = -ln q, |A^T k|^2 = hlr^2 [cosh(eta) k^2 + sinh(eta) (cos 2beta (kx^2 - ky^2)
    + sin 2beta 2 kx ky)]. Returns an array (n_gal, N, N/2+1); evaluate a unit-hlr radial
    table on it.
    """
    hlr2 = (np.asarray(hlr, float) ** 2)[:, None, None]
    eta = -np.log(np.asarray(q, float))
    f = np.float32
    ch = (np.cosh(eta)[:, None, None] * hlr2).astype(f)
    s1 = ((np.sinh(eta) * np.cos(2 * beta))[:, None, None] * hlr2).astype(f)
    s2 = ((np.sinh(eta) * np.sin(2 * beta))[:, None, None] * hlr2).astype(f)
    k2 = grid.kk**2
    u = grid.kx**2 - grid.ky**2
    v = 2 * grid.kx * grid.ky
    return np.sqrt(np.maximum(ch * k2 + s1 * u + s2 * v, f(0.0)))


def profile_ft(grid: KGrid, table: RadialTable, hlr: np.ndarray, q: np.ndarray,
               beta: np.ndarray) -> np.ndarray:
    """Unit-flux Fourier transform of an elliptical profile (no PSF, no pixel)."""
    return table(elliptical_kappa(grid, hlr, q, beta))


def psf_ft(grid: KGrid, fwhm_pix: np.ndarray) -> np.ndarray:
    """Kolmogorov PSF transfer function times the pixel response, (n_gal, N, N/2+1)."""
    f53 = (np.asarray(fwhm_pix, np.float64) ** (5.0 / 3.0)).astype(np.float32)[:, None, None]
    out = kolmogorov_ft(grid.kk53[None] * f53)
    out *= grid.pixel[None]
    return out


def clumps_ft(grid: KGrid, dx: np.ndarray, dy: np.ndarray, sigma: np.ndarray,
              weight: np.ndarray) -> np.ndarray:
    """Sum of Gaussian knots with offsets dx, dy (n_gal, n_knot; pixels), weights (n_gal,
    n_knot) and one Gaussian sigma per galaxy (n_gal,), as a separable phase sum."""
    py = np.exp(-1j * grid.ky[None, :, 0, None] * dy[:, None, :]) * weight[:, None, :]
    px = np.exp(-1j * grid.kx[None, 0, :, None] * dx[:, None, :])
    phase = np.matmul(py, np.swapaxes(px, 1, 2)).astype(np.complex64)
    sig = np.asarray(sigma, np.float32)[:, None, None]
    g = np.exp(np.float32(-0.5) * (grid.kk[None] * sig) ** 2)
    return phase * g


def to_image(grid: KGrid, ft: np.ndarray, stamp: int) -> np.ndarray:
    """Inverse FFT of centred transforms and crop to ``stamp`` pixels around the centre.

    The inverse transform runs along y first, keeps only the stamp's rows, and then runs
    along x on those rows alone (the same numbers as a full 2-D inverse and crop).
    """
    import scipy.fft

    lo = grid.n // 2 - stamp // 2
    rows = scipy.fft.ifft(ft * grid.centre, axis=-2, workers=1)[..., lo:lo + stamp, :]
    img = scipy.fft.irfft(rows, n=grid.n, axis=-1, workers=1)
    return img[..., lo:lo + stamp]


@dataclass
class NoiseModel:
    """Per-band pixel noise: sky-limited sigma from the 5-sigma depth, plus source shot noise.

    Attributes
    ----------
    sigma_sky : dict
        Sky (plus read) noise per pixel, nanomaggies.
    gain : dict
        Electrons per nanomaggy implied by the sky level and ``sigma_sky``.
    """

    sigma_sky: dict[str, float]
    gain: dict[str, float]

    @classmethod
    def from_depths(cls, bands: list[str], depth5: dict[str, float], sky_sb: dict[str, float],
                    fwhm_arcsec: dict[str, float], pixel_scale: float) -> NoiseModel:
        """Calibrate so that a PSF-optimal 5-sigma point source has the given AB depth."""
        grid = kgrid(64)
        sig, gain = {}, {}
        for b in bands:
            p = psf_ft(grid, np.array([fwhm_arcsec[b] / pixel_scale]))[0]
            # sum of p_i^2 by Parseval on the real FFT (double-count interior columns)
            w = np.full(p.shape, 2.0)
            w[:, 0] = 1.0
            w[:, -1] = 1.0
            sum_p2 = float(np.sum(w * np.abs(p) ** 2)) / grid.n**2
            n_eff = 1.0 / sum_p2
            f5 = 10 ** (-0.4 * (depth5[b] - 22.5))
            sig[b] = f5 / (5.0 * np.sqrt(n_eff))
            sky_pix = 10 ** (-0.4 * (sky_sb[b] - 22.5)) * pixel_scale**2
            gain[b] = sky_pix / sig[b] ** 2
        return cls(sigma_sky=sig, gain=gain)

    def variance(self, band: str, model: np.ndarray) -> np.ndarray:
        """Pixel variance (nanomaggies^2) for a noiseless model image."""
        return self.sigma_sky[band] ** 2 + np.clip(model, 0.0, None) / self.gain[band]


def add_noise(images: np.ndarray, variance: np.ndarray, seed: int) -> None:
    """Add Gaussian noise of the given per-pixel variance in place (GalSim deviate)."""
    import galsim

    dev = np.array(variance, dtype=np.float64).ravel()
    galsim.GaussianDeviate(int(seed)).generate_from_variance(dev)
    images += dev.reshape(images.shape)
