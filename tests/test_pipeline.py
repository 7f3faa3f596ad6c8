"""End-to-end `zcells build`: artifacts content checked against values derived independently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compute import artifacts
from compute.cli import main
from compute.config import load_config
from compute.metrics import sigma_nmad
from compute.pipeline import build

from .conftest import synthetic_catalog


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, Path]:
    tmp = tmp_path_factory.mktemp("pipe")
    df = synthetic_catalog(12000, seed=3)
    path = tmp / "cat.parquet"
    df.to_parquet(path)
    cfg = load_config(None, {"som": {"shape": "4x5", "backend": "batch"},
                             "split": {"test_fraction": 0.3}})
    res = build(path, tmp / "arts", cfg, progress=False, cache_dir=tmp / "cache", log=lambda m: None)
    return res.out, df, tmp


def test_artifacts_load_and_have_contract_columns(built) -> None:
    out, df, _ = built
    arts = artifacts.load(out)
    assert set(artifacts.CELL_COLUMNS) <= set(arts.cells.columns)
    assert len(arts.galaxies) == len(df)
    assert sorted(arts.methods) == ["a", "b"]
    assert len(arts.cells) == 4 * 5 * 2
    # members index agrees with the galaxies' cells
    for cell in range(20):
        rows = arts.members(cell)
        assert (arts.galaxies["cell"].to_numpy()[rows] == cell).all()
    assert sum(len(arts.members(c)) for c in range(20)) == len(df)


def test_cell_statistics_match_independent_values(built) -> None:
    out, _, _ = built
    arts = artifacts.load(out)
    g = arts.galaxies
    for _, row in arts.cells[arts.cells["status"] == "ok"].head(12).iterrows():
        sel = (g["cell"] == row["cell"]) & g["in_sample"] & np.isfinite(g[f"zphot_{row['method']}"])
        zs = g.loc[sel, "zspec"].to_numpy(np.float64)
        zp = g.loc[sel, f"zphot_{row['method']}"].to_numpy(np.float64)
        assert row["n"] == sel.sum()
        assert row["sigma_nmad"] == pytest.approx(sigma_nmad(zs, zp), rel=1e-5)
        assert row["mean_zspec"] == pytest.approx(zs.mean(), rel=1e-9)
        assert row["theta_deg"] == pytest.approx(np.degrees(np.arctan(row["slope"])))
        # the decomposition adds up roughly in quadrature (paper Sec. 5)
        quad = np.hypot(row["sigma_atten"], row["sigma_scatter"])
        assert 0.6 < quad / row["sigma_nmad"] < 1.5


def test_attenuation_recovered_per_cell(built) -> None:
    """Method a was made with slope 0.6 (31 deg), b with 0.95 (43.5 deg)."""
    out, _, _ = built
    cells = artifacts.load(out).cells
    ok = cells[cells["status"] == "ok"]
    theta = ok.groupby("method")["theta_deg"].median()
    assert theta["a"] == pytest.approx(np.degrees(np.arctan(0.6)), abs=3)
    assert theta["b"] == pytest.approx(np.degrees(np.arctan(0.95)), abs=3)
    glob = json.loads((out / "global.json").read_text())["methods"]
    assert glob["a"]["theta_deg"] < glob["b"]["theta_deg"]


def test_rerun_uses_cache_and_is_identical(built) -> None:
    out, _, tmp = built
    first = artifacts.load(out).cells
    cfg = load_config(None, {"som": {"shape": "4x5", "backend": "batch"},
                             "split": {"test_fraction": 0.3}})
    res = build(tmp / "cat.parquet", tmp / "arts2", cfg, progress=False, cache_dir=tmp / "cache",
                log=lambda m: None)
    assert res.cached.get("catalog") and res.cached.get("som")
    second = artifacts.load(res.out).cells
    pd.testing.assert_frame_equal(first, second)


def test_small_cells_get_nan_and_reason(tmp_path: Path) -> None:
    df = synthetic_catalog(400, seed=5)
    path = tmp_path / "c.csv"
    df.to_csv(path, index=False)
    code = main(["build", "--catalog", str(path), "--out", str(tmp_path / "a"), "--som-shape",
                 "6x8", "--som-backend", "batch", "--no-cache", "--no-progress"])
    assert code == 0
    cells = artifacts.load(tmp_path / "a").cells
    few = cells[(cells["n"] < 10) & (cells["n"] > 0)]
    assert len(few) > 0
    assert (few["status"] == "too_few").all()
    assert few["slope"].isna().all() and few["theta_deg"].isna().all()
    assert (cells.loc[cells["n"] == 0, "status"] == "empty").all()


def test_per_cell_sample_all_uses_every_galaxy(tmp_path: Path) -> None:
    df = synthetic_catalog(3000, seed=9)
    path = tmp_path / "c.parquet"
    df.to_parquet(path)
    cfg = load_config(None, {"som": {"shape": "3x3", "backend": "batch"}, "per_cell_sample": "all"})
    res = build(path, tmp_path / "a", cfg, progress=False, cache_dir=None, log=lambda m: None)
    arts = artifacts.load(res.out)
    assert arts.galaxies["in_sample"].all()
    assert arts.cells.groupby("method")["n"].sum().tolist() == [3000, 3000]
    assert arts.manifest["per_cell_sample"] == "all"


def test_som_quality_matches_minisom_definitions(built) -> None:
    """The stage's one-pass QE/TE equal compute.som's reference functions (checked against minisom)."""
    from compute.som import quantization_error, topographic_error
    from compute.somstage import colour_features

    out, df, _ = built
    arts = artifacts.load(out)
    X = (colour_features(df) - arts.som["feature_mean"]) / arts.som["feature_std"]
    W = arts.som["weights"]
    assert float(arts.som["quantization_error"]) == pytest.approx(quantization_error(W, X), rel=1e-9)
    assert float(arts.som["topographic_error"]) == pytest.approx(topographic_error(W, X), abs=1e-12)
