"""fetch cutouts against a local server that plays the Legacy Surveys viewer."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from compute.errors import ZcellsInputError
from compute.fetch.cutouts import (
    STATUS_FILE,
    cutout_fits_url,
    cutout_jpeg_url,
    fetch_cutouts,
    fetch_jpeg,
)
from compute.fetch.http import RetryPolicy, make_session
from compute.fetch.positions import read_positions
from compute.imagecube import open_cube
from tests.test_fetch_server import Reply, Request, serving

FAST = RetryPolicy(retries=2, backoff=0.01, backoff_max=0.05, retry_after_max=1.0, body_retries=1)
SIZE = 16
BIG_ID = 1237648720693755918  # > 2^53: float64 would make it ...904


def fits_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    hdu = fits.PrimaryHDU(image.astype(np.float32))
    hdu.header["BANDS"] = "grz"
    hdu.writeto(buf)
    return buf.getvalue()


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def image_for(ra: float) -> np.ndarray:
    """The (3, SIZE, SIZE) image the fake viewer serves at this RA."""
    rng = np.random.default_rng(int(ra * 1000))
    return rng.normal(1.0, 0.3, (3, SIZE, SIZE)).astype(np.float32)


class FakeViewer:
    """Answers cutout.fits / cutout.jpg by the kind of galaxy at that RA.

    kinds: ok, off (all zeros: outside the footprint), partial (z band empty), missing (404),
    flaky (503 once, then ok), broken (500 every time), html (an HTML page with status 200).
    """

    def __init__(self, kinds: dict[float, str]) -> None:
        self.kinds = kinds
        self.seen: dict[tuple[str, float], int] = defaultdict(int)

    def __call__(self, request: Request) -> Reply:
        match = re.fullmatch(r"/viewer/cutout\.(fits|jpg)", request.path)
        assert match, request.path
        ext = match.group(1)
        p = request.params
        assert p["layer"] == "ls-dr10" and p["pixscale"] == "0.262"
        ra = float(p["ra"])
        kind = self.kinds[ra]
        self.seen[(ext, ra)] += 1
        if kind == "missing":
            return Reply(404, b"no such cutout")
        if kind == "broken":
            return Reply(
                500,
                b"<html><title>Internal Server Error</title></html>",
                {"Content-Type": "text/html"},
            )
        if kind == "html":
            return Reply(
                200, b"<html><body>Maintenance</body></html>", {"Content-Type": "text/html"}
            )
        if kind == "flaky" and self.seen[(ext, ra)] == 1:
            return Reply(503, b"busy")
        if ext == "fits":
            assert p["size"] == str(SIZE) and p["bands"] == "grz"
            image = image_for(ra)
            if kind == "off":
                image[:] = 0.0
            if kind == "partial":
                image[2] = np.nan
            return Reply(200, fits_bytes(image), {"Content-Type": "image/fits"})
        assert p["size"] == "96" and "bands" not in p
        rgb = np.zeros((96, 96, 3)) if kind == "off" else np.full((96, 96, 3), (ra * 7) % 200 + 30)
        return Reply(200, jpeg_bytes(rgb), {"Content-Type": "image/jpeg"})


def write_catalog(path: Path, kinds: dict[float, str]) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "objid": np.array([BIG_ID + 2 * k + 1 for k in range(len(kinds))], dtype=np.int64),
            "ra": list(kinds),
            "dec": [1.5] * len(kinds),
            "zspec": 0.1,
        }
    )
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return df


def run(server, catalog: Path, out: Path, **kw):
    kw.setdefault("workers", 3)
    kw.setdefault("min_interval", 0.0)
    kw.setdefault("progress", False)
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 5.0)
    return fetch_cutouts(catalog, out, size=SIZE, base_url=server.url + "/viewer", **kw)


KINDS = {10.0: "ok", 20.0: "off", 30.0: "missing", 40.0: "flaky", 50.0: "ok", 60.0: "partial"}


def test_cutouts_fill_the_cube_flag_problems_and_second_run_uses_the_cache(tmp_path: Path) -> None:
    catalog = tmp_path / "cat.parquet"
    cat = write_catalog(catalog, KINDS)
    out = tmp_path / "cut"
    fake = FakeViewer(KINDS)
    with serving(fake) as server:
        report = run(server, catalog, out)
        n_first = server.count()
        # 6 galaxies x (fits + jpg) + one 503 retry for each of the flaky one's two files
        assert n_first == 12 + 2
        status = pd.read_parquet(out / STATUS_FILE)
        cube = open_cube(out)
        images = np.array(cube.images)

        report2 = run(server, catalog, out)
        assert server.count() == n_first  # second run: zero HTTP requests
    assert report.fits == {"ok": 3, "off-footprint": 2, "missing": 1}
    assert report.thumbs == {"ok": 4, "off-footprint": 1, "missing": 1}
    assert report2.fits == report.fits and report2.thumbs == report.thumbs
    assert status.objid.tolist() == cat.objid.tolist()
    by_ra = dict(zip(status.ra, status.status, strict=True))
    assert by_ra == {
        10.0: "ok",
        20.0: "off-footprint",
        30.0: "missing",
        40.0: "ok",
        50.0: "ok",
        60.0: "off-footprint",
    }
    messages = dict(zip(status.ra, status.message, strict=True))
    assert "bands z" in messages[60.0] and "g, r, z" in messages[20.0]
    assert "HTTP 404" in messages[30.0] and "no such cutout" in messages[30.0]
    # the cube holds the good galaxies only, in catalogue order, with exact int64 ids
    ok_ras = [10.0, 40.0, 50.0]
    assert cube.objid.dtype == np.int64
    assert cube.objid.tolist() == [int(cat.objid[cat.ra == r].iloc[0]) for r in ok_ras]
    assert cube.objid[0] == BIG_ID + 1
    assert cube.bands == ["g", "r", "z"] and images.shape == (3, 3, SIZE, SIZE)
    for row, ra in enumerate(ok_ras):
        np.testing.assert_array_equal(images[row], image_for(ra))
    assert cube.meta["layer"] == "ls-dr10" and cube.meta["n_catalog"] == 6
    thumbs = sorted(p.name for p in (out / "thumbs").iterdir())
    ok_thumbs = cat.objid[cat.ra.isin([10.0, 40.0, 50.0, 60.0])]
    assert thumbs == sorted(f"{i}.jpg" for i in ok_thumbs)
    with Image.open(out / "thumbs" / f"{cat.objid[0]}.jpg") as img:
        assert img.size == (96, 96)
    assert not list(out.glob(".cube-tmp*"))


def test_failures_are_flagged_and_retried_by_the_next_run(tmp_path: Path) -> None:
    kinds = {10.0: "ok", 20.0: "broken", 30.0: "html"}
    catalog = tmp_path / "cat.csv"
    write_catalog(catalog, kinds)
    out = tmp_path / "cut"
    fake = FakeViewer(kinds)
    with serving(fake) as server:
        report = run(server, catalog, out)
        first = server.count()
        # ok: 2; broken: 2 files x (1 + 2 retries); html: 2
        assert first == 2 + 6 + 2
        status = pd.read_parquet(out / STATUS_FILE).set_index("ra")
        fake.kinds[20.0] = "ok"
        report2 = run(server, catalog, out)
        second = server.count() - first
    assert report.fits == {"ok": 1, "failed": 2} and report.n_failed == 4
    assert "HTTP 500" in status.message[20.0] and "Internal Server Error" in status.message[20.0]
    assert "not FITS" in status.message[30.0] and "Maintenance" in status.message[30.0]
    assert "127.0.0.1" in status.message[20.0]
    # only the failed ones are asked again; the html one still fails
    assert second == 2 + 2
    assert report2.fits == {"ok": 2, "failed": 1}
    assert len(open_cube(out).objid) == 2


def test_nothing_usable_is_an_error_but_the_status_is_written(tmp_path: Path) -> None:
    kinds = {10.0: "off", 20.0: "missing"}
    catalog = tmp_path / "cat.parquet"
    write_catalog(catalog, kinds)
    with serving(FakeViewer(kinds)) as server:
        with pytest.raises(ZcellsInputError, match="no usable FITS cutout.*off-footprint 1"):
            run(server, catalog, tmp_path / "cut", thumbs=False)
    status = pd.read_parquet(tmp_path / "cut" / STATUS_FILE)
    assert status.status.tolist() == ["off-footprint", "missing"]
    assert status.thumb_status.tolist() == ["skipped", "skipped"]
    assert not (tmp_path / "cut" / "images.npy").exists()


def test_catalog_checks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"objid": [1, 2], "RA": [1.0, 2.0]}).to_csv(bad, index=False)
    with pytest.raises(ZcellsInputError, match=r"bad.csv: missing column\(s\) dec"):
        read_positions(bad)
    floats = tmp_path / "f.parquet"
    pd.DataFrame({"objid": [1.0, 2.0], "ra": [1.0, 2.0], "dec": [0.0, 0.0]}).to_parquet(floats)
    with pytest.raises(ZcellsInputError, match="objid is stored as floating point"):
        read_positions(floats)
    dup = tmp_path / "d.csv"
    pd.DataFrame({"objid": [5, 5, 6], "ra": [1.0, 2.0, 3.0], "dec": [0.0, 0, 0]}).to_csv(
        dup, index=False
    )
    with pytest.raises(ZcellsInputError, match="repeats ids at rows 0, 1"):
        read_positions(dup)
    out_of_range = tmp_path / "o.csv"
    pd.DataFrame({"objid": [1, 2], "ra": [1.0, 400.0], "dec": [0.0, 0.0]}).to_csv(
        out_of_range, index=False
    )
    with pytest.raises(ZcellsInputError, match="column ra .* bad rows 1"):
        read_positions(out_of_range)
    good = tmp_path / "g.csv"
    (good).write_text(f"objID,ra,dec\n{BIG_ID},10.5,-3.25\n")
    df = read_positions(good)
    assert df.objid.dtype == np.int64 and int(df.objid[0]) == BIG_ID


def test_bad_options_are_refused(tmp_path: Path) -> None:
    catalog = tmp_path / "c.csv"
    write_catalog(catalog, {10.0: "ok"})
    for kw, pattern in (
        ({"size": 0}, "--size"),
        ({"bands": "gx"}, "--bands"),
        ({"workers": 0}, "--workers"),
        ({"pixscale": -1}, "--pixscale"),
    ):
        with pytest.raises(ZcellsInputError, match=pattern):
            fetch_cutouts(catalog, tmp_path / "o", base_url="http://127.0.0.1:9", **kw)


def test_urls() -> None:
    assert cutout_jpeg_url(150.1, 2.2) == (
        "https://www.legacysurvey.org/viewer/cutout.jpg?ra=150.100000&dec=2.200000"
        "&layer=ls-dr10&pixscale=0.262&size=96"
    )
    url = cutout_fits_url(1.0, -2.0, size=64, bands="grz", base_url="http://h/viewer/")
    assert url == (
        "http://h/viewer/cutout.fits?ra=1.000000&dec=-2.000000&layer=ls-dr10"
        "&pixscale=0.262&size=64&bands=grz"
    )


def test_cache_prune_keeps_the_newest(tmp_path: Path) -> None:
    import os

    from compute.fetch.cutout_cache import CutoutCache, CutoutKey

    cache = CutoutCache(tmp_path)
    keys = [CutoutKey("jpg", "ls-dr10", float(k), 1.0, 96, 0.262) for k in range(10)]
    for t, key in enumerate(keys):
        cache.put(key, b"\xff\xd8\xff" + bytes([t]))
        os.utime(cache.path(key), (1_000_000 + t, 1_000_000 + t))
    cache.put_missing(keys[0], "gone")  # the oldest marker is an entry too
    os.utime(cache.path(keys[0]).with_suffix(".404"), (999_999, 999_999))
    assert cache.prune(20) == 0
    assert cache.prune(4) == 7
    assert [cache.get(k) is not None for k in keys] == [False] * 6 + [True] * 4
    assert cache.missing(keys[0]) is None


def test_fetch_jpeg_for_the_app(tmp_path: Path) -> None:
    kinds = {10.0: "ok", 20.0: "off", 30.0: "missing"}
    with serving(FakeViewer(kinds)) as server:
        base = server.url + "/viewer"
        session = make_session(FAST)
        data = fetch_jpeg(10.0, 1.5, cache_dir=tmp_path, base_url=base, session=session)
        assert data is not None and data.startswith(b"\xff\xd8")
        assert fetch_jpeg(10.0, 1.5, cache_dir=tmp_path, base_url=base, session=session) == data
        assert fetch_jpeg(20.0, 1.5, cache_dir=tmp_path, base_url=base, session=session) is None
        assert fetch_jpeg(30.0, 1.5, cache_dir=tmp_path, base_url=base, session=session) is None
        assert fetch_jpeg(30.0, 1.5, cache_dir=tmp_path, base_url=base, session=session) is None
        assert server.count() == 3  # repeated calls come from the cache (404 included)
        # a 404 recorded from another service root (here one that answers 599) is not trusted
        assert (
            fetch_jpeg(
                30.0, 1.5, cache_dir=tmp_path, base_url=server.url + "/mirror", session=session
            )
            is None
        )
        assert server.count() == 4
        dead = server.url  # the same port, closed below
    # offline: a closed port gives None, quickly, with the default (app) session
    assert fetch_jpeg(40.0, 1.5, cache_dir=tmp_path, base_url=dead + "/viewer", timeout=1) is None
