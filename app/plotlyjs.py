"""The vendored partial plotly.js bundle: served by the app so dcc.Graph skips the full 4.8 MB one."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import flask

BUNDLE = Path(__file__).resolve().parent / "vendor" / "plotly-zcells.min.js"
ROUTE = "/_zcells/plotly-zcells.min.js"
# every trace type the app's figures use; app/vendor/recipe/build_plotly.js builds exactly these
TRACES = ("scatter", "scattergl", "heatmap", "bar", "histogram")
_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=4)
def bundle_version(path: Path = BUNDLE) -> str | None:
    """The plotly.js version in a bundle's banner (None when the file is missing or unmarked).

    >>> bundle_version(Path("/nonexistent.js")) is None
    True
    """
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(300)
    except OSError:
        return None
    m = re.search(r"plotly\.js v(\d+\.\d+\.\d+\S*)", head)
    return m.group(1) if m else None


def usable(path: Path = BUNDLE) -> bool:
    """Whether the bundle exists and matches the plotly.js the Python ``plotly`` package targets.

    On a mismatch (plotly upgraded, bundle not rebuilt) the app falls back to Dash's full bundle.
    """
    from plotly.offline import get_plotlyjs_version

    return bundle_version(path) == get_plotlyjs_version()


@lru_cache(maxsize=4)
def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def register(server: flask.Flask, path: Path = BUNDLE) -> list[dict[str, str]]:
    """Serve the bundle from ``server``; returns Dash ``external_scripts`` (empty if not usable).

    The script tag is synchronous and sits before the Dash component bundles, so ``window.Plotly``
    exists before any graph renders and dcc.Graph never fetches its own (full) plotly.min.js.
    The URL carries a content fingerprint, so the response can be cached for a year.
    """
    if not usable(path):
        return []
    data = path.read_bytes()
    etag = _fingerprint(path)

    @server.route(ROUTE)
    def plotly_bundle() -> flask.Response:
        resp = flask.Response(data, mimetype="application/javascript")
        resp.set_etag(etag)
        resp.cache_control.public = True
        resp.cache_control.max_age = _YEAR
        resp.make_conditional(flask.request)  # 304 for a matching If-None-Match
        return resp

    return [{"src": f"{ROUTE}?v={etag}"}]
