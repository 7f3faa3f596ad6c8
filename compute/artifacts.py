"""The artifacts folder: the only contract between ``compute`` and ``app`` (write atomically, load with checks)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compute.atomic import replace_folder
from compute.errors import ArtifactsError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
GALAXIES = "galaxies.parquet"
CELLS = "cells.parquet"
SOM = "som.npz"
GLOBAL = "global.json"
MEMBERS = "members.npz"
REPRESENTATIVES = "representatives.parquet"

#: columns every cells.parquet carries (one row per (cell, method))
CELL_COLUMNS = (
    "cell", "cell_x", "cell_y", "method", "n", "mean_zspec", "mean_bt", "sigma_nmad",
    "sigma_atten", "sigma_scatter", "outlier_fraction", "bias", "slope", "intercept",
    "slope_err", "intercept_err", "theta_deg", "theta_err", "sig_int", "n_clipped", "status",
)
#: columns every galaxies.parquet carries, besides zphot_<method> and friends
GALAXY_COLUMNS = ("objid", "ra", "dec", "zspec", "split", "cell", "cell_x", "cell_y", "bt", "in_sample")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the results, for the manifest."""
    from importlib import metadata

    out: dict[str, str] = {}
    for name in ("zcells", "numpy", "scipy", "pandas", "pyarrow", "astropy", "scikit-learn",
                 "minisom", "torch", "galsim", "speclite"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass
class ArtifactSet:
    """Everything a build produces, in memory, ready to be written."""

    galaxies: pd.DataFrame
    cells: pd.DataFrame
    som: dict[str, np.ndarray]
    global_metrics: dict[str, Any]
    members_order: np.ndarray
    members_offsets: np.ndarray
    representatives: pd.DataFrame
    pz: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def _check_columns(df: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


def write(artifacts: ArtifactSet, out: str | os.PathLike[str]) -> Path:
    """Write the artifacts folder atomically: a temporary sibling folder, then a rename.

    The manifest, with the checksum of every other file, is written last, so a folder
    with a manifest is always complete. An existing folder at ``out`` is replaced only
    once the new one is complete.

    Returns
    -------
    Path
        The artifacts folder.
    """
    _check_columns(artifacts.cells, CELL_COLUMNS, "cells table")
    _check_columns(artifacts.galaxies, GALAXY_COLUMNS, "galaxies table")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        artifacts.galaxies.to_parquet(tmp / GALAXIES, index=False)
        artifacts.cells.to_parquet(tmp / CELLS, index=False)
        artifacts.representatives.to_parquet(tmp / REPRESENTATIVES, index=False)
        np.savez(tmp / SOM, **artifacts.som)  # type: ignore[arg-type]
        np.savez(tmp / MEMBERS, order=artifacts.members_order, offsets=artifacts.members_offsets)
        for method, arrays in artifacts.pz.items():
            np.savez(tmp / f"pz_{method}.npz", **arrays)  # type: ignore[arg-type]
        (tmp / GLOBAL).write_text(json.dumps(artifacts.global_metrics, indent=2, default=_json_default))
        manifest = dict(artifacts.manifest)
        manifest["schema_version"] = SCHEMA_VERSION
        manifest.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        manifest["files"] = {
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(tmp.iterdir())
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_json_default))
        os.chmod(tmp, 0o755)
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


@dataclass
class Artifacts:
    """A loaded artifacts folder (see :func:`load`)."""

    path: Path
    manifest: dict[str, Any]
    galaxies: pd.DataFrame
    cells: pd.DataFrame
    som: dict[str, np.ndarray]
    global_metrics: dict[str, Any]
    members_order: np.ndarray
    members_offsets: np.ndarray
    representatives: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        """Photo-z methods present, in manifest order."""
        return list(self.manifest.get("methods", {}).keys()) or sorted(self.cells["method"].unique())

    @property
    def shape(self) -> tuple[int, int]:
        """SOM grid shape (nx, ny)."""
        nx, ny = self.som["shape"]
        return int(nx), int(ny)

    def members(self, cell: int) -> np.ndarray:
        """Row indices (into ``galaxies``) of the galaxies in a cell."""
        lo, hi = self.members_offsets[cell], self.members_offsets[cell + 1]
        return self.members_order[lo:hi]

    def pz(self, method: str) -> dict[str, np.ndarray] | None:
        """The stored p(z) of a method: ``rows``, ``pz`` and ``edges`` arrays, or None."""
        path = self.path / f"pz_{method}.npz"
        if not path.is_file():
            return None
        with np.load(path) as data:
            return {k: data[k] for k in data.files}


def load(path: str | os.PathLike[str], verify: bool = True) -> Artifacts:
    """Load an artifacts folder, checking its schema version and file checksums.

    Parameters
    ----------
    path : path
        The folder written by :func:`write` (``zcells build --out``).
    verify : bool
        Check each file's SHA-256 against the manifest.

    Raises
    ------
    ArtifactsError
        With a message that says what is wrong and how to rebuild.
    """
    path = Path(path)
    hint = f"Build one with `zcells build --catalog FILE --out {path}` or `zcells demo`."
    if not path.is_dir():
        raise ArtifactsError(f"{path}: no artifacts folder here. {hint}")
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise ArtifactsError(f"{path}: {MANIFEST} is missing, so the folder is incomplete. {hint}")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactsError(f"{mpath}: corrupt manifest ({exc}). {hint}") from None
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactsError(
            f"{path}: artifacts schema version {version!r}, this zcells reads version "
            f"{SCHEMA_VERSION}. Rebuild them with this version. {hint}"
        )
    files = manifest.get("files", {})
    for name in (GALAXIES, CELLS, SOM, GLOBAL, MEMBERS, REPRESENTATIVES):
        if name not in files or not (path / name).is_file():
            raise ArtifactsError(f"{path}: {name} is missing. {hint}")
    if verify:
        for name, rec in files.items():
            fp = path / name
            if not fp.is_file():
                raise ArtifactsError(f"{path}: {name} is missing. {hint}")
            if sha256_file(fp) != rec.get("sha256"):
                raise ArtifactsError(
                    f"{fp}: checksum does not match the manifest; the file was changed or "
                    f"damaged after the build. {hint}"
                )
    try:
        galaxies = pd.read_parquet(path / GALAXIES)
        cells = pd.read_parquet(path / CELLS)
        reps = pd.read_parquet(path / REPRESENTATIVES)
        with np.load(path / SOM) as data:
            som = {k: data[k] for k in data.files}
        with np.load(path / MEMBERS) as data:
            order, offsets = data["order"], data["offsets"]
        global_metrics = json.loads((path / GLOBAL).read_text())
    except Exception as exc:  # pyarrow / numpy / json each raise their own types
        raise ArtifactsError(f"{path}: unreadable artifacts ({exc}). {hint}") from None
    return Artifacts(path, manifest, galaxies, cells, som, global_metrics, order, offsets, reps)
