"""The one data-access module: loads artifacts once per process and memoises derived views.

The artifacts tables stay in process memory (loaded once, before gunicorn forks with
``--preload``); the derived, small results that callbacks need (grid values, a cell's points,
global 2-D histograms, trend tables) are memoised with flask-caching, so they are computed
once and shared by all workers (FileSystem cache by default, Redis when ``ZCELLS_REDIS_URL``
is set). Every function here needs a Flask app context (callbacks and layouts have one).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, current_app
from flask_caching import Cache

from app.numbers import fmt_number
from app.state import ColorBy, parse_color

cache = Cache()
_RUNS: dict[str, RunData] = {}
_ERRORS: dict[str, str] = {}
_LOCK = threading.Lock()
CONFIG_KEY = "ZCELLS_ARTIFACTS"
CACHE_TIMEOUT = 24 * 3600


@dataclass
class RunData:
    """A loaded run: the artifacts plus lookups built once."""

    art: Any  # compute.artifacts.Artifacts
    fingerprint: str
    objid_index: pd.Index
    cells_wide: pd.DataFrame  # index cell, columns (quantity, method)
    cell_records: dict[int, dict[str, dict[str, Any]]]  # cell -> method -> cells-table row

    @property
    def methods(self) -> list[str]:
        """Methods of the run, in manifest order."""
        return list(self.art.methods)

    @property
    def shape(self) -> tuple[int, int]:
        """SOM grid shape (nx, ny)."""
        return self.art.shape


def _fingerprint(path: Path, manifest: dict[str, Any]) -> str:
    files = manifest.get("files", {})
    text = str(path.resolve()) + "".join(f"{k}{v.get('sha256')}" for k, v in sorted(files.items()))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def load_run(artifacts_dir: str | os.PathLike[str], verify: bool = True) -> RunData:
    """Load (once per process) and index an artifacts folder.

    Raises
    ------
    compute.errors.ArtifactsError
        When the folder is missing, incomplete or corrupt.
    """
    from compute import artifacts

    key = str(Path(artifacts_dir).resolve())
    with _LOCK:
        if key in _RUNS:
            return _RUNS[key]
        art = artifacts.load(artifacts_dir, verify=verify)
        wide = art.cells.pivot(index="cell", columns="method")
        records: dict[int, dict[str, dict[str, Any]]] = {}
        for rec in art.cells.to_dict("records"):
            records.setdefault(int(rec["cell"]), {})[str(rec["method"])] = rec
        run = RunData(art=art, fingerprint=_fingerprint(Path(artifacts_dir), art.manifest),
                      objid_index=pd.Index(art.galaxies["objid"].to_numpy()), cells_wide=wide,
                      cell_records=records)
        _RUNS[key] = run
        return run


def bind(server: Flask, artifacts_dir: str | os.PathLike[str], *,
         redis_url: str | None = None, cache_dir: str | None = None) -> RunData | None:
    """Bind the cache to a Flask server and load its run; None (error recorded) when unloadable."""
    from compute.errors import ArtifactsError

    server.config[CONFIG_KEY] = str(Path(artifacts_dir).resolve())
    run: RunData | None = None
    try:
        run = load_run(artifacts_dir)
    except ArtifactsError as exc:
        _ERRORS[server.config[CONFIG_KEY]] = str(exc)
    prefix = f"zcells-{run.fingerprint if run else 'none'}-"
    redis_url = redis_url or os.environ.get("ZCELLS_REDIS_URL")
    config: dict[str, Any]
    if redis_url:
        config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
    else:
        base = cache_dir or os.environ.get("ZCELLS_CACHE_DIR") or tempfile.gettempdir()
        config = {"CACHE_TYPE": "FileSystemCache", "CACHE_THRESHOLD": 2000,
                  "CACHE_DIR": str(Path(base) / f"zcells-cache-{prefix.strip('-')}")}
    config.update(CACHE_KEY_PREFIX=prefix, CACHE_DEFAULT_TIMEOUT=CACHE_TIMEOUT)
    cache.init_app(server, config=config)
    return run


def load_error(artifacts_dir: str | os.PathLike[str]) -> str | None:
    """The message recorded when a folder could not be loaded, if any."""
    return _ERRORS.get(str(Path(artifacts_dir).resolve()))


def run() -> RunData:
    """The run bound to the current Flask app."""
    return _RUNS[current_app.config[CONFIG_KEY]]


# --------------------------------------------------------------------------- grid

def grid_values(run_: RunData, color: ColorBy) -> np.ndarray:
    """Values of a colour-by quantity, shaped (ny, nx) for a Heatmap (float32, NaN where none)."""
    nx, ny = run_.shape
    wide = run_.cells_wide
    cells = np.arange(nx * ny)

    def col(q: str, m: str) -> np.ndarray:
        if q == "atten_ratio":
            return col("sigma_atten", m) / col("sigma_nmad", m)
        return wide[(q, m)].reindex(cells).to_numpy(np.float64)

    first = run_.methods[0]
    if color.method is None:
        if color.quantity == "n":
            v = np.nanmax(np.stack([wide[("n", m)].reindex(cells).to_numpy(np.float64)
                                    for m in run_.methods]), axis=0)
        else:
            v = col(color.quantity, first)
    elif color.other is None:
        v = col(color.quantity, color.method)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = col(color.quantity, color.method) / col(color.quantity, color.other)
    v = np.where(np.isfinite(v), v, np.nan)
    return v.reshape(nx, ny).T.astype(np.float32)


@cache.memoize(timeout=CACHE_TIMEOUT)
def grid(color_key: str) -> dict[str, Any]:
    """Memoised grid values and label for a colour-by key (invalid keys fall back to mean z_spec)."""
    r = run()
    color = parse_color(color_key, r.methods) or ColorBy("mean_zspec")
    return {"z": grid_values(r, color), "label": color.label, "key": color.key}


def grid_hover(run_: RunData) -> np.ndarray:
    """Per-cell hover text, shaped (ny, nx)."""
    nx, ny = run_.shape
    wide = run_.cells_wide
    text = np.empty((ny, nx), dtype=object)
    for k in range(nx * ny):
        x, y = divmod(k, ny)
        lines = [f"cell {k} ({x}, {y})"]
        if k in wide.index:
            row = wide.loc[k]
            m0 = run_.methods[0]
            lines.append(f"n = {int(row[('n', m0)])}, ⟨z⟩ = {fmt_number(row[('mean_zspec', m0)], 3)}, "
                         f"⟨B/T⟩ = {fmt_number(row[('mean_bt', m0)], 2)}")
            for m in run_.methods:
                lines.append(f"{m}: σ={fmt_number(row[('sigma_nmad', m)], 4)} "
                             f"θ={fmt_number(row[('theta_deg', m)], 1)}°")
        text[y, x] = "<br>".join(lines)
    return text


# --------------------------------------------------------------------------- cells

def cell_rows(cell: int) -> dict[str, dict[str, Any]]:
    """The cells-table rows of a cell as ``{method: {column: value}}`` (empty when none)."""
    return run().cell_records.get(int(cell), {})


@cache.memoize(timeout=CACHE_TIMEOUT)
def cell_points(cell: int) -> dict[str, Any]:
    """The in-sample galaxies of a cell: zspec, and per method zphot, clipped and pit (float32)."""
    r = run()
    g = r.art.galaxies
    rows = np.asarray(r.art.members(cell))
    rows = rows[g["in_sample"].to_numpy()[rows]]
    out: dict[str, Any] = {"rows": rows, "zspec": g["zspec"].to_numpy(np.float32)[rows],
                           "bt": g["bt"].to_numpy(np.float32)[rows], "methods": {}}
    for m in r.methods:
        pit_col = f"pit_{m}"
        out["methods"][m] = {
            "zphot": g[f"zphot_{m}"].to_numpy(np.float32)[rows],
            "clipped": (g[f"clipped_{m}"].to_numpy(bool)[rows] if f"clipped_{m}" in g
                        else np.zeros(rows.size, bool)),
            "pit": g[pit_col].to_numpy(np.float32)[rows] if pit_col in g else None,
        }
    return out


def member_table(cell: int) -> pd.DataFrame:
    """All galaxies of a cell for export: objid, ra, dec, zspec, split, and zphot per method."""
    r = run()
    g = r.art.galaxies
    rows = np.asarray(r.art.members(cell))
    cols = ["objid", "ra", "dec", "zspec", "split", "in_sample", "bt"]
    cols += [f"zphot_{m}" for m in r.methods if f"zphot_{m}" in g]
    return g.iloc[rows][[c for c in cols if c in g]].reset_index(drop=True)


def representatives(cell: int, limit: int) -> pd.DataFrame:
    """Up to ``limit`` galaxies of a cell for the gallery: representatives first, then the rest."""
    r = run()
    g = r.art.galaxies
    reps = r.art.representatives
    first = reps[reps["cell"] == cell].sort_values("rank")["row"].to_numpy()
    if first.size < limit:
        members = np.asarray(r.art.members(cell))
        rest = members[~np.isin(members, first)]
        if "qdist" in g:
            rest = rest[np.argsort(g["qdist"].to_numpy()[rest], kind="stable")]
        first = np.concatenate([first, rest])
    rows = first[:limit]
    cols = ["objid", "ra", "dec", "zspec", "bt"] + [c for c in g.columns if c.startswith("true_")]
    out = g.iloc[rows][[c for c in cols if c in g]].copy()
    out["row"] = rows
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- global

@cache.memoize(timeout=CACHE_TIMEOUT)
def global_density(method: str, bins: int = 120) -> dict[str, np.ndarray]:
    """2-D histogram of z_phot vs z_spec for the in-sample galaxies of a method."""
    g = run().art.galaxies
    ins = g["in_sample"].to_numpy()
    zs = g["zspec"].to_numpy(np.float32)[ins]
    zp = g[f"zphot_{method}"].to_numpy(np.float32)[ins]
    ok = np.isfinite(zs) & np.isfinite(zp)
    hi = float(max(np.nanmax(zs[ok]) if ok.any() else 0.4, 0.05)) * 1.05
    edges = np.linspace(0, hi, bins + 1, dtype=np.float32)
    h, _, _ = np.histogram2d(zs[ok], zp[ok], bins=[edges, edges])
    return {"counts": h.T.astype(np.float32), "edges": edges}


# --------------------------------------------------------------------------- trends

def trend_table() -> pd.DataFrame:
    """Per-cell wide table for the trends: mean_bt, mean_zspec, n and per-method statistics."""
    r = run()
    wide = r.cells_wide
    m0 = r.methods[0]
    out = pd.DataFrame({"cell": wide.index.to_numpy(),
                        "mean_bt": wide[("mean_bt", m0)].to_numpy(np.float64),
                        "mean_zspec": wide[("mean_zspec", m0)].to_numpy(np.float64)})
    for m in r.methods:
        for q in ("sigma_nmad", "theta_deg", "theta_err", "sigma_atten", "sigma_scatter",
                  "outlier_fraction", "n", "status"):
            out[f"{q}:{m}"] = wide[(q, m)].to_numpy()
    return out
