"""fetch sdss against a local server that replays recorded SkyServer answers."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from compute.errors import ZcellsInputError
from compute.fetch.http import RetryPolicy, make_session
from compute.fetch.sdss import chunk_folder, fetch_sdss
from compute.fetch.sdss_sql import SQL_COLUMNS, build_sql
from tests.test_fetch_server import Reply, Request, serving

FIXTURES = Path(__file__).parent / "fixtures" / "fetch"
RECORDED = (FIXTURES / "skyserver_mgs_sample.csv").read_text()
HEADER = RECORDED.splitlines()[1]
ROWS = RECORDED.splitlines()[2:]
FAST = RetryPolicy(retries=3, backoff=0.01, backoff_max=0.05, retry_after_max=3.0, body_retries=1)
ENDPOINT = "/dr12/SkyServerWS/SearchTools/SqlSearch"

CONTRACT = {
    "objid",
    "specobjid",
    "ra",
    "dec",
    "zspec",
    "u",
    "g",
    "r",
    "i",
    "z",
    "err_u",
    "err_g",
    "err_r",
    "err_i",
    "err_z",
    "cmodel_r",
    "petro_r",
    "frac_dev_r",
    "exp_ab_r",
    "zphot_b16",
}


def ra_key(request: Request) -> str:
    """The RA slice a query asks for, e.g. ``90.0-180.0``; ``all`` without a slice."""
    match = re.search(r"p\.ra >= ([\d.]+) AND p\.ra < ([\d.]+)", request.params.get("cmd", ""))
    return f"{match.group(1)}-{match.group(2)}" if match else "all"


class FakeSkyServer:
    """Serves the recorded sample, sliced by the query's RA range and TOP n.

    ``script[key]`` holds replies served first (in order) for requests with that RA key.
    """

    def __init__(self, rows: list[str] | None = None) -> None:
        self.rows = list(ROWS if rows is None else rows)
        self.script: dict[str, list[Reply]] = defaultdict(list)
        self.broken: set[str] = set()  # keys answered with 500 every time

    def __call__(self, request: Request) -> Reply:
        assert request.path == ENDPOINT
        assert request.params.get("format") == "csv"
        cmd = request.params["cmd"]
        assert "FROM SpecObj AS s" in cmd
        key = ra_key(request)
        if self.script[key]:
            return self.script[key].pop(0)
        if key in self.broken:
            return Reply(500, b"Internal error: the database is down")
        rows = self.rows
        match = re.search(r"p\.ra >= ([\d.]+) AND p\.ra < ([\d.]+)", cmd)
        if match:
            lo, hi = float(match.group(1)), float(match.group(2))
            rows = [r for r in rows if lo <= float(r.split(",")[2]) < hi]
        top = re.search(r"SELECT TOP (\d+)", cmd)
        if top:
            rows = rows[: int(top.group(1))]
        body = "#Table1\n" + HEADER + "\n" + "".join(r + "\n" for r in rows)
        return Reply(200, body.encode(), {"Content-Type": "text/plain"})


def expected_catalog() -> pd.DataFrame:
    """The recorded rows as exact Python values, sorted by objid."""
    records = []
    for line in ROWS:
        fields = line.split(",")
        records.append((int(fields[0]), int(fields[1]), float(fields[2]), fields[19]))
    return pd.DataFrame(records, columns=["objid", "specobjid", "ra", "zphot"]).sort_values("objid")


def run_fetch(server, out: Path, **kw) -> Path:
    kw.setdefault("chunks", 4)
    kw.setdefault("min_interval", 0.0)
    kw.setdefault("progress", False)
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", (2.0, 5.0))
    return fetch_sdss(
        out, base_url=server.url + "/{release}/SkyServerWS/SearchTools/SqlSearch", **kw
    )


# --- the SQL template -----------------------------------------------------------------------


def test_sql_columns_cover_the_catalogue_contract() -> None:
    canonical = [c.canonical for c in SQL_COLUMNS]
    assert set(canonical) == CONTRACT
    assert len(canonical) == len(set(canonical))
    assert {c.canonical for c in SQL_COLUMNS if c.dtype == "int64"} == {"objid", "specobjid"}
    sql = build_sql("dr12")
    for col in SQL_COLUMNS:
        assert col.select_item() in sql
    # the paper's selection, dereddened magnitudes, the B16 photo-z by LEFT JOIN
    for clause in (
        "s.class = 'GALAXY'",
        "(s.legacy_target1 & 64) != 0",
        "s.zWarning = 0",
        "s.z <= 0.4",
        "p.petroMag_r - p.extinction_r <= 17.8",
        "LEFT OUTER JOIN Photoz AS pz ON pz.objID = p.objID",
        "JOIN PhotoObj AS p ON p.objID = s.bestObjID",
        "p.modelMag_g - p.extinction_g AS dered_g",
        "pz.z AS zphot_b16",
        "p.cModelMag_r - p.extinction_r AS dered_cModelMag_r",
    ):
        assert clause in sql
    assert "TOP" not in sql and "p.ra >=" not in sql and "--" not in sql
    assert build_sql("dr12", max_rows=7).startswith("SELECT TOP 7\n")
    assert "AND p.ra >= 7.5 AND p.ra < 15.0" in build_sql("dr12", ra_range=(7.5, 15.0))
    # the recorded answer has exactly the template's columns
    assert HEADER.split(",") == [c.name for c in SQL_COLUMNS]


def test_docs_show_the_sql_template() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "real-data.md").read_text()
    assert build_sql("dr12") in doc
    for command in ("zcells fetch sdss", "zcells fetch cutouts", "zcells build", "zcells serve"):
        assert command in doc


@pytest.mark.parametrize("release", ["dr5", "12", "galaxy", ""])
def test_bad_release_is_refused(release: str) -> None:
    with pytest.raises(ZcellsInputError, match="release"):
        build_sql(release)


# --- happy path --------------------------------------------------------------------------------


def test_chunks_assemble_into_an_exact_canonical_catalogue(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    with serving(fake) as server:
        out = run_fetch(server, tmp_path / "catalog.parquet")
        assert server.count() == 4
        keys = sorted(ra_key(r) for r in server.requests)
    assert keys == sorted(["0.0-90.0", "90.0-180.0", "180.0-270.0", "270.0-360.0"])
    df = pd.read_parquet(out)
    assert list(df.columns) == [c.canonical for c in SQL_COLUMNS]
    assert len(df) == len(ROWS) == 12
    assert df.objid.dtype == np.int64 and df.specobjid.dtype == np.int64
    assert all(df[c].dtype == np.float64 for c in CONTRACT - {"objid", "specobjid"})
    exp = expected_catalog()
    # ids survive exactly, including values above 2^53 that float64 would round
    assert df.objid.tolist() == exp.objid.tolist()
    assert df.specobjid.tolist() == exp.specobjid.tolist()
    assert any(int(float(v)) != v for v in exp.specobjid.tolist())
    assert all(v > 2**53 for v in df.specobjid.tolist())
    assert df.ra.tolist() == exp.ra.tolist()
    assert (df.ra == 90.0).sum() == 1  # on a slice boundary, fetched once
    # NULL (no Photoz row) and the -9999 sentinel become NaN; other values as recorded
    zp = dict(zip(exp.objid, exp.zphot, strict=True))
    for objid, value in zip(df.objid, df.zphot_b16, strict=True):
        if zp[objid] in ("", "-9999"):
            assert np.isnan(value)
        else:
            assert value == float(zp[objid])
    assert not chunk_folder(out).exists()
    meta = pq.read_schema(out).metadata
    assert meta[b"zcells.release"] == b"dr12"
    assert b"legacy_target1" in meta[b"zcells.query"]
    assert not list(tmp_path.glob(".*tmp"))


def test_max_rows_is_one_top_query(tmp_path: Path) -> None:
    with serving(FakeSkyServer()) as server:
        out = run_fetch(server, tmp_path / "quick.parquet", max_rows=5)
        assert server.count() == 1
        cmd = server.requests[0].params["cmd"]
    assert cmd.startswith("SELECT TOP 5") and "p.ra >=" not in cmd
    assert len(pd.read_parquet(out)) == 5
    with pytest.raises(ZcellsInputError, match="max-rows"):
        fetch_sdss(tmp_path / "x.parquet", max_rows=600_000, base_url="http://127.0.0.1:9/")


def test_min_interval_spaces_requests(tmp_path: Path) -> None:
    with serving(FakeSkyServer()) as server:
        run_fetch(server, tmp_path / "c.parquet", min_interval=0.15)
        starts = sorted(r.at for r in server.requests)
    assert len(starts) == 4
    assert min(np.diff(starts)) >= 0.13


def test_a_chunk_at_the_row_limit_is_split(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    with serving(fake) as server:
        out = run_fetch(server, tmp_path / "c.parquet", row_limit=3)
        keys = [ra_key(r) for r in server.requests]
    # every 90-degree slice holds 3 rows (= the limit), so each is asked again in two halves
    assert len(keys) == 4 + 8
    assert "0.0-45.0" in keys and "315.0-360.0" in keys
    df = pd.read_parquet(out)
    assert len(df) == 12 and df.objid.is_unique
    assert sorted(df.objid) == sorted(expected_catalog().objid)


def test_row_limit_split_gives_up_after_max_depth(tmp_path: Path) -> None:
    dense = [
        ",".join(["1237648720693755918", "299489677444933634", "10.0"] + r.split(",")[3:])
        for r in ROWS[:1]
    ]
    dense = [
        d.replace("1237648720693755918", str(1237648720693755918 + k))
        for k in range(4)
        for d in dense
    ]
    with serving(FakeSkyServer(dense)) as server:
        with pytest.raises(ZcellsInputError, match="row limit.*halvings"):
            run_fetch(server, tmp_path / "c.parquet", chunks=1, row_limit=2)
        # 360 -> 180 -> ... -> 5.625 degrees (depth 6): 7 halvings asked, plus [0, 5.625), empty
        assert server.count() == 8


# --- retries -------------------------------------------------------------------------------------


def test_503_then_success_and_429_with_retry_after(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    html = (FIXTURES / "skyserver_error_page.html").read_bytes()
    fake.script["90.0-180.0"] = [Reply(503, html, {"Content-Type": "text/html"})]
    fake.script["180.0-270.0"] = [Reply(429, b"slow down", {"Retry-After": "1"})]
    with serving(fake) as server:
        t0 = time.monotonic()
        out = run_fetch(server, tmp_path / "c.parquet")
        elapsed = time.monotonic() - t0
        assert server.count() == 6
        retried = [r.at for r in server.requests if ra_key(r) == "180.0-270.0"]
    assert len(retried) == 2 and retried[1] - retried[0] >= 0.95  # Retry-After honoured
    assert elapsed >= 0.95
    assert len(pd.read_parquet(out)) == 12


def test_timeout_then_success(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    fake.script["0.0-90.0"] = [Reply(200, b"#Table1\n", delay=1.2)]
    with serving(fake) as server:
        out = run_fetch(server, tmp_path / "c.parquet", timeout=(1.0, 0.3))
        assert server.count(lambda r: ra_key(r) == "0.0-90.0") == 2
    assert len(pd.read_parquet(out)) == 12


def test_timeouts_every_time_give_a_clear_error(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    fake.script["0.0-90.0"] = [Reply(200, b"", delay=0.6) for _ in range(4)]
    with serving(fake) as server:
        with pytest.raises(ZcellsInputError) as info:
            run_fetch(server, tmp_path / "c.parquet", timeout=(1.0, 0.2))
        assert server.count() == 1 + FAST.retries
    message = str(info.value)
    assert not chunk_folder(tmp_path / "c.parquet").exists()  # nothing finished: no folder left
    assert "no answer from" in message and "127.0.0.1" in message and "ra [0, 90)" in message
    assert "timed out" in message.lower()
    assert not (tmp_path / "c.parquet").exists()


def test_cut_off_transfer_is_retried(tmp_path: Path) -> None:
    fake = FakeSkyServer()
    good = fake(
        Request(ENDPOINT, {"format": "csv", "cmd": build_sql("dr12", ra_range=(0.0, 90.0))}, 0)
    )
    fake.script["0.0-90.0"] = [Reply(200, good.body, cut_at=len(good.body) // 2)]
    with serving(fake) as server:
        out = run_fetch(server, tmp_path / "c.parquet")
        assert server.count(lambda r: ra_key(r) == "0.0-90.0") == 2
    assert len(pd.read_parquet(out)) == 12


# --- answers that are not the expected CSV ------------------------------------------------------


def ragged(body: bytes) -> bytes:
    """A 200 answer whose last line stops mid-row (what a dropped query looks like)."""
    text = body.decode()
    return text[: text.rstrip("\n").rfind(",", 0, len(text) - 40)].encode()


def fails_with(tmp_path: Path, replies: list[Reply], key: str = "90.0-180.0") -> tuple[str, int]:
    fake = FakeSkyServer()
    fake.script[key] = replies
    with serving(fake) as server:
        with pytest.raises(ZcellsInputError) as info:
            run_fetch(server, tmp_path / "c.parquet")
        n = server.count(lambda r: ra_key(r) == key)
    assert not (tmp_path / "c.parquet").exists()
    # the first slice finished and is kept for a resume
    assert len(list(chunk_folder(tmp_path / "c.parquet").glob("*.parquet"))) == 1
    return str(info.value), n


def test_html_error_page_is_reported(tmp_path: Path) -> None:
    html = (FIXTURES / "skyserver_error_page.html").read_bytes()
    message, n = fails_with(tmp_path, [Reply(200, html, {"Content-Type": "text/html"})])
    assert n == 1
    assert "HTML page, not CSV" in message
    assert "Server Error in '/dr12/SkyServerWS' Application" in message
    assert (
        "ra [90, 180)" in message
        and "127.0.0.1" in message
        and "<" not in message.split(": ", 1)[1][:40]
    )


def test_persistent_http_error_names_url_status_and_body(tmp_path: Path) -> None:
    html = (FIXTURES / "skyserver_error_page.html").read_bytes()
    message, n = fails_with(tmp_path, [Reply(500, html, {"Content-Type": "text/html"})] * 4)
    assert n == 1 + FAST.retries
    assert "HTTP 500" in message and "Runtime Error" in message
    assert "http://127.0.0.1:" in message and "SqlSearch" in message


def test_sql_error_message_is_reported(tmp_path: Path) -> None:
    body = (FIXTURES / "skyserver_sql_error.txt").read_bytes()
    message, n = fails_with(tmp_path, [Reply(200, body)])
    assert n == 1  # an SQL error is not retried
    assert "error message, not CSV" in message
    assert "Invalid column name 'petroMag_rr'" in message


def test_ragged_last_line_is_retried_then_reported(tmp_path: Path) -> None:
    good = FakeSkyServer()(
        Request(ENDPOINT, {"format": "csv", "cmd": build_sql("dr12", ra_range=(90.0, 180.0))}, 0)
    )
    cut = ragged(good.body)
    message, n = fails_with(tmp_path, [Reply(200, cut)] * 2)
    assert n == 1 + FAST.body_retries
    assert "cut off (ragged last line)" in message
    assert "line 5 has" in message  # #Table1, header, then rows 3..5
    assert "expected 20 fields" in message


def test_ragged_last_line_once_then_good(tmp_path: Path) -> None:
    good = FakeSkyServer()(
        Request(ENDPOINT, {"format": "csv", "cmd": build_sql("dr12", ra_range=(90.0, 180.0))}, 0)
    )
    fake = FakeSkyServer()
    fake.script["90.0-180.0"] = [Reply(200, ragged(good.body))]
    with serving(fake) as server:
        out = run_fetch(server, tmp_path / "c.parquet")
        assert server.count() == 5
    assert len(pd.read_parquet(out)) == 12


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = HEADER.replace(",zphot_b16", "")
    body = "#Table1\n" + header + "\n" + "\n".join(r.rsplit(",", 1)[0] for r in ROWS[3:6]) + "\n"
    message, _ = fails_with(tmp_path, [Reply(200, body.encode())])
    assert "missing columns ['zphot_b16']" in message


def test_unparseable_value_names_column_and_line(tmp_path: Path) -> None:
    rows = list(ROWS[3:6])
    rows[1] = rows[1].replace(rows[1].split(",")[4], "abc", 1)
    body = "#Table1\n" + HEADER + "\n" + "\n".join(rows) + "\n"
    message, _ = fails_with(tmp_path, [Reply(200, body.encode())])
    assert "column z (zspec)" in message and "line 4: 'abc'" in message


def test_rows_breaking_the_selection_are_refused(tmp_path: Path) -> None:
    rows = list(ROWS)
    fields = rows[0].split(",")
    fields[4] = "0.55"
    rows[0] = ",".join(fields)
    with serving(FakeSkyServer(rows)) as server:
        with pytest.raises(ZcellsInputError, match=rf"zspec <= 0.4.*objid {fields[0]}"):
            run_fetch(server, tmp_path / "c.parquet")


# --- interruption and resume ---------------------------------------------------------------------


def test_interrupted_fetch_resumes_without_refetching(tmp_path: Path) -> None:
    out = tmp_path / "catalog.parquet"
    fake = FakeSkyServer()
    fake.broken.add("180.0-270.0")  # the server fails hard on the third chunk
    with serving(fake) as server:
        with pytest.raises(ZcellsInputError, match="HTTP 500"):
            run_fetch(server, out)
        first = [ra_key(r) for r in server.requests]
        assert not out.exists()
        stored = sorted(p.name for p in chunk_folder(out).glob("*.parquet"))
        assert len(stored) == 2 and "ra000.000000-090.000000" in stored[0]
        fake.broken.clear()
        run_fetch(server, out)
        second = [ra_key(r) for r in server.requests][len(first) :]
    assert first[:2] == ["0.0-90.0", "90.0-180.0"]
    assert second == ["180.0-270.0", "270.0-360.0"]  # finished chunks are not fetched again
    df = pd.read_parquet(out)
    assert len(df) == 12 and df.objid.is_unique
    assert sorted(df.objid) == sorted(expected_catalog().objid)
    assert not chunk_folder(out).exists()


class InterruptingSession:
    """Wraps a session; raises KeyboardInterrupt on the n-th GET (a user pressing Ctrl-C)."""

    def __init__(self, n: int) -> None:
        self.session = make_session(FAST)
        self.n = n
        self.calls = 0

    def get(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.session.get(*args, **kwargs)


def test_ctrl_c_between_chunks_then_resume_including_splits(tmp_path: Path) -> None:
    out = tmp_path / "catalog.parquet"
    with serving(FakeSkyServer()) as server:
        with pytest.raises(KeyboardInterrupt):
            run_fetch(server, out, row_limit=3, session=InterruptingSession(4))
        # 0-90 was split (marker) and both halves finished; 90-180 split, its first half stopped
        n_first = server.count()
        assert n_first == 3
        assert len(list(chunk_folder(out).glob("*.split"))) == 1
        run_fetch(server, out, row_limit=3)
        resumed = [ra_key(r) for r in server.requests][n_first:]
    assert "0.0-90.0" not in resumed and "0.0-45.0" not in resumed and "45.0-90.0" not in resumed
    assert resumed[0] == "90.0-180.0"
    df = pd.read_parquet(out)
    assert len(df) == 12 and df.objid.is_unique


def test_chunks_of_another_query_are_not_reused(tmp_path: Path) -> None:
    out = tmp_path / "catalog.parquet"
    folder = chunk_folder(out)
    folder.mkdir()
    (folder / "chunk_000000000000_ra000.000000-090.000000.parquet").write_bytes(b"junk")
    with serving(FakeSkyServer()) as server:
        run_fetch(server, out)
        assert server.count() == 4
    assert len(pd.read_parquet(out)) == 12
    assert (folder / "chunk_000000000000_ra000.000000-090.000000.parquet").exists()


def test_readme_shows_the_sql_template() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert build_sql("dr12") in readme
    for c in SQL_COLUMNS:
        assert c.name in readme
