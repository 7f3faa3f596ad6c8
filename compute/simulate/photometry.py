"""SDSS-style photometry from the noisy images: deV/exp fits in r, modelMag, cModel, Petrosian."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from compute.simulate.profiles import (
    RadialTable,
    dev_table,
    exp_table,
    kolmogorov_coefficient,
    kolmogorov_ft,
)
from compute.simulate.render import KGrid, NoiseModel, elliptical_kappa, kgrid, psf_ft

LUPTITUDE_B = {"u": 1.4e-10, "g": 0.9e-10, "r": 1.2e-10, "i": 1.8e-10, "z": 7.4e-10}
"""SDSS asinh-magnitude softening parameters (in maggies)."""

PETRO_ETA = 0.2
PETRO_NAP = 2.0
LM_ITERATIONS = 10
LM_CONVERGED = 1e-5
LM_LAMBDA_MAX = 1e4
PSF_MODE_CUT = 0.02
"""Shape fits use the Fourier modes where the PSF transfer exceeds this (the rest carry
almost no signal at SDSS depth; amplitudes use every mode)."""
HLR_BOUNDS = (0.15, 40.0)
ETA_MAX = 3.0


def luptitude(flux_nmgy: np.ndarray, err_nmgy: np.ndarray, band: str) -> tuple[np.ndarray, np.ndarray]:
    """SDSS asinh magnitudes and their errors from fluxes in nanomaggies."""
    b = LUPTITUDE_B[band]
    x = np.asarray(flux_nmgy) * 1e-9
    k = 2.5 / np.log(10.0)
    mag = -k * (np.arcsinh(x / (2 * b)) + np.log(b))
    err = k * (np.asarray(err_nmgy) * 1e-9) / (2 * b) / np.sqrt(1 + (x / (2 * b)) ** 2)
    return mag, err


def pogson(flux_nmgy: np.ndarray) -> np.ndarray:
    """Ordinary AB magnitude (NaN for non-positive flux)."""
    f = np.asarray(flux_nmgy, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, 22.5 - 2.5 * np.log10(np.where(f > 0, f, 1.0)), np.nan)


@dataclass
class Measurements:
    """Per-galaxy measurements (fluxes in nanomaggies)."""

    model_flux: np.ndarray  # (n, n_bands)
    model_err: np.ndarray  # includes the r-shape uncertainty
    model_err_lin: np.ndarray  # fixed-shape linear error (what SDSS photo quotes)
    cmodel_flux_r: np.ndarray
    cmodel_err_r: np.ndarray
    frac_dev_r: np.ndarray
    exp_ab_r: np.ndarray
    dev_ab_r: np.ndarray
    exp_hlr_r: np.ndarray
    dev_hlr_r: np.ndarray
    best_is_dev: np.ndarray
    petro_flux_r: np.ndarray
    petro_rad_r: np.ndarray


def _shape(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log hlr, eta1, eta2) -> (hlr, q, beta)."""
    hlr = np.exp(params[:, 0])
    eta = np.hypot(params[:, 1], params[:, 2])
    return hlr, np.exp(-eta), 0.5 * np.arctan2(params[:, 2], params[:, 1])


