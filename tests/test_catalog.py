"""Catalogue loading: formats, aliases, validation errors, sentinels, cuts and the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from compute.catalog import SelectionConfig, load_catalog
from compute.catalog.split import unit_hash
from compute.errors import ZcellsInputError

from .conftest import synthetic_catalog


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def test_csv_fits_parquet_agree(tmp_path: Path) -> None:
    df = synthetic_catalog(500)
    a, _ = load_catalog(_write(df, tmp_path / "c.csv"))
    df.to_parquet(tmp_path / "c.parquet")
    b, _ = load_catalog(tmp_path / "c.parquet")
    Table.from_pandas(df).write(tmp_path / "c.fits")
    c, _ = load_catalog(tmp_path / "c.fits")
    for other in (b, c):
        assert list(other["objid"]) == list(a["objid"])
        np.testing.assert_allclose(other["zspec"], a["zspec"])
        assert list(other["split"]) == list(a["split"])


def test_sdss_aliases_are_mapped_and_reported(tmp_path: Path) -> None:
    df = synthetic_catalog(200)
    sdss = pd.DataFrame({
        "objID": df["objid"], "specObjID": df["objid"] * 10**10, "z": df["zspec"],
        "fracDeV_r": df["frac_dev_r"], "expAB_r": df["exp_ab_r"],
    })
    for b in "ugriz":
        sdss[f"modelMag_{b}"] = df[b] + 0.1
        sdss[f"extinction_{b}"] = 0.1
    sdss["petroMag_r"] = df["petro_r"] + 0.1
    out, rep = load_catalog(_write(sdss, tmp_path / "sdss.csv"))
    np.testing.assert_allclose(out["g"], df["g"], atol=1e-9)
    np.testing.assert_allclose(out["petro_r"], df["petro_r"], atol=1e-9)
    np.testing.assert_allclose(out["zspec"], df["zspec"])
    assert rep.mapping["z"] == "zspec" and rep.mapping["fracDeV_r"] == "frac_dev_r"
    # 64-bit spectrum ids survive the CSV round trip exactly
    assert out["specobjid"].astype("int64").tolist() == (df["objid"] * 10**10).tolist()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.drop(columns=["zspec"]), "missing required column(s) zspec"),
        (lambda d: d.drop(columns=["g", "i"]), "missing required column(s) g, i"),
        (lambda d: d.assign(r=d["r"].astype(object).where(d.index != 5, "bad")),
         "column 'r' row 5 (1 of them): not a number"),
        (lambda d: d.assign(objid=d["objid"].where(d.index != 9, d["objid"][3])),
         "column 'objid' rows 3, 9 (2 of them): duplicate ids"),
        (lambda d: d.assign(zspec=d["zspec"].where(d.index != 7, -0.01)),
         "column 'zspec' row 7 (1 of them): negative"),
        (lambda d: d.assign(zspec=d["zspec"].where(d.index != 4, np.nan)),
         "column 'zspec' row 4 (1 of them): not finite"),
        (lambda d: d.iloc[:0], "the catalogue is empty"),
        (lambda d: d.assign(objid=d["objid"].astype(str).where(d.index != 2, "12a")),
         "column 'objid' row 2 (1 of them): not an integer id (e.g. '12a')"),
    ],
)
def test_bad_catalogues_are_named(tmp_path: Path, mutate, needle: str) -> None:
    path = _write(mutate(synthetic_catalog(50)), tmp_path / "bad.csv")
    with pytest.raises(ZcellsInputError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_sentinels_and_nan_are_flagged_and_excluded(tmp_path: Path) -> None:
    df = synthetic_catalog(100)
    df.loc[[2, 11], "u"] = -9999.0
    df.loc[20, "z"] = np.nan
    df.loc[30, "i"] = -999.0
    out, rep = load_catalog(_write(df, tmp_path / "s.csv"))
    assert len(out) == 96
    assert rep.excluded["bad magnitudes (NaN or sentinel)"] == 4
    assert not set(df.loc[[2, 11, 20, 30], "objid"]) & set(out["objid"])
    text = "\n".join(rep.lines())
    assert "column 'u' rows 2, 11" in text and "column 'z' row 20" in text


def test_missing_objid_gets_row_numbers_with_warning(tmp_path: Path) -> None:
    df = synthetic_catalog(40).drop(columns=["objid"])
    out, rep = load_catalog(_write(df, tmp_path / "noid.csv"))
    assert out["objid"].tolist() == list(range(40))
    assert any("no 'objid' column" in w for w in rep.warnings)


def test_truncated_csv_is_refused(tmp_path: Path) -> None:
    path = _write(synthetic_catalog(30), tmp_path / "t.csv")
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    with pytest.raises(ZcellsInputError, match="truncated"):
        load_catalog(path)


def test_fits_without_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(path)
    with pytest.raises(ZcellsInputError, match="no table extension"):
        load_catalog(path)


def test_cuts_are_named_and_counted(tmp_path: Path) -> None:
    df = synthetic_catalog(300)
    df.loc[:9, "petro_r"] = 17.9
    df.loc[10:14, "zspec"] = 0.45
    df.loc[15:16, "g"] = 20.5
    out, rep = load_catalog(_write(df, tmp_path / "c.csv"))
    removed = {c.name: c.removed for c in rep.cuts}
    assert removed["petro_r <= 17.8"] == 10
    assert removed["zspec <= 0.4"] == 5
    assert removed["g <= 20 (faint model magnitude)"] == 2
    assert len(out) == 300 - 17
    off, rep2 = load_catalog(tmp_path / "c.csv", SelectionConfig(petro_r_max=None, zspec_max=None,
                                                                 faint_model_mag={}))
    assert len(off) == 300


def test_split_is_reproducible_and_close_to_fraction(tmp_path: Path) -> None:
    df = synthetic_catalog(5000)
    a, _ = load_catalog(_write(df, tmp_path / "a.csv"))
    # shuffled rows get the same split per objid
    b, _ = load_catalog(_write(df.sample(frac=1, random_state=1), tmp_path / "b.csv"))
    sa = dict(zip(a["objid"], a["split"], strict=True))
    assert all(sa[o] == s for o, s in zip(b["objid"], b["split"], strict=True))
    frac = (a["split"] == "test").mean()
    assert abs(frac - 0.1) < 3 * np.sqrt(0.1 * 0.9 / len(a))


def test_existing_split_column_is_kept_and_checked(tmp_path: Path) -> None:
    df = synthetic_catalog(20)
    df["split"] = ["train"] * 15 + ["test"] * 5
    out, _ = load_catalog(_write(df, tmp_path / "s.csv"))
    assert (out["split"] == "test").sum() == 5
    df.loc[3, "split"] = "validation"
    with pytest.raises(ZcellsInputError, match="column 'split' row 3"):
        load_catalog(_write(df, tmp_path / "s2.csv"))


def test_unit_hash_is_uniform() -> None:
    u = unit_hash(np.arange(200_000) * 3 + 11)
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    expected = len(u) / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 30  # 9 dof: p ~ 4e-4
