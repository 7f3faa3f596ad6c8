"""The app's first page and hot path: local partial plotly.js bundle, primed resources, panel LRU."""
# ruff: noqa: F811  (pytest fixtures imported from tests.app_fixtures)

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plotly.offline import get_plotlyjs_version

from app import explorer_view, figures, memo, plotlyjs
from tests.app_fixtures import (  # noqa: F401 (fixtures)
    artifacts_dir,
    client,
    dash_app,
    free_port,
    render_page,
)
from tests.test_app_server import callback

PAGES = ["/", "/global", "/trends", "/som-quality", "/about", "/tour"]


def trace_types(node: Any) -> set[str]:
    """Trace types of every figure in a serialised Dash tree (or figure dict)."""
    out: set[str] = set()
    if isinstance(node, list):
        for n in node:
            out |= trace_types(n)
    elif isinstance(node, dict):
        if isinstance(node.get("data"), list) and "layout" in node:
            out |= {str(t.get("type", "scatter")) for t in node["data"] if isinstance(t, dict)}
        for v in node.values():
            if isinstance(v, (list, dict)):
                out |= trace_types(v)
    return out


def test_vendored_bundle_matches_plotly_and_is_documented() -> None:
    assert plotlyjs.bundle_version() == get_plotlyjs_version()
    assert plotlyjs.usable()
    vendor = plotlyjs.BUNDLE.parent
    assert "MIT License" in (vendor / "LICENSE-plotly.js.txt").read_text()
    readme = (vendor / "README.md").read_text()
    sha = hashlib.sha256(plotlyjs.BUNDLE.read_bytes()).hexdigest()
    assert sha in readme, "app/vendor/README.md must record the bundle's sha256"
    banner = plotlyjs.BUNDLE.read_text(encoding="utf-8")[:300]
    assert f"traces: {','.join(plotlyjs.TRACES)}." in banner


def test_index_loads_the_local_bundle_before_dash(client: Any) -> None:
    html = client.get("/").data.decode()
    srcs = re.findall(r'<script src="([^"]+)"', html)
    local = [s for s in srcs if s.startswith(plotlyjs.ROUTE)]
    assert len(local) == 1
    renderer = next(i for i, s in enumerate(srcs) if "dash_renderer" in s)
    assert srcs.index(local[0]) < renderer
    assert "cdn.plot.ly" not in html and "plotly.min.js" not in html
    resp = client.get(local[0])
    assert resp.status_code == 200 and resp.mimetype == "application/javascript"
    assert resp.data == plotlyjs.BUNDLE.read_bytes()
    assert resp.cache_control.max_age == 365 * 24 * 3600
    again = client.get(local[0], headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_bundle_has_every_trace_type_the_app_draws(client: Any) -> None:
    used: set[str] = set()
    for path in PAGES:
        resp = render_page(client, path)
        assert resp.status_code == 200
        used |= trace_types(resp.get_json())
    resp = render_page(client, "/", "?cell=5")
    used |= trace_types(resp.get_json())
    rng = np.random.default_rng(0)
    zs = rng.uniform(0, 1, figures.WEBGL_ABOVE + 10)
    big = figures.cell_scatter_figure(zs, zs, np.zeros(zs.size, bool), 1.0, 0.0, "big")
    used |= trace_types(big.to_plotly_json())
    assert {"heatmap", "scatter", "scattergl", "bar"} <= used
    assert used <= set(plotlyjs.TRACES), used - set(plotlyjs.TRACES)


def test_mismatched_bundle_falls_back_to_dash(tmp_path: Path) -> None:
    import flask

    old = tmp_path / "old.js"
    old.write_text("/*! plotly.js v0.0.1 partial bundle */\nvar Plotly = {};\n")
    assert plotlyjs.bundle_version(old) == "0.0.1"
    assert plotlyjs.register(flask.Flask("t"), old) == []
    assert plotlyjs.register(flask.Flask("t"), tmp_path / "missing.js") == []


def test_bundles_are_served_by_a_worker_that_never_rendered_the_index(
        artifacts_dir: Path, tmp_path: Path) -> None:
    """gunicorn: the index from one worker, the scripts from another (Dash would answer 500)."""
    from app.factory import create_app

    first = create_app(artifacts_dir, cache_dir=str(tmp_path / "a"))
    srcs = re.findall(r'<script src="([^"]+)"', first.server.test_client().get("/").data.decode())
    other = create_app(artifacts_dir, cache_dir=str(tmp_path / "b"))
    fresh = other.server.test_client()
    for src in srcs:
        assert fresh.get(src).status_code == 200, src


def test_panel_lru_gives_the_same_response(client: Any) -> None:
    def panel(cell: int) -> bytes:
        resp = callback(client, ["cell-panel.children", "selected-cell.data", "panel-shown.data"],
                        {"explorer-cell.data": cell, "methods.value": None})
        assert resp.status_code == 200
        return bytes(resp.data)

    explorer_view.PANELS.clear()
    cold = panel(7)  # built, stored in the shared cache and the LRU
    assert len(explorer_view.PANELS) == 1
    warm = panel(7)  # LRU hit
    explorer_view.PANELS.clear()
    shared = panel(7)  # shared-cache hit (another worker)
    assert cold == warm == shared


def test_lru_keeps_the_most_recent() -> None:
    lru: memo.LRU[int] = memo.LRU(2)
    calls: list[str] = []

    def make(k: str) -> int:
        calls.append(k)
        return len(calls)

    for k in ["a", "b", "a", "c", "b", "a"]:
        lru.get_or_make(k, lambda k=k: make(k))
    assert calls == ["a", "b", "c", "b", "a"]  # b evicted by c; a evicted by b
    assert len(lru) == 2


@pytest.mark.parametrize("cell", [0, 3])
def test_plain_panel_matches_components(client: Any, cell: int) -> None:
    from dash._utils import to_json

    with client.application.test_request_context():
        methods = tuple(explorer_view.data.run().methods)
        tree = explorer_view._build_panel(cell, methods)
        assert to_json(memo.plain(tree)) == to_json(tree)
