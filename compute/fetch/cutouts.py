"""DESI Legacy Surveys cutouts: FITS into the CNN's image cube, JPEG thumbnails for the app."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import requests
from tqdm import tqdm

from compute import __version__
from compute.errors import ZcellsInputError
from compute.fetch.atomic import write_bytes_atomic, write_parquet_atomic
from compute.fetch.cutout_cache import CutoutCache, CutoutKey
from compute.fetch.cutout_images import (
    FAILED,
    MISSING,
    OFF_FOOTPRINT,
    OK,
    SKIPPED,
    jpeg_status,
    read_fits_cutout,
)
from compute.fetch.http import (
    HttpError,
    RateLimiter,
    RetryPolicy,
    body_start,
    http_get,
    make_session,
    short_url,
)
from compute.fetch.positions import read_positions
from compute.imagecube import CUBE_FILE, IDS_FILE, META_FILE, create_cube, write_ids

log = logging.getLogger(__name__)

DEFAULT_VIEWER_URL = "https://www.legacysurvey.org/viewer"
DEFAULT_LAYER = "ls-dr10"
DEFAULT_PIXSCALE = 0.262  # arcsec per pixel, the Legacy Surveys native scale
DEFAULT_SIZE = 64  # FITS side in pixels for the CNN
DEFAULT_BANDS = "grz"
THUMB_SIZE = 96  # 0.42 arcmin at 0.262"/pixel
MAX_FITS_SIZE = 512  # the viewer's largest FITS cutout
STATUS_FILE = "cutout_status.parquet"
THUMBS_DIR = "thumbs"
CACHE_DIR = "cache"

_FITS_MAGIC = b"SIMPLE  ="
_JPEG_MAGIC = b"\xff\xd8\xff"

T = TypeVar("T")
R = TypeVar("R")


def _cutout_url(key: CutoutKey, base_url: str) -> str:
    params = {
        "ra": f"{key.ra:.6f}",
        "dec": f"{key.dec:.6f}",
        "layer": key.layer,
        "pixscale": f"{key.pixscale:g}",
        "size": str(int(key.size)),
    }
    if key.bands:
        params["bands"] = key.bands
    return f"{base_url.rstrip('/')}/cutout.{key.kind}?{urlencode(params)}"


def cutout_jpeg_url(
    ra: float,
    dec: float,
    *,
    layer: str = DEFAULT_LAYER,
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = THUMB_SIZE,
    base_url: str = DEFAULT_VIEWER_URL,
) -> str:
    """URL of a Legacy Surveys JPEG cutout (colour composite of the layer).

    Examples
    --------
    >>> cutout_jpeg_url(150.1, 2.2)
    'https://www.legacysurvey.org/viewer/cutout.jpg?ra=150.100000&dec=2.200000&layer=ls-dr10&pixscale=0.262&size=96'
    """
    return _cutout_url(CutoutKey("jpg", layer, ra, dec, size, pixscale), base_url)


def jpeg_key(ra: float, dec: float, *, layer: str = DEFAULT_LAYER,
             pixscale: float = DEFAULT_PIXSCALE, size: int = THUMB_SIZE) -> CutoutKey:
    """Cache key of the JPEG cutout that :func:`fetch_jpeg` fetches for a position."""
    return CutoutKey("jpg", layer, float(ra), float(dec), int(size), float(pixscale))


def cutout_fits_url(
    ra: float,
    dec: float,
    *,
    layer: str = DEFAULT_LAYER,
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = DEFAULT_SIZE,
    bands: str = DEFAULT_BANDS,
    base_url: str = DEFAULT_VIEWER_URL,
) -> str:
    """URL of a Legacy Surveys FITS cutout (one plane per band, in nanomaggies).

    Examples
    --------
    >>> cutout_fits_url(150.1, 2.2, size=64)
    'https://www.legacysurvey.org/viewer/cutout.fits?ra=150.100000&dec=2.200000&layer=ls-dr10&pixscale=0.262&size=64&bands=grz'
    """
    return _cutout_url(CutoutKey("fits", layer, ra, dec, size, pixscale, bands), base_url)


@dataclass
class Answer:
    """One cutout answer: ``status`` ``ok`` (``data`` holds the body), ``missing`` or ``failed``."""

    status: str
    data: bytes | None = None
    message: str = ""
    from_cache: bool = False


def get_cutout(
    session: requests.Session,
    cache: CutoutCache,
    key: CutoutKey,
    *,
    base_url: str = DEFAULT_VIEWER_URL,
    timeout: float | tuple[float, float] = 30.0,
    limiter: RateLimiter | None = None,
    body_retries: int = 2,
) -> Answer:
    """Return a cutout from the cache, or fetch it and cache it.

    A 404 is cached as missing; other failures (no answer, 5xx after retries, a body that is
    not FITS/JPEG) are not cached, so the next run asks again.
    """
    data = cache.get(key)
    if data is not None:
        return Answer(OK, data, "", True)
    recorded = cache.missing(key, base_url.rstrip("/"))
    if recorded is not None:
        return Answer(MISSING, None, recorded, True)
    url = _cutout_url(key, base_url)
    try:
        response = http_get(
            session, url, timeout=timeout, limiter=limiter, body_retries=body_retries
        )
    except HttpError as exc:
        return Answer(FAILED, None, str(exc))
    start = body_start(response.content, 160)
    if response.status_code == 404:
        message = f"HTTP 404 from {short_url(url)}: {start}"
        cache.put_missing(key, message, base_url.rstrip("/"))
        return Answer(MISSING, None, message)
    if response.status_code != 200:
        return Answer(FAILED, None, f"HTTP {response.status_code} from {short_url(url)}: {start}")
    magic = _FITS_MAGIC if key.kind == "fits" else _JPEG_MAGIC
    if not response.content.startswith(magic):
        what = "FITS" if key.kind == "fits" else "JPEG"
        return Answer(FAILED, None, f"{short_url(url)} answered with something not {what}: {start}")
    cache.put(key, response.content)
    return Answer(OK, response.content, "")


_APP_SESSION: requests.Session | None = None
_APP_SESSION_LOCK = threading.Lock()


def _app_session() -> requests.Session:
    """A shared session with one quick retry, for the dashboard's cutout proxy."""
    global _APP_SESSION
    with _APP_SESSION_LOCK:
        if _APP_SESSION is None:
            _APP_SESSION = make_session(RetryPolicy(retries=1, backoff=0.2, retry_after_max=2.0))
        return _APP_SESSION


