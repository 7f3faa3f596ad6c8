"""Trends callbacks: redraw for the chosen methods; a click on a point opens its cell."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, ctx, no_update

from app import data, ids
from app.state import parse_cell
from app.trends_view import trend_figures


def cell_from_point(click: Any) -> Any:
    """The cell stored in a clicked point's customdata (None when absent).

    >>> cell_from_point({"points": [{"customdata": 17}]})
    17
    """
    try:
        value = click["points"][0]["customdata"]
    except (TypeError, KeyError, IndexError):
        return None
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def register(app: dash.Dash) -> None:
    """Add the Trends page's callbacks to ``app``."""

    @app.callback(Output(ids.FIG3, "figure"), Output(ids.FIG5, "figure"),
                  Output(ids.FIG5_HIST, "figure"), Output(ids.FIG7, "figure"),
                  Output(ids.FIG7_RATIO, "figure"),
                  Input(ids.TRENDS_A, "value"), Input(ids.TRENDS_B, "value"),
                  Input(ids.TRENDS_METHOD, "value"), prevent_initial_call=True)
    def redraw(a: Any, b: Any, method: Any) -> Any:
        return trend_figures(a, b, method, None)

    @app.callback(Output(ids.NAV, "href"), Output(ids.SELECTED_CELL, "data", allow_duplicate=True),
                  Input(ids.FIG3, "clickData"), Input(ids.FIG5, "clickData"),
                  Input(ids.FIG7, "clickData"), Input(ids.FIG7_RATIO, "clickData"),
                  prevent_initial_call=True)
    def open_cell(*clicks: Any) -> Any:
        trig = ctx.triggered_id
        names = [ids.FIG3, ids.FIG5, ids.FIG7, ids.FIG7_RATIO]
        if trig not in names:
            return no_update, no_update
        cell = parse_cell(cell_from_point(clicks[names.index(trig)]), data.run().shape)
        if cell is None:
            return no_update, no_update
        return f"/?cell={cell}", cell
