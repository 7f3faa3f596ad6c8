"""Explorer callbacks: cell selection (click, keys, named cells), recolouring, panel, pins, exports."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, Patch, State, ctx, dcc, no_update

from app import data, figures, ids
from app.explorer_view import GALLERY_STEP, cell_panel, gallery, grid_figure, named_chips, xy
from app.state import clean_named, neighbour, parse_cell, valid_name


def cell_from_click(click: Any, shape: tuple[int, int]) -> int | None:
    """The cell index from a Heatmap clickData (None when it is not a grid click).

    >>> cell_from_click({"points": [{"x": 2, "y": 3}]}, (10, 12))
    27
    """
    try:
        p = click["points"][0]
        x, y = int(p["x"]), int(p["y"])
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    nx, ny = shape
    return x * ny + y if 0 <= x < nx and 0 <= y < ny else None


def register(app: dash.Dash) -> None:
    """Add the Explorer's callbacks to ``app``."""

    @app.callback(Output(ids.CELL, "data"),
                  Input(ids.GRID, "clickData"), Input(ids.KEY_MOVE, "data"),
                  Input({"type": "named-cell", "index": ALL}, "n_clicks"),
                  State(ids.CELL, "data"), State(ids.NAMED_PAGE, "data"),
                  prevent_initial_call=True)
    def select_cell(click: Any, key: Any, _named_clicks: Any, cell: Any, named: Any) -> Any:
        shape = data.run().shape
        trig = ctx.triggered_id
        if trig == ids.GRID:
            new = cell_from_click(click, shape)
        elif trig == ids.KEY_MOVE:
            if not isinstance(key, dict):
                return no_update
            start = parse_cell(cell, shape)
            new = neighbour(start if start is not None else 0, str(key.get("dir")), shape)
        elif isinstance(trig, dict) and trig.get("type") == "named-cell":
            if not ctx.triggered or not ctx.triggered[0].get("value"):
                return no_update
            new = clean_named(named, shape).get(str(trig.get("index")))
        else:
            return no_update
        return no_update if new is None or new == cell else new

    @app.callback(Output(ids.CELL_PANEL, "children"), Output(ids.SELECTED_CELL, "data"),
                  Output(ids.PANEL_SHOWN, "data"),
                  Input(ids.CELL, "data"), Input(ids.METHODS, "value"),
                  State(ids.PANEL_SHOWN, "data"), prevent_initial_call=True)
    def show_panel(cell: Any, methods: Any, shown: Any) -> Any:
        c = parse_cell(cell, data.run().shape)
        wanted: dict[str, Any] = {"cell": c,
                                  "methods": methods if isinstance(methods, list) else None}
        if shown == wanted:  # e.g. the checklist re-announcing its value on mount
            return no_update, no_update, no_update
        return cell_panel(c, wanted["methods"]), c, wanted

    @app.callback(Output(ids.GRID, "figure"), Input(ids.COLOR_BY, "value"),
                  Input(ids.CELL, "data"), Input(ids.NAMED_PAGE, "data"),
                  prevent_initial_call=True)
    def draw_grid(color: Any, cell: Any, named: Any) -> Any:
        """Recolour (full figure) on a colour-by change; otherwise patch the marks only.

        The page layout already draws the grid for the link's view, so nothing runs on load
        unless locally pinned cells change the named cells.
        """
        shape = data.run().shape
        c = parse_cell(cell, shape)
        names = clean_named(named, shape)
        if ctx.triggered_id == ids.COLOR_BY:
            return grid_figure(str(color), c, names)
        patch = Patch()
        patch["layout"]["shapes"] = figures.selection_shapes(xy(c, shape) if c is not None else None)
        patch["layout"]["annotations"] = figures.named_annotations(
            {k: xy(v, shape) for k, v in names.items()})
        return patch

    @app.callback(Output(ids.NAMED_PAGE, "data"), Output(ids.NAMED_CELLS, "data"),
                  Input(ids.URL_NAMED, "data"), Input(ids.PIN_BUTTON, "n_clicks"),
                  Input({"type": "unpin", "index": ALL}, "n_clicks"),
                  State(ids.PIN_NAME, "value"), State(ids.CELL, "data"),
                  State(ids.NAMED_CELLS, "data"), State(ids.NAMED_PAGE, "data"))
    def update_named(url_named: Any, _pin: Any, _unpin: Any, name: Any, cell: Any,
                     named: Any, page_named: Any) -> Any:
        shape = data.run().shape
        current = clean_named(named, shape)
        trig = ctx.triggered_id
        clicked = bool(ctx.triggered and ctx.triggered[0].get("value"))
        if trig == ids.PIN_BUTTON and clicked:
            c = parse_cell(cell, shape)
            if c is None or not valid_name(name):
                return no_update, no_update
            current[str(name).strip()] = c
        elif isinstance(trig, dict) and trig.get("type") == "unpin" and clicked:
            current.pop(str(trig.get("index")), None)
        else:  # first call on the page (or new buttons appearing): merge a shared link's cells
            current.update(clean_named(url_named, shape))
            return (no_update if page_named == current else current,
                    no_update if named == current else current)
        return current, current

    @app.callback(Output(ids.NAMED_LIST, "children"), Input(ids.NAMED_PAGE, "data"),
                  prevent_initial_call=True)
    def list_named(named: Any) -> Any:
        shape = data.run().shape
        return named_chips(clean_named(named, shape), shape)

    @app.callback(Output(ids.GALLERY, "children"), Input(ids.CELL, "data"),
                  Input(ids.GALLERY_MORE, "n_clicks"), prevent_initial_call=True)
    def show_gallery(cell: Any, more: Any) -> Any:
        n = GALLERY_STEP * (1 + (int(more) if ctx.triggered_id == ids.GALLERY_MORE and more else 0))
        return gallery(parse_cell(cell, data.run().shape), min(n, 200))

    @app.callback(Output(ids.GALLERY_MORE, "n_clicks"), Input(ids.CELL, "data"),
                  State(ids.GALLERY_MORE, "n_clicks"), prevent_initial_call=True)
    def reset_more(_cell: Any, more: Any) -> Any:
        return 0 if more else no_update  # no_update: no gallery redraw on page load

    @app.callback(Output(ids.DL_CELLS, "data"), Input(ids.DL_CELLS_BUTTON, "n_clicks"),
                  prevent_initial_call=True)
    def download_cells(_n: Any) -> Any:
        return dcc.send_data_frame(data.run().art.cells.to_csv, "zcells_cells.csv", index=False)

    @app.callback(Output(ids.DL_MEMBERS, "data"), Input(ids.DL_MEMBERS_BUTTON, "n_clicks"),
                  State(ids.CELL, "data"), prevent_initial_call=True)
    def download_members(_n: Any, cell: Any) -> Any:
        c = parse_cell(cell, data.run().shape)
        if c is None:
            return no_update
        return dcc.send_data_frame(data.member_table(c).to_csv, f"zcells_cell{c}_members.csv",
                                   index=False)

    app.clientside_callback(
        """
        function(cell, color, methods, named, opts) {
            const p = new URLSearchParams();
            if (cell !== null && cell !== undefined) { p.set("cell", String(cell)); }
            if (color && color !== "mean_zspec") { p.set("color", color); }
            const all = (opts || []).map(o => (typeof o === "string") ? o : o.value);
            if (methods && methods.length && methods.join(",") !== all.join(",")) {
                p.set("methods", methods.join(","));
            }
            if (named && Object.keys(named).length) {
                p.set("named", Object.entries(named).map(e => e[0] + ":" + e[1]).join(","));
            }
            const q = p.toString().replace(/%3A/g, ":").replace(/%2C/g, ",");
            if (window.location.pathname === "/" || window.location.pathname === "") {
                window.history.replaceState(null, "", "/" + (q ? "?" + q : ""));
            }
            return q;
        }
        """,
        Output(ids.URL_SYNC, "children"),
        Input(ids.CELL, "data"), Input(ids.COLOR_BY, "value"), Input(ids.METHODS, "value"),
        Input(ids.NAMED_PAGE, "data"), State(ids.METHODS, "options"),
    )
