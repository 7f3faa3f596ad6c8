"""Public entry points: :func:`fit_lines` (many groups at once) and :func:`fit_line`."""

from __future__ import annotations

import numpy as np

from compute.lts import batch
from compute.lts.results import FIT_FAILED, OK, LineFit, LineFits
from compute.lts.search import SearchOptions

#: numpy works on batches of at most this many (groups x starts x points) elements,
#: which keeps the temporaries cache-sized; torch on CPU too, torch on a GPU on
#: batches up to ``GPU_MAX_ELEMS``.
CPU_MAX_ELEMS = 250_000
GPU_MAX_ELEMS = 64_000_000


def fit_lines(x, y, sigx, sigy, groups, *, clip: float = 2.6, epsy: bool = True, seed: int = 0,
              min_n: int = 10, backend: str = "numpy", device=None) -> LineFits:
    """Robust LTS line fits ``y = intercept + slope * x``, one per group label.

    Parameters
    ----------
    x, y : array_like (N,)
        Points (e.g. ``x = zspec``, ``y = zphot``).
    sigx, sigy : float or array_like (N,)
        1-sigma errors in x and y.
    groups : array_like of int (N,)
        Group label of every point (any ints, e.g. ``cell * n_methods + method``).
    clip : float
        Sigma-clipping threshold, in units of the rms of the normalised residuals.
    epsy : bool
        Fit the intrinsic scatter ``eps_y`` (chi2/dof = 1 on the kept points).
    seed : int
        Seed of the random 2-point starts (a group's starts depend on ``seed`` and its
        number of usable points only, so results do not depend on the other groups).
    min_n : int
        Groups with fewer usable points get NaN and status ``"too_few"``.
    backend : ``"numpy"`` or ``"torch"``
    device : torch device for ``backend="torch"`` (default: ``"cuda"`` if available).

    Returns
    -------
    LineFits
        Per-group arrays sorted by label, plus the per-point ``mask`` (True = kept).

    Notes
    -----
    Points with a non-finite x, y, sigx or sigy are left out of their group's fit,
    get ``mask = False`` and are counted in ``n_nonfinite``; ``n`` counts the usable
    points. Groups with fewer than ``min_n`` usable points (``"too_few"``), no spread
    in x (``"degenerate_x"``) or a non-finite fit (``"degenerate"``) get NaN
    parameters and never raise.
    """
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', not {backend!r}")
    x, y, sx, sy = batch.as_points(x, y, sigx, sigy)
    p = batch.pack(x, y, sx, sy, groups, min_n)
    G = p.labels.size
    opt = SearchOptions(clip=float(clip), epsy=bool(epsy))
    out = {k: np.full(G, np.nan) for k in ("slope", "intercept", "slope_err", "intercept_err",
                                            "sig_int", "x0", "intercept_pivot",
                                            "intercept_pivot_err", "cov", "rms")}
    n_kept = np.zeros(G, dtype=np.int64)
    mask = np.zeros(x.size, dtype=bool)
    status = p.status.copy()

    gfit = np.flatnonzero(status == OK)
    if gfit.size:
        if backend == "numpy":
            from compute.lts import numpy_backend

            def run(arr):
                return numpy_backend.run(arr, opt)
            max_elems = CPU_MAX_ELEMS
        else:
            from compute.lts import torch_backend

            dev = torch_backend.pick_device(device)

            def run(arr):
                return torch_backend.run(arr, opt, dev)
            max_elems = CPU_MAX_ELEMS if dev == "cpu" else GPU_MAX_ELEMS
        for gsel in batch.chunks(p, gfit, max_elems):
            arr = batch.padded(p, gsel, x, y, sx, sy, seed)
            src, x0, y0 = arr.pop("src"), arr.pop("x0"), arr.pop("y0")
            res = run(arr)
            res["a"] = res["a"] + y0
            _store(out, n_kept, mask, gsel, res, src, x0, arr["valid"], epsy)

    bad = (status == OK) & ~(np.isfinite(out["slope"]) & np.isfinite(out["slope_err"])
                             & np.isfinite(out["intercept"]) & np.isfinite(out["intercept_err"]))
    status[bad] = FIT_FAILED
    notok = status != OK
    for v in out.values():
        v[notok] = np.nan
    if notok.any():
        drop = np.isin(np.searchsorted(p.labels, np.asarray(groups).ravel()), np.flatnonzero(notok))
        mask[drop] = False
        n_kept[notok] = 0
    return LineFits(groups=p.labels, slope=out["slope"], intercept=out["intercept"],
                    slope_err=out["slope_err"], intercept_err=out["intercept_err"],
                    sig_int=out["sig_int"], n=p.n.astype(np.int64), n_kept=n_kept,
                    n_nonfinite=(p.n_all - p.n).astype(np.int64), status=status, mask=mask,
                    x0=out["x0"], intercept_pivot=out["intercept_pivot"],
                    intercept_pivot_err=out["intercept_pivot_err"],
                    cov_slope_intercept=out["cov"], rms=out["rms"])


