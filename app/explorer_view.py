"""The Explorer's view functions: grid figure, cell panel and gallery for a given state."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import dcc, html

from app import data, figures, memo, panels
from app.cutouts import legacy_viewer_url, skyserver_url
from app.ids import pid

GALLERY_STEP = 8
# per-worker copies of the cell panels: a revisit skips the shared cache's read and unpickling
PANELS: memo.LRU[list[Any]] = memo.LRU(256)


def xy(cell: int, shape: tuple[int, int]) -> tuple[int, int]:
    """(cell_x, cell_y) of a cell index (``cell = cell_x * ny + cell_y``).

    >>> xy(13, (10, 12))
    (1, 1)
    """
    return divmod(int(cell), shape[1])


def grid_figure(color_key: str, cell: int | None, named: dict[str, int] | None) -> go.Figure:
    """The SOM grid coloured by ``color_key`` with the selected cell and the named cells marked."""
    run = data.run()
    g = data.grid(color_key)
    div = 1.0 if g["key"].startswith("ratio:") else (0.0 if g["key"].startswith("bias:") else None)
    named_xy = {k: xy(v, run.shape) for k, v in (named or {}).items()
                if isinstance(v, int) and 0 <= v < run.shape[0] * run.shape[1]}
    return figures.som_grid_figure(g["z"], g["label"], hover=_hover(run),
                                   selected=xy(cell, run.shape) if cell is not None else None,
                                   named=named_xy, diverging_at=div)


_HOVER: dict[str, np.ndarray] = {}


def _hover(run: data.RunData) -> np.ndarray:
    if run.fingerprint not in _HOVER:
        _HOVER[run.fingerprint] = data.grid_hover(run)
    return _HOVER[run.fingerprint]


def cell_panel(cell: int | None, methods: list[str] | None) -> list[Any]:
    """Children of the cell panel: summary, statistics table and the per-method graphs.

    Returned as plain JSON data (``memo.plain``), memoised per (cell, methods) in the app's
    shared cache and, in front of it, in this worker's ``PANELS`` LRU: a revisit costs a dict
    lookup and Dash's encoding of plain JSON.
    """
    run = data.run()
    if cell is None:
        return [html.P("Click a cell of the map (or use the arrow keys) to see its galaxies, "
                       "fits and statistics.", className="hint")]
    key = tuple(m for m in (methods or []) if m in run.methods) or tuple(run.methods)
    return PANELS.get_or_make((run.fingerprint, int(cell), key),
                              lambda: _cell_panel(int(cell), key))


@data.cache.memoize(timeout=data.CACHE_TIMEOUT)
def _cell_panel(cell: int, methods: tuple[str, ...]) -> list[Any]:
    return memo.plain(_build_panel(cell, methods))


def _build_panel(cell: int, methods: tuple[str, ...]) -> list[Any]:
    """The cell panel as Dash components."""
    run = data.run()
    methods = list(methods)  # type: ignore[assignment]
    rows = data.cell_rows(cell)
    points = data.cell_points(cell)
    n_members = int(len(run.art.members(cell)))
    out: list[Any] = [panels.cell_summary(cell, run.shape, rows, n_members),
                      panels.stats_table(rows, list(methods))]
    if len(points["zspec"]) == 0:
        out.append(html.P("No in-sample galaxies in this cell.", className="hint"))
        return out
    out.append(html.Div(panels.method_figures(points, rows, list(methods), cell), className="method-grid"))
    return out


def gallery(cell: int | None, count: int) -> list[Any]:
    """Thumbnails of the cell's galaxies (representatives first) with links or simulated truth."""
    if cell is None:
        return []
    run = data.run()
    simulated = run.art.manifest.get("source") == "simulated"
    table = data.representatives(cell, count)
    items = []
    for rec in table.to_dict("records"):
        objid = int(rec["objid"])
        img: Any = html.Img(src=f"/cutout/{objid}.jpg", alt=f"galaxy {objid}", className="cutout",
                       **{"data-objid": str(objid)})  # type: ignore[arg-type]
        caption: list[Any] = [html.Div(f"{objid}", className="objid"),
                              html.Div(f"z_spec {rec['zspec']:.3f}")]
        if simulated:
            truth = [f"{k[5:]} = {v:.3f}" for k, v in rec.items()
                     if k.startswith("true_") and isinstance(v, (int, float)) and np.isfinite(v)]
            caption.append(html.Div("truth: " + ", ".join(truth), className="truth"))
            items.append(html.Figure([img, html.Figcaption(caption)], className="thumb"))
            continue
        ra, dec = float(rec["ra"]), float(rec["dec"])
        if np.isfinite(ra) and np.isfinite(dec):
            caption.append(html.Div([
                html.A("Legacy Surveys", href=legacy_viewer_url(ra, dec), target="_blank",
                       rel="noopener"), " · ",
                html.A("SkyServer", href=skyserver_url(ra, dec), target="_blank", rel="noopener"),
            ]))
            img = html.A(img, href=legacy_viewer_url(ra, dec), target="_blank", rel="noopener")
        items.append(html.Figure([img, html.Figcaption(caption)], className="thumb"))
    total = len(run.art.members(cell))
    note = html.P(f"Showing {len(items)} of {total} galaxies, most representative first.",
                  className="hint")
    return [note, html.Div(items, className="thumbs")]


def named_chips(named: dict[str, int] | None, shape: tuple[int, int]) -> list[Any]:
    """Buttons for the pinned cells (go to) and small buttons to unpin them."""
    if not named:
        return [html.Span("No named cells yet: select a cell, type a name (e.g. A) and pin it.",
                          className="hint")]
    out = []
    for name, cell in named.items():
        x, y = xy(cell, shape)
        out.append(html.Span([
            html.Button(f"{name}: ({x}, {y})", id=pid("named-cell", name), className="chip"),
            html.Button("×", id=pid("unpin", name), className="chip-x", title=f"unpin {name}"),
        ], className="chip-wrap"))
    return out


def notice(messages: list[str]) -> list[Any]:
    """Friendly warnings (e.g. a bad link), shown above the page."""
    return [html.Div(m, className="notice", role="status") for m in messages]


def graph(id_: Any, fig: go.Figure, **kw: Any) -> dcc.Graph:
    """A dcc.Graph with the app's modebar config (PNG/SVG export)."""
    return dcc.Graph(id=id_, figure=fig, config=figures.GRAPH_CONFIG, **kw)
