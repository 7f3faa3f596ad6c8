"""FAST-LTS C-steps and iterative sigma clipping for a padded batch of groups.

Backend-agnostic: written against ``ops`` (numpy or torch namespace shim). The
batch holds ``G`` groups padded to ``N`` points; the C-steps run for all groups and
all random starts at once on ``(G, S, N)`` arrays.

Procedure (Rousseeuw & Van Driessen 2006, with the Cappellari et al. 2013 model):

1. Starts: ``S`` lines through 2 random points of each group, plus the weighted
   least-squares line through all points.
2. C-step: residuals of every point under the current line; keep the ``h`` points
   of smallest ``|r|`` (``h = (n + 3) // 2``); refit ``(a, b, eps_y)`` on them, with
   ``eps_y`` scaled so that ``chi2 = c_q (h - 2)`` where ``c_q`` is the variance of a
   unit normal truncated to its central fraction ``q = h / n`` (consistency). The
   refit is one step of the (fast-converging) ``(a, b, eps_y)`` iteration per
   C-step, so fit and subset converge together; it only needs weighted moments
   (batched matrix products), see ``model.fit_step_moments``.
   Candidates are ranked by their trimmed chi2, the sum of their ``h`` smallest
   ``r^2``, all candidates of a group taking the same ``eps_y`` (the smallest of
   theirs) for this comparison (for equal errors: the trimmed scatter, i.e. LTS).
3. ``n_init`` C-steps for all starts, keep the best ``keep`` per group, C-step those
   to convergence (``h``-subset unchanged), take the best.
4. Sigma clipping: keep points with ``|r| <= clip * s`` where ``s^2 = chi2 / (m - 2)``
   on the ``m`` kept points, refit with ``eps_y`` such that ``chi2 / (m - 2) = 1``,
   repeat until the kept set stops changing. The first ``s`` is the rms of the LTS
   ``h``-subset itself (``chi2_h / (h - 2)``, no consistency factor), so the kept set
   grows out of the LTS core to the first self-consistent 2.6-sigma set, as ltsfit's
   does. (With Gaussian residuals there is one such set; with heavy tails, as in
   photo-z errors, starting from a wider consistency-corrected scale instead ends in
   a larger set; ltsfit agrees with the former.)
"""

from __future__ import annotations

from dataclasses import dataclass

from compute.lts.model import chi2_terms, covariance, fit_step, fit_step_moments, resid


@dataclass
class SearchOptions:
    clip: float = 2.6
    epsy: bool = True
    n_init: int = 5          # C-steps for every start
    keep: int = 6            # best starts per group iterated to convergence
    max_refine: int = 40     # C-steps at most for those
    max_clip: int = 60       # clipping iterations at most
    fit_steps: int = 3       # (a, b, eps) updates per clipping iteration
    polish_steps: int = 10   # final (a, b, eps) updates on the converged kept set


def _gather(ops, a, idx):
    """``a[g, idx[g, k]]`` for (G, S) ``a`` and (G, K) ``idx``."""
    return ops.take(a, idx, 1)


def _cstep(ops, d, a, b, t, epsy):
    """One C-step for the (G, S) candidate lines: h-subset, then refit on it."""
    u, y, s2x = d["u"], d["y"], d["s2x"]
    v = d["s2y"] + (b * b)[..., None] * s2x + (t[..., None] + d["floor"])
    e = y - b[..., None] * u - a[..., None]
    key = e * e / v + d["padoff"]           # pads: -inf (first H - h of them) or +inf
    thr = ops.kth(key, d["kidx"])
    sel = key <= thr[..., None]               # h valid points (+ harmless -inf pads)
    return (*fit_step_moments(ops, d["U"], v, ops.f(sel), s2x, b, t, d["target_h"], epsy), sel)


def _objective(ops, d, a, b, t):
    """Each candidate's trimmed chi2 (sum of its h smallest ``r^2``) and its h-subset.

    All candidates of a group are scored with the same intrinsic variance, the
    smallest of their ``t`` (that of the tightest candidate), so that a candidate
    cannot look better by inflating its own scatter.
    """
    u, y, s2x, valid = d["u"], d["y"], d["s2x"], d["valid"]
    t = t * 0.0 + ops.rowmin(t)
    v = d["s2y"] + (b * b)[..., None] * s2x + (t[..., None] + d["floor"])
    e = y - b[..., None] * u - a[..., None]
    r2 = e * e / v
    r2 = ops.where(r2 == r2, r2, float("inf"))
    thr = ops.kth(r2 + d["padoff"], d["kidx"])
    sel = valid & (r2 <= thr[..., None])
    q = ops.where(sel, r2, 0.0).sum(-1)
    return ops.where(q == q, q, float("inf")), sel