def _store(out, n_kept, mask, gsel, res, src, x0, valid, epsy) -> None:
    a, b = res["a"], res["b"]
    var_a, var_b, cov_ab = res["var_a"], res["var_b"], res["cov_ab"]
    out["slope"][gsel] = b
    out["slope_err"][gsel] = np.sqrt(var_b)
    out["intercept_pivot"][gsel] = a
    out["intercept_pivot_err"][gsel] = np.sqrt(var_a)
    out["intercept"][gsel] = a - b * x0
    out["intercept_err"][gsel] = np.sqrt(np.maximum(var_a - 2 * x0 * cov_ab + x0 * x0 * var_b, 0))
    out["cov"][gsel] = cov_ab - x0 * var_b
    out["sig_int"][gsel] = np.sqrt(res["t"]) if epsy else 0.0
    out["x0"][gsel] = x0
    out["rms"][gsel] = res["rms"]
    keep = res["keep"] & valid
    n_kept[gsel] = keep.sum(1)
    mask[src[keep]] = True


def fit_line(x, y, sigx, sigy, *, clip: float = 2.6, epsy: bool = True, seed: int = 0) -> LineFit:
    """Robust LTS fit of one line ``y = intercept + slope * x`` (see :func:`fit_lines`).

    Never raises on bad data: too few (< 3) usable points or no spread in x give NaN
    and a status naming the reason.

    >>> import numpy as np
    >>> x = np.linspace(0.0, 1.0, 20)
    >>> f = fit_line(x, 0.1 + 0.7 * x, 0.0, 0.01)
    >>> f.status, round(f.slope, 6), round(f.intercept, 6), f.n_kept
    ('ok', 0.7, 0.1, 20)
    """
    x, y, sx, sy = batch.as_points(x, y, sigx, sigy)
    r = fit_lines(x, y, sx, sy, np.zeros(x.size, dtype=np.int64), clip=clip, epsy=epsy, seed=seed,
                  min_n=3, backend="numpy")
    if r.groups.size == 0:
        return LineFit(np.nan, np.nan, np.nan, np.nan, np.nan, r.mask, "too_few", 0, 0)
    return LineFit(slope=float(r.slope[0]), intercept=float(r.intercept[0]),
                   slope_err=float(r.slope_err[0]), intercept_err=float(r.intercept_err[0]),
                   sig_int=float(r.sig_int[0]), mask=r.mask, status=str(r.status[0]),
                   n=int(r.n[0]), n_kept=int(r.n_kept[0]), n_nonfinite=int(r.n_nonfinite[0]),
                   x0=float(r.x0[0]), intercept_pivot=float(r.intercept_pivot[0]),
                   intercept_pivot_err=float(r.intercept_pivot_err[0]),
                   cov_slope_intercept=float(r.cov_slope_intercept[0]), rms=float(r.rms[0]))
