"""Tests of importing photo-z's computed elsewhere (join on 64-bit keys) and `zcells import-photoz`."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compute.catalog import read_table
from compute.errors import ZcellsInputError
from compute.methods import import_command
from compute.methods.external import join_external
from compute.metrics import outlier_fraction, sigma_nmad

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ENCAPZULATE = DATA / "encapzulate_dey2022_test_51652.csv"

#: ids above 2**53 that collide when passed through float64
BIG = [2**62 + j for j in range(6)]


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _catalog(keys: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "objid": np.arange(len(keys), dtype=np.int64),
        "specobjid": pd.array(keys, dtype="Int64"),
        "zspec": np.linspace(0.05, 0.3, len(keys)),
    })


def test_big_keys_match_exactly_not_through_float(tmp_path: Path) -> None:
    assert len({float(k) for k in BIG}) < len(BIG)  # the ids do collide as floats
    f = _write_csv(tmp_path / "pz.csv", ["SpecObjID", "z_phot"],
                   [[k, 0.1 + 0.01 * j] for j, k in enumerate(reversed(BIG))])
    out, rep = join_external(_catalog(BIG), f, name="ext")
    want = [0.1 + 0.01 * (len(BIG) - 1 - j) for j in range(len(BIG))]
    np.testing.assert_allclose(out["zphot_ext"].to_numpy(), want)
    assert rep.matched == len(BIG) and rep.unmatched_catalog == 0 and rep.unmatched_file == 0
    assert rep.file_key == "SpecObjID"
    assert out["specobjid"].tolist() == BIG


def test_float_keys_above_2_53_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "pz.parquet"
    pd.DataFrame({"specobjid": np.array(BIG, dtype=np.float64), "z_phot": 0.1}).to_parquet(f)
    with pytest.raises(ZcellsInputError, match="2\\*\\*53"):
        join_external(_catalog(BIG), f, name="ext")


def test_counts_unmatched_and_duplicates(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "pz.csv", ["id", "zp"], [
        [BIG[0], 0.1], [BIG[1], 0.2], [BIG[1], 0.2], [123, 0.3], [456, ""],
    ])
    cat = _catalog([BIG[0], BIG[1], BIG[2], 456])
    cat.loc[2, "specobjid"] = pd.NA
    out, rep = join_external(cat, f, name="x", column="zp", file_key="id")
    assert (rep.matched, rep.unmatched_catalog, rep.unmatched_file) == (3, 1, 1)
    assert rep.duplicate_keys == 1 and rep.missing_values == 1
    z = out["zphot_x"].to_numpy()
    assert z[0] == 0.1 and z[1] == 0.2 and np.isnan(z[2]) and np.isnan(z[3])
    text = "\n".join(rep.lines())
    assert "matched 3 of 4" in text and "duplicate keys in the file: 1" in text


@pytest.mark.parametrize("header, rows, kwargs, match", [
    (["objid", "z_phot"], [[1, 0.1]], {}, "no key column 'specobjid'"),
    (["specobjid", "zp"], [[1, 0.1]], {}, "no photo-z column 'z_phot'"),
    (["specobjid", "z_phot"], [[BIG[0], 0.1], [BIG[1], "abc"], [BIG[2], "x"]], {},
     r"column 'z_phot' rows 1, 2 \(2 of them\): not a number"),
    (["id", "z_phot"], [[BIG[0], 0.1], ["12a", 0.2], [BIG[1], 0.3]], {"file_key": "id"},
     r"key column 'id' row 1 \(1 of them\): not an integer id \(e.g. '12a'\)"),
    (["id", "z_phot"], [[BIG[0], 0.1], ["", 0.2]], {"file_key": "id"}, "row 1 .*empty key"),
    (["specobjid", "z_phot"], [[BIG[0], 0.1], ["12a", 0.2]], {}, "pz.csv: .*'12a'"),
    (["specobjid", "z_phot"], [[BIG[0], 0.1], [BIG[0], 0.2]], {}, "same key with different"),
    (["specobjid", "z_phot"], [[7, 0.1], [8, 0.2]], {}, "no key of column 'specobjid' matches"),
    (["specobjid", "z_phot"], [[BIG[0], 0.1]], {"name": "Bad Name"}, "--name"),
])
def test_bad_input(tmp_path: Path, header: list[str], rows: list[list[object]],
                   kwargs: dict, match: str) -> None:
    f = _write_csv(tmp_path / "pz.csv", header, rows)
    kwargs = {"name": "ext", **kwargs}
    with pytest.raises(ZcellsInputError, match=match):
        join_external(_catalog(BIG[:3]), f, **kwargs)


def test_catalogue_without_key_column(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "pz.csv", ["specobjid", "z_phot"], [[BIG[0], 0.1]])
    with pytest.raises(ZcellsInputError, match="catalogue: no key column 'specobjid'"):
        join_external(_catalog(BIG[:1]).drop(columns="specobjid"), f, name="ext")


def test_fits_file(tmp_path: Path) -> None:
    from astropy.table import Table

    f = tmp_path / "pz.fits"
    Table({"SPECOBJID": np.array(BIG, dtype=np.int64), "Z_PHOT": np.arange(6) * 0.01}).write(f)
    out, rep = join_external(_catalog(BIG), f, name="ext")
    np.testing.assert_allclose(out["zphot_ext"], np.arange(6) * 0.01)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_command_writes_catalogue_round_trip(tmp_path: Path, suffix: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cat_path = tmp_path / "cat.csv"
    cat = _catalog(BIG).rename(columns={"specobjid": "specObjID", "zspec": "z_spec"})
    cat.to_csv(cat_path, index=False)
    f = _write_csv(tmp_path / "pz.csv", ["specObjID", "z_phot"], [[k, 0.1] for k in BIG])
    out = tmp_path / f"out{suffix}"
    parser = argparse.ArgumentParser()
    import_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["import-photoz", str(f), "--catalog", str(cat_path), "--out", str(out),
                              "--name", "ext"])
    assert args.func(args) == 0
    back = read_table(out)
    assert back["specobjid"].tolist() == BIG
    assert "zphot_ext" in back.columns
    printed = capsys.readouterr().out
    assert "matched 6 of 6" in printed and "sigma_NMAD" in printed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_command_bad_input_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compute.cli import main

    cat_path = tmp_path / "cat.csv"
    _catalog(BIG).to_csv(cat_path, index=False)
    f = _write_csv(tmp_path / "pz.csv", ["specobjid", "z_phot"], [[1, 0.1]])
    rc = main(["import-photoz", str(f), "--catalog", str(cat_path), "--out",
               str(tmp_path / "o.parquet")])
    assert rc == 2
    assert "no key of column" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.realdata
def test_encapzulate_real_file(tmp_path: Path) -> None:
    if not ENCAPZULATE.is_file():
        pytest.skip(f"real data not available: {ENCAPZULATE}")
    with open(ENCAPZULATE) as fh:  # exact ids straight from the text
        rows = list(csv.DictReader(fh))
    ids = [int(r["specObjID"]) for r in rows]
    cat = pd.DataFrame({
        "specobjid": pd.array(ids[::-1], dtype="Int64"),  # another order than the file
        "zspec": [float(r["z_spec"]) for r in rows[::-1]],
    })
    assert cat["specobjid"].nunique() == len(rows) == 51652
    out, rep = join_external(cat, ENCAPZULATE, name="encapzulate")
    assert rep.matched == 51652 and rep.unmatched_file == 0 and rep.duplicate_keys == 0
    np.testing.assert_array_equal(out["zphot_encapzulate"].to_numpy(),
                                  [float(r["z_phot"]) for r in rows[::-1]])
    zs, zp = out["zspec"].to_numpy(), out["zphot_encapzulate"].to_numpy()
    assert round(sigma_nmad(zs, zp), 4) == 0.0090
    assert round(100 * outlier_fraction(zs, zp), 2) == 0.19
    path = tmp_path / "cat.csv"
    import_command.write_table(out, path)
    assert read_table(path)["specobjid"].tolist() == ids[::-1]


def test_replaces_existing_column_and_counts_catalogue_duplicates(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "pz.csv", ["specobjid", "z_phot"], [[BIG[0], 0.1], [BIG[1], 0.2]])
    cat = _catalog([BIG[0], BIG[0], BIG[1]])
    cat["zphot_ext"] = 9.0
    out, rep = join_external(cat, f, name="ext")
    assert out["zphot_ext"].tolist() == [0.1, 0.1, 0.2]
    assert rep.duplicate_catalog_keys == 1
    assert any("replaced" in line for line in rep.lines())
