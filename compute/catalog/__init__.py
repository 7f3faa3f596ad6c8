"""Catalogue loading: read, map aliases, validate, select and split, with a report of each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .aliases import BANDS, canonicalise
from .io import read_table
from .selection import CutReport, SelectionConfig, apply_cuts
from .split import assign_split
from .validate import REQUIRED, rows_text, validate

__all__ = [
    "BANDS", "REQUIRED", "CatalogReport", "SelectionConfig", "load_catalog", "prepare_catalog",
    "read_table", "rows_text",
]


@dataclass
class CatalogReport:
    """What happened to the catalogue on its way in."""

    source: str
    n_read: int
    mapping: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    cuts: list[CutReport] = field(default_factory=list)
    split_note: str = ""
    n_final: int = 0
    n_train: int = 0
    n_test: int = 0

    def lines(self) -> list[str]:
        """Human-readable summary, one line per step."""
        out = [f"read {self.n_read} rows from {self.source}"]
        if self.mapping:
            out.append("columns mapped: " + ", ".join(f"{k} -> {v}" for k, v in self.mapping.items()))
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"excluded {n}: {why}" for why, n in self.excluded.items() if n]
        for c in self.cuts:
            out.append(f"cut {c.name}: removed {c.removed}" + (f" ({c.note})" if c.note else ""))
        out.append(self.split_note)
        out.append(f"kept {self.n_final} galaxies ({self.n_train} train, {self.n_test} test)")
        return out


def prepare_catalog(
    df: pd.DataFrame,
    source: str,
    selection: SelectionConfig | None = None,
    test_fraction: float = 0.1,
    salt: int = 0,
) -> tuple[pd.DataFrame, CatalogReport]:
    """Map, validate, cut and split an in-memory table (see :func:`load_catalog`)."""
    selection = selection or SelectionConfig()
    report = CatalogReport(source=source, n_read=len(df))
    df, report.mapping = canonicalise(df)
    df, vrep = validate(df, source)
    report.warnings += vrep.warnings
    report.excluded.update(vrep.excluded)
    df, report.cuts = apply_cuts(df, selection)
    if len(df) == 0:
        from compute.errors import ZcellsInputError

        raise ZcellsInputError(
            f"{source}: no galaxy passes the selection cuts ("
            + "; ".join(f"{c.name} removed {c.removed}" for c in report.cuts)
            + ")"
        )
    df, report.split_note = assign_split(df, test_fraction, salt, source)
    report.n_final = len(df)
    report.n_test = int((df["split"] == "test").sum())
    report.n_train = report.n_final - report.n_test
    return df, report


def load_catalog(
    path: str | Path,
    selection: SelectionConfig | None = None,
    test_fraction: float = 0.1,
    salt: int = 0,
) -> tuple[pd.DataFrame, CatalogReport]:
    """Read a catalogue file and bring it to the canonical contract.

    Parameters
    ----------
    path : str or Path
        CSV, FITS or Parquet catalogue.
    selection : SelectionConfig, optional
        Cuts to apply (the paper's by default).
    test_fraction, salt : float, int
        Split settings used when the file has no ``split`` column.

    Returns
    -------
    (pandas.DataFrame, CatalogReport)
        The clean catalogue and the report of mappings, exclusions and cuts.

    Raises
    ------
    ZcellsInputError
        For any bad input, naming the file, the column and the rows.
    """
    df = read_table(path)
    return prepare_catalog(df, str(path), selection, test_fraction, salt)
