"""Read catalogue files (CSV, FITS, Parquet) into pandas DataFrames with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from compute.errors import ZcellsInputError

#: Columns that must never pass through float64 (64-bit SDSS ids exceed 2**53).
INT64_ID_COLUMNS = ("objid", "objID", "specobjid", "specObjID", "SpecObjID", "ObjID")

_CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".csv.gz"}
_FITS_SUFFIXES = {".fits", ".fit", ".fts", ".fits.gz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for double in (".csv.gz", ".fits.gz"):
        if name.endswith(double):
            return double
    return path.suffix.lower()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a catalogue file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.fits`` (first table HDU) or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        The table, with 64-bit id columns kept as integers.

    Raises
    ------
    ZcellsInputError
        If the file is missing, of an unknown type, truncated, or holds no table.
    """
    path = Path(path)
    if not path.is_file():
        raise ZcellsInputError(f"{path}: no such file")
    kind = _suffix(path)
    if kind in _CSV_SUFFIXES:
        return _read_csv(path)
    if kind in _FITS_SUFFIXES:
        return _read_fits(path)
    if kind in _PARQUET_SUFFIXES:
        return _read_parquet(path)
    raise ZcellsInputError(
        f"{path}: unknown catalogue type '{kind}'; use .csv, .fits or .parquet"
    )


def _read_csv(path: Path) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, comment="#")
    except pd.errors.EmptyDataError:
        raise ZcellsInputError(f"{path}: the file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise ZcellsInputError(f"{path}: not a readable CSV file: {exc}") from None
    # ids are read as text and converted exactly later (never through float64)
    dtypes = {c: "string" for c in header.columns if c in INT64_ID_COLUMNS}
    try:
        df = pd.read_csv(path, sep=sep, comment="#", dtype=dtypes)  # type: ignore[arg-type]
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise ZcellsInputError(f"{path}: malformed or truncated CSV: {exc}") from None
    _check_ragged_csv(path, df)
    for col in dtypes:
        df[col] = parse_int64(df[col], col, str(path))
    return df


def _check_ragged_csv(path: Path, df: pd.DataFrame) -> None:
    """Detect a truncated last line: pandas fills the missing trailing fields with NaN."""
    if df.empty:
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    ends_cleanly = tail.endswith(b"\n")
    last = df.iloc[-1]
    if not ends_cleanly and last.isna().any():
        missing = [str(c) for c in df.columns[last.isna().to_numpy()]]
        raise ZcellsInputError(
            f"{path}: the file looks truncated: its last line (row {len(df) - 1}) has no "
            f"values for {', '.join(missing[:6])} and no line end"
        )


def _read_fits(path: Path) -> pd.DataFrame:
    from astropy.io import fits
    from astropy.table import Table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                hdul.verify("silentfix")
                table_hdus = [
                    i for i, h in enumerate(hdul)
                    if isinstance(h, (fits.BinTableHDU, fits.TableHDU))
                ]
                if not table_hdus:
                    raise ZcellsInputError(
                        f"{path}: the FITS file has no table extension "
                        f"({len(hdul)} HDU(s), none a BinTable or Table)"
                    )
                table = Table.read(hdul[table_hdus[0]])
    except ZcellsInputError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise ZcellsInputError(f"{path}: not a readable FITS file: {exc}") from None
    multi = [name for name in table.colnames if len(table[name].shape) > 1]
    if multi:
        table.remove_columns(multi)
    df = table.to_pandas()
    for col in df.columns:
        if df[col].dtype == object and len(df) and isinstance(df[col].iloc[0], bytes):
            df[col] = df[col].str.decode("utf-8").str.strip()
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise ZcellsInputError(f"{path}: not a readable Parquet file: {exc}") from None


def rows_text(rows: np.ndarray, limit: int = 8) -> str:
    """Format row numbers for a message, e.g. ``rows 3, 17 (2 rows)``.

    Examples
    --------
    >>> rows_text(np.array([3, 17]))
    'rows 3, 17 (2 of them)'
    >>> rows_text(np.arange(20), limit=3)
    'rows 0, 1, 2, ... (20 of them)'
    """
    rows = np.asarray(rows)
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = ", ..." if len(rows) > limit else ""
    return f"row{'s' if len(rows) != 1 else ''} {shown}{more} ({len(rows)} of them)"


def parse_int64(series: pd.Series, col: str, source: str) -> pd.Series:
    """Convert an id column to nullable Int64 exactly (64-bit ids never pass through float).

    Examples
    --------
    >>> parse_int64(pd.Series(["1022449921254516736", None]), "id", "f").tolist()
    [1022449921254516736, <NA>]
    """
    if pd.api.types.is_integer_dtype(series):
        return series.astype("Int64")
    if pd.api.types.is_float_dtype(series):
        vals = series.to_numpy(np.float64)
        finite = np.isfinite(vals)
        bad = finite & ((vals != np.round(vals)) | (np.abs(vals) > 2**53))
        if bad.any():
            raise ZcellsInputError(
                f"{source}: column '{col}' {rows_text(np.flatnonzero(bad))}: not an exact integer "
                "id (fractional, or too large to survive as a floating-point number)"
            )
        return series.astype("Int64")
    text = series.astype("string").str.strip()
    empty = text.isna() | (text == "")
    ok = text.str.fullmatch(r"[+-]?\d+").fillna(False).astype(bool)
    bad = ~empty & ~ok
    if bad.any():
        examples = ", ".join(repr(str(v)) for v in text[bad].head(3))
        raise ZcellsInputError(
            f"{source}: column '{col}' {rows_text(np.flatnonzero(bad.to_numpy()))}: not an integer "
            f"id (e.g. {examples})"
        )
    values = [pd.NA if e else int(v) for v, e in zip(text.to_numpy(object), empty.to_numpy(), strict=True)]
    return pd.Series(pd.array(values, dtype="Int64"), index=series.index)
