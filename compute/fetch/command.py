"""The ``zcells fetch`` command: ``fetch sdss`` (SkyServer) and ``fetch cutouts`` (Legacy Surveys)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from compute.errors import ZcellsInputError
from compute.fetch.cutouts import (
    DEFAULT_BANDS,
    DEFAULT_LAYER,
    DEFAULT_PIXSCALE,
    DEFAULT_SIZE,
    THUMB_SIZE,
    fetch_cutouts,
)
from compute.fetch.http import RetryPolicy
from compute.fetch.sdss import DEFAULT_CHUNKS, fetch_sdss

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fetch`` with sub-commands ``sdss`` and ``cutouts`` to an argparse sub-parser set.

    The chosen sub-command is stored in ``args.fetch_source``; call `run` with the parsed args.
    """
    parser = subparsers.add_parser(
        "fetch",
        help="download real data: the SDSS Main Galaxy Sample, Legacy Surveys cutouts",
        description="Download real data. See docs/real-data.md for the whole route.",
    )
    sources = parser.add_subparsers(dest="fetch_source", metavar="{sdss,cutouts}")
    sources.required = True

    sdss = sources.add_parser(
        "sdss",
        help="SDSS Main Galaxy Sample from SkyServer's SQL search, as a canonical catalogue",
        description="Query SkyServer for the SDSS Main Galaxy Sample (class GALAXY, MGS target "
        "bit, zWarning = 0, z <= 0.4, dereddened Petrosian r <= 17.8) in RA chunks, resumable, "
        "and write a canonical Parquet catalogue.",
    )
    sdss.add_argument("--release", default="dr12", help="SDSS data release (default dr12)")
    sdss.add_argument("--out", required=True, type=Path, help="catalogue to write (*.parquet)")
    sdss.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="quick sample: one TOP n query instead of the whole sample",
    )
    sdss.add_argument(
        "--chunks",
        type=int,
        default=DEFAULT_CHUNKS,
        help=f"RA slices for the full sample (default {DEFAULT_CHUNKS})",
    )
    sdss.add_argument(
        "--base-url",
        default=None,
        help="SqlSearch endpoint ({release} is filled in); default SkyServer's",
    )
    sdss.add_argument(
        "--min-interval", type=float, default=1.0, help="least seconds between requests (default 1)"
    )
    sdss.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="read timeout per query in seconds (default 900)",
    )
    _add_retry_options(sdss, retries=5, backoff=2.0)
    sdss.add_argument("--no-progress", action="store_true", help="no progress bar")

    cut = sources.add_parser(
        "cutouts",
        help="DESI Legacy Surveys FITS cutouts (image cube) and JPEG thumbnails",
        description="Fetch a FITS cutout per galaxy into a memory-mappable image cube, plus "
        "JPEG thumbnails for the app, with a disk cache (a second run asks nothing).",
    )
    cut.add_argument(
        "--catalog", required=True, type=Path, help="Parquet or CSV with objid, ra, dec"
    )
    cut.add_argument("--out", required=True, type=Path, help="output folder")
    cut.add_argument(
        "--layer", default=DEFAULT_LAYER, help=f"viewer layer (default {DEFAULT_LAYER})"
    )
    cut.add_argument(
        "--pixscale",
        type=float,
        default=DEFAULT_PIXSCALE,
        help=f"arcsec per pixel (default {DEFAULT_PIXSCALE})",
    )
    cut.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE,
        help=f"FITS cutout side in pixels (default {DEFAULT_SIZE})",
    )
    cut.add_argument(
        "--thumb-size",
        type=int,
        default=THUMB_SIZE,
        help=f"JPEG thumbnail side in pixels (default {THUMB_SIZE} = 0.42')",
    )
    cut.add_argument("--bands", default=DEFAULT_BANDS, help=f"bands (default {DEFAULT_BANDS})")
    cut.add_argument("--workers", type=int, default=8, help="concurrent requests (default 8)")
    cut.add_argument(
        "--base-url", default=None, help="viewer root, e.g. https://www.legacysurvey.org/viewer"
    )
    cut.add_argument(
        "--min-interval",
        type=float,
        default=0.05,
        help="least seconds between request starts, all workers (default 0.05)",
    )
    cut.add_argument(
        "--timeout", type=float, default=30.0, help="timeout per request in seconds (default 30)"
    )
    cut.add_argument("--cache", type=Path, default=None, help="cache folder (default OUT/cache)")
    cut.add_argument("--no-thumbs", action="store_true", help="skip the JPEG thumbnails")
    _add_retry_options(cut, retries=4, backoff=1.0)
    cut.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _add_retry_options(parser: argparse.ArgumentParser, *, retries: int, backoff: float) -> None:
    parser.add_argument(
        "--retries",
        type=int,
        default=retries,
        help=f"retries per request on 429/5xx/timeouts (default {retries})",
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=backoff,
        help=f"backoff factor in seconds, doubling per retry (default {backoff:g})",
    )


def _retry_policy(args: argparse.Namespace) -> RetryPolicy:
    if not 0 <= args.retries <= 20:
        raise ZcellsInputError(f"--retries must be 0..20, got {args.retries}")
    if args.backoff < 0:
        raise ZcellsInputError(f"--backoff must be >= 0 seconds, got {args.backoff}")
    return RetryPolicy(
        retries=args.retries, backoff=args.backoff, backoff_max=max(60.0, args.backoff)
    )


def run(args: argparse.Namespace) -> int:
    """Run ``zcells fetch``.

    Returns
    -------
    int
        0 when everything was fetched; 1 when some cutouts failed (network or bad answers:
        they are flagged ``failed`` and a new run retries only them).

    Raises
    ------
    ZcellsInputError
        Bad options or input, or answers that stayed unusable (the CLI prints the message).
    """
    source = getattr(args, "fetch_source", None)
    if getattr(args, "min_interval", 0.0) < 0:
        raise ZcellsInputError(f"--min-interval must be >= 0 seconds, got {args.min_interval}")
    if getattr(args, "timeout", 1.0) <= 0:
        raise ZcellsInputError(f"--timeout must be positive, got {args.timeout}")
    if source == "sdss":
        path = fetch_sdss(
            args.out,
            release=args.release,
            base_url=args.base_url,
            max_rows=args.max_rows,
            chunks=args.chunks,
            min_interval=args.min_interval,
            progress=not args.no_progress,
            timeout=(30.0, args.timeout),
            retry=_retry_policy(args),
        )
        print(f"wrote {path}")
        return 0
    if source == "cutouts":
        report = fetch_cutouts(
            args.catalog,
            args.out,
            layer=args.layer,
            pixscale=args.pixscale,
            size=args.size,
            bands=args.bands,
            base_url=args.base_url,
            workers=args.workers,
            min_interval=args.min_interval,
            progress=not args.no_progress,
            thumbs=not args.no_thumbs,
            thumb_size=args.thumb_size,
            cache_dir=args.cache,
            timeout=args.timeout,
            retry=_retry_policy(args),
        )
        print(report.summary())
        if report.n_failed:
            print(
                f"{report.n_failed} cutouts failed; run the same command again to retry them "
                "(cached ones are not fetched again)"
            )
            return 1
        return 0
    raise ZcellsInputError("zcells fetch: choose what to fetch: sdss or cutouts")