class ShapeFitter:
    """Least-squares fit of one PSF-convolved profile (free size, axis ratio, angle, flux).

    The centre is fixed at the stamp centre. The fit works on the real part of the centred
    Fourier transform of the image (the models are point-symmetric, so the imaginary part
    does not depend on the parameters), restricted to modes the PSF transmits
    (transfer > PSF_MODE_CUT): with white sky noise this is the pixel-space chi^2 up to those
    negligible modes. The flux is solved linearly at each step (variable projection) and
    (log hlr, eta1, eta2) by batched Levenberg-Marquardt with analytic derivatives
    (q = exp(-|eta|), position angle = arg(eta1 + i eta2) / 2).
    """

    def __init__(self, grid: KGrid, table: RadialTable, fwhm: np.ndarray, data_re: np.ndarray,
                 weight: np.ndarray) -> None:
        kcut = _psf_kcut() / float(np.min(fwhm))
        iy, ix = np.nonzero(grid.kk <= kcut)
        kx = grid.kx[0, ix]
        ky = grid.ky[iy, 0]
        self.k2 = (kx**2 + ky**2)[None].astype(np.float32)
        self.u = (kx**2 - ky**2)[None].astype(np.float32)
        self.v = (2 * kx * ky)[None].astype(np.float32)
        self.table = table
        sw = np.sqrt(weight[iy, ix])[None]
        f53 = (np.asarray(fwhm, np.float64) ** (5.0 / 3.0)).astype(np.float32)[:, None]
        self.psf = (kolmogorov_ft(grid.kk53[iy, ix][None] * f53)
                    * grid.pixel[iy, ix][None] * sw.astype(np.float32))
        self.data = (data_re[:, iy, ix] * sw).astype(np.float32)

    def evaluate(self, params: np.ndarray, jac: bool = False, rows: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Residual (n, m), flux (n,) and optionally the residual Jacobian (n, m, 3).

        ``rows`` picks the galaxies that ``params`` belong to (default: all of them).
        """
        psf = self.psf if rows is None else self.psf[rows]
        data = self.data if rows is None else self.data[rows]
        f = np.float32
        hlr2 = np.exp(2 * params[:, 0])[:, None].astype(f)
        e1 = params[:, 1][:, None].astype(f)
        e2 = params[:, 2][:, None].astype(f)
        eta64 = np.hypot(params[:, 1], params[:, 2])[:, None]
        small = eta64 < 1e-3
        ch = np.cosh(eta64).astype(f)
        sh_eta = np.where(small, 1.0 + eta64**2 / 6,
                          np.sinh(eta64) / np.where(small, 1.0, eta64)).astype(f)
        lin = e1 * self.u + e2 * self.v
        quad = hlr2 * (ch * self.k2 + sh_eta * lin)
        kappa = np.sqrt(np.maximum(quad, f(1e-30)))
        t, dt = self.table.value_and_slope(kappa, slope=jac)
        bas = t * psf
        bb = np.maximum(np.sum(bas * bas, 1), np.float32(1e-30))
        amp = np.sum(bas * data, 1) / bb
        res = data - amp[:, None] * bas
        if not jac:
            return res, amp, None
        # d sh_eta / d eta_i = s'(eta) * eta_i / eta, with s'(eta)/eta -> 1/3 as eta -> 0
        dsh = np.where(small, 1.0 / 3.0, (np.cosh(eta64) * eta64 - np.sinh(eta64))
                       / np.where(small, 1.0, eta64**3)).astype(f)
        dq = [2 * quad,
              hlr2 * (sh_eta * e1 * self.k2 + dsh * e1 * lin + sh_eta * self.u),
              hlr2 * (sh_eta * e2 * self.k2 + dsh * e2 * lin + sh_eta * self.v)]
        fac = dt * psf / (2 * kappa)
        out = np.empty(res.shape + (3,), np.float32)
        for j in range(3):
            db = fac * dq[j]
            damp = (np.sum(db * data, 1) - 2 * amp * np.sum(db * bas, 1)) / bb
            out[..., j] = -(amp[:, None] * db + damp[:, None] * bas)
        return res, amp, out

    def residual(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res, amp, _ = self.evaluate(params)
        return res, amp

    def fit(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return best parameters (n, 3) and chi^2 (in Fourier units, up to a constant).

        Galaxies leave the iteration once an accepted step improves chi^2 by less than
        LM_CONVERGED (relative; far below a change of 1 in chi^2) or the damping has grown
        past LM_LAMBDA_MAX, so the remaining iterations work on the unconverged ones only.
        """
        p = start.copy()
        r, _, jac = self.evaluate(p, jac=True)
        assert jac is not None
        chi: np.ndarray = np.asarray(np.sum(r * r, 1, dtype=np.float64))
        lam = np.full(len(p), 1e-2)
        act = np.arange(len(p))
        for _ in range(LM_ITERATIONS):
            if len(act) == 0:
                break
            jt = np.swapaxes(jac, 1, 2)
            h = (jt @ jac).astype(np.float64)
            g = (jt @ r[..., None])[..., 0].astype(np.float64)
            diag = np.einsum("nii->ni", h)
            a = h + (lam[act, None] * np.maximum(diag, 1e-12))[:, :, None] * np.eye(3)[None]
            delta = -np.linalg.solve(a, g[..., None])[..., 0]
            trial = _clip_params(p[act] + delta)
            rt, _, jt_new = self.evaluate(trial, jac=True, rows=act)
            assert jt_new is not None
            ct = np.sum(rt * rt, 1, dtype=np.float64)
            old = chi[act]
            better = ct < old
            p[act] = np.where(better[:, None], trial, p[act])
            r = np.where(better[:, None], rt, r)
            jac = np.where(better[:, None, None], jt_new, jac)
            chi[act] = np.where(better, ct, old)
            lam[act] = np.where(better, lam[act] / 3.0, lam[act] * 5.0)
            done = (better & (old - ct < LM_CONVERGED * ct)) | (lam[act] > LM_LAMBDA_MAX)
            act, r, jac = act[~done], r[~done], jac[~done]
        return p, np.asarray(chi)


def _clip_params(p: np.ndarray) -> np.ndarray:
    p = p.copy()
    p[:, 0] = np.clip(p[:, 0], np.log(HLR_BOUNDS[0]), np.log(HLR_BOUNDS[1]))
    eta = np.hypot(p[:, 1], p[:, 2])
    scale = np.where(eta > ETA_MAX, ETA_MAX / np.maximum(eta, 1e-12), 1.0)
    p[:, 1:] *= scale[:, None]
    return p


def _psf_kcut() -> float:
    """kappa (for FWHM = 1 pixel) beyond which the Kolmogorov transfer is < PSF_MODE_CUT."""
    return float((np.log(1.0 / PSF_MODE_CUT) / kolmogorov_coefficient()) ** 0.6)


def moments_start(images_r: np.ndarray, fwhm_r: np.ndarray) -> np.ndarray:
    """Starting (log hlr, eta1, eta2) from Gaussian-weighted second moments, PSF-corrected."""
    n, s, _ = images_r.shape
    y, x = (np.mgrid[0:s, 0:s] - s // 2).astype(np.float32)
    r2 = (x**2 + y**2)[None]
    images_r = np.asarray(images_r, np.float32)
    sig_w = np.full(n, 3.0)
    for _ in range(3):
        w = np.exp(np.float32(-0.5) * r2 / (sig_w**2).astype(np.float32)[:, None, None]) * images_r
        tot = np.maximum(w.sum((1, 2)), 1e-12)
        qxx = (w * x**2).sum((1, 2)) / tot
        qyy = (w * y**2).sum((1, 2)) / tot
        qxy = (w * x * y).sum((1, 2)) / tot
        size2 = np.clip(0.5 * (qxx + qyy), 0.25, 400.0)
        sig_w = np.sqrt(2.0 * size2)  # matched weight: observed sigma^2 doubles under weighting
    psf_sig2 = (fwhm_r / 2.355) ** 2
    s2 = np.clip(2.0 * size2 - psf_sig2, 0.09, None)
    e1 = np.clip((qxx - qyy) / np.maximum(qxx + qyy, 1e-9), -0.8, 0.8)
    e2 = np.clip(2 * qxy / np.maximum(qxx + qyy, 1e-9), -0.8, 0.8)
    e = np.hypot(e1, e2)
    # remove the PSF's rounding roughly
    boost = np.clip((2.0 * size2) / s2, 1.0, 3.0)
    e_int = np.clip(e * boost, 0.0, 0.9)
    eta = np.arctanh(e_int)
    ang = np.arctan2(e2, e1)
    return np.stack([np.log(1.18 * np.sqrt(s2)), eta * np.cos(ang), eta * np.sin(ang)], 1)


FIT_GROUP_MIN = 40
"""Galaxies per seeing group in the shape fits (see :func:`_fit_shapes`)."""


def _fit_shapes(grid: KGrid, table: RadialTable, fwhm_r: np.ndarray, data_re_r: np.ndarray,
                wts: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit one profile to every galaxy, in up to three groups of similar seeing.

    A fitter keeps the Fourier modes that the *sharpest* PSF in its batch transmits, so
    grouping galaxies by seeing lets the groups with broader PSFs use fewer modes; each
    galaxy's fit is the same as on its own up to modes the cut drops anyway.
    """
    n = len(fwhm_r)
    params = np.empty((n, 3))
    chi = np.empty(n)
    order = np.argsort(fwhm_r, kind="stable")
    for g in np.array_split(order, max(1, min(3, n // FIT_GROUP_MIN))):
        fitter = ShapeFitter(grid, table, fwhm_r[g], data_re_r[g], wts)
        params[g], chi[g] = fitter.fit(_grid_start(fitter, start[g]))
    return params, chi


def _grid_start(fitter: ShapeFitter, start: np.ndarray) -> np.ndarray:
    """Coarse search in size around the moments estimate (keeps the moments ellipticity)."""
    best = start.copy()
    best_chi = np.full(len(start), np.inf)
    for f in (0.4, 0.6, 0.85, 1.2, 1.7, 2.4, 3.4):
        p = start.copy()
        p[:, 0] = start[:, 0] + np.log(f)
        p = _clip_params(p)
        r, _ = fitter.residual(p)
        chi = np.sum(r * r, 1, dtype=np.float64)
        better = chi < best_chi
        best = np.where(better[:, None], p, best)
        best_chi = np.where(better, chi, best_chi)
    return best


def rfft_weights(grid: KGrid) -> np.ndarray:
    """Multiplicity of each real-FFT mode in the full transform (1 or 2)."""
    w = np.full(grid.kk.shape, 2.0)
    w[:, 0] = 1.0
    if grid.n % 2 == 0:
        w[:, -1] = 1.0
    return w


def petrosian(images_r: np.ndarray, step: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Petrosian flux (2 Petrosian radii, eta = 0.2) and radius from circular apertures.

    Apertures are sums of whole pixels whose centres lie within the radius (enough at
    this resolution); the ratio uses the 0.8 r - 1.25 r annulus as SDSS photo does.
    The aperture is capped at the stamp's inscribed circle.
    """
    n, s, _ = images_r.shape
    y, x = np.mgrid[0:s, 0:s] - s // 2
    rad = np.hypot(x, y).ravel()
    rmax = s // 2 - 0.5
    nbin = int(np.ceil(rmax / step)) + 1
    idx = np.minimum((rad / step).astype(int), nbin - 1)
    inside = rad <= rmax
    onehot = np.zeros((s * s, nbin))
    onehot[np.arange(s * s)[inside], idx[inside]] = 1.0
    ring = images_r.reshape(n, -1) @ onehot
    cum = np.cumsum(ring, 1)
    cnt = np.cumsum(onehot.sum(0))
    edges = (np.arange(nbin) + 1) * step  # cum[:, j] = flux within radius edges[j]

    radii = np.arange(1.0, rmax / 1.25, 0.25)
    f_in = np.stack([np.interp(radii, edges, cum[i]) for i in range(n)])
    f_lo = np.stack([np.interp(0.8 * radii, edges, cum[i], left=0.0) for i in range(n)])
    f_hi = np.stack([np.interp(1.25 * radii, edges, cum[i]) for i in range(n)])
    a_in = np.interp(radii, edges, cnt)
    a_ann = np.interp(1.25 * radii, edges, cnt) - np.interp(0.8 * radii, edges, cnt, left=0.0)
    ratio = ((f_hi - f_lo) / a_ann[None]) / (np.maximum(f_in, 1e-30) / a_in[None])
    ratio = np.where(f_in > 0, ratio, 1.0)
    below = ratio < PETRO_ETA
    has = below.any(1)
    j = np.argmax(below, 1)
    j0 = np.maximum(j - 1, 0)
    r0, r1 = radii[j0], radii[j]
    q0 = ratio[np.arange(n), j0]
    q1 = ratio[np.arange(n), j]
    t = np.clip((q0 - PETRO_ETA) / np.where(q0 - q1 != 0, q0 - q1, 1.0), 0.0, 1.0)
    r_p = np.where(has, r0 + t * (r1 - r0), rmax / PETRO_NAP)
    r_ap = np.minimum(PETRO_NAP * r_p, rmax)
    flux = np.array([np.interp(r_ap[i], edges, cum[i]) for i in range(n)])
    return flux, r_p


SHAPE_STEP = 1e-3


def _best_profile(grid: KGrid, best_dev: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Unit-flux profile transform (no PSF) of the better r model for each galaxy."""
    hlr, q, beta = _shape(params)
    kap = elliptical_kappa(grid, hlr, q, beta)
    out = np.empty(kap.shape, np.float32)
    for table, sel in ((dev_table(), best_dev), (exp_table(), ~best_dev)):
        if sel.any():
            out[sel] = table(kap[sel])
    return out


def measure(images: np.ndarray, fwhm: np.ndarray, bands: list[str], noise: NoiseModel) -> Measurements:
    """Measure a batch of noisy images (n, n_bands, S, S) the way SDSS photo does.

    r band: fit deV and exponential models (free size, axis ratio, angle; PSF-convolved).
    modelMag: every band fitted linearly with the shape of the better r model, convolved
    with that band's PSF. cModel r: best non-negative combination of the two r fits;
    fracDeV its deV fraction. Errors from the pixel noise (sky and source).
    """
    n, nb, s, _ = images.shape
    grid = kgrid(s)
    ir = bands.index("r")
    wts = rfft_weights(grid)
    ft = scipy.fft.rfft2(np.asarray(images, np.float32), axes=(-2, -1), workers=1) * grid.centre
    data_re = ft.real
    start = moments_start(images[:, ir], fwhm[:, ir])
    fits = {name: _fit_shapes(grid, table, fwhm[:, ir], data_re[:, ir], wts, start)
            for name, table in (("dev", dev_table()), ("exp", exp_table()))}
    best_dev = fits["dev"][1] < fits["exp"][1]
    shape = {k: _shape(v[0]) for k, v in fits.items()}
    model_flux = np.empty((n, nb))
    model_err = np.empty((n, nb))
    model_err_lin = np.empty((n, nb))
    best_p = np.where(best_dev[:, None], fits["dev"][0], fits["exp"][0])
    profs = [_best_profile(grid, best_dev, best_p)]
    for j in range(3):
        dp = best_p.copy()
        dp[:, j] += SHAPE_STEP
        profs.append(_best_profile(grid, best_dev, dp))
    s2 = float(s * s)
    dprofs = [prof - profs[0] for prof in profs[1:]]
    psf_r = psf_ft(grid, fwhm[:, ir])
    # effective r pixel variance seen by the shape fit (sky plus the galaxy's shot noise)
    bas_r = profs[0] * psf_r
    amp_r = np.sum(wts * bas_r * data_re[:, ir], (1, 2)) / np.sum(wts * bas_r * bas_r, (1, 2))
    tmpl_r = scipy.fft.irfft2(bas_r * grid.centre, s=(s, s), axes=(-2, -1))
    # sandwich covariance of (flux, log hlr, eta1, eta2) of the unweighted r fit under the
    # true pixel variance (sky + source): H^-1 (J^T V J) H^-1, with J in pixel space
    jac_list = [tmpl_r] + [amp_r[:, None, None] * scipy.fft.irfft2(
        dprof / SHAPE_STEP * psf_r * grid.centre, s=(s, s), axes=(-2, -1))
        for dprof in dprofs]
    # (n, 4, S*S) in single precision; the 4 x 4 products are accumulated by BLAS and
    # inverted in double precision (float32 sums change the errors by < 1e-4 relative)
    jac = np.stack([j_.reshape(n, -1) for j_ in jac_list], 1).astype(np.float32)
    v_r = noise.variance("r", amp_r[:, None, None] * tmpl_r).reshape(n, -1).astype(np.float32)
    jac_t = np.swapaxes(jac, 1, 2)
    h = (jac @ jac_t).astype(np.float64)
    mid = ((jac * v_r[:, None, :]) @ jac_t).astype(np.float64)
    h_inv = np.linalg.inv(h + 1e-12 * np.einsum("nii->n", h)[:, None, None] * np.eye(4)[None])
    cov_full = h_inv @ mid @ h_inv
    for ib, band in enumerate(bands):
        psf_b = psf_r if ib == ir else psf_ft(grid, fwhm[:, ib])
        bas = bas_r if ib == ir else profs[0] * psf_b
        norm = np.sum(wts * bas * bas, (1, 2))
        amp = np.sum(wts * bas * data_re[:, ib], (1, 2)) / norm
        model_flux[:, ib] = amp
        tmpl = tmpl_r if ib == ir else scipy.fft.irfft2(bas * grid.centre, s=(s, s), axes=(-2, -1))
        var = noise.variance(band, amp[:, None, None] * tmpl)
        t2 = np.sum(tmpl**2, (1, 2))
        lin_var = np.sum(tmpl**2 * var, (1, 2)) / t2**2
        model_err_lin[:, ib] = np.sqrt(lin_var)
        if band == "r":
            model_err[:, ib] = np.sqrt(cov_full[:, 0, 0])
            continue
        # the r-band shape uncertainty propagated into this band's amplitude, through the
        # expected (noise-free) derivative dA/dtheta = -A <dB, B> / <B, B>
        grad = np.stack([-amp * np.sum(wts * dprof * psf_b * bas, (1, 2))
                         / (SHAPE_STEP * norm) for dprof in dprofs], 1)
        shape_var = np.einsum("ni,nij,nj->n", grad, cov_full[:, 1:, 1:], grad)
        model_err[:, ib] = np.sqrt(lin_var + shape_var)
    # cModel: joint linear fit of the two r-band shapes
    basis = []
    for name, table in (("dev", dev_table()), ("exp", exp_table())):
        h_, q_, b_ = shape[name]
        basis.append(table(elliptical_kappa(grid, h_, q_, b_)) * psf_r)
    bd, be = basis
    dr = data_re[:, ir]
    a11 = np.sum(wts * bd * bd, (1, 2))
    a22 = np.sum(wts * be * be, (1, 2))
    a12 = np.sum(wts * bd * be, (1, 2))
    y1 = np.sum(wts * bd * dr, (1, 2))
    y2 = np.sum(wts * be * dr, (1, 2))
    det = a11 * a22 - a12**2
    safe = np.abs(det) > 1e-12 * a11 * a22
    fd = np.where(safe, (a22 * y1 - a12 * y2) / np.where(safe, det, 1.0), 0.0)
    fe = np.where(safe, (a11 * y2 - a12 * y1) / np.where(safe, det, 1.0), y2 / a22)
    tot = fd + fe
    frac = np.where(tot > 0, fd / np.where(tot != 0, tot, 1.0), 0.0)
    lo, hi = frac <= 0, frac >= 1
    amp_d, amp_e = y1 / a11, y2 / a22
    frac = np.clip(frac, 0.0, 1.0)
    cflux = np.where(lo, amp_e, np.where(hi, amp_d, tot))
    sig2 = noise.sigma_sky["r"] ** 2 * s2  # Fourier-space noise variance per mode
    var_joint = sig2 * (a11 + a22 - 2 * a12) / np.where(safe, det, np.inf)
    cerr = np.sqrt(np.where(lo, sig2 / a22, np.where(hi, sig2 / a11, var_joint)))
    # add source shot noise like the model fit does (same fractional form)
    shot = np.clip(cflux, 0, None) / noise.gain["r"]
    cerr = np.sqrt(cerr**2 + shot)
    pflux, prad = petrosian(images[:, ir])
    return Measurements(
        model_flux=model_flux, model_err=model_err, model_err_lin=model_err_lin,
        cmodel_flux_r=cflux, cmodel_err_r=cerr,
        frac_dev_r=frac, exp_ab_r=shape["exp"][1], dev_ab_r=shape["dev"][1],
        exp_hlr_r=shape["exp"][0], dev_hlr_r=shape["dev"][0], best_is_dev=best_dev,
        petro_flux_r=pflux, petro_rad_r=prad,
    )
