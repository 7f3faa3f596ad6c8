"""compute.atomic: all or nothing, readable, and the writer sees the target's suffix."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from compute.atomic import replace_folder, write_atomic, write_bytes_atomic


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_bytes_atomic(tmp_path / "x.bin", b"old")

    def boom(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_suffix_and_mode(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "sub" / "a.npz", lambda tmp: np.savez(tmp, a=np.arange(3)))
    with np.load(path) as f:  # np.savez would have written "<tmp>.npz" without the suffix
        assert f["a"].tolist() == [0, 1, 2]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.npz"]


def test_replace_folder_swaps_in_the_new_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for tag in ("first", "second"):
        new = tmp_path / f".new-{tag}"
        new.mkdir()
        (new / "tag.txt").write_text(tag)
        assert replace_folder(new, out) == out
        assert (out / "tag.txt").read_text() == tag
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # old copy and temp gone
