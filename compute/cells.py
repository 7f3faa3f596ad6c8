"""Per-cell statistics: photo-z metrics, robust LTS lines, theta and the attenuation/scatter split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from compute.config import LtsConfig
from compute.metrics import NMAD_SCALE


def group_nmad(groups: np.ndarray, a: np.ndarray, b: np.ndarray, n_groups: int) -> np.ndarray:
    """sigma_NMAD of (a, b) within each group, vectorised with a sort instead of a loop.

    Examples
    --------
    >>> g = np.array([0, 0, 0, 1, 1, 1])
    >>> zs = np.zeros(6); zp = np.array([0, .01, -.01, 0, .02, -.02])
    >>> group_nmad(g, zs, zp, 2).round(6).tolist()
    [0.014826, 0.029652]
    """
    x = (b - a) / (1.0 + a)
    med = _group_median(groups, x, n_groups)
    dev = np.abs(x - med[groups])
    return NMAD_SCALE * _group_median(groups, dev, n_groups)


def _group_median(groups: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    order = np.lexsort((x, groups))
    gs, xs = groups[order], x[order]
    counts = np.bincount(gs, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_groups, np.nan)
    ok = counts > 0
    lo = starts[ok] + (counts[ok] - 1) // 2
    hi = starts[ok] + counts[ok] // 2
    out[ok] = 0.5 * (xs[lo] + xs[hi])
    return out


def _group_mean(groups: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    finite = np.isfinite(x)
    s = np.bincount(groups[finite], weights=x[finite], minlength=n_groups)
    c = np.bincount(groups[finite], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def cell_statistics(
    galaxies: pd.DataFrame,
    methods: list[str],
    shape: tuple[int, int],
    cfg: LtsConfig,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Statistics for every (cell, method), including cells with no or too few galaxies.

    Parameters
    ----------
    galaxies : pandas.DataFrame
        Needs ``cell``, ``zspec``, ``bt``, ``in_sample`` and ``zphot_<method>`` columns.
    methods : list of str
        Methods to evaluate.
    shape : (int, int)
        SOM grid shape.
    cfg : LtsConfig
        Clipping, sigma_x, minimum count, backend and bootstrap settings.

    Returns
    -------
    (pandas.DataFrame, dict)
        The cells table (see :data:`compute.artifacts.CELL_COLUMNS`) and, per method, a boolean
        per-galaxy array that is True where the galaxy was clipped by its cell's fit.
    """
    from compute.lts import fit_lines, theta_deg

    nx, ny = shape
    n_cells = nx * ny
    nm = len(methods)
    cell_all = galaxies["cell"].to_numpy(np.int64)
    zs_all = galaxies["zspec"].to_numpy(np.float64)
    bt_all = galaxies["bt"].to_numpy(np.float64)
    in_sample = galaxies["in_sample"].to_numpy(bool)

    rows_idx, grp, zs, zp = [], [], [], []
    for mi, m in enumerate(methods):
        zphot = galaxies[f"zphot_{m}"].to_numpy(np.float64)
        sel = np.flatnonzero(in_sample & np.isfinite(zphot))
        rows_idx.append(sel)
        grp.append(cell_all[sel] * nm + mi)
        zs.append(zs_all[sel])
        zp.append(zphot[sel])
    rows = np.concatenate(rows_idx) if rows_idx else np.zeros(0, np.int64)
    g = np.concatenate(grp) if grp else np.zeros(0, np.int64)
    x = np.concatenate(zs) if zs else np.zeros(0)
    y = np.concatenate(zp) if zp else np.zeros(0)
    n_groups = n_cells * nm

    n = np.bincount(g, minlength=n_groups)
    dz = (y - x) / (1.0 + x)
    sig = group_nmad(g, x, y, n_groups)
    out_frac = _group_mean(g, (np.abs(dz) > 0.05).astype(float), n_groups)
    bias = _group_mean(g, dz, n_groups)
    mean_z = _group_mean(g, x, n_groups)
    mean_bt = _group_mean(g, bt_all[rows], n_groups)

    sigy = np.where(np.isfinite(sig[g]), sig[g], 0.0)
    fits = fit_lines(x, y, cfg.sigma_x, sigy, g, clip=cfg.clip, seed=cfg.seed, min_n=cfg.min_n,
                     backend=cfg.backend, device=None if cfg.device == "auto" else cfg.device)
    fit = _per_group(fits, n_groups)
    theta, theta_err = theta_deg(fit["slope"], fit["slope_err"])
    zfit = fit["intercept"][g] + fit["slope"][g] * x
    finite_fit = np.isfinite(zfit)
    atten = np.full(n_groups, np.nan)
    scatter = np.full(n_groups, np.nan)
    if finite_fit.any():
        atten = group_nmad(g[finite_fit], x[finite_fit], zfit[finite_fit], n_groups)
        scatter = group_nmad(g[finite_fit], zfit[finite_fit], y[finite_fit], n_groups)
    ok_fit = fit["status"] == "ok"
    atten[~ok_fit] = np.nan
    scatter[~ok_fit] = np.nan

    status = fit["status"].astype(object)
    status[n == 0] = "empty"
    kept = np.asarray(fits.mask, bool)
    n_clipped = np.bincount(g[~kept], minlength=n_groups) if len(g) else np.zeros(n_groups, int)

    gi = np.arange(n_groups)
    cell_ids = gi // max(nm, 1)
    table = pd.DataFrame({
        "cell": cell_ids.astype(np.int32),
        "cell_x": (cell_ids // ny).astype(np.int16),
        "cell_y": (cell_ids % ny).astype(np.int16),
        "method": [methods[i % nm] for i in gi] if nm else [],
        "n": n.astype(np.int32),
        "mean_zspec": mean_z,
        "mean_bt": mean_bt,
        "sigma_nmad": sig,
        "sigma_atten": atten,
        "sigma_scatter": scatter,
        "outlier_fraction": out_frac,
        "bias": bias,
        "slope": fit["slope"],
        "intercept": fit["intercept"],
        "slope_err": fit["slope_err"],
        "intercept_err": fit["intercept_err"],
        "theta_deg": theta,
        "theta_err": theta_err,
        "sig_int": fit["sig_int"],
        "n_clipped": np.where(ok_fit, n_clipped, 0).astype(np.int32),
        "status": status.astype(str),
    })
    if cfg.bootstrap > 0 and len(g):
        boot = _bootstrap(x, y, sigy, g, n_groups, cfg)
        for key, val in boot.items():
            table[key] = np.where(ok_fit, val, np.nan)

    clipped: dict[str, np.ndarray] = {}
    offset = 0
    for mi, m in enumerate(methods):
        sel = rows_idx[mi]
        flag = np.zeros(len(galaxies), bool)
        part_kept = kept[offset: offset + len(sel)]
        part_ok = ok_fit[g[offset: offset + len(sel)]]
        flag[sel] = ~part_kept & part_ok
        clipped[m] = flag
        offset += len(sel)
    return table, clipped


def _per_group(fits: Any, n_groups: int) -> dict[str, np.ndarray]:
    """Scatter the fitted groups' values into arrays over all groups (NaN / 'empty' elsewhere)."""
    out: dict[str, np.ndarray] = {}
    labels = np.asarray(fits.groups, dtype=np.int64)
    for key in ("slope", "intercept", "slope_err", "intercept_err", "sig_int"):
        arr = np.full(n_groups, np.nan)
        arr[labels] = np.asarray(getattr(fits, key), dtype=np.float64)
        out[key] = arr
    status = np.full(n_groups, "empty", dtype=object)
    status[labels] = np.asarray(fits.status, dtype=object)
    out["status"] = status
    return out


def _bootstrap(x: np.ndarray, y: np.ndarray, sigy: np.ndarray, g: np.ndarray, n_groups: int,
               cfg: LtsConfig) -> dict[str, np.ndarray]:
    """Bootstrap standard deviations of slope and theta: resample galaxies within each cell."""
    from compute.lts import fit_lines

    rng = np.random.default_rng(cfg.seed)
    order = np.argsort(g, kind="stable")
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slopes = np.full((cfg.bootstrap, n_groups), np.nan)
    for b in range(cfg.bootstrap):
        u = rng.random(len(g))
        pick = order[starts[g[order]] + (u * counts[g[order]]).astype(np.int64)]
        f = fit_lines(x[pick], y[pick], cfg.sigma_x, sigy[pick], g[order], clip=cfg.clip,
                      seed=cfg.seed + b + 1, min_n=cfg.min_n, backend=cfg.backend)
        slopes[b, np.asarray(f.groups, np.int64)] = np.asarray(f.slope, np.float64)
    with np.errstate(invalid="ignore"):
        theta = np.degrees(np.arctan(slopes))
        return {
            "slope_err_boot": np.nanstd(slopes, axis=0, ddof=1),
            "theta_err_boot": np.nanstd(theta, axis=0, ddof=1),
        }
