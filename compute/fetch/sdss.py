"""Chunked, resumable download of the SDSS Main Galaxy Sample into a canonical Parquet catalogue."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from tqdm import tqdm

from compute import __version__
from compute.errors import ZcellsInputError
from compute.fetch.atomic import write_parquet_atomic
from compute.fetch.http import RateLimiter, RetryPolicy, check_ok, http_get, make_session
from compute.fetch.sdss_chunks import ChunkStore, RaChunk, plan_ra_chunks, query_fingerprint
from compute.fetch.sdss_csv import ResponseFormatError, parse_sqlsearch_csv
from compute.fetch.sdss_sql import (
    PETRO_R_MAX,
    SQL_COLUMNS,
    SQL_TEMPLATE,
    Z_MAX,
    build_sql,
    check_release,
)

log = logging.getLogger(__name__)

#: SkyServer's SqlSearch endpoint; ``{release}`` is filled in (``dr12``)
DEFAULT_SQLSEARCH_URL = "https://skyserver.sdss.org/{release}/SkyServerWS/SearchTools/SqlSearch"

#: SkyServer returns at most this many rows per query
ROW_LIMIT = 500_000

#: default number of RA slices (15 degrees each); the densest holds ~60k MGS galaxies
DEFAULT_CHUNKS = 24

#: a slice that hits the row limit is halved at most this many times
MAX_SPLIT_DEPTH = 6


def sqlsearch_url(release: str, base_url: str | None = None) -> str:
    """Return the SqlSearch endpoint for ``release``; ``{release}`` in ``base_url`` is filled in.

    Examples
    --------
    >>> sqlsearch_url("dr12")
    'https://skyserver.sdss.org/dr12/SkyServerWS/SearchTools/SqlSearch'
    >>> sqlsearch_url("dr12", "http://127.0.0.1:8000/SqlSearch")
    'http://127.0.0.1:8000/SqlSearch'
    """
    template = base_url or DEFAULT_SQLSEARCH_URL
    return template.replace("{release}", check_release(release))


def chunk_folder(out: str | os.PathLike[str]) -> Path:
    """The folder beside ``out`` that holds finished chunks while a fetch runs."""
    out = Path(out)
    return out.with_name(out.name + ".chunks")


def fetch_sdss(
    out: str | os.PathLike[str],
    *,
    release: str = "dr12",
    base_url: str | None = None,
    max_rows: int | None = None,
    chunks: int = DEFAULT_CHUNKS,
    session: requests.Session | None = None,
    min_interval: float = 1.0,
    progress: bool = True,
    timeout: float | tuple[float, float] = (30.0, 900.0),
    retry: RetryPolicy | None = None,
    row_limit: int = ROW_LIMIT,
) -> Path:
    """Download the SDSS Main Galaxy Sample from SkyServer and write a canonical catalogue.

    The sky is cut into ``chunks`` RA slices, fetched one after the other. Each finished slice
    is stored in ``<out>.chunks/``; an interrupted fetch run again skips finished slices. A
    slice that returns ``row_limit`` rows (the service's cap, so maybe truncated) is split in
    two and fetched again. The catalogue is written atomically at the end and the chunk
    folder removed.

    Parameters
    ----------
    out : path
        Parquet file to write (canonical columns: objid, specobjid, ra, dec, zspec, u..z,
        err_u..err_z, cmodel_r, petro_r, frac_dev_r, exp_ab_r, zphot_b16).
    release : str
        SDSS data release (``dr12``).
    base_url : str, optional
        SqlSearch endpoint; ``{release}`` in it is replaced. Default: SkyServer's.
    max_rows : int, optional
        Quick sample: one ``TOP n`` query over the whole sky (at most ``row_limit``).
    chunks : int
        Number of RA slices for the full sample.
    session : requests.Session, optional
        Session to use (default: `compute.fetch.http.make_session` with ``retry``).
    min_interval : float
        Least seconds between two requests.
    progress : bool
        Show a tqdm bar over chunks.
    timeout : float or (float, float)
        Connect and read timeouts in seconds (SkyServer may think for minutes).
    retry : RetryPolicy, optional
        Retry counts and backoff (also used for cut-off answers).
    row_limit : int
        Rows per answer at which an answer counts as possibly truncated.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ZcellsInputError
        Bad options, or an answer that stayed unusable after retries (the message names the
        URL, the RA slice, the status and the body start). Finished chunks are kept.
    """
    out = Path(out)
    release = check_release(release)
    retry = retry or RetryPolicy()
    if row_limit < 2:
        raise ZcellsInputError(f"row limit must be at least 2, got {row_limit}")
    if max_rows is not None and not 1 <= int(max_rows) <= row_limit:
        raise ZcellsInputError(
            f"--max-rows must be between 1 and {row_limit} (the service's row limit), got "
            f"{max_rows}; leave it out to fetch the whole sample in chunks"
        )
    if out.suffix.lower() != ".parquet":
        raise ZcellsInputError(
            f"--out {out}: the catalogue is written as Parquet; name it *.parquet"
        )
    url = sqlsearch_url(release, base_url)
    session = session or make_session(retry)
    limiter = RateLimiter(min_interval)
    plan = [RaChunk(0.0, 360.0)] if max_rows is not None else plan_ra_chunks(chunks)
    fingerprint = query_fingerprint(
        SQL_TEMPLATE, ",".join(c.select_item() for c in SQL_COLUMNS), release, str(max_rows)
    )
    store = ChunkStore(chunk_folder(out), fingerprint)
    store.folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    try:
        done, fetched = _fetch_all(
            session,
            url,
            release,
            plan,
            store,
            max_rows=max_rows,
            row_limit=row_limit,
            timeout=timeout,
            limiter=limiter,
            retry=retry,
            progress=progress,
        )
    except BaseException:
        _remove_if_empty(store.folder)  # keep finished chunks for the resume, else tidy up
        raise

    frames = [store.load(c) for c in sorted(done, key=lambda c: c.lo)]
    catalog = _assemble(frames, url)
    write_parquet_atomic(
        out,
        catalog,
        metadata={
            "zcells.source": "sdss-skyserver-sqlsearch",
            "zcells.release": release,
            "zcells.url": url,
            "zcells.query": build_sql(release, max_rows=max_rows),
            "zcells.chunking": "single TOP query" if max_rows else f"{len(done)} RA slices",
            "zcells.fetched_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "zcells.version": __version__,
        },
    )
    store.clear()
    log.info(
        "wrote %s: %d galaxies from %d chunks (%d fetched now) in %.0f s",
        out,
        len(catalog),
        len(done),
        fetched,
        time.monotonic() - started,
    )
    return out


def _fetch_all(
    session: requests.Session,
    url: str,
    release: str,
    plan: list[RaChunk],
    store: ChunkStore,
    *,
    max_rows: int | None,
    row_limit: int,
    timeout: float | tuple[float, float],
    limiter: RateLimiter,
    retry: RetryPolicy,
    progress: bool,
) -> tuple[list[RaChunk], int]:
    """Fetch every slice not yet in ``store``; split slices at the row limit.

    Returns the finished slices and the number of slices fetched (not taken from the store).
    """
    done: list[RaChunk] = []
    pending = list(plan)
    fetched = 0
    with tqdm(total=len(plan), unit="chunk", desc="SDSS chunks", disable=not progress) as bar:
        while pending:
            chunk = pending.pop(0)
            if store.is_split(chunk):
                pending[:0] = chunk.halves()
                bar.total += 1
                bar.refresh()
                continue
            if store.has(chunk):
                done.append(chunk)
                bar.update()
                continue
            sql = build_sql(
                release, max_rows=max_rows, ra_range=None if max_rows else (chunk.lo, chunk.hi)
            )
            df = _fetch_chunk(
                session, url, sql, chunk, timeout=timeout, limiter=limiter, retry=retry
            )
            fetched += 1
            if max_rows is None and len(df) >= row_limit:
                if chunk.depth >= MAX_SPLIT_DEPTH:
                    raise ZcellsInputError(
                        f"SkyServer {url} ({chunk.label}): {len(df)} rows, the service's row "
                        f"limit, even after {chunk.depth} halvings; use more --chunks"
                    )
                log.info("%s returned %d rows (the row limit): splitting it", chunk.label, len(df))
                store.mark_split(chunk, len(df))
                pending[:0] = chunk.halves()
                bar.total += 1
                bar.refresh()
                continue
            store.save(chunk, df)
            done.append(chunk)
            bar.update()
            bar.set_postfix(rows=len(df))

    return done, fetched


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _fetch_chunk(
    session: requests.Session,
    url: str,
    sql: str,
    chunk: RaChunk,
    *,
    timeout: float | tuple[float, float],
    limiter: RateLimiter,
    retry: RetryPolicy,
) -> pd.DataFrame:
    """Fetch and parse one slice; retry answers that arrive cut off."""
    where = f"SkyServer {url} ({chunk.label})"
    params = {"cmd": sql, "format": "csv"}
    attempt = 0
    while True:
        response = http_get(
            session,
            url,
            params=params,
            timeout=timeout,
            limiter=limiter,
            body_retries=retry.body_retries,
            body_backoff=retry.backoff,
            what=where,
        )
        check_ok(response, where)
        try:
            return parse_sqlsearch_csv(response.content, SQL_COLUMNS, where=where)
        except ResponseFormatError as exc:
            if not exc.transient or attempt >= retry.body_retries:
                raise
            attempt += 1
            log.warning("%s; trying again (%d/%d)", exc, attempt, retry.body_retries)
            time.sleep(retry.backoff * attempt)


def _assemble(frames: list[pd.DataFrame], url: str) -> pd.DataFrame:
    """Concatenate chunks, drop repeated objects, and check the selection was applied."""
    names = [c.canonical for c in SQL_COLUMNS]
    if not frames:
        raise ZcellsInputError(f"SkyServer {url}: no chunks were fetched")
    catalog = pd.concat(frames, ignore_index=True)[names]
    if catalog.empty:
        raise ZcellsInputError(
            f"SkyServer {url}: the query returned no galaxies; check --release and --base-url"
        )
    catalog = catalog.sort_values(["objid", "specobjid"], kind="stable", ignore_index=True)
    repeated = catalog.objid.duplicated(keep="first").to_numpy()
    if repeated.any():
        ids = catalog.objid.to_numpy()[repeated][:5].tolist()
        log.warning(
            "%d galaxies appear with more than one spectrum (e.g. objid %s); keeping the one "
            "with the lowest specObjID",
            int(repeated.sum()),
            ids,
        )
        catalog = catalog.loc[~repeated].reset_index(drop=True)
    for column, limit in (("zspec", Z_MAX), ("petro_r", PETRO_R_MAX)):
        values = catalog[column].to_numpy()
        outside = np.flatnonzero(values > limit + 1e-4)  # NaN (a -9999 sentinel) is let through
        if len(outside):
            shown = ", ".join(
                f"objid {catalog.objid.iat[i]} ({column}={values[i]})" for i in outside[:5]
            )
            raise ZcellsInputError(
                f"SkyServer {url}: {len(outside)} rows break the selection {column} <= {limit} "
                f"(the query was not applied as written?): {shown}"
            )
    catalog["objid"] = catalog["objid"].astype(np.int64)
    catalog["specobjid"] = catalog["specobjid"].astype(np.int64)
    return catalog