def jpeg_answer(
    ra: float,
    dec: float,
    *,
    cache_dir: str | os.PathLike[str],
    layer: str = DEFAULT_LAYER,
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = THUMB_SIZE,
    base_url: str = DEFAULT_VIEWER_URL,
    timeout: float = 4.0,
    session: requests.Session | None = None,
) -> Answer:
    """A Legacy Surveys JPEG cutout, from ``cache_dir`` or the service, checked for use.

    ``data`` is set only for a usable image: not when the service cannot be reached, answers
    404 or anything unusable, or the image is blank (outside the footprint); ``from_cache``
    says whether the answer came from the disk cache. Never raises for network trouble, so
    the dashboard can show a placeholder instead.
    """
    cache = CutoutCache(cache_dir)
    key = jpeg_key(ra, dec, layer=layer, pixscale=pixscale, size=size)
    answer = get_cutout(
        session or _app_session(), cache, key, base_url=base_url, timeout=timeout, body_retries=0
    )
    if answer.data is None:
        return answer
    status, why = jpeg_status(answer.data)
    if status == FAILED:
        cache.drop(key)
    if status != OK:
        return Answer(status, None, why, answer.from_cache)
    return answer


def fetch_jpeg(ra: float, dec: float, **options: Any) -> bytes | None:
    """JPEG bytes of a usable Legacy Surveys cutout, or None (see :func:`jpeg_answer`)."""
    return jpeg_answer(ra, dec, **options).data


@dataclass
class CutoutReport:
    """What `fetch_cutouts` did: the folder, and counts of each status."""

    folder: Path
    n: int
    fits: dict[str, int] = field(default_factory=dict)
    thumbs: dict[str, int] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        """Galaxies whose FITS or thumbnail failed (a new run retries them)."""
        return self.fits.get(FAILED, 0) + self.thumbs.get(FAILED, 0)

    def summary(self) -> str:
        """One-line summary."""

        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        return f"{self.folder}: {self.n} galaxies; FITS: {fmt(self.fits)}; thumbnails: {fmt(self.thumbs)}"


