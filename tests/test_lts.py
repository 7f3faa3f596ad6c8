"""Unit tests of compute.lts: the robust LTS straight-line fits (numpy and torch paths)."""

from __future__ import annotations

import numpy as np
import pytest

from compute.lts import LineFit, LineFits, fit_line, fit_lines, theta_deg


def noisy_line(n=300, a=0.02, b=0.8, sy=0.02, eps=0.0, sx=0.0, f_out=0.0, seed=0):
    """Points on ``y = a + b x`` (x in 0-0.4) with Gaussian noise and shifted outliers."""
    rng = np.random.default_rng(seed)
    xt = rng.uniform(0.0, 0.4, n)
    x = xt + rng.normal(0, 1, n) * sx
    y = a + b * xt + rng.normal(0, 1, n) * np.hypot(sy, eps)
    out = np.zeros(n, bool)
    out[rng.choice(n, int(round(f_out * n)), replace=False)] = True
    y[out] += rng.choice([-1, 1], out.sum()) * rng.uniform(0.2, 0.5, out.sum())
    return x, y, out


def many_groups(G=12, seed=1):
    """``G`` groups of 40-300 points, interleaved in the input, arbitrary labels."""
    rng = np.random.default_rng(seed)
    xs, ys, sys_, labs, slopes = [], [], [], [], []
    labels = rng.choice(np.arange(-50, 10_000), G, replace=False)
    for g in range(G):
        n = int(rng.integers(40, 300))
        b = rng.uniform(0.5, 1.0)
        x, y, _ = noisy_line(n, b=b, sy=0.02, eps=rng.uniform(0, 0.03), sx=0.005, f_out=0.1,
                             seed=seed * 1000 + g)
        xs.append(x), ys.append(y), sys_.append(rng.uniform(0.01, 0.03, n))
        labs.append(np.full(n, labels[g])), slopes.append(b)
    perm = rng.permutation(sum(len(v) for v in xs))
    cat = [np.concatenate(v)[perm] for v in (xs, ys, sys_, labs)]
    return cat[0], cat[1], 0.005, cat[2], cat[3], dict(zip(labels, slopes, strict=True))


# --- single fits ----------------------------------------------------------------------

def test_exact_line_without_noise():
    x = np.linspace(0.01, 0.39, 57)
    for sig in (0.0, 1e-3):
        f = fit_line(x, -0.03 + 0.73 * x, sig, sig)
        assert isinstance(f, LineFit) and f.status == "ok"
        assert f.slope == pytest.approx(0.73, abs=1e-10)
        assert f.intercept == pytest.approx(-0.03, abs=1e-10)
        assert f.mask.all() and f.n_kept == f.n == 57
        assert f.sig_int == pytest.approx(0.0, abs=1e-8)


def test_outliers_are_rejected_and_slope_recovered():
    x, y, out = noisy_line(400, a=0.01, b=0.85, sy=0.02, f_out=0.15, seed=3)
    f = fit_line(x, y, 0.0, 0.02)
    assert f.status == "ok"
    assert not f.mask[out].any(), "every gross outlier is clipped"
    assert f.mask[~out].mean() > 0.97
    assert abs(f.slope - 0.85) < 3 * f.slope_err
    assert abs(f.intercept - 0.01) < 3 * f.intercept_err
    ols = np.polyfit(x, y, 1)[0]
    assert abs(ols - 0.85) > abs(f.slope - 0.85)


def test_errors_match_weighted_least_squares():
    """Homoscedastic data, sigx = 0, errors overestimated (eps_y = 0): on the kept points
    the fit is ordinary least squares and its errors are sigma^2 / Sxx etc."""
    x, y, _ = noisy_line(200, b=0.6, sy=0.01, seed=4)
    f = fit_line(x, y, 0.0, 0.02)
    assert f.sig_int == 0.0 and f.n_kept >= 195
    xk, yk = x[f.mask], y[f.mask]
    sxx = np.sum((xk - xk.mean()) ** 2)
    assert f.slope_err == pytest.approx(0.02 / np.sqrt(sxx), rel=1e-6)
    assert f.intercept_err == pytest.approx(
        0.02 * np.sqrt(1 / xk.size + xk.mean() ** 2 / sxx), rel=1e-6)
    b, a = np.polyfit(xk, yk, 1)
    assert f.slope == pytest.approx(b, rel=1e-9) and f.intercept == pytest.approx(a, abs=1e-10)
    # the kept set is the 2.6-sigma one, sigma being the rms of the kept residuals
    r = (y - f.intercept - f.slope * x) / 0.02
    s = np.sqrt(np.sum(r[f.mask] ** 2) / (f.n_kept - 2))
    assert (np.abs(r[f.mask]) <= 2.6 * s).all() and (np.abs(r[~f.mask]) > 2.6 * s).all()
    # intercept at the pivot and at x = 0 are the same line
    assert f.intercept_pivot == pytest.approx(f.intercept + f.slope * f.x0, abs=1e-12)


