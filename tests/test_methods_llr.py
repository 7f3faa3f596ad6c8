"""Tests of the local-linear-regression (Beck et al. 2016) photo-z method."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from compute.errors import ZcellsInputError
from compute.methods import MethodContext, get_method
from compute.methods.features import build_features, prediction_plan
from compute.methods.llr import (
    FALLBACK_FLAGS,
    FLAG_DISTANT,
    FLAG_EXTRAPOLATED,
    FLAG_FEW_NEIGHBOURS,
    FLAG_OUTSIDE_BOX,
    FLAG_SINGULAR,
    FLAGS,
    LLROptions,
    local_linear_predict,
)
from compute.metrics import sigma_nmad


def synthetic_catalog(n: int = 1500, seed: int = 2, test_fraction: float = 0.2) -> pd.DataFrame:
    """Galaxies whose colours follow a smooth, known function of redshift plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    red = rng.uniform(0, 1, n)
    r = 14.5 + 2.0 * np.log10(z / 0.02) + rng.normal(0, 0.4, n)
    ug = 1.2 + 0.8 * red + 2.0 * z + rng.normal(0, 0.05, n)
    gr = 0.4 + 0.4 * red + 3.0 * z + rng.normal(0, 0.02, n)
    ri = 0.3 + 0.1 * red + 1.2 * z + rng.normal(0, 0.015, n)
    iz = 0.2 + 0.1 * red + 0.5 * z + rng.normal(0, 0.015, n)
    g = r + gr
    return pd.DataFrame({
        "objid": np.arange(n, dtype=np.int64),
        "zspec": z, "u": g + ug, "g": g, "r": r, "i": r - ri, "z": r - ri - iz,
        "split": np.where(rng.uniform(0, 1, n) < test_fraction, "test", "train"),
    })


