"""Galaxy cutouts: a route that serves a JPEG per galaxy id, from the image cube or Legacy Surveys.

The route only accepts ids present in the artifacts (404 otherwise) and only ever fetches from
the configured Legacy Surveys cutout service, so it cannot be made to fetch an arbitrary URL.
Fetched JPEGs go to a bounded disk cache; when offline or off-footprint a placeholder is served
(header ``X-Cutout: placeholder``).
"""

from __future__ import annotations

import io
import itertools
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, Response, abort, current_app

LEGACY_VIEWER = "https://www.legacysurvey.org/viewer"
DEFAULT_BASE_URL = LEGACY_VIEWER  # cutouts: + /cutout.jpg?ra=..
SKYSERVER = "https://skyserver.sdss.org/dr18/VisualTools/navi"
_ID_RE = re.compile(r"^-?\d{1,20}$")


def legacy_viewer_url(ra: float, dec: float) -> str:
    """Legacy Surveys viewer page centred on a position.

    >>> legacy_viewer_url(180.0, 1.5)
    'https://www.legacysurvey.org/viewer?ra=180.000000&dec=1.500000&layer=ls-dr10&zoom=16'
    """
    return f"{LEGACY_VIEWER}?ra={ra:.6f}&dec={dec:.6f}&layer=ls-dr10&zoom=16"


def skyserver_url(ra: float, dec: float) -> str:
    """SDSS SkyServer navigate page centred on a position."""
    return f"{SKYSERVER}?ra={ra:.6f}&dec={dec:.6f}&scale=0.2"


@lru_cache(maxsize=8)
def placeholder(text: str, size: int = 96) -> bytes:
    """A grey JPEG with a short message (e.g. "offline")."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (200, 200, 205))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(150, 150, 160))
    for k, line in enumerate(text.split("\n")):
        draw.text((6, size // 2 - 10 + 12 * k), line, fill=(60, 60, 70))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def composite_jpeg(image: np.ndarray, bands: list[str], size: int = 96) -> bytes:
    """An i, r, g colour composite (Lupton et al. asinh stretch) of one cube row, as JPEG."""
    from astropy.visualization import make_lupton_rgb
    from PIL import Image

    def band(name: str, fallback: int) -> np.ndarray:
        return np.asarray(image[bands.index(name)] if name in bands else image[fallback], float)

    i, r, g = band("i", -1), band("r", len(bands) // 2), band("g", 0)
    scale = float(np.nanpercentile(np.stack([i, r, g]), 99.5)) or 1.0
    rgb = make_lupton_rgb(i / scale, r / scale, g / scale, stretch=0.5, Q=8)
    pil = Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


PRUNE_EVERY = 64
"""The disk cache is trimmed to its bound after every this many fetched cutouts."""
_FETCHED = itertools.count(1)


@lru_cache(maxsize=4)
def _open_cube(folder: str) -> Any:
    from compute.imagecube import open_cube

    return open_cube(folder)


def cutout_bytes(objid: int) -> tuple[bytes, str] | None:
    """The JPEG for a galaxy id and its kind (``image``, ``cache``, ``placeholder``); None if unknown."""
    from app import data

    run = data.run()
    pos = run.objid_index.get_indexer([objid])[0]
    if pos < 0:
        return None
    cfg = current_app.config
    art = run.art
    images = art.manifest.get("images")
    if art.manifest.get("source") == "simulated":
        if not images:
            return placeholder("no image"), "placeholder"
        folder = Path(images) if Path(images).is_absolute() else art.path / images
        try:
            cube = _open_cube(str(folder))
        except Exception:  # a missing or damaged cube must not become a 500
            return placeholder("no image"), "placeholder"
        k = int(cube.index_of(np.array([objid], dtype=np.int64))[0])
        if k < 0:
            return placeholder("no image\nin cube"), "placeholder"
        return composite_jpeg(np.asarray(cube.images[k]), cube.bands), "image"
    ra, dec = (float(art.galaxies["ra"].iat[pos]), float(art.galaxies["dec"].iat[pos]))
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return placeholder("no position"), "placeholder"
    return remote_cutout(ra, dec, cfg)


def remote_cutout(ra: float, dec: float, cfg: Any) -> tuple[bytes, str]:
    """A Legacy Surveys JPEG through the project's cutout fetcher and its disk cache.

    ``compute.fetch.cutouts.fetch_jpeg`` does the HTTP (requests, one quick retry), the cache,
    and the JPEG / off-footprint checks; here the cache is kept under ZCELLS_CUTOUT_CACHE_MAX
    files, trimmed every PRUNE_EVERY fetches.
    """
    from compute.fetch.cutout_cache import CutoutCache
    from compute.fetch.cutouts import jpeg_answer

    cache = CutoutCache(cfg["ZCELLS_CUTOUT_CACHE_DIR"])
    answer = jpeg_answer(ra, dec, cache_dir=cache.folder, base_url=cfg["ZCELLS_CUTOUT_BASE_URL"],
                         timeout=float(cfg["ZCELLS_CUTOUT_TIMEOUT"]))
    if answer.data is None:
        return placeholder("offline or\noff footprint"), "placeholder"
    if answer.from_cache:
        return answer.data, "cache"
    if next(_FETCHED) % PRUNE_EVERY == 0:
        cache.prune(int(cfg["ZCELLS_CUTOUT_CACHE_MAX"]))
    return answer.data, "image"


def register(server: Flask, *, base_url: str | None = None, cache_dir: str | None = None,
             timeout: float = 4.0, max_files: int = 5000) -> None:
    """Add ``/cutout/<objid>.jpg`` to the Flask server, with its settings in ``server.config``."""
    server.config.setdefault("ZCELLS_CUTOUT_BASE_URL", base_url or os.environ.get(
        "ZCELLS_CUTOUT_BASE_URL", DEFAULT_BASE_URL))
    server.config.setdefault("ZCELLS_CUTOUT_CACHE_DIR", cache_dir or os.environ.get(
        "ZCELLS_CUTOUT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "zcells-cutouts")))
    server.config.setdefault("ZCELLS_CUTOUT_TIMEOUT", timeout)
    server.config.setdefault("ZCELLS_CUTOUT_CACHE_MAX", max_files)

    @server.route("/cutout/<name>.jpg")
    def cutout(name: str) -> Response:
        if not _ID_RE.match(name):
            abort(404)
        from app import data

        if data.load_error(current_app.config[data.CONFIG_KEY]) is not None:
            abort(404)
        objid = int(name)
        if not -(2**63) <= objid < 2**63:
            abort(404)
        got = cutout_bytes(objid)
        if got is None:
            abort(404)
        body, kind = got
        resp = Response(body, mimetype="image/jpeg")
        resp.headers["X-Cutout"] = kind
        resp.headers["Cache-Control"] = "no-store" if kind == "placeholder" else "public, max-age=86400"
        return resp
