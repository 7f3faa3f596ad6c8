"""Parse and check SkyServer SqlSearch CSV answers (``#Table1`` header, exact int64 ids)."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from compute.errors import ZcellsInputError
from compute.fetch.http import body_start
from compute.fetch.sdss_sql import SqlColumn

#: SkyServer (and SQL Server) write missing values like this
NULL_TOKENS = frozenset({"", "null", "NULL", "Null", "nan", "NaN"})

#: magnitudes, errors and photo-z at or below this are SDSS "no value" sentinels (-9999)
SENTINEL_MAX = -999.0

_SQL_ERROR = re.compile(
    r"\berror\b|incorrect syntax|invalid (column|object) name|exception|timeout expired|"
    r"query (was )?(cancel|abort)|could not be bound|not allowed|arithmetic overflow",
    re.IGNORECASE,
)


class ResponseFormatError(ZcellsInputError):
    """An answer that is not the expected CSV; ``transient`` when a retry may help (cut off)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def parse_sqlsearch_csv(
    body: bytes | str, columns: Sequence[SqlColumn], *, where: str
) -> pd.DataFrame:
    """Turn one SqlSearch CSV answer into a table with canonical column names.

    Parameters
    ----------
    body : bytes or str
        The response body.
    columns : sequence of SqlColumn
        The columns the query asked for, in order.
    where : str
        What was asked (service and chunk), used in error messages.

    Returns
    -------
    pandas.DataFrame
        One row per CSV row, columns renamed to ``SqlColumn.canonical``; ids int64 (parsed
        from text, never through float), everything else float64 with SDSS ``-9999``
        sentinels as NaN. An answer with a header and no rows gives an empty table.

    Raises
    ------
    ResponseFormatError
        HTML instead of CSV, an SQL error message, wrong or missing columns, ragged or cut-off
        lines, or values that do not parse; the message names the lines and shows the body start.

    Examples
    --------
    >>> from compute.fetch.sdss_sql import SqlColumn
    >>> cols = [SqlColumn("objID", "p.objID", "objid", "int64"), SqlColumn("z", "s.z", "zspec")]
    >>> df = parse_sqlsearch_csv("#Table1\\nobjID,z\\n1237648720693755918,0.1\\n", cols, where="test")
    >>> int(df.objid[0]), float(df.zspec[0])
    (1237648720693755918, 0.1)
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff")
    start = body_start(text)
    if not text.strip():
        raise ResponseFormatError(f"{where}: empty answer instead of CSV", transient=True)
    if text.lstrip().startswith("<"):
        raise ResponseFormatError(
            f"{where}: SkyServer answered with an HTML page, not CSV: {start}"
        )

    lines = text.splitlines()
    first = 0
    while first < len(lines) and (not lines[first].strip() or lines[first].startswith("#Table")):
        first += 1
    if first == len(lines):
        raise ResponseFormatError(
            f"{where}: answer has no CSV header line: {start}", transient=True
        )
    header = [name.strip() for name in lines[first].split(",")]
    expected = [col.name for col in columns]
    if [h.lower() for h in header] != [e.lower() for e in expected]:
        if _SQL_ERROR.search(text[:4000]) or len(header) == 1:
            raise ResponseFormatError(
                f"{where}: SkyServer answered with an error message, not CSV: {start}"
            )
        lower = {h.lower() for h in header}
        missing = [e for e in expected if e.lower() not in lower]
        unexpected = [h for h in header if h.lower() not in {e.lower() for e in expected}]
        detail = []
        if missing:
            detail.append(f"missing columns {missing}")
        if unexpected:
            detail.append(f"unexpected columns {unexpected}")
        if not detail:
            detail.append(f"columns in another order: {header}")
        raise ResponseFormatError(
            f"{where}: CSV header does not match the query: "
            f"{'; '.join(detail)}; the body starts: {start}"
        )

    data_lines = lines[first + 1 :]
    while data_lines and not data_lines[-1].strip():
        data_lines.pop()
    rows: list[list[str]] = []
    bad: list[tuple[int, int, str]] = []
    for offset, row in enumerate(csv.reader(data_lines)):
        line_no = first + 2 + offset
        if row and row[0].startswith("#Table"):
            raise ResponseFormatError(
                f"{where}: answer holds more than one table (second one at line {line_no})"
            )
        if len(row) != len(expected):
            bad.append((line_no, len(row), data_lines[offset][:120]))
        rows.append(row)
    if bad:
        last_only = len(bad) == 1 and bad[0][0] == first + 1 + len(data_lines)
        shown = "; ".join(f"line {n} has {k} fields: {s!r}" for n, k, s in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        what = "cut off (ragged last line)" if last_only else "ragged"
        raise ResponseFormatError(
            f"{where}: CSV answer is {what}, expected {len(expected)} fields per line: "
            f"{shown}{more}",
            transient=last_only,
        )
    columns_text = list(zip(*rows, strict=True)) if rows else [() for _ in expected]
    out = {
        col.canonical: _convert([v.strip() for v in values], col, where, first + 2)
        for col, values in zip(columns, columns_text, strict=True)
    }
    return pd.DataFrame(out)


_INT = re.compile(r"-?\d{1,19}")


def _convert(values: list[str], col: SqlColumn, where: str, first_line: int) -> np.ndarray:
    """Convert one text column; name the lines whose values do not parse."""
    if col.dtype == "int64":
        bad = [i for i, v in enumerate(values) if not _INT.fullmatch(v)]
        if bad:
            _bad_values(values, bad, col, where, first_line, "an integer id")
        try:
            return np.array(values, dtype=str).astype(np.int64) if values else np.zeros(0, np.int64)
        except (OverflowError, ValueError):
            raise ResponseFormatError(
                f"{where}: column {col.name}: ids do not fit in int64"
            ) from None
    cleaned = ["nan" if v in NULL_TOKENS else v for v in values]
    try:
        result = np.array(cleaned, dtype=str).astype(np.float64) if values else np.zeros(0)
    except ValueError:
        bad = [i for i, v in enumerate(cleaned) if not _is_float(v)]
        _bad_values(values, bad, col, where, first_line, "a number")
        raise  # unreachable: _bad_values raises
    result[result <= SENTINEL_MAX] = np.nan
    return result


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bad_values(
    values: list[str], bad: list[int], col: SqlColumn, where: str, first_line: int, what: str
) -> None:
    shown = ", ".join(f"line {first_line + i}: {values[i]!r}" for i in bad[:5])
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    raise ResponseFormatError(
        f"{where}: column {col.name} ({col.canonical}) holds values that are not {what}: "
        f"{shown}{more}"
    )