def fetch_cutouts(
    catalog: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    layer: str = DEFAULT_LAYER,
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = DEFAULT_SIZE,
    bands: str = DEFAULT_BANDS,
    base_url: str | None = None,
    workers: int = 8,
    min_interval: float = 0.05,
    session: requests.Session | None = None,
    progress: bool = True,
    thumbs: bool = True,
    thumb_size: int = THUMB_SIZE,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float | tuple[float, float] = 30.0,
    retry: RetryPolicy | None = None,
) -> CutoutReport:
    """Fetch FITS cutouts into an image cube and JPEG thumbnails for every catalogue galaxy.

    Writes into ``out``: the cube (``images.npy``, ``images_objid.npy``, ``images.json``; see
    `compute.imagecube`) holding only galaxies with status ``ok``, in catalogue order;
    ``cutout_status.parquet`` (objid, ra, dec, status, message, thumb_status,
    thumb_message; status one of ok, missing (404), off-footprint (a band all zero/NaN),
    failed (network or bad answer; retried by the next run)); and ``thumbs/<objid>.jpg``.
    Answers are cached in ``cache_dir`` (default ``out/cache``), keyed by a hash of
    (kind, layer, ra, dec, size, pixscale, bands), so a second run asks the service nothing.

    Parameters
    ----------
    catalog : path
        Parquet or CSV with objid, ra, dec.
    out : path
        Output folder.
    layer, pixscale, size, bands : str, float, int, str
        Cutout settings (``size`` pixels a side for FITS; ``thumb_size`` for JPEGs).
    base_url : str, optional
        Viewer root (``.../viewer``); ``cutout.fits``/``cutout.jpg`` are added.
    workers : int
        Concurrent requests.
    min_interval : float
        Least seconds between request starts, over all workers.
    session : requests.Session, optional
        Session to use (default: retries with backoff, one connection per worker).
    progress : bool
        Show tqdm bars.
    thumbs : bool
        Also fetch JPEG thumbnails.
    timeout : float or (float, float)
        Connect/read timeouts in seconds.
    retry : RetryPolicy, optional
        Retry counts and backoff.

    Raises
    ------
    ZcellsInputError
        Bad catalogue or options, or no usable cutout at all (after writing the status file).
    """
    bands = _check_options(layer, pixscale, size, bands, workers, thumb_size)
    positions = read_positions(catalog)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = CutoutCache(cache_dir if cache_dir is not None else out / CACHE_DIR)
    base = base_url or DEFAULT_VIEWER_URL
    retry = retry or RetryPolicy(retries=4, backoff=1.0, backoff_max=60.0)
    session = session or make_session(retry, pool_size=workers)
    limiter = RateLimiter(min_interval)
    thumb_dir = out / THUMBS_DIR
    if thumbs:
        thumb_dir.mkdir(exist_ok=True)

    objid = positions["objid"].to_numpy(np.int64)
    ra = positions["ra"].to_numpy(np.float64)
    dec = positions["dec"].to_numpy(np.float64)
    n = len(positions)

    def fits_key(i: int) -> CutoutKey:
        return CutoutKey("fits", layer, float(ra[i]), float(dec[i]), size, pixscale, bands)

    def fetch(key: CutoutKey) -> Answer:
        return get_cutout(
            session,
            cache,
            key,
            base_url=base,
            timeout=timeout,
            limiter=limiter,
            body_retries=retry.body_retries,
        )

    def one(i: int) -> tuple[int, str, str, str, str]:
        key = fits_key(i)
        answer = fetch(key)
        if answer.data is not None:
            _, status, message = read_fits_cutout(answer.data, bands, size)
            if status == FAILED:
                cache.drop(key)
        else:
            status, message = answer.status, answer.message
        t_status, t_message = SKIPPED, ""
        if thumbs:
            t_key = CutoutKey("jpg", layer, float(ra[i]), float(dec[i]), thumb_size, pixscale)
            t_answer = fetch(t_key)
            thumb_path = thumb_dir / f"{objid[i]}.jpg"
            if t_answer.data is not None:
                t_status, t_message = jpeg_status(t_answer.data)
                if t_status == OK and not _same_size(thumb_path, len(t_answer.data)):
                    write_bytes_atomic(thumb_path, t_answer.data)
                elif t_status == FAILED:
                    cache.drop(t_key)
            else:
                t_status, t_message = t_answer.status, t_answer.message
            if t_status != OK:
                thumb_path.unlink(missing_ok=True)
        return i, status, message, t_status, t_message

    status = np.empty(n, dtype=object)
    message = np.empty(n, dtype=object)
    t_status = np.empty(n, dtype=object)
    t_message = np.empty(n, dtype=object)
    with tqdm(total=n, unit="galaxy", desc="cutouts", disable=not progress) as bar:
        for i, st, msg, tst, tmsg in _bounded_map(one, range(n), workers):
            status[i], message[i], t_status[i], t_message[i] = st, msg, tst, tmsg
            bar.update()

    report = CutoutReport(out, n, dict(Counter(status.tolist())), dict(Counter(t_status.tolist())))
    table = pd.DataFrame(
        {
            "objid": objid,
            "ra": ra,
            "dec": dec,
            "status": status.astype(str),
            "message": message.astype(str),
            "thumb_status": t_status.astype(str),
            "thumb_message": t_message.astype(str),
        }
    )
    ok_rows = np.flatnonzero(status == OK)
    if len(ok_rows) == 0:
        write_parquet_atomic(out / STATUS_FILE, table)
        first = next((m for m in message if m), "")
        raise ZcellsInputError(
            f"no usable FITS cutout for any of the {n} galaxies in {catalog} "
            f"({report.summary()}); first problem: {first}; see {out / STATUS_FILE}"
        )
    meta: dict[str, Any] = {
        "source": "legacysurvey-cutout",
        "base_url": base,
        "layer": layer,
        "pixscale_arcsec": pixscale,
        "size": size,
        "units": "nanomaggies",
        "catalog": str(catalog),
        "n_catalog": n,
        "n_images": int(len(ok_rows)),
        "status_file": STATUS_FILE,
        "zcells_version": __version__,
    }
    _write_cube(
        out, cache, [fits_key(int(i)) for i in ok_rows], objid[ok_rows], bands, size, meta, progress
    )
    write_parquet_atomic(out / STATUS_FILE, table)
    log.info("%s", report.summary())
    return report


