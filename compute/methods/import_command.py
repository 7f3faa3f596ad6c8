"""The ``zcells import-photoz`` subcommand: join external photo-z's onto a catalogue file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compute.atomic import write_atomic
from compute.errors import ZcellsInputError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import-photoz`` to an argparse sub-parser collection and return its parser."""
    p = subparsers.add_parser(
        "import-photoz",
        help="add photo-z's computed elsewhere (e.g. encapzulate) to a catalogue",
        description=(
            "Join a CSV/Parquet/FITS file of photo-z's onto a catalogue by an integer key "
            "(specObjID by default, matched case-insensitively, never through float) and write "
            "the catalogue with a zphot_<name> column. Prints matched/unmatched/duplicate counts "
            "and the imported photo-z's global sigma_NMAD, outlier fraction and bias against the "
            "catalogue's zspec. (SDSS DR12 Photoz.z needs no import: it arrives as zphot_b16.)"
        ),
    )
    p.add_argument("file", help="file with the key and photo-z columns")
    p.add_argument("--catalog", required=True, help="catalogue file (CSV, FITS or Parquet)")
    p.add_argument("--out", required=True, help="catalogue to write (.parquet or .csv)")
    p.add_argument("--key", default="specobjid", help="catalogue key column (default specobjid)")
    p.add_argument("--column", default="z_phot", help="photo-z column in FILE (default z_phot)")
    p.add_argument("--name", default="encapzulate",
                   help="method name: the new column is zphot_<name> (default encapzulate)")
    p.add_argument("--file-key", default=None,
                   help="key column in FILE when named differently from --key")
    p.set_defaults(func=run)
    return p


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` (Parquet or CSV by suffix) atomically: temporary file, then rename."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise ZcellsInputError(f"--out {path}: use a .parquet or .csv file name")
    if suffix == ".csv":
        write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
    else:
        write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def metric_lines(df: pd.DataFrame, column: str) -> list[str]:
    """Global sigma_NMAD, outlier fraction and bias of ``column`` against ``zspec``."""
    from compute.metrics import bias, outlier_fraction, sigma_nmad

    if "zspec" not in df.columns:
        return ["metrics: the catalogue has no zspec column; none computed"]
    zs = pd.to_numeric(df["zspec"], errors="coerce").to_numpy(dtype=np.float64)
    zp = df[column].to_numpy(dtype=np.float64)
    ok = np.isfinite(zs) & np.isfinite(zp)
    if not ok.any():
        return ["metrics: no row has both zspec and the imported photo-z"]
    return [
        f"{column} vs zspec over {int(ok.sum())} galaxies: sigma_NMAD = "
        f"{sigma_nmad(zs[ok], zp[ok]):.4f}, outlier fraction = "
        f"{100 * outlier_fraction(zs[ok], zp[ok]):.2f}%, bias = {bias(zs[ok], zp[ok]):+.4f}"
    ]


def run(args: argparse.Namespace) -> int:
    """Run ``import-photoz``; 0 on success (bad input raises ZcellsInputError)."""
    from compute.catalog import read_table
    from compute.catalog.aliases import canonicalise

    from .external import join_external

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise ZcellsInputError(f"--out {out}: use a .parquet or .csv file name")
    catalog, _ = canonicalise(read_table(args.catalog))
    joined, report = join_external(
        catalog, Path(args.file), name=args.name, key=args.key, column=args.column,
        file_key=args.file_key,
    )
    write_table(joined, out)
    for line in report.lines() + metric_lines(joined, report.column):
        print(line)
    print(f"wrote {out}")
    return 0
