"""Packing points by group into padded ``(G, N)`` arrays, random starts, unpacking.

Points with a non-finite ``x``, ``y``, ``sigx`` or ``sigy`` are dropped before
packing (they are counted per group in ``n_nonfinite`` and get ``mask = False``).
Within a group the usable points keep their input order, so a group packed alone
(``fit_line``) and inside a batch (``fit_lines``) sees the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from compute.lts.results import DEGENERATE_X, OK, TOO_FEW

N_STARTS = 32


@dataclass
class Packed:
    """Usable points sorted by group: ``rows[start[g]:start[g] + n[g]]`` are group g's."""

    labels: np.ndarray       # (G,) sorted distinct labels
    n_all: np.ndarray        # (G,) points per group, all
    n: np.ndarray            # (G,) usable points per group
    start: np.ndarray        # (G,) offset into ``rows``
    rows: np.ndarray         # input row of each usable point, grouped
    status: np.ndarray       # (G,) object: OK or the reason it is not fitted


def as_points(x, y, sigx, sigy):
    """float64 arrays of equal length (``sigx``/``sigy`` may be scalars)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.size} vs {y.size}")
    sx = np.broadcast_to(np.abs(np.asarray(sigx, dtype=np.float64)), x.shape)
    sy = np.broadcast_to(np.abs(np.asarray(sigy, dtype=np.float64)), x.shape)
    return x, y, sx, sy


def pack(x, y, sx, sy, groups, min_n: int) -> Packed:
    """Group the usable points and decide which groups can be fitted."""
    groups = np.asarray(groups).ravel()
    if groups.shape != x.shape:
        raise ValueError(f"groups has {groups.size} entries for {x.size} points")
    labels, inv = np.unique(groups, return_inverse=True)
    G = labels.size
    fin = np.isfinite(x) & np.isfinite(y) & np.isfinite(sx) & np.isfinite(sy)
    rows = np.flatnonzero(fin)
    rows = rows[np.argsort(inv[rows], kind="stable")]
    gi = inv[rows]
    n_all = np.bincount(inv, minlength=G)
    n = np.bincount(gi, minlength=G)
    start = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    status = np.full(G, OK, dtype=object)
    status[n < max(int(min_n), 3)] = TOO_FEW
    xs = x[rows]
    nz = n > 0
    xmin = np.full(G, np.nan)
    xmax = np.full(G, np.nan)
    if rows.size:
        xmin[nz] = np.minimum.reduceat(xs, start[nz])
        xmax[nz] = np.maximum.reduceat(xs, start[nz])
    tiny = 1e-12 * np.maximum(np.abs(xmin), np.abs(xmax))
    flat = nz & ~(xmax - xmin > tiny)
    status[(status == OK) & flat] = DEGENERATE_X
    return Packed(labels, n_all, n, start, rows, status)


def consistency(h: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of a unit normal truncated to its central fraction ``q = h / n``."""
    q = np.clip(h / n, 1e-6, 1.0)
    z = norm.ppf(0.5 * (1.0 + q))
    c = 1.0 - 2.0 * z * norm.pdf(z) / q
    return np.where(q >= 1.0, 1.0, c)


def starts_for(n: int, seed: int, n_starts: int = N_STARTS) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs of distinct positions ``0 <= i, j < n``; depends on (seed, n) only."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(n)])
    i = rng.integers(0, n, n_starts)
    j = rng.integers(0, n - 1, n_starts)
    j = j + (j >= i)
    return i, j


def _row_median(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of the first ``n[g]`` entries of each row (the others are +inf)."""
    s = np.sort(a, axis=1)
    r = np.arange(a.shape[0])
    return 0.5 * (s[r, (n - 1) // 2] + s[r, n // 2])


def padded(p: Packed, gsel: np.ndarray, x, y, sx, sy, seed: int, n_starts: int = N_STARTS) -> dict:
    """Padded arrays for the fitted groups ``gsel`` (indices into ``p.labels``)."""
    ng = p.n[gsel]
    G, N = gsel.size, int(ng.max())
    pos = np.arange(N)
    valid = pos[None, :] < ng[:, None]
    src = np.full((G, N), -1, dtype=np.int64)
    src[valid] = p.rows[(p.start[gsel][:, None] + pos[None, :])[valid]]
    xv = np.where(valid, x[src], np.inf)
    yv = np.where(valid, y[src], np.inf)
    x0, y0 = _row_median(xv, ng), _row_median(yv, ng)
    u = np.where(valid, xv - x0[:, None], 0.0)
    yy = np.where(valid, yv - y0[:, None], 0.0)
    yscale = np.max(np.abs(yy), axis=1)
    uscale = np.max(np.abs(u), axis=1)
    floor = (1e-9 * (yscale + uscale + 1e-30)) ** 2
    s2y = np.where(valid, sy[src] ** 2, np.inf)      # pads weigh nothing
    s2x = np.where(valid, sx[src] ** 2, 0.0)

    h = (ng + 3) // 2
    H = int(h.max())
    # Pad so that every row's h-th smallest sits at the same index H - 1: the first
    # H - h pads of a row read -inf, the others +inf (n - h grows with n, so they fit).
    padoff = np.where(valid, 0.0, np.inf)
    npad = H - h
    padoff[(pos[None, :] >= ng[:, None]) & (pos[None, :] < (ng + npad)[:, None])] = -np.inf
    target_h = consistency(h, ng) * np.maximum(h - 2, 1)

    si = np.empty((G, n_starts), dtype=np.int64)
    sj = np.empty((G, n_starts), dtype=np.int64)
    for m in np.unique(ng):
        rows = ng == m
        i, j = starts_for(int(m), seed, n_starts)
        si[rows], sj[rows] = i, j
    return {"u": u, "y": yy, "s2y": s2y, "s2x": s2x, "valid": valid, "padoff": padoff,
            "floor": floor, "target_h": target_h.astype(np.float64),
            "dof_h": np.maximum(h - 2, 1).astype(np.float64), "n": ng.astype(np.float64),
            "si": si, "sj": sj, "kidx": H - 1, "x0": x0, "y0": y0, "src": src}


def chunks(p: Packed, gfit: np.ndarray, max_elems: int, n_starts: int = N_STARTS):
    """Split the fitted groups (sorted by size) into batches of at most ``max_elems``
    ``(groups x starts x points)`` elements each."""
    order = gfit[np.argsort(p.n[gfit], kind="stable")]
    out: list[np.ndarray] = []
    cur: list[int] = []
    cur_max = 0
    for g in order:
        m = max(cur_max, int(p.n[g]))
        if cur and (len(cur) + 1) * (n_starts + 1) * m > max_elems:
            out.append(np.array(cur))
            cur, m = [], int(p.n[g])
        cur.append(g)
        cur_max = m
    if cur:
        out.append(np.array(cur))
    return out
