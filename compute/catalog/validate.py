"""Column checks for the catalogue contract: required columns, types, ids and sentinels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from compute.errors import ZcellsInputError

from .aliases import BANDS
from .io import parse_int64, rows_text

REQUIRED = ("zspec", *BANDS)
NUMERIC = (
    "zspec", *BANDS, *(f"err_{b}" for b in BANDS), "cmodel_r", "petro_r",
    "frac_dev_r", "exp_ab_r", "ra", "dec",
)
#: SDSS "no measurement" values
SENTINELS = (-9999.0, -999.0, 9999.0)


@dataclass
class ValidationReport:
    """What validation changed or flagged."""

    warnings: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)


def validate(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, ValidationReport]:
    """Check a canonicalised catalogue and return a clean copy.

    Parameters
    ----------
    df : pandas.DataFrame
        Table with canonical column names (see :mod:`compute.catalog.aliases`).
    source : str
        File name used in messages.

    Returns
    -------
    (pandas.DataFrame, ValidationReport)
        Rows with unusable magnitudes (NaN or SDSS sentinels) removed; numeric columns as float64;
        ``objid`` as int64 (row numbers when absent).

    Raises
    ------
    ZcellsInputError
        Empty table, missing required columns, non-numeric values, duplicate or non-integer ``objid``,
        negative or non-finite ``zspec``. Row numbers in messages are 0-based data rows.
    """
    report = ValidationReport()
    if len(df) == 0:
        raise ZcellsInputError(f"{source}: the catalogue is empty (a header but no rows)")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ZcellsInputError(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, df.columns[:30]))}. "
            "zcells needs zspec and dereddened model magnitudes u g r i z (aliases such as "
            "dered_u, modelMag_u with extinction_u, z_spec are mapped automatically)."
        )
    df = df.reset_index(drop=True).copy()
    numeric_cols = [c for c in df.columns if c in NUMERIC or str(c).startswith("zphot_")]
    for col in numeric_cols:
        df[col] = _to_float(df[col], col, source)

    df = _check_objid(df, source, report)

    z = df["zspec"].to_numpy()
    bad = np.flatnonzero(~np.isfinite(z))
    if len(bad):
        raise ZcellsInputError(f"{source}: column 'zspec' {rows_text(bad)}: not finite (NaN or inf)")
    bad = np.flatnonzero(z < 0)
    if len(bad):
        raise ZcellsInputError(f"{source}: column 'zspec' {rows_text(bad)}: negative redshift")

    keep = np.ones(len(df), bool)
    for b in BANDS:
        vals = df[b].to_numpy()
        sentinel = np.isin(vals, SENTINELS)
        nan = ~np.isfinite(vals)
        if sentinel.any():
            report.warnings.append(
                f"{source}: column '{b}' {rows_text(np.flatnonzero(sentinel))}: SDSS sentinel "
                "value (-9999/-999/9999); excluded"
            )
        if nan.any():
            report.warnings.append(
                f"{source}: column '{b}' {rows_text(np.flatnonzero(nan))}: missing (NaN); excluded"
            )
        keep &= ~(sentinel | nan)
    for col in numeric_cols:
        if col in BANDS or col == "zspec":
            continue
        sentinel = np.isin(df[col].to_numpy(), SENTINELS)
        if sentinel.any():
            df.loc[sentinel, col] = np.nan
            report.warnings.append(
                f"{source}: column '{col}' {rows_text(np.flatnonzero(sentinel))}: SDSS sentinel "
                "value set to missing"
            )
    n_bad = int((~keep).sum())
    report.excluded["bad magnitudes (NaN or sentinel)"] = n_bad
    if n_bad == len(df):
        raise ZcellsInputError(
            f"{source}: every row has a missing or sentinel magnitude in u g r i z; nothing is left"
        )
    return df.loc[keep].reset_index(drop=True), report


def _to_float(series: pd.Series, col: str, source: str) -> pd.Series:
    """Convert to float64, naming the rows that hold non-numeric text."""
    if pd.api.types.is_bool_dtype(series):
        raise ZcellsInputError(f"{source}: column '{col}' holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    converted = pd.to_numeric(series, errors="coerce")
    text_bad = converted.isna() & series.notna() & (series.astype(str).str.strip() != "")
    if text_bad.any():
        rows = np.flatnonzero(text_bad.to_numpy())
        examples = ", ".join(repr(str(v)) for v in series[text_bad].head(3))
        raise ZcellsInputError(
            f"{source}: column '{col}' {rows_text(rows)}: not a number (e.g. {examples})"
        )
    return converted.astype("float64")


def _check_objid(df: pd.DataFrame, source: str, report: ValidationReport) -> pd.DataFrame:
    if "objid" not in df.columns:
        df["objid"] = np.arange(len(df), dtype=np.int64)
        report.warnings.append(
            f"{source}: no 'objid' column; galaxies are identified by their row numbers"
        )
        return df
    ids = parse_int64(df["objid"], "objid", source)
    if ids.isna().any():
        raise ZcellsInputError(
            f"{source}: column 'objid' {rows_text(np.flatnonzero(ids.isna().to_numpy()))}: empty id"
        )
    ids = ids.astype("int64")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        values = ", ".join(str(v) for v in pd.unique(ids[dup])[:5])
        raise ZcellsInputError(
            f"{source}: column 'objid' {rows_text(np.flatnonzero(dup))}: duplicate ids ({values})"
        )
    df["objid"] = ids
    if "specobjid" in df.columns:
        df["specobjid"] = parse_int64(df["specobjid"], "specobjid", source)
    return df

