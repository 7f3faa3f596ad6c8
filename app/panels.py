"""The Explorer's cell panel: statistics formatting and the panel's components."""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import dcc, html

from app import figures
from app.ids import pid, testid
from app.numbers import MISSING, finite

#: rows of the statistics table: (key, label)
STAT_ROWS: tuple[tuple[str, str], ...] = (
    ("n", "n (in sample)"),
    ("theta_deg", "θ ± error"),
    ("sigma_nmad", "σ_NMAD"),
    ("sigma_atten", "σ_atten"),
    ("sigma_scatter", "σ_scatter"),
    ("outlier_fraction", "outlier fraction"),
    ("bias", "bias ⟨Δz/(1+z)⟩"),
    ("slope", "slope b"),
    ("intercept", "intercept a"),
    ("n_clipped", "clipped"),
    ("status", "status"),
)


def fmt_stat(key: str, row: dict[str, Any]) -> str:
    """Format one statistic of a cells-table row as shown in the panel.

    >>> fmt_stat("theta_deg", {"theta_deg": 32.42, "theta_err": 7.96})
    '32.4 ± 8.0°'
    >>> fmt_stat("outlier_fraction", {"outlier_fraction": 0.0323})
    '3.23%'
    >>> fmt_stat("sigma_nmad", {"sigma_nmad": float("nan")})
    '–'
    """
    v = row.get(key)
    if key == "status":
        return str(v)
    f = finite(v)
    if f is None:
        return MISSING
    if key in ("n", "n_clipped"):
        return f"{int(f)}"
    if key == "theta_deg":
        e = finite(row.get("theta_err"))
        return f"{f:.1f}°" if e is None else f"{f:.1f} ± {e:.1f}°"
    if key == "outlier_fraction":
        return f"{100 * f:.2f}%"
    if key == "bias":
        return f"{f:+.4f}"
    if key in ("slope", "intercept"):
        return f"{f:.3f}"
    return f"{f:.4f}"


def stats_table(rows: dict[str, dict[str, Any]], methods: list[str]) -> html.Table:
    """Statistics per method (columns) for one cell; each value cell has ``data-testid``."""
    head = html.Tr([html.Th("")] + [html.Th(m) for m in methods])
    body = []
    for key, label in STAT_ROWS:
        tds: list[Any] = [html.Th(label)]
        for m in methods:
            text = fmt_stat(key, rows[m]) if m in rows else MISSING
            tds.append(html.Td(text, **testid(f"stat-{key}-{m}")))
        body.append(html.Tr(tds))
    return html.Table([html.Thead(head), html.Tbody(body)], className="stats")


def cell_summary(cell: int, shape: tuple[int, int], rows: dict[str, dict[str, Any]],
                 n_members: int) -> html.Div:
    """Header line of the panel: the cell, its mean z_spec and B/T, and its counts."""
    nx, ny = shape
    x, y = divmod(cell, ny)
    first = next(iter(rows.values()), {})
    return html.Div([
        html.H3(f"Cell {cell}  ({x}, {y})", id="cell-title"),
        html.Div([
            html.Span(["⟨z_spec⟩ = ", html.B(fmt_stat("mean_zspec", first),
                                              **testid("cell-mean-zspec"))]),
            html.Span(["⟨B/T⟩ = ", html.B(fmt_stat("mean_bt", first),
                                          **testid("cell-mean-bt"))]),
            html.Span(["galaxies in cell = ", html.B(str(n_members),
                                                     **testid("cell-members"))]),
        ], className="summary"),
    ])


def method_figures(points: dict[str, Any], rows: dict[str, dict[str, Any]], methods: list[str],
                   cell: int) -> list[Any]:
    """One z_phot-z_spec graph per method, and a PIT histogram where the method has p(z)."""
    out: list[Any] = []
    for m in methods:
        p = points["methods"].get(m)
        if p is None:
            continue
        row = rows.get(m, {})
        slope = float(row.get("slope", np.nan))
        intercept = float(row.get("intercept", np.nan))
        fig = figures.cell_scatter_figure(points["zspec"], p["zphot"], p["clipped"], slope,
                                          intercept, f"{m}: θ = {fmt_stat('theta_deg', row)}")
        graphs = [dcc.Graph(id=pid("cell-fig", m), figure=fig.to_plotly_json(),
                            config=figures.GRAPH_CONFIG)]
        pit = p.get("pit")
        if pit is not None and np.isfinite(pit).any():
            pit_fig = figures.pit_histogram_figure(pit, f"{m}: PIT, cell {cell}")
            graphs.append(dcc.Graph(id=pid("pit-fig", m), config=figures.GRAPH_CONFIG,
                                    figure=pit_fig.to_plotly_json()))
        out.append(html.Div(graphs, className="method-panel"))
    return out