def reference_llr(
    x_train: np.ndarray, z_train: np.ndarray, x_query: np.ndarray, k: int, clip: float, iters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slow per-galaxy LLR: brute-force neighbours, np.linalg.lstsq, iterative 3-sigma rejection."""
    preds, kept = [], []
    for x0 in x_query:
        d = np.sqrt(((x_train - x0) ** 2).sum(axis=1))
        nb = np.argsort(d)[:k]
        A = np.column_stack([np.ones(k), x_train[nb] - x0])
        y = z_train[nb]
        use = np.ones(k, bool)
        coef = np.linalg.lstsq(A[use], y[use], rcond=None)[0]
        for _ in range(iters):
            res = y - A @ coef
            rms = np.sqrt((res[use] ** 2).sum() / max(use.sum() - A.shape[1], 1))
            new = use & (np.abs(res) <= clip * rms)
            if new.sum() <= A.shape[1] or (new == use).all():
                break
            use = new
            coef = np.linalg.lstsq(A[use], y[use], rcond=None)[0]
        preds.append(coef[0])
        kept.append(use.sum())
    return np.array(preds), np.array(kept)


def test_agrees_with_slow_reference_including_outlier_rejection() -> None:
    rng = np.random.default_rng(5)
    n = 400
    x = rng.normal(size=(n, 5)) * [0.4, 0.2, 0.1, 0.1, 1.0]
    z = 0.1 + x @ np.array([0.05, 0.3, 0.2, 0.1, 0.02]) + 0.1 * x[:, 1] ** 2 + rng.normal(0, 0.01, n)
    bad = rng.choice(n, 30, replace=False)
    z[bad] += rng.choice([-0.3, 0.3], 30)  # catastrophic outliers to reject
    q = rng.normal(size=(40, 5)) * [0.3, 0.15, 0.08, 0.08, 0.8]
    opts = LLROptions(k=40, min_neighbours=10, max_distance=None, chunk_size=16)
    fit, _ = local_linear_predict(x, z, q, opts)
    want, kept = reference_llr(x, z, q, 40, opts.clip_sigma, opts.clip_iterations)
    normal = (fit.flags & FALLBACK_FLAGS) == 0
    assert normal.sum() >= 35
    np.testing.assert_allclose(fit.zphot[normal], want[normal], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(fit.n_kept, kept)
    assert (kept < 40).sum() > 10  # the rejection really happened


def test_llr_beats_constant_predictor() -> None:
    cat = synthetic_catalog()
    m = get_method("llr")
    res = m.run(cat, m.parse_options({"k": 50}), MethodContext(per_cell_sample="test", progress=False))
    test = (cat["split"] == "test").to_numpy()
    z = cat["zspec"].to_numpy()
    const = np.full(test.sum(), np.median(z[~test]))
    zp = res.zphot[test]
    assert np.isfinite(zp).all() and np.isnan(res.zphot[~test]).all()
    assert sigma_nmad(z[test], zp) < 0.5 * sigma_nmad(z[test], const)
    assert np.sqrt(np.mean((zp - z[test]) ** 2)) < 0.5 * np.sqrt(np.mean((const - z[test]) ** 2))
    assert set(res.info["flags"]) == set(FLAGS)


def test_oof_every_row_and_deterministic() -> None:
    cat = synthetic_catalog(800)
    m = get_method("llr")
    opts = m.parse_options({"k": 30, "folds": 4})
    a = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=1, progress=False))
    b = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=1, progress=False))
    c = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=2, progress=False))
    train = (cat["split"] == "train").to_numpy()
    assert np.isfinite(a.zphot).all()
    np.testing.assert_array_equal(a.zphot, b.zphot)
    np.testing.assert_array_equal(a.zphot[~train], c.zphot[~train])  # test: all train rows
    assert not np.array_equal(a.zphot[train], c.zphot[train])  # other folds
    assert a.info["samples"]["train"]["k"] == 4
    json.dumps(a.info)  # the manifest needs JSON-serialisable notes


def test_oof_predictions_come_from_models_without_the_galaxy() -> None:
    cat = synthetic_catalog(300)
    m = get_method("llr")
    opts = m.parse_options({"k": 20, "min_neighbours": 10, "folds": 3})
    ctx = MethodContext(per_cell_sample="all", seed=7, progress=False)
    res = m.run(cat, opts, ctx)
    fm = build_features(cat, "colors_r", "llr")
    steps, _ = prediction_plan(cat, fm.valid, ctx, 3, "llr")
    z = cat["zspec"].to_numpy()
    for step in steps:
        assert not set(step.fit_rows) & set(step.predict_rows)
        fit, _ = local_linear_predict(fm.X[step.fit_rows], z[step.fit_rows],
                                      fm.X[step.predict_rows], opts)
        np.testing.assert_array_equal(res.zphot[step.predict_rows], fit.zphot)
    assert sum(len(s.predict_rows) for s in steps) == len(cat)


def _brute_median(x_train: np.ndarray, z_train: np.ndarray, x0: np.ndarray, k: int) -> float:
    d = np.sqrt(((x_train - x0) ** 2).sum(axis=1))
    return float(np.median(z_train[np.argsort(d)[:k]]))


def test_isolated_galaxy_falls_back_to_median_neighbour_redshift() -> None:
    cat = synthetic_catalog(600)
    far = cat.iloc[[0]].copy()
    far["objid"] = 10**6
    far["split"] = "test"
    far["u"] += 6.0  # u-g six magnitudes redder than anything in the training set
    cat = pd.concat([cat, far], ignore_index=True)
    m = get_method("llr")
    opts = m.parse_options({"k": 30, "clip_iterations": 0})
    res = m.run(cat, opts, MethodContext(progress=False))
    flag = int(res.flags[-1])
    assert flag & FLAG_DISTANT and flag & FLAG_OUTSIDE_BOX
    train = (cat["split"] == "train").to_numpy()
    X = np.column_stack([cat.u - cat.g, cat.g - cat.r, cat.r - cat.i, cat.i - cat.z, cat.r])
    want = _brute_median(X[train], cat["zspec"].to_numpy()[train], X[-1], 30)
    assert res.zphot[-1] == pytest.approx(want, abs=1e-12)
    others = (cat["split"] == "test").to_numpy()[:-1]
    assert ((res.flags[:-1][others] & FLAG_DISTANT) == 0).all()
    assert res.info["flag_counts"]["distant"] == 1


def test_few_neighbours_and_singular_fits_fall_back() -> None:
    x = np.random.default_rng(0).normal(size=(12, 5))
    z = np.linspace(0.05, 0.3, 12)
    fit, _ = local_linear_predict(x, z, x[:3] + 0.01, LLROptions(k=100, min_neighbours=20))
    assert (fit.flags & FLAG_FEW_NEIGHBOURS).all()
    np.testing.assert_allclose(fit.zphot, np.median(z))
    # every training galaxy has the same r: the fit cannot determine the r slope
    x = np.random.default_rng(1).normal(size=(200, 5))
    x[:, 4] = 17.0
    z = 0.1 + 0.05 * x[:, 0] + np.random.default_rng(2).normal(0, 0.01, 200)
    q = x[:5].copy()
    q[:, 4] = 17.0
    fit, _ = local_linear_predict(x, z, q, LLROptions(k=50, clip_iterations=0, max_distance=None))
    assert (fit.flags & FLAG_SINGULAR).all()
    for j in range(5):
        assert fit.zphot[j] == pytest.approx(_brute_median(x, z, q[j], 50), abs=1e-12)


def test_wild_extrapolation_falls_back() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 5)) * 0.1
    z = 0.2 + 0.5 * x[:, 0] + rng.normal(0, 0.001, 300)
    q = np.array([[3.0, 0, 0, 0, 0]])  # far along the slope: the line gives z = 1.7
    fit, _ = local_linear_predict(x, z, q, LLROptions(k=50, max_distance=None))
    assert fit.flags[0] & FLAG_EXTRAPOLATED and fit.flags[0] & FLAG_OUTSIDE_BOX
    assert 0.0 < fit.zphot[0] < 0.5


@pytest.mark.parametrize("options, match", [
    ({"neighbours": 10}, "unknown option.*neighbours.*known: k, clip_sigma"),
    ({"k": 3}, "option k"),
    ({"k": 50, "min_neighbours": 60}, "exceeds k"),
    ({"clip_sigma": "3"}, "clip_sigma"),
    ({"max_distance": -1}, "max_distance"),
    ({"features": "ugriz"}, "features"),
])
def test_bad_options(options: dict, match: str) -> None:
    with pytest.raises(ZcellsInputError, match=match):
        get_method("llr").parse_options(options)


def test_missing_columns_named() -> None:
    m = get_method("llr")
    with pytest.raises(ZcellsInputError, match=r"needs column\(s\) i,"):
        m.run(synthetic_catalog(100).drop(columns=["i"]), m.parse_options({}), MethodContext(progress=False))
    assert m.parse_options({"max_distance": None}).max_distance is None
