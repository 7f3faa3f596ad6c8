"""Import photo-z's computed elsewhere (e.g. encapzulate) by joining a file on an integer key.

SDSS catalogues need no import for B16: the DR12 ``Photoz.z`` column arrives as ``zphot_b16``
through the catalogue aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from compute.catalog import read_table, rows_text
from compute.errors import ZcellsInputError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
#: Largest integer that float64 holds exactly.
_FLOAT_EXACT = 2**53


@dataclass
class ImportReport:
    """What joining an external photo-z file did.

    Attributes
    ----------
    file : str
        The photo-z file.
    column : str
        The catalogue column written (``zphot_<name>``).
    key, file_key, file_column : str
        Catalogue key column, and the key and value columns found in the file.
    n_catalog, n_file : int
        Rows in the catalogue and in the file.
    matched : int
        Catalogue rows that received a value.
    unmatched_catalog : int
        Catalogue rows without a match (including rows with an empty key).
    unmatched_file : int
        Distinct file keys absent from the catalogue.
    duplicate_keys : int
        Distinct keys appearing more than once in the file (identical values; kept once).
    duplicate_catalog_keys : int
        Distinct keys appearing more than once in the catalogue (each row gets the value).
    missing_values : int
        Matched rows whose file value is empty (NaN).
    notes : list of str
        Anything else worth saying.
    """

    file: str
    column: str
    key: str
    file_key: str
    file_column: str
    n_catalog: int = 0
    n_file: int = 0
    matched: int = 0
    unmatched_catalog: int = 0
    unmatched_file: int = 0
    duplicate_keys: int = 0
    duplicate_catalog_keys: int = 0
    missing_values: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary."""
        out = [
            f"joined {self.file} ({self.n_file} rows) on catalogue '{self.key}' = file "
            f"'{self.file_key}', value '{self.file_column}' -> '{self.column}'",
            f"matched {self.matched} of {self.n_catalog} catalogue rows",
            f"unmatched: {self.unmatched_catalog} catalogue rows, {self.unmatched_file} file keys",
        ]
        if self.duplicate_keys:
            out.append(f"duplicate keys in the file: {self.duplicate_keys} (identical values, used once)")
        if self.duplicate_catalog_keys:
            out.append(f"duplicate keys in the catalogue: {self.duplicate_catalog_keys}")
        if self.missing_values:
            out.append(f"matched rows with an empty value: {self.missing_values} (left NaN)")
        out += self.notes
        return out


def _find_column(df: pd.DataFrame, wanted: str, what: str, source: str) -> str:
    """The column named ``wanted`` (case-insensitively), or a clear error listing the columns."""
    if wanted in df.columns:
        return wanted
    hits = [c for c in df.columns if isinstance(c, str) and c.lower() == wanted.lower()]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ZcellsInputError(
            f"{source}: several columns match {what} '{wanted}' case-insensitively: {', '.join(hits)}"
        )
    raise ZcellsInputError(
        f"{source}: no {what} column '{wanted}'; found {', '.join(map(str, df.columns[:30]))}"
    )


