"""`zcells build` on bad input: exit code 2, a message naming the problem, no artifacts left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from compute.cli import main

from .conftest import synthetic_catalog


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(out.name) or
            p.name.startswith(f".{out.name}")]


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    base = synthetic_catalog(60)
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, df, needle: str) -> None:
        path = tmp / f"{name}.csv"
        df.to_csv(path, index=False)
        cases[name] = (path, needle)

    add("missing_column", base.drop(columns=["u"]), "missing required column(s) u")
    add("non_numeric", base.assign(g=base["g"].astype(object).where(base.index != 8, "x")),
        "column 'g' row 8")
    add("duplicate_objid", base.assign(objid=base["objid"].where(base.index != 1, base["objid"][0])),
        "duplicate ids")
    add("empty", base.iloc[:0], "empty")
    add("negative_zspec", base.assign(zspec=base["zspec"].where(base.index != 2, -1.0)), "negative")
    add("nan_zspec", base.assign(zspec=base["zspec"].where(base.index != 2, np.nan)), "not finite")
    trunc = tmp / "truncated.csv"
    base.to_csv(trunc, index=False)
    trunc.write_text(trunc.read_text()[:-30])
    cases["truncated"] = (trunc, "truncated")
    img = tmp / "image.fits"
    fits.PrimaryHDU(np.ones((3, 3))).writeto(img)
    cases["fits_without_table"] = (img, "no table extension")
    return cases


@pytest.mark.parametrize(
    "case",
    ["missing_column", "non_numeric", "duplicate_objid", "empty", "negative_zspec", "nan_zspec",
     "truncated", "fits_without_table"],
)
def test_bad_catalogue_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    path, needle = _bad_files(tmp_path)[case]
    out = tmp_path / "arts"
    code, err = _run(["build", "--catalog", str(path), "--out", str(out), "--no-cache",
                      "--no-progress"], capsys)
    assert code == 2
    assert needle in err and str(path) in err
    assert "Traceback" not in err
    assert _leftovers(out) == []


def test_unknown_config_key_exit_2(tmp_path: Path, catalog_csv: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[som]\nshape = '6x8'\nsigmaa = 1.0\n")
    out = tmp_path / "arts"
    code, err = _run(["build", "--catalog", str(catalog_csv), "--config", str(cfg), "--out",
                      str(out), "--no-cache", "--no-progress"], capsys)
    assert code == 2
    assert "unknown key 'som.sigmaa'" in err and str(cfg) in err
    assert _leftovers(out) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("per_cell_sample = 'some'\n", "per_cell_sample must be 'test' or 'all'"),
        ("[split]\ntest_fraction = 1.5\n", "test_fraction must be in (0, 1)"),
        ("[lts]\nclip = 'high'\n", "'lts.clip' must be of type float"),
        ("[som\nshape=1", "cannot parse config"),
    ],
)
def test_bad_config_values_exit_2(tmp_path: Path, catalog_csv: Path,
                                  capsys: pytest.CaptureFixture[str], text: str, needle: str) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text)
    code, err = _run(["build", "--catalog", str(catalog_csv), "--config", str(cfg), "--out",
                      str(tmp_path / "o"), "--no-cache", "--no-progress"], capsys)
    assert code == 2 and needle in err


def test_bad_som_shape_and_method_exit_2(tmp_path: Path, catalog_csv: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["build", "--catalog", str(catalog_csv), "--out", str(tmp_path / "o"),
                      "--som-shape", "10x", "--no-cache"], capsys)
    assert code == 2 and "10x" in err
    code, err = _run(["build", "--catalog", str(catalog_csv), "--out", str(tmp_path / "o"),
                      "--methods", "rf,magic", "--no-cache"], capsys)
    assert code == 2 and "unknown method 'magic'" in err


def test_no_photoz_at_all_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.csv"
    synthetic_catalog(100, methods=()).to_csv(path, index=False)
    code, err = _run(["build", "--catalog", str(path), "--out", str(tmp_path / "o"),
                      "--no-cache", "--no-progress"], capsys)
    assert code == 2 and "no zphot_<method> column" in err


def test_console_script_exit_code(tmp_path: Path) -> None:
    """The real process exits 2 with the message on stderr and nothing on stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "compute.cli", "build", "--catalog", str(tmp_path / "nope.csv"),
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "nope.csv: no such" in proc.stderr and proc.stdout == ""
