"""Tests of the random-forest photo-z method and the shared feature sets / fold plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compute.errors import ZcellsInputError
from compute.methods import MethodContext, get_method
from compute.methods.features import (
    FLAG_MISSING_FEATURE,
    build_features,
    prediction_plan,
    required_columns,
)
from compute.metrics import sigma_nmad

SMALL = {"n_estimators": 20, "min_samples_leaf": 3, "folds": 3}


def synthetic_catalog(n: int = 1200, seed: int = 1, test_fraction: float = 0.2) -> pd.DataFrame:
    """Galaxies whose colours follow a smooth, known function of redshift plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.35, n)
    red = rng.uniform(0, 1, n)  # a second parameter (type) so the map is not one-dimensional
    r = 14.5 + 2.5 * np.log10(z / 0.02) * 0.8 + rng.normal(0, 0.4, n)
    ug = 1.2 + 0.8 * red + 2.0 * z + rng.normal(0, 0.05, n)
    gr = 0.4 + 0.4 * red + 3.0 * z + rng.normal(0, 0.02, n)
    ri = 0.3 + 0.1 * red + 1.2 * z + rng.normal(0, 0.015, n)
    iz = 0.2 + 0.1 * red + 0.5 * z + rng.normal(0, 0.015, n)
    g = r + gr
    u = g + ug
    i = r - ri
    zz = i - iz
    df = pd.DataFrame({
        "objid": np.arange(n, dtype=np.int64) + 10**15,
        "zspec": z, "u": u, "g": g, "r": r, "i": i, "z": zz,
        "frac_dev_r": red, "exp_ab_r": rng.uniform(0.2, 1, n),
    })
    for b in "ugriz":
        df[f"err_{b}"] = rng.uniform(0.005, 0.05, n)
    df["split"] = np.where(rng.uniform(0, 1, n) < test_fraction, "test", "train")
    return df


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_rf_beats_constant_predictor() -> None:
    cat = synthetic_catalog()
    m = get_method("rf")
    res = m.run(cat, m.parse_options(SMALL), MethodContext(per_cell_sample="test", progress=False))
    test = (cat["split"] == "test").to_numpy()
    z = cat["zspec"].to_numpy()
    const = np.full(test.sum(), np.median(z[~test]))
    assert np.isfinite(res.zphot[test]).all()
    assert np.isnan(res.zphot[~test]).all()  # train rows not predicted with "test"
    assert sigma_nmad(z[test], res.zphot[test]) < 0.5 * sigma_nmad(z[test], const)
    assert _rms(z[test], res.zphot[test]) < 0.5 * _rms(z[test], const)
    assert res.info["samples"]["train"]["rows"] == 0


def test_rf_all_predicts_every_row_and_is_deterministic() -> None:
    cat = synthetic_catalog(600)
    m = get_method("rf")
    opts = m.parse_options(SMALL)
    a = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=3, progress=False))
    b = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=3, progress=False))
    c = m.run(cat, opts, MethodContext(per_cell_sample="all", seed=4, progress=False))
    assert np.isfinite(a.zphot).all()
    np.testing.assert_array_equal(a.zphot, b.zphot)
    assert not np.array_equal(a.zphot, c.zphot)
    assert a.info["samples"]["train"] == {
        "rows": int((cat["split"] == "train").sum()), "how": "k-fold out-of-fold", "k": 3,
    }
    assert (a.flags == 0).all()
    json.dumps(a.info)  # the manifest needs JSON-serialisable notes


def test_fold_plan_covers_each_train_row_once_and_never_trains_on_it() -> None:
    cat = synthetic_catalog(500)
    valid = np.ones(len(cat), bool)
    steps, info = prediction_plan(cat, valid, MethodContext(per_cell_sample="all", seed=0), 4, "rf")
    train = np.flatnonzero(cat["split"].to_numpy() == "train")
    test = np.flatnonzero(cat["split"].to_numpy() == "test")
    assert steps[0].label == "test"
    np.testing.assert_array_equal(steps[0].fit_rows, train)
    np.testing.assert_array_equal(steps[0].predict_rows, test)
    oof = np.concatenate([s.predict_rows for s in steps[1:]])
    assert len(steps) == 5
    assert len(oof) == len(train) and len(np.unique(oof)) == len(train)
    assert set(oof) == set(train)
    for s in steps[1:]:
        assert not set(s.fit_rows) & set(s.predict_rows)
        assert set(s.fit_rows) | set(s.predict_rows) == set(train)
    assert info["train"]["k"] == 4


