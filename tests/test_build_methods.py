"""`zcells build --methods rf,llr,cnn` on a small simulated survey: every method beats a constant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compute import artifacts
from compute.cli import main
from compute.metrics import sigma_nmad
from compute.simulate import SimConfig, simulate


@pytest.fixture(scope="module")
def small_survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "survey"
    simulate(SimConfig.from_dict({"n": 1200, "seed": 11, "workers": 2}), out, progress=False)
    return out


def test_build_all_methods_beat_a_constant(small_survey: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        'per_cell_sample = "test"\n'
        "[split]\ntest_fraction = 0.3\n"
        "[method_options.rf]\nn_estimators = 60\n"
        "[method_options.cnn]\n"
        'variant = "small"\nepochs = 6\nbatch_size = 32\nlr = 0.003\ndevice = "cpu"\n'
    )
    out = tmp_path / "arts"
    code = main(["build", "--catalog", str(small_survey / "catalog.parquet"), "--config", str(cfg),
                 "--methods", "rf,llr,cnn", "--som-shape", "4x4", "--som-backend", "batch",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    assert code == 0
    arts = artifacts.load(out)
    g = arts.galaxies
    test = (g["split"] == "test").to_numpy()
    train = ~test
    z = g["zspec"].to_numpy(np.float64)
    const = np.full(test.sum(), np.median(z[train]))
    rms_const = np.sqrt(np.mean((const - z[test]) ** 2))
    nmad_const = sigma_nmad(z[test], const)
    for m in ("rf", "llr", "cnn"):
        zp = g[f"zphot_{m}"].to_numpy(np.float64)[test]
        ok = np.isfinite(zp)
        assert ok.mean() > 0.95, m
        rms_ratio = np.sqrt(np.mean((zp[ok] - z[test][ok]) ** 2)) / rms_const
        nmad_ratio = sigma_nmad(z[test][ok], zp[ok]) / nmad_const
        assert rms_ratio < 0.7, (m, rms_ratio)
        assert nmad_ratio < 0.7, (m, nmad_ratio)
    # the CNN's p(z) reaches the artifacts: PIT values in [0, 1] for the predicted galaxies
    pit = g["pit_cnn"].to_numpy()[test]
    assert np.nanmin(pit) >= 0 and np.nanmax(pit) <= 1 and np.isfinite(pit).mean() > 0.95
    pz = arts.pz("cnn")
    assert pz is not None and pz["pz"].shape[1] == len(pz["edges"]) - 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "simulated" and manifest["images"]
    assert set(manifest["methods"]) == {"rf", "llr", "cnn"}
    # the simulation's truth is joined by objid and agrees with the truth table
    import pandas as pd

    truth = pd.read_parquet(small_survey / "truth.parquet").set_index("objid")
    np.testing.assert_allclose(g["true_bt"], truth.loc[g["objid"], "bt_r"].to_numpy())
    np.testing.assert_allclose(g["true_z"], truth.loc[g["objid"], "z_true"].to_numpy())
    assert np.isfinite(g["bt"]).all()
