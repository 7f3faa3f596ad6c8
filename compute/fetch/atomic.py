"""Atomic writes of fetched data (bytes, Parquet with metadata), on :mod:`compute.atomic`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compute.atomic import write_atomic, write_bytes_atomic

__all__ = ["write_atomic", "write_bytes_atomic", "write_parquet_atomic"]


def write_parquet_atomic(
    path: str | os.PathLike[str], df: pd.DataFrame, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``df`` as Parquet (no index) atomically, with optional string key/value metadata."""
    path = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({str(k).encode(): str(v).encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp))