def integer_keys(series: pd.Series, column: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact int64 keys of a column, never through float64.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        int64 keys (0 where empty) and a bool mask of the non-empty ones.

    Raises
    ------
    ZcellsInputError
        Non-integer text or values, or keys that were read as floating point and exceed 2**53
        (where distinct 64-bit ids may already have collapsed).

    Examples
    --------
    >>> keys, ok = integer_keys(pd.Series(["1237648720693755918", ""]), "specObjID", "f.csv")
    >>> keys.tolist(), ok.tolist()
    ([1237648720693755918, 0], [True, False])
    """
    if pd.api.types.is_bool_dtype(series):
        raise ZcellsInputError(f"{source}: key column '{column}' holds true/false values, not ids")
    if pd.api.types.is_integer_dtype(series):
        present = series.notna().to_numpy()
        if pd.api.types.is_unsigned_integer_dtype(series) and (series.max() > np.iinfo(np.int64).max):
            raise ZcellsInputError(
                f"{source}: key column '{column}': an id does not fit a signed 64-bit integer"
            )
        return series.to_numpy(dtype=np.int64, na_value=0), present
    if pd.api.types.is_float_dtype(series):
        v = series.to_numpy(dtype=np.float64)
        present = np.isfinite(v)
        bad = present & (v != np.round(v))
        if bad.any():
            raise ZcellsInputError(
                f"{source}: key column '{column}' {rows_text(np.flatnonzero(bad))}: not an integer id"
            )
        if (np.abs(v[present]) > _FLOAT_EXACT).any():
            raise ZcellsInputError(
                f"{source}: key column '{column}' was read as floating point and holds ids above "
                "2**53, which float64 cannot keep exact (distinct ids may have collapsed); store "
                "the ids as integers (or text in CSV)"
            )
        return np.where(present, v, 0).astype(np.int64), present
    text = series.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy()
    good = text.fillna("").str.match(_INTEGER_TEXT).to_numpy()
    bad = present & ~good
    if bad.any():
        examples = ", ".join(repr(str(x)) for x in text[bad].head(3))
        raise ZcellsInputError(
            f"{source}: key column '{column}' {rows_text(np.flatnonzero(bad))}: not an integer id "
            f"(e.g. {examples})"
        )
    keys = np.zeros(len(series), dtype=np.int64)
    try:
        keys[present] = pa.array(text[present].tolist(), type=pa.string()).cast(pa.int64()).to_numpy()
    except (pa.ArrowInvalid, OverflowError):
        raise ZcellsInputError(
            f"{source}: key column '{column}': an id does not fit a 64-bit integer"
        ) from None
    return keys, present


def _values(series: pd.Series, column: str, source: str) -> np.ndarray:
    """float64 photo-z values, naming rows that hold text or infinities."""
    if pd.api.types.is_bool_dtype(series):
        raise ZcellsInputError(f"{source}: column '{column}' holds true/false values, not redshifts")
    converted = pd.to_numeric(series, errors="coerce")
    text_bad = np.array(converted.isna() & series.notna(), dtype=bool)
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        text_bad &= np.array(series.astype("string").str.strip().fillna("") != "", dtype=bool)
    if text_bad.any():
        examples = ", ".join(repr(str(x)) for x in series[text_bad].head(3))
        raise ZcellsInputError(
            f"{source}: column '{column}' {rows_text(np.flatnonzero(text_bad))}: not a number "
            f"(e.g. {examples})"
        )
    v = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(v)
    if inf.any():
        raise ZcellsInputError(f"{source}: column '{column}' {rows_text(np.flatnonzero(inf))}: infinite")
    return v


def join_external(
    catalog: pd.DataFrame,
    file: Path,
    *,
    name: str,
    key: str = "specobjid",
    column: str = "z_phot",
    file_key: str | None = None,
) -> tuple[pd.DataFrame, ImportReport]:
    """Add ``zphot_<name>`` from an external photo-z file to the catalogue.

    Parameters
    ----------
    catalog : pandas.DataFrame
        Catalogue with the key column (canonical names; matched case-insensitively).
    file : Path
        CSV, Parquet or FITS file holding the key and the photo-z.
    name : str
        Method name: the new column is ``zphot_<name>`` (lower case, letters, digits, _).
    key : str
        Catalogue key column (an integer id such as ``specobjid`` or ``objid``).
    column : str
        Photo-z column in the file.
    file_key : str, optional
        Key column in the file when it is not called like ``key`` (case-insensitively).

    Returns
    -------
    (pandas.DataFrame, ImportReport)
        A copy of the catalogue with ``zphot_<name>`` (NaN where unmatched), and the report.

    Raises
    ------
    ZcellsInputError
        Bad name, missing key or value column in either table, non-integer keys, non-numeric
        values, conflicting duplicate keys in the file, or no match at all.
    """
    file = Path(file)
    source = str(file)
    if not _NAME.match(name or ""):
        raise ZcellsInputError(
            f"--name '{name}': use lower-case letters, digits and '_' (starting with a letter)"
        )
    out_col = f"zphot_{name}"
    table = read_table(file)
    cat_key = _find_column(catalog, key, "key", "catalogue")
    f_key = _find_column(table, file_key or key, "key", source)
    f_val = _find_column(table, column, "photo-z", source)
    report = ImportReport(
        file=source, column=out_col, key=cat_key, file_key=f_key, file_column=f_val,
        n_catalog=len(catalog), n_file=len(table),
    )
    if len(table) == 0:
        raise ZcellsInputError(f"{source}: the file holds no rows")

    raw = table[f_key]
    empty = np.flatnonzero(np.array(raw.isna() | (raw.astype("string").str.strip() == ""), dtype=bool))
    if len(empty):
        raise ZcellsInputError(f"{source}: key column '{f_key}' {rows_text(empty)}: empty key")
    fkeys, _ = integer_keys(raw, f_key, source)
    fvals = _values(table[f_val], f_val, source)

    fkeys, fvals = _collapse_duplicates(fkeys, fvals, f_key, source, report)
    ckeys, cpresent = integer_keys(catalog[cat_key], cat_key, "catalogue")
    lookup = pd.Index(fkeys)
    pos = np.where(cpresent, lookup.get_indexer(ckeys), -1)
    hit = pos >= 0
    report.matched = int(hit.sum())
    report.unmatched_catalog = int((~hit).sum())
    report.unmatched_file = int(len(fkeys) - len(np.unique(pos[hit])))
    ck = pd.Series(ckeys[cpresent])
    report.duplicate_catalog_keys = int(ck[ck.duplicated()].nunique())
    if report.matched == 0:
        raise ZcellsInputError(
            f"{source}: no key of column '{f_key}' matches catalogue column '{cat_key}' "
            f"(file keys e.g. {', '.join(map(str, fkeys[:3]))}; catalogue keys e.g. "
            f"{', '.join(map(str, ckeys[cpresent][:3]))})"
        )
    values = np.where(hit, fvals[np.maximum(pos, 0)], np.nan)
    report.missing_values = int((hit & np.isnan(values)).sum())
    out = catalog.copy()
    if out_col in out.columns:
        report.notes.append(f"note: the catalogue's existing column '{out_col}' was replaced")
    out[out_col] = values
    return out, report


def _collapse_duplicates(
    keys: np.ndarray, values: np.ndarray, column: str, source: str, report: ImportReport
) -> tuple[np.ndarray, np.ndarray]:
    """Keep one row per key; refuse keys repeated with different values."""
    dup = pd.Series(keys).duplicated(keep=False).to_numpy()
    if not dup.any():
        return keys, values
    frame = pd.DataFrame({"key": keys[dup], "value": values[dup], "row": np.flatnonzero(dup)})
    spread = frame.groupby("key")["value"].agg(lambda v: v.nunique(dropna=False))
    conflicting = spread[spread > 1].index
    if len(conflicting):
        rows = frame.loc[frame["key"].isin(conflicting), "row"].to_numpy()
        raise ZcellsInputError(
            f"{source}: key column '{column}' {rows_text(rows)}: the same key with different "
            f"photo-z values (e.g. key {conflicting[0]}); remove the duplicates"
        )
    report.duplicate_keys = int(frame["key"].nunique())
    first = ~pd.Series(keys).duplicated(keep="first").to_numpy()
    return keys[first], values[first]