def lts_batch(ops, arr, opt: SearchOptions):
    """Robust fits for one padded batch.

    ``arr`` holds backend arrays: ``u, y, s2y, s2x`` (G, N) float (pads: ``s2y = inf``,
    so they weigh nothing), ``valid`` (G, N) bool, ``padoff`` (G, N) float (0, -inf or
    +inf), ``floor, target_h, dof_h, n`` (G,) float, ``si, sj``
    (G, S) int start pairs, and the python int ``kidx``.
    Returns a dict of (G,) parameters and the (G, N) kept mask.
    """
    u, y, s2y, s2x, valid = arr["u"], arr["y"], arr["s2y"], arr["s2x"], arr["valid"]
    floor = arr["floor"]
    zero = u[:, 0] * 0.0

    # --- starts: 2-point lines, plus the weighted LS line through all points -------
    ui, uj = ops.take(u, arr["si"], 1), ops.take(u, arr["sj"], 1)
    yi, yj = ops.take(y, arr["si"], 1), ops.take(y, arr["sj"], 1)
    du = uj - ui
    okd = du != 0
    b0 = ops.where(okd, (yj - yi) / ops.where(okd, du, 1.0), 0.0)
    a0 = yi - b0 * ui
    wv = ops.f(valid)
    fl = floor[:, None]
    n = arr["n"]
    aw, bw, tw = zero, zero, zero
    for _ in range(3):
        aw, bw, tw = fit_step(ops, u, y, s2y, s2x, wv, bw, tw, (n - 2.0).clip(min=1.0), fl, opt.epsy)
    a = ops.cat([aw[:, None], a0], 1)
    b = ops.cat([bw[:, None], b0], 1)
    t = a * 0.0

    d = {"u": u[:, None, :], "y": y[:, None, :], "s2y": s2y[:, None, :], "s2x": s2x[:, None, :],
         "valid": valid[:, None, :], "padoff": arr["padoff"][:, None, :],
         "U": ops.stack([wv, u, y, u * u, u * y, y * y], -1),
         "floor": floor[:, None, None], "target_h": arr["target_h"][:, None], "kidx": arr["kidx"]}

    # --- C-steps for all starts, then the best few to convergence ---------------------
    for _ in range(opt.n_init):
        a, b, t, _ = _cstep(ops, d, a, b, t, opt.epsy)
    q, _ = _objective(ops, d, a, b, t)
    k = min(opt.keep, q.shape[1])
    best = ops.argsort(q, 1)[:, :k]
    a, b, t = _gather(ops, a, best), _gather(ops, b, best), _gather(ops, t, best)
    prev = None
    for _ in range(opt.max_refine):
        # until no candidate's h-subset changes any more (the final fit comes later)
        a, b, t, sel = _cstep(ops, d, a, b, t, opt.epsy)
        if prev is not None and ops.all(sel == prev):
            break
        prev = sel
    q, sel = _objective(ops, d, a, b, t)
    ib = ops.argsort(q, 1)[:, :1]
    a, b, t = _gather(ops, a, ib)[:, 0], _gather(ops, b, ib)[:, 0], _gather(ops, t, ib)[:, 0]
    sel_h = ops.take_rows(sel, ib[:, 0])

    # --- iterative sigma clipping on all points --------------------------------------
    clip2 = opt.clip * opt.clip
    r2, _ = chi2_terms(u, y, s2y, s2x, a, b, t, fl)
    # start from the LTS core: its own rms (no consistency factor), then grow/shrink
    scale2 = (ops.f(sel_h) * r2).sum(-1) / arr["dof_h"]
    scale2 = ops.where(scale2 > 0, scale2, 1.0)
    keep = valid & (r2 <= clip2 * scale2[:, None])
    for _ in range(opt.max_clip):
        w0 = ops.f(keep)
        target = (w0.sum(-1) - 2.0).clip(min=1.0)
        for _ in range(opt.fit_steps):
            a, b, t = fit_step(ops, u, y, s2y, s2x, w0, b, t, target, fl, opt.epsy)
        r2, _ = chi2_terms(u, y, s2y, s2x, a, b, t, fl)
        scale2 = ((w0 * r2).sum(-1) / target).clip(min=1e-12)
        new = valid & (r2 <= clip2 * scale2[:, None])
        if ops.all(new == keep):
            break
        keep = new

    w0 = ops.f(keep)
    nk = w0.sum(-1)
    target = (nk - 2.0).clip(min=1.0)
    for _ in range(opt.polish_steps):
        a, b, t = fit_step(ops, u, y, s2y, s2x, w0, b, t, target, fl, opt.epsy, n_newton=1)
    var_a, var_b, cov_ab = covariance(ops, u, y, s2y, s2x, w0, a, b, t, fl)
    e = resid(u, y, a, b)
    rms = ops.sqrt((w0 * e * e).sum(-1) / nk.clip(min=1.0))
    return {"a": a, "b": b, "t": t, "var_a": var_a, "var_b": var_b, "cov_ab": cov_ab,
            "n_kept": nk, "rms": rms, "keep": keep}

