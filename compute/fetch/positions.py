"""Read the galaxy positions (objid, ra, dec) that cutouts are fetched for."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from compute.errors import ZcellsInputError

REQUIRED = ("objid", "ra", "dec")


def read_positions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``objid`` (int64), ``ra`` and ``dec`` (degrees) from a Parquet or CSV catalogue.

    Column names are matched case-insensitively (``objID`` works). Ids are read as int64 at
    parse time, never through float.

    Raises
    ------
    ZcellsInputError
        Unreadable file, missing columns, non-integer or repeated ids, or positions that are
        not finite or out of range; the message names the file, the column and the rows.
    """
    path = Path(path)
    if not path.is_file():
        raise ZcellsInputError(f"--catalog {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            names = pq.read_schema(path).names
            columns = _match_columns(path, names)
            df = pd.read_parquet(path, columns=[columns[c] for c in REQUIRED])
        elif suffix in (".csv", ".txt"):
            names = list(pd.read_csv(path, nrows=0, comment="#").columns)
            columns = _match_columns(path, names)
            df = pd.read_csv(
                path,
                usecols=[columns[c] for c in REQUIRED],
                comment="#",
                dtype={columns["objid"]: str},
            )
        else:
            raise ZcellsInputError(f"--catalog {path}: expected a .parquet or .csv file")
    except ZcellsInputError:
        raise
    except Exception as exc:
        raise ZcellsInputError(f"--catalog {path}: cannot read it ({exc})") from None
    df = df.rename(columns={v: k for k, v in columns.items()})[list(REQUIRED)]
    if df.empty:
        raise ZcellsInputError(f"--catalog {path}: the catalogue has no rows")
    df["objid"] = _int_ids(path, df["objid"])
    for col, lo, hi in (("ra", 0.0, 360.0), ("dec", -90.0, 90.0)):
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~((values >= lo) & (values <= hi)))
        if len(bad):
            raise ZcellsInputError(
                f"--catalog {path}: column {col} must be finite degrees in [{lo:g}, {hi:g}]; "
                f"bad rows {_rows(bad)}"
            )
        df[col] = values
    repeated = np.flatnonzero(df["objid"].duplicated(keep=False).to_numpy())
    if len(repeated):
        raise ZcellsInputError(
            f"--catalog {path}: column objid repeats ids at rows {_rows(repeated)}"
        )
    return df.reset_index(drop=True)


def _match_columns(path: Path, names: list[str]) -> dict[str, str]:
    lower = {str(n).lower(): str(n) for n in names}
    missing = [c for c in REQUIRED if c not in lower]
    if missing:
        raise ZcellsInputError(
            f"--catalog {path}: missing column(s) {', '.join(missing)} (needs objid, ra, dec; "
            f"has {', '.join(map(str, names[:20]))}{' ...' if len(names) > 20 else ''})"
        )
    return {c: lower[c] for c in REQUIRED}


def _int_ids(path: Path, ids: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(ids.dtype):
        return ids.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(ids.dtype):
        raise ZcellsInputError(
            f"--catalog {path}: column objid is stored as floating point, which cannot hold "
            "SDSS ids exactly (they exceed 2^53); store it as int64"
        )
    text = ids.astype(str).str.strip()
    ok = text.str.fullmatch(r"-?\d{1,19}").to_numpy()
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise ZcellsInputError(
            f"--catalog {path}: column objid holds values that are not integers at rows "
            f"{_rows(bad)} (e.g. {text.iloc[bad[0]]!r})"
        )
    try:
        return text.to_numpy(dtype=str).astype(np.int64)
    except OverflowError:
        raise ZcellsInputError(f"--catalog {path}: column objid has ids beyond int64") from None


def _rows(index: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    return shown + (f" ... ({len(index)} rows)" if len(index) > limit else "")
