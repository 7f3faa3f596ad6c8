"""Stage cache keyed by content hash, so an unchanged rerun of a build finishes in seconds."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compute.atomic import write_atomic


def default_cache_dir() -> Path:
    """``$ZCELLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/zcells``, else ``~/.cache/zcells``."""
    if os.environ.get("ZCELLS_CACHE_DIR"):
        return Path(os.environ["ZCELLS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zcells"


def content_key(*parts: Any) -> str:
    """Stable hex key of JSON-serialisable parts (dicts are key-sorted).

    Examples
    --------
    >>> content_key({"a": 1, "b": 2}) == content_key({"b": 2, "a": 1})
    True
    >>> len(content_key("x"))
    24
    """
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def frame_key(df: pd.DataFrame) -> str:
    """Content hash of a DataFrame (values, index and column names)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:24]


class StageCache:
    """Files of finished stages under ``root/<stage>/<key>.*``; disabled when ``root`` is None."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, stage: str, key: str, suffix: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / stage / f"{key}{suffix}"

    def get_arrays(self, stage: str, key: str) -> dict[str, Any] | None:
        """Cached arrays and JSON metadata of a stage, or None."""
        path = self._path(stage, key, ".npz")
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                out: dict[str, Any] = {k: data[k] for k in data.files if k != "__meta__"}
                if "__meta__" in data.files:
                    out["__meta__"] = json.loads(str(data["__meta__"]))
            return out
        except (OSError, ValueError, json.JSONDecodeError):
            return None

    def put_arrays(self, stage: str, key: str, arrays: dict[str, Any], meta: Any = None) -> None:
        """Store arrays (None values skipped) plus JSON metadata."""
        path = self._path(stage, key, ".npz")
        if path is None:
            return
        payload = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
        payload["__meta__"] = np.asarray(json.dumps(meta, default=str))
        write_atomic(path, lambda tmp: np.savez(tmp, **payload))  # type: ignore[arg-type]

    def get_frame(self, stage: str, key: str) -> pd.DataFrame | None:
        """Cached table of a stage, or None."""
        path = self._path(stage, key, ".parquet")
        if path is None or not path.is_file():
            return None
        try:
            return pd.read_parquet(path)
        except Exception:  # a damaged cache entry is simply recomputed
            return None

    def put_frame(self, stage: str, key: str, df: pd.DataFrame) -> None:
        """Store a table."""
        path = self._path(stage, key, ".parquet")
        if path is None:
            return
        write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))