def test_intrinsic_scatter_and_errors_in_x():
    x, y, _ = noisy_line(3000, b=0.8, sy=0.01, eps=0.03, sx=0.02, seed=5)
    f = fit_line(x, y, 0.02, 0.01)
    assert f.sig_int == pytest.approx(0.03, rel=0.1)
    # the b^2 sigx^2 term corrects the attenuation of an ordinary fit of y on noisy x
    assert abs(f.slope - 0.8) < 3 * f.slope_err
    assert np.polyfit(x, y, 1)[0] < f.slope
    g = fit_line(x, y, 0.02, 0.01, epsy=False)
    assert g.sig_int == 0.0 and g.status == "ok"


def test_scalar_and_array_errors_are_the_same():
    x, y, _ = noisy_line(150, sy=0.02, eps=0.01, f_out=0.05, seed=6)
    f = fit_line(x, y, 0.005, 0.02)
    g = fit_line(x, y, np.full(150, 0.005), np.full(150, 0.02))
    assert f.slope == g.slope and f.slope_err == g.slope_err and (f.mask == g.mask).all()


def test_too_few_and_degenerate_single_fits():
    f = fit_line([0.1, 0.2], [0.1, 0.2], 0.0, 0.01)
    assert f.status == "too_few" and np.isnan(f.slope) and np.isnan(f.slope_err)
    assert not f.mask.any()
    f = fit_line(np.full(20, 0.1), np.linspace(0, 1, 20), 0.0, 0.01)
    assert f.status == "degenerate_x" and np.isnan(f.slope) and np.isnan(f.intercept)
    f = fit_line([], [], 0.0, 0.01)
    assert f.status == "too_few" and f.n == 0


def test_seed_reproducibility():
    x, y, _ = noisy_line(250, sy=0.02, eps=0.02, sx=0.005, f_out=0.2, seed=7)
    f1, f2 = fit_line(x, y, 0.005, 0.02, seed=11), fit_line(x, y, 0.005, 0.02, seed=11)
    assert f1.slope == f2.slope and f1.intercept == f2.intercept and (f1.mask == f2.mask).all()
    f3 = fit_line(x, y, 0.005, 0.02, seed=12)       # other starts, same robust answer
    assert f3.slope == pytest.approx(f1.slope, abs=0.1 * f1.slope_err)


# --- batches ----------------------------------------------------------------------------

def test_fit_lines_many_groups_and_mask_alignment():
    x, y, sx, sy, lab, truth = many_groups()
    r = fit_lines(x, y, sx, sy, lab)
    assert isinstance(r, LineFits) and len(r) == len(truth)
    assert np.all(np.diff(r.groups) > 0) and set(r.groups) == set(truth)
    assert (r.status == "ok").all() and r.mask.shape == x.shape
    for i, g in enumerate(r.groups):
        assert abs(r.slope[i] - truth[g]) < 4 * r.slope_err[i]
        assert r.mask[lab == g].sum() == r.n_kept[i]
        assert r.n[i] == (lab == g).sum()
    assert r.index(r.groups[3]) == 3
    with pytest.raises(KeyError):
        r.index(123456789)


def test_fit_line_equals_its_group_in_fit_lines():
    x, y, sx, sy, lab, truth = many_groups(G=6, seed=2)
    r = fit_lines(x, y, sx, sy, lab)
    for i, g in enumerate(r.groups):
        m = lab == g
        f = fit_line(x[m], y[m], sx, sy[m])
        assert f.status == r.status[i] == "ok"
        for k in ("slope", "intercept", "slope_err", "intercept_err", "sig_int"):
            assert getattr(f, k) == pytest.approx(getattr(r, k)[i], rel=1e-9, abs=1e-12), k
        assert (f.mask == r.mask[m]).all() and f.n_kept == r.n_kept[i]