def _write_cube(
    out: Path,
    cache: CutoutCache,
    keys: list[CutoutKey],
    ids: np.ndarray,
    bands: str,
    size: int,
    meta: dict[str, Any],
    progress: bool,
) -> None:
    """Fill a cube from cached FITS in a temporary folder, then move its files into ``out``."""
    tmp = out / f".cube-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        cube = create_cube(tmp, len(keys), list(bands), size, meta)
        for row, key in enumerate(
            tqdm(keys, unit="image", desc="image cube", disable=not progress)
        ):
            data = cache.get(key)
            image = None if data is None else read_fits_cutout(data, bands, size)[0]
            if image is None:
                raise ZcellsInputError(
                    f"{cache.path(key)}: cached cutout vanished or changed during the run; "
                    "run the fetch again"
                )
            cube[row] = image
        if isinstance(cube, np.memmap):
            cube.flush()
        del cube
        write_ids(tmp, ids)
        for name in (CUBE_FILE, IDS_FILE, META_FILE):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same_size(path: Path, size: int) -> bool:
    """Whether ``path`` exists with ``size`` bytes (a thumbnail written by an earlier run)."""
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterable[R]:
    """Run ``fn`` over ``items`` on ``workers`` threads, at most ``4 * workers`` queued; yield
    results as they finish. Pending work is cancelled if the consumer stops or fails."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cutout") as pool:
        inflight: set[Future[R]] = set()
        try:
            for item in items:
                inflight.add(pool.submit(fn, item))
                if len(inflight) >= 4 * workers:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while inflight:
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in inflight:
                future.cancel()


def _check_options(
    layer: str, pixscale: float, size: int, bands: str, workers: int, thumb_size: int
) -> str:
    if not layer or not all(ch.isalnum() or ch in "-_." for ch in layer):
        raise ZcellsInputError(f"--layer {layer!r}: expected a viewer layer name such as ls-dr10")
    if not pixscale > 0:
        raise ZcellsInputError(f"--pixscale must be positive (arcsec/pixel), got {pixscale}")
    if not 1 <= int(size) <= MAX_FITS_SIZE:
        raise ZcellsInputError(f"--size must be 1..{MAX_FITS_SIZE} pixels, got {size}")
    if not 1 <= int(thumb_size) <= 3000:
        raise ZcellsInputError(f"thumbnail size must be 1..3000 pixels, got {thumb_size}")
    if not 1 <= int(workers) <= 64:
        raise ZcellsInputError(f"--workers must be 1..64, got {workers}")
    bands = str(bands).strip()
    if (
        not bands
        or not bands.isalpha()
        or len(set(bands)) != len(bands)
        or not set(bands) <= set("ugrizY")
    ):
        raise ZcellsInputError(
            f"--bands {bands!r}: expected distinct band letters from u, g, r, i, z, Y such as grz"
        )
    return bands


__all__ = [
    "FAILED",
    "MISSING",
    "OFF_FOOTPRINT",
    "OK",
    "SKIPPED",
    "CutoutReport",
    "cutout_fits_url",
    "cutout_jpeg_url",
    "fetch_cutouts",
    "fetch_jpeg",
    "get_cutout",
]
