"""End-to-end tests of the ``cnn`` method on a tiny synthetic image survey."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from compute.errors import ZcellsInputError
from compute.methods.base import MethodContext, MethodResult
from compute.methods.cnn import METHOD
from compute.methods.cnn.predict import summarise
from compute.metrics import sigma_nmad
from tests.test_cnn_synthetic import make_survey

torch.set_num_threads(1)

FAST: dict[str, Any] = {
    "variant": "small",
    "epochs": 8,
    "batch_size": 16,
    "lr": 3e-3,
    "patience": 8,
    "monitor": "sigma_nmad",
}


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    root = tmp_path_factory.mktemp("survey")
    cat = make_survey(root / "cube", n=160, size=16, meta={"sim_config_hash": "abc123"})
    return cat, root


@pytest.fixture(scope="module")
def trained(survey: tuple[pd.DataFrame, Path]) -> MethodResult:
    cat, root = survey
    ctx = MethodContext(images=root / "cube", workdir=root / "work", progress=False, device="cpu")
    return METHOD.run(cat, dict(FAST), ctx)


def test_learns_redshift_from_images(
    survey: tuple[pd.DataFrame, Path], trained: MethodResult
) -> None:
    cat, _ = survey
    z = cat["zspec"].to_numpy()
    test = (cat["split"] == "test").to_numpy() & np.isfinite(trained.zphot)
    train = (cat["split"] == "train").to_numpy()
    assert test.sum() > 20
    err_cnn = np.sqrt(np.mean((trained.zphot[test] - z[test]) ** 2))
    err_const = np.sqrt(np.mean((np.median(z[train]) - z[test]) ** 2))
    assert err_cnn < 0.5 * err_const
    assert sigma_nmad(z[test], trained.zphot[test]) < 0.5 * sigma_nmad(
        z[test], np.full(test.sum(), np.median(z[train]))
    )


def test_result_contract(survey: tuple[pd.DataFrame, Path], trained: MethodResult) -> None:
    cat, _ = survey
    r = trained
    n = len(cat)
    assert r.zphot.shape == (n,) and r.zphot.dtype == np.float64
    assert r.pz is not None and r.pz.shape == (n, 180) and r.pz.dtype == np.float32
    assert r.pz_edges is not None and len(r.pz_edges) == 181
    done = np.isfinite(r.pz).all(axis=1)
    assert np.allclose(r.pz[done].sum(axis=1), 1.0, atol=1e-4)
    assert np.isnan(r.pz[~done]).all()
    # predictions exactly for test rows with an image; no image -> NaN and flag 1
    assert np.array_equal(done, np.isfinite(r.zphot))
    assert not done[(cat["split"] == "train").to_numpy()].any()
    assert r.flags is not None and (r.flags[:4] == 1).all() and np.isnan(r.zphot[:4]).all()
    assert np.allclose(r.zphot[done], summarise(r.pz[done], r.pz_edges).mean)
    info = r.info
    json.dumps(info)
    for key in (
        "options",
        "epochs_run",
        "best_val_sigma_nmad",
        "device",
        "timing",
        "checkpoint",
        "train_predictions",
    ):
        assert key in info
    assert info["device"] == "cpu" and info["epochs_run"] == 8 and info["n_without_image"] == 4
    lines = Path(info["log"]).read_text().splitlines()
    assert len(lines) == 8 and {"epoch", "train_loss", "val_loss", "val_sigma_nmad"} <= set(
        json.loads(lines[0])
    )


def test_resume_reproduces_uninterrupted_training(
    survey: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    cat, root = survey
    opts = dict(FAST, epochs=3)

    def ctx(work: Path) -> MethodContext:
        return MethodContext(
            images=root / "cube", workdir=work, progress=False, device="cpu", seed=3
        )

    straight = METHOD.run(cat, opts, ctx(tmp_path / "a"))
    METHOD.run(cat, dict(opts, epochs=2), ctx(tmp_path / "b"))  # "interrupted" after two epochs
    resumed = METHOD.run(cat, opts, ctx(tmp_path / "b"))
    assert resumed.info["resumed_from_epoch"] == 2 and resumed.info["epochs_run"] == 3
    assert np.array_equal(straight.pz, resumed.pz, equal_nan=True)
    ca = torch.load(straight.info["checkpoint"], weights_only=True)
    cb = torch.load(resumed.info["checkpoint"], weights_only=True)
    for k, v in ca["model"].items():
        assert torch.equal(v, cb["model"][k])
    assert [h["val_loss"] for h in ca["history"]] == [h["val_loss"] for h in cb["history"]]
    # a finished run is not retrained: rerunning gives the same answer from the checkpoint
    again = METHOD.run(cat, opts, ctx(tmp_path / "b"))
    assert again.info["resumed_from_epoch"] == 3 and np.array_equal(
        again.pz, straight.pz, equal_nan=True
    )


def test_stale_and_corrupt_checkpoints_refused(
    survey: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    cat, root = survey
    opts = dict(FAST, epochs=1)
    ctx = MethodContext(images=root / "cube", workdir=tmp_path, progress=False, device="cpu")
    r = METHOD.run(cat, opts, ctx)
    ckpt = Path(r.info["checkpoint"])
    # a checkpoint of another run copied into this run's folder is stale
    other = METHOD.run(cat, dict(opts, lr=1e-3), ctx)
    shutil.copy(other.info["checkpoint"], ckpt)
    with pytest.raises(ZcellsInputError, match="stale"):
        METHOD.run(cat, opts, ctx)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ZcellsInputError, match="corrupt"):
        METHOD.run(cat, opts, ctx)


def test_pretrained_weights(
    survey: tuple[pd.DataFrame, Path], trained: MethodResult, tmp_path: Path
) -> None:
    cat, root = survey
    ctx = MethodContext(images=root / "cube", workdir=tmp_path, progress=False, device="cpu")
    w = trained.info["weights"]
    r = METHOD.run(cat, dict(FAST, weights=w), ctx)
    assert np.allclose(r.pz, trained.pz, equal_nan=True, atol=1e-6)
    assert r.info["weights_provenance"]["sim_config_hash"] == "abc123"
    assert not (tmp_path / "cnn").exists()  # no training happened
    with pytest.raises(ZcellsInputError, match="variant"):
        METHOD.run(cat, dict(FAST, weights=w, variant="pasquet"), ctx)
    # images of another simulated survey, other bands, other size: refused by name
    for kw, match in (
        ({"meta": {"sim_config_hash": "zzz"}}, "sim_config_hash"),
        ({"bands": ("g", "r", "i")}, "bands"),
        ({"size": 32}, "image size"),
    ):
        folder = tmp_path / match.replace(" ", "_")
        cat2 = make_survey(folder, n=40, **kw)
        with pytest.raises(ZcellsInputError, match=match):
            METHOD.run(
                cat2,
                dict(FAST, weights=w),
                MethodContext(images=folder, workdir=tmp_path, device="cpu"),
            )
    with pytest.raises(ZcellsInputError, match="does not exist"):
        METHOD.run(cat, dict(FAST, weights=str(tmp_path / "none.pt")), ctx)


def test_per_cell_sample_all(survey: tuple[pd.DataFrame, Path], tmp_path: Path) -> None:
    cat, root = survey
    ctx = MethodContext(
        images=root / "cube", workdir=tmp_path, progress=False, device="cpu", per_cell_sample="all"
    )
    train = (cat["split"] == "train").to_numpy()
    has = np.arange(len(cat)) >= 4
    plain = METHOD.run(cat, dict(FAST, epochs=1), ctx)
    assert np.isnan(plain.zphot[train]).all() and "left NaN" in plain.info["train_predictions"]
    oof = METHOD.run(cat, dict(FAST, epochs=1, oof_folds=2), ctx)
    assert np.isfinite(oof.zphot[train & has]).all() and len(oof.info["folds"]) == 2
    assert np.array_equal(oof.pz[~train], plain.pz[~train], equal_nan=True)  # same main model


def test_photometric_features_and_point_estimates(
    survey: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    cat, root = survey
    ctx = MethodContext(images=root / "cube", workdir=tmp_path, progress=False, device="cpu")
    r = METHOD.run(cat, dict(FAST, epochs=1, use_features=True, point_estimate="mode"), ctx)
    ok = np.isfinite(r.zphot)
    assert ok.sum() > 20
    assert np.allclose(r.zphot[ok], summarise(r.pz[ok], r.pz_edges).mode)
    bad = cat.copy()
    bad.loc[bad.index[10], "g"] = np.nan
    with pytest.raises(ZcellsInputError, match="non-finite ugriz"):
        METHOD.run(bad, dict(FAST, epochs=1, use_features=True), ctx)


def test_cube_found_beside_catalogue_or_explained(
    survey: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    cat, root = survey
    beside = MethodContext(
        catalog_path=root / "cube" / "catalog.parquet",
        workdir=tmp_path,
        progress=False,
        device="cpu",
    )
    r = METHOD.run(cat, dict(FAST, epochs=1), beside)
    assert r.info["images"] == str(root / "cube")
    lost = MethodContext(catalog_path=tmp_path / "catalog.parquet", workdir=tmp_path, device="cpu")
    with pytest.raises(ZcellsInputError, match="zcells fetch cutouts --catalog FILE --out DIR"):
        METHOD.run(cat, dict(FAST, epochs=1), lost)
    with pytest.raises(ZcellsInputError, match="zcells simulate"):
        METHOD.run(
            cat, dict(FAST, epochs=1), MethodContext(images=tmp_path / "nowhere", device="cpu")
        )


def test_bad_inputs_are_clear(survey: tuple[pd.DataFrame, Path], tmp_path: Path) -> None:
    cat, root = survey
    ctx = MethodContext(images=root / "cube", workdir=tmp_path, progress=False, device="cpu")
    with pytest.raises(ZcellsInputError, match="split"):
        METHOD.run(cat.drop(columns="split"), dict(FAST), ctx)
    with pytest.raises(ZcellsInputError, match="objid"):
        METHOD.run(cat.assign(objid=cat["objid"] + 1), dict(FAST), ctx)
    with pytest.raises(ZcellsInputError, match="training galaxies"):
        METHOD.run(cat.assign(split="test"), dict(FAST), ctx)
    if not torch.cuda.is_available():
        with pytest.raises(ZcellsInputError, match="CUDA"):
            METHOD.run(cat, dict(FAST, device="cuda"), ctx)


def test_weights_from_another_survey_predict_every_galaxy(
    trained: MethodResult, tmp_path: Path
) -> None:
    """Weights trained on one image set give out-of-sample predictions for all of another."""
    folder = tmp_path / "other"
    cat2 = make_survey(folder, n=60, seed=3, meta={"sim_config_hash": "abc123"})
    ctx = MethodContext(images=folder, workdir=tmp_path, progress=False, device="cpu",
                        per_cell_sample="all")
    r = METHOD.run(cat2, dict(FAST, weights=trained.info["weights"]), ctx)
    has = np.isfinite(r.zphot)
    train = (cat2["split"] == "train").to_numpy()
    assert has[train].sum() > 0 and "every galaxy" in r.info["train_predictions"]
    assert has.sum() == 60 - 4  # every galaxy with an image


def test_weights_on_their_own_survey_leave_training_rows(
    survey: tuple[pd.DataFrame, Path], trained: MethodResult, tmp_path: Path
) -> None:
    cat, root = survey
    ctx = MethodContext(images=root / "cube", workdir=tmp_path, progress=False, device="cpu",
                        per_cell_sample="all")
    r = METHOD.run(cat, dict(FAST, weights=trained.info["weights"]), ctx)
    train = (cat["split"] == "train").to_numpy()
    assert np.isnan(r.zphot[train]).all() and "left NaN" in r.info["train_predictions"]