def test_bad_groups_get_nan_and_a_status_and_never_raise():
    rng = np.random.default_rng(8)
    x, y, _ = noisy_line(60, seed=9)
    parts = {
        0: (x, y),                                         # fine
        1: (x[:5], y[:5]),                                 # too few
        2: (np.full(30, 0.2), y[:30]),                     # all x equal
        3: (np.where(np.arange(60) % 4 == 0, np.nan, x), y),  # some NaN x: dropped, counted
        4: (np.full(20, np.nan), y[:20]),                  # nothing usable
        5: (x[:30], np.where(np.arange(30) < 25, np.inf, y[:30])),  # 5 usable points
    }
    xs = np.concatenate([p[0] for p in parts.values()])
    ys = np.concatenate([p[1] for p in parts.values()])
    lab = np.concatenate([np.full(len(p[0]), k) for k, p in parts.items()])
    perm = rng.permutation(xs.size)
    r = fit_lines(xs[perm], ys[perm], 0.005, 0.02, lab[perm], min_n=10)
    st = dict(zip(r.groups.tolist(), r.status.tolist(), strict=True))
    assert st == {0: "ok", 1: "too_few", 2: "degenerate_x", 3: "ok", 4: "too_few", 5: "too_few"}
    bad = r.status != "ok"
    for k in ("slope", "intercept", "slope_err", "intercept_err", "sig_int"):
        assert np.isnan(getattr(r, k)[bad]).all() and np.isfinite(getattr(r, k)[~bad]).all()
    assert (r.n_kept[bad] == 0).all()
    assert not r.mask[np.isin(lab[perm], [1, 2, 4, 5])].any()
    assert r.n.tolist() == [60, 5, 30, 45, 0, 5]
    assert r.n_nonfinite.tolist() == [0, 0, 0, 15, 20, 25]
    assert not r.mask[~np.isfinite(xs[perm])].any()
    # NaN in the errors too
    r2 = fit_lines(x, y, 0.005, np.where(np.arange(60) == 7, np.nan, 0.02), np.zeros(60, int))
    assert r2.status[0] == "ok" and r2.n_nonfinite[0] == 1 and not r2.mask[7]


def test_min_n_and_backend_validation():
    x, y, _ = noisy_line(30, seed=10)
    assert fit_lines(x, y, 0.0, 0.02, np.zeros(30, int), min_n=31).status[0] == "too_few"
    assert fit_lines(x, y, 0.0, 0.02, np.zeros(30, int), min_n=30).status[0] == "ok"
    with pytest.raises(ValueError):
        fit_lines(x, y, 0.0, 0.02, np.zeros(30, int), backend="jax")
    r = fit_lines(x[:0], y[:0], 0.0, 0.02, np.zeros(0, int))
    assert len(r) == 0 and r.mask.size == 0


def test_torch_cpu_agrees_with_numpy():
    pytest.importorskip("torch")
    x, y, sx, sy, lab, _ = many_groups(G=10, seed=3)
    rn = fit_lines(x, y, sx, sy, lab, backend="numpy")
    rt = fit_lines(x, y, sx, sy, lab, backend="torch", device="cpu")
    assert (rn.groups == rt.groups).all() and (rn.status == rt.status).all()
    for k in ("slope", "intercept", "slope_err", "intercept_err", "sig_int"):
        np.testing.assert_allclose(getattr(rt, k), getattr(rn, k), rtol=1e-7, atol=1e-10)
    assert np.mean(rn.mask == rt.mask) > 0.999
    assert (rn.n_kept == rt.n_kept).all()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
def test_torch_cuda_agrees_with_numpy():
    x, y, sx, sy, lab, _ = many_groups(G=40, seed=4)
    rn = fit_lines(x, y, sx, sy, lab, backend="numpy")
    rc = fit_lines(x, y, sx, sy, lab, backend="torch")          # device=None -> cuda
    assert (rn.status == rc.status).all()
    for k in ("slope", "intercept", "slope_err", "intercept_err", "sig_int"):
        np.testing.assert_allclose(getattr(rc, k), getattr(rn, k), rtol=1e-7, atol=1e-10)
    assert np.mean(rn.mask == rc.mask) > 0.999


def test_torch_cuda_request_without_gpu_falls_back_to_cpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    x, y, _ = noisy_line(50, seed=12)
    with pytest.warns(RuntimeWarning, match="no GPU"):
        r = fit_lines(x, y, 0.0, 0.02, np.zeros(50, int), backend="torch", device="cuda")
    assert r.status[0] == "ok"


def test_theta_deg():
    t, e = theta_deg(1.0, 0.1)
    assert t == pytest.approx(45.0) and e == pytest.approx(np.degrees(0.05))
    t, e = theta_deg(np.array([0.0, np.nan]), np.array([0.2, 0.1]))
    assert t[0] == 0.0 and e[0] == pytest.approx(np.degrees(0.2)) and np.isnan(t[1])
