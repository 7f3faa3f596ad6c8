"""Real-data fetchers: the SDSS DR12 Main Galaxy Sample and DESI Legacy Surveys cutouts."""

from compute.fetch.cutouts import (
    cutout_fits_url,
    cutout_jpeg_url,
    fetch_cutouts,
    fetch_jpeg,
    jpeg_answer,
)
from compute.fetch.sdss import fetch_sdss
from compute.fetch.sdss_sql import SQL_COLUMNS, SQL_TEMPLATE, build_sql

__all__ = [
    "SQL_COLUMNS",
    "SQL_TEMPLATE",
    "build_sql",
    "cutout_fits_url",
    "cutout_jpeg_url",
    "fetch_cutouts",
    "fetch_jpeg",
    "jpeg_answer",
    "fetch_sdss",
]
