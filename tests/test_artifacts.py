"""Artifacts folder: atomic write, manifest checksums and clear load errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compute import artifacts
from compute.errors import ArtifactsError


def _small_set() -> artifacts.ArtifactSet:
    n = 20
    gal = pd.DataFrame({
        "objid": np.arange(n, dtype=np.int64), "ra": np.zeros(n), "dec": np.zeros(n),
        "zspec": np.linspace(0.01, 0.3, n), "split": ["test"] * n, "cell": np.arange(n) % 4,
        "cell_x": (np.arange(n) % 4) // 2, "cell_y": np.arange(n) % 2, "bt": np.zeros(n),
        "in_sample": np.ones(n, bool), "zphot_a": np.linspace(0.01, 0.3, n),
    })
    cells = pd.DataFrame({c: [0] for c in artifacts.CELL_COLUMNS})
    order = np.argsort(gal["cell"].to_numpy(), kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(gal["cell"], minlength=4))])
    return artifacts.ArtifactSet(
        galaxies=gal, cells=cells, som={"weights": np.zeros((2, 2, 4)), "shape": np.array([2, 2])},
        global_metrics={"methods": {}}, members_order=order, members_offsets=offsets,
        representatives=pd.DataFrame({"cell": [0], "rank": [0], "row": [0], "objid": [0]}),
        manifest={"methods": {"a": {}}},
    )


def test_round_trip_and_members(tmp_path: Path) -> None:
    out = artifacts.write(_small_set(), tmp_path / "arts")
    arts = artifacts.load(out)
    assert arts.shape == (2, 2) and arts.methods == ["a"]
    members = arts.members(3)
    assert sorted(members.tolist()) == [i for i in range(20) if i % 4 == 3]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == artifacts.SCHEMA_VERSION
    assert set(manifest["files"]) >= {"galaxies.parquet", "cells.parquet", "som.npz"}


def test_rewrite_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "arts"
    artifacts.write(_small_set(), out)
    artifacts.write(_small_set(), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arts"]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    aset = _small_set()
    aset.global_metrics = {"bad": object.__new__(type("X", (), {"__str__": None}))}
    with pytest.raises(TypeError):
        artifacts.write(aset, tmp_path / "arts")
    assert list(tmp_path.iterdir()) == []


def test_tampered_file_is_named(tmp_path: Path) -> None:
    out = artifacts.write(_small_set(), tmp_path / "arts")
    with open(out / "cells.parquet", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactsError, match="cells.parquet: checksum does not match"):
        artifacts.load(out)


def test_schema_version_and_missing_files(tmp_path: Path) -> None:
    out = artifacts.write(_small_set(), tmp_path / "arts")
    m = json.loads((out / "manifest.json").read_text())
    m["schema_version"] = 99
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactsError, match="schema version 99"):
        artifacts.load(out)
    (out / "manifest.json").unlink()
    with pytest.raises(ArtifactsError, match="manifest.json is missing"):
        artifacts.load(out)
    with pytest.raises(ArtifactsError, match="no artifacts folder"):
        artifacts.load(tmp_path / "nowhere")
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactsError, match="corrupt manifest"):
        artifacts.load(out)
