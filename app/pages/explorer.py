"""Explorer (home): the SOM grid coloured by a chosen quantity, and the selected cell's panel."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import data, ids
from app.explorer_view import cell_panel, gallery, graph, grid_figure, named_chips, notice
from app.state import color_options, parse_cell, parse_view

dash.register_page(__name__, path="/", name="Explorer", title="zcells · Explorer", order=0)


def layout(selected: Any = None, named_store: Any = None, **query: Any) -> html.Div:
    """The Explorer for the view in the URL (falls back to the session's last cell)."""
    run = data.run()
    state, warnings = parse_view(query, run.shape, run.methods)
    if state.cell is None and "cell" not in query and selected is not None:
        state.cell = parse_cell(selected, run.shape)
    controls = html.Div([
        html.Label(["Colour by", dcc.Dropdown(id=ids.COLOR_BY, options=color_options(run.methods),
                                              value=state.color, clearable=False)],
                   className="control wide"),
        html.Label(["Methods in the panel",
                    dcc.Checklist(id=ids.METHODS, options=run.methods, value=state.methods,
                                  inline=True)], className="control"),
        html.Div([html.Button("Cell table (CSV)", id=ids.DL_CELLS_BUTTON),
                  html.Button("Cell members (CSV)", id=ids.DL_MEMBERS_BUTTON)],
                 className="control buttons"),
    ], className="controls")
    pin = html.Div([
        html.H4("Named cells"),
        html.Div(named_chips(state.named, run.shape), id=ids.NAMED_LIST, className="chips"),
        html.Div([dcc.Input(id=ids.PIN_NAME, placeholder="name, e.g. A", maxLength=12,
                            debounce=False, type="text"),
                  html.Button("Pin selected cell", id=ids.PIN_BUTTON)], className="pin-row"),
        html.P("Tip: click the map, then move with the arrow keys.", className="hint"),
    ], className="named")
    return html.Div([
        html.Div(notice(warnings), id=ids.NOTICE),
        controls,
        html.Div([
            html.Div([dcc.Loading(graph(ids.GRID, grid_figure(state.color, state.cell, state.named)),
                                  delay_show=300),
                      pin], className="left"),
            html.Div([dcc.Loading(html.Div(cell_panel(state.cell, state.methods), id=ids.CELL_PANEL),
                                  delay_show=300)], className="right"),
        ], className="two-col"),
        html.Section([
            html.H4("Galaxies of the cell"),
            dcc.Loading(html.Div(gallery(state.cell, 8), id=ids.GALLERY), delay_show=300),
            html.Button("Show more galaxies", id=ids.GALLERY_MORE),
        ], className="gallery"),
        cell_store(state.cell),
        dcc.Store(id=ids.URL_NAMED, data=state.named),
        dcc.Store(id=ids.NAMED_PAGE, data=state.named),  # as drawn: no redraw on load
        dcc.Store(id=ids.PANEL_SHOWN, data={"cell": state.cell, "methods": state.methods}),
        dcc.Store(id=ids.KEY_MOVE),
        dcc.Download(id=ids.DL_CELLS),
        dcc.Download(id=ids.DL_MEMBERS),
    ], className="explorer")


def cell_store(cell: int | None) -> dcc.Store:
    """The selected-cell store; without ``data`` when no cell is selected.

    A memory Store mounted with ``data=None`` re-announces it (null becomes undefined), which
    would fire every callback on the selected cell on a plain visit of the Explorer.
    """
    return dcc.Store(id=ids.CELL) if cell is None else dcc.Store(id=ids.CELL, data=cell)
