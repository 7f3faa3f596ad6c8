"""Trends: the paper's Figs. 3, 5 and 7 live, one point per cell; click a point to open its cell."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import data, ids
from app.explorer_view import graph, notice
from app.state import parse_cell
from app.trends_view import pick_methods, trend_figures

dash.register_page(__name__, path="/trends", name="Trends", title="zcells · Trends", order=2)


def layout(a: Any = None, b: Any = None, method: Any = None, selected: Any = None,
           **_: Any) -> html.Div:
    """Trend figures for the methods in the URL (``?a=rf&b=cnn&method=rf``)."""
    run = data.run()
    warnings = [f"Unknown method {str(v)[:20]!r}; using the default."
                for v in (a, b, method) if v not in (None, "") and v not in run.methods]
    a_, b_, m_ = pick_methods(a, b, method)
    cell = parse_cell(selected, run.shape)
    f3, f5, f5h, f7, f7r = trend_figures(a_, b_, m_, cell)
    opts = run.methods
    return html.Div([
        html.Div(notice(warnings)),
        html.P("Each point is a SOM cell (in-sample statistics). Click a point to open that cell "
               "in the Explorer.", className="hint"),
        html.Div([
            html.Label(["σ_NMAD ratio: ", dcc.Dropdown(id=ids.TRENDS_A, options=opts, value=a_,
                                                       clearable=False)], className="control"),
            html.Label([" over ", dcc.Dropdown(id=ids.TRENDS_B, options=opts, value=b_,
                                               clearable=False)], className="control"),
            html.Label(["Decomposition for ", dcc.Dropdown(id=ids.TRENDS_METHOD, options=opts,
                                                           value=m_, clearable=False)],
                       className="control"),
        ], className="controls"),
        dcc.Loading(html.Div([
            graph(ids.FIG3, f3),
            html.Div([graph(ids.FIG5, f5), graph(ids.FIG5_HIST, f5h)], className="pair"),
            html.Div([graph(ids.FIG7, f7), graph(ids.FIG7_RATIO, f7r)], className="pair"),
        ]), delay_show=300),
    ])