def test_feature_sets_and_cmodel_fallback() -> None:
    cat = synthetic_catalog(50)
    fm = build_features(cat, "colors_r", "rf")
    np.testing.assert_allclose(fm.X[:, 0], cat["u"] - cat["g"])
    np.testing.assert_allclose(fm.X[:, 3], cat["i"] - cat["z"])
    np.testing.assert_allclose(fm.X[:, 4], cat["r"])
    assert any("no cmodel_r column" in n for n in fm.notes)
    cat["cmodel_r"] = cat["r"] + 0.1
    cat.loc[3, "cmodel_r"] = np.nan
    fm = build_features(cat, "colors_r", "rf")
    assert fm.X[3, 4] == cat.loc[3, "r"] and fm.X[4, 4] == pytest.approx(cat.loc[4, "r"] + 0.1)
    assert any("missing in 1 rows" in n for n in fm.notes)
    err = build_features(cat, "colors_r_err", "rf")
    assert err.X.shape[1] == 10
    np.testing.assert_allclose(err.X[:, 5], np.hypot(cat["err_u"], cat["err_g"]))
    assert build_features(cat, "all", "rf").X.shape[1] == 12
    assert required_columns("colors_r_err")[-1] == "err_z"


def test_missing_columns_named() -> None:
    cat = synthetic_catalog(100).drop(columns=["frac_dev_r"])
    m = get_method("rf")
    opts = m.parse_options({**SMALL, "features": "colors_r_morph"})
    assert "frac_dev_r" in m.required_columns(opts)
    with pytest.raises(ZcellsInputError, match="frac_dev_r"):
        m.run(cat, opts, MethodContext(progress=False))
    cat = cat.drop(columns=["err_g", "err_i"])
    with pytest.raises(ZcellsInputError, match="err_g, err_i"):
        m.run(cat, m.parse_options({"features": "all"}), MethodContext(progress=False))


def test_missing_feature_value_is_flagged_not_predicted() -> None:
    cat = synthetic_catalog(300)
    test_row = int(np.flatnonzero(cat["split"] == "test")[0])
    train_row = int(np.flatnonzero(cat["split"] == "train")[0])
    cat.loc[[test_row, train_row], "exp_ab_r"] = np.nan
    m = get_method("rf")
    res = m.run(cat, m.parse_options({**SMALL, "features": "colors_r_morph"}),
                MethodContext(per_cell_sample="all", progress=False))
    assert np.isnan(res.zphot[[test_row, train_row]]).all()
    assert (res.flags[[test_row, train_row]] == FLAG_MISSING_FEATURE).all()
    assert np.isfinite(np.delete(res.zphot, [test_row, train_row])).all()
    assert str(FLAG_MISSING_FEATURE) in res.info["flags"]


@pytest.mark.parametrize("options, match", [
    ({"n_trees": 10}, "unknown option.*n_trees.*known: features, n_estimators"),
    ({"n_estimators": 0}, "n_estimators"),
    ({"n_estimators": 2.5}, "n_estimators"),
    ({"min_samples_leaf": True}, "min_samples_leaf"),
    ({"max_features": 1.5}, "max_features"),
    ({"max_features": "half"}, "max_features"),
    ({"features": "colours"}, "colors_r, colors_r_err"),
    ({"folds": 1}, "folds"),
    ({"max_samples": 0}, "max_samples"),
])
def test_bad_options(options: dict, match: str) -> None:
    with pytest.raises(ZcellsInputError, match=match):
        get_method("rf").parse_options(options)


def test_bad_catalogue_split() -> None:
    m = get_method("rf")
    cat = synthetic_catalog(100)
    cat["split"] = "test"
    with pytest.raises(ZcellsInputError, match="usable training rows"):
        m.run(cat, m.parse_options(SMALL), MethodContext(progress=False))
    with pytest.raises(ZcellsInputError, match="split"):
        m.run(synthetic_catalog(100).drop(columns="split"), m.parse_options(SMALL),
              MethodContext(progress=False))
    with pytest.raises(ZcellsInputError, match="per_cell_sample"):
        m.run(synthetic_catalog(100), m.parse_options(SMALL),
              MethodContext(per_cell_sample="everything", progress=False))


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sdss_mgs_real_5k.csv"


@pytest.mark.realdata
def test_real_mgs_sample_rf_and_llr() -> None:
    if not REAL.is_file():
        pytest.skip(f"real data not available: {REAL}")
    from compute.catalog import load_catalog

    cat, _ = load_catalog(REAL)
    ctx = MethodContext(per_cell_sample="test", seed=0, progress=False)
    test = (cat["split"] == "test").to_numpy()
    z = cat["zspec"].to_numpy()[test]
    rf = get_method("rf")
    zrf = rf.run(cat, rf.parse_options({"n_estimators": 60}), ctx).zphot[test]
    llr = get_method("llr")
    zllr = llr.run(cat, llr.parse_options({}), ctx).zphot[test]
    s_rf, s_llr = sigma_nmad(z, zrf), sigma_nmad(z, zllr)
    # full-size figures (5,000 galaxies, 200 trees): see benchmarks/results/methods.md
    assert 0.010 < s_rf < 0.018
    assert s_llr < 1.15 * s_rf
