"""The ``zcells fetch`` argparse front end, run against local replay servers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from compute.errors import ZcellsInputError
from compute.fetch import command
from tests.test_fetch_cutouts import FakeViewer, write_catalog
from tests.test_fetch_sdss import FakeSkyServer
from tests.test_fetch_server import serving


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zcells")
    subparsers = parser.add_subparsers(dest="command")
    command.add_parser(subparsers)
    return parser.parse_args(argv)


def test_parser_defaults() -> None:
    args = parse(["fetch", "sdss", "--out", "c.parquet"])
    assert (args.fetch_source, args.release, args.max_rows, args.chunks) == (
        "sdss",
        "dr12",
        None,
        24,
    )
    args = parse(["fetch", "cutouts", "--catalog", "c.parquet", "--out", "d"])
    assert (args.layer, args.pixscale, args.size, args.bands, args.workers) == (
        "ls-dr10",
        0.262,
        64,
        "grz",
        8,
    )
    with pytest.raises(SystemExit):
        parse(["fetch"])  # a source is required


def test_fetch_sdss_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "quick.parquet"
    with serving(FakeSkyServer()) as server:
        args = parse(
            [
                "fetch",
                "sdss",
                "--out",
                str(out),
                "--max-rows",
                "3",
                "--no-progress",
                "--min-interval",
                "0",
                "--base-url",
                server.url + "/{release}/SkyServerWS/SearchTools/SqlSearch",
            ]
        )
        assert command.run(args) == 0
        assert server.count() == 1
    assert len(pd.read_parquet(out)) == 3
    assert str(out) in capsys.readouterr().out
    with pytest.raises(ZcellsInputError, match="min-interval"):
        command.run(parse(["fetch", "sdss", "--out", str(out), "--min-interval", "-1"]))
    with pytest.raises(ZcellsInputError, match="release"):
        command.run(parse(["fetch", "sdss", "--out", str(out), "--release", "dr3"]))


def test_fetch_cutouts_command(tmp_path: Path) -> None:
    catalog = tmp_path / "cat.parquet"
    kinds = {10.0: "ok", 20.0: "broken"}
    write_catalog(catalog, kinds)
    with serving(FakeViewer(kinds)) as server:
        base = [
            "fetch",
            "cutouts",
            "--catalog",
            str(catalog),
            "--out",
            str(tmp_path / "o"),
            "--size",
            "16",
            "--no-progress",
            "--min-interval",
            "0",
            "--workers",
            "2",
            "--base-url",
            server.url + "/viewer",
            "--no-thumbs",
            "--retries",
            "1",
            "--backoff",
            "0.01",
        ]
        assert command.run(parse(base)) == 1  # one failed: flagged, exit 1
        assert server.count() == 1 + 2  # the broken one: one try and one retry
    with pytest.raises(ZcellsInputError, match="missing column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("id,ra,dec\n1,2,3\n")
        command.run(
            parse(["fetch", "cutouts", "--catalog", str(bad), "--out", str(tmp_path / "p")])
        )
