"""The line model of Cappellari et al. (2013, MNRAS 432, 1709), eq. 7, on batched arrays.

Model ``y = a + b * u`` with ``u = x - x0`` (a per-group pivot), residuals::

    r_i = (y_i - a - b u_i) / sqrt(sy_i^2 + b^2 sx_i^2 + t),    t = eps_y^2.

Everything here is written against a tiny array namespace ``ops`` (see
``numpy_backend.NumpyOps`` / ``torch_backend.TorchOps``) so that numpy and torch run
the very same arithmetic. Arrays carry any leading batch shape ``(...)`` and the
points on the last axis (``N``); per-fit parameters have the batch shape ``(...)``.

Weights ``w0`` are 0/1 (which points the fit uses), as floats.
"""

from __future__ import annotations


def variance(s2y, s2x, b, t, floor):
    """Total variance per point ``sy^2 + b^2 sx^2 + t`` (bounded below by ``floor``)."""
    v = s2y + (b * b)[..., None] * s2x + t[..., None]
    return v.clip(min=0) + floor


def resid(u, y, a, b):
    """Raw residuals ``y - a - b u``."""
    return y - a[..., None] - b[..., None] * u


def solve_t(ops, e2, v0, w0, t, target, n_newton):
    """Intrinsic variance ``t >= 0`` with ``sum w0 e^2 / (v0 + t) = target``.

    Newton steps on ``psi(t) = 1 / phi(t) - 1 / target`` with
    ``phi(t) = sum w0 e^2 / (v0 + t)``: ``psi`` is increasing and concave, so from any
    start the iterates end up approaching the root monotonically from below, and the
    step is exact when all ``v0`` are equal (homoscedastic errors). When even
    ``t = 0`` gives ``phi < target`` (errors alone explain the scatter) ``t = 0``.
    """
    for _ in range(n_newton):
        den = v0 + t[..., None]
        q = w0 * e2 / den
        phi = q.sum(-1)
        d = (q / den).sum(-1)
        step = phi * (phi / target - 1.0) / ops.where(d > 0, d, 1.0)
        t = (t + step).clip(min=0.0)
    return t


def fit_step(ops, u, y, s2y, s2x, w0, b, t, target, floor, epsy, n_newton=2):
    """One joint update of ``(a, b, t)`` on the points with weight ``w0``.

    ``b`` solves d(chi2)/db = 0 including the ``b^2 sx^2`` term of the variance
    (fixed-point form ``b = Sxy / (Sxx - sum sx^2 w^2 e^2)``, weighted sums about the
    weighted means, ``a`` profiled out). Then ``t`` is moved towards
    ``chi2 = target`` (if ``epsy``).
    """
    v = variance(s2y, s2x, b, t, floor)
    w = w0 / v
    W = w.sum(-1)
    Ws = ops.where(W > 0, W, 1.0)
    ub = (w * u).sum(-1) / Ws
    yb = (w * y).sum(-1) / Ws
    du = u - ub[..., None]
    dy = y - yb[..., None]
    wdu = w * du
    sxx = (wdu * du).sum(-1)
    sxy = (wdu * dy).sum(-1)
    e = dy - b[..., None] * du
    corr = (w * w * s2x * e * e).sum(-1)
    den = ops.maximum(sxx - corr, 0.25 * sxx)
    ok = sxx > 0
    b_new = ops.where(ok, sxy / ops.where(ok, den, 1.0), b)
    a_new = yb - b_new * ub
    if epsy:
        e2 = resid(u, y, a_new, b_new) ** 2
        v0 = variance(s2y, s2x, b_new, t * 0.0, floor)
        t = solve_t(ops, e2, v0, w0, t, target, n_newton)
    return a_new, b_new, t


def chi2_terms(u, y, s2y, s2x, a, b, t, floor):
    """Squared normalised residuals ``r^2`` and the variances, for every point."""
    v = variance(s2y, s2x, b, t, floor)
    return resid(u, y, a, b) ** 2 / v, v


def covariance(ops, u, y, s2y, s2x, w0, a, b, t, floor):
    """Covariance of ``(a, b)`` (``a`` at the pivot) from ``(J^T J)^-1`` on the kept points.

    ``J`` is the Jacobian of the normalised residuals with respect to ``(a, b)`` at
    fixed ``t``, including the dependence of the variance on ``b``.
    Returns ``(var_a, var_b, cov_ab)``.
    """
    v = variance(s2y, s2x, b, t, floor)
    s = ops.sqrt(v)
    e = resid(u, y, a, b)
    ja = 1.0 / s
    jb = u / s + e * b[..., None] * s2x / (v * s)
    faa = (w0 * ja * ja).sum(-1)
    fab = (w0 * ja * jb).sum(-1)
    fbb = (w0 * jb * jb).sum(-1)
    det = faa * fbb - fab * fab
    det = ops.where(det > 0, det, float("nan"))
    return fbb / det, faa / det, -fab / det


def _quad(m, a, b):
    """``sum c (y - a - b u)^2`` from the moments ``m = [c, cu, cy, cuu, cuy, cyy]``."""
    return (m[..., 5] - 2.0 * a * m[..., 2] - 2.0 * b * m[..., 4] + a * a * m[..., 0]
            + 2.0 * a * b * m[..., 1] + b * b * m[..., 3])


def fit_step_moments(ops, U, v, w0, s2x, b, t, target, epsy):
    """:func:`fit_step` for many candidate lines at once, through weighted moments.

    ``U`` (G, N, 6) holds ``[1, u, y, u^2, u y, y^2]`` per point (0 at pads), ``v``
    (G, S, N) the current total variances and ``w0`` (G, S, N) the 0/1 subsets.
    All sums are three batched matrix products ``(G, S, N) @ (G, N, 6)``; the
    ``t`` update is one Newton step (see :func:`solve_t`) linearised at the current
    variances. Same fixed point as :func:`fit_step`, which the final fits use.
    """
    w = w0 / v
    w2 = w * w
    m = ops.matmul(w, U)
    z = ops.matmul(w2 * s2x, U)
    W = m[..., 0]
    Ws = ops.where(W > 0, W, 1.0)
    ub = m[..., 1] / Ws
    yb = m[..., 2] / Ws
    sxx = m[..., 3] - m[..., 1] * ub
    sxy = m[..., 4] - m[..., 1] * yb
    corr = _quad(z, yb - b * ub, b).clip(min=0.0)
    den = ops.maximum(sxx - corr, 0.25 * sxx)
    ok = sxx > 0
    b_new = ops.where(ok, sxy / ops.where(ok, den, 1.0), b)
    a_new = yb - b_new * ub
    if epsy:
        q2 = ops.matmul(w2, U)
        phi = _quad(m, a_new, b_new).clip(min=0.0)
        d = _quad(q2, a_new, b_new).clip(min=0.0)
        t = (t + phi * (phi / target - 1.0) / ops.where(d > 0, d, 1.0)).clip(min=0.0)
    return a_new, b_new, t
