"""SOM quality: U-matrix, occupancy, train/test coverage, map errors and under-populated cells."""

from __future__ import annotations

from typing import Any

import dash
import numpy as np
from dash import dcc, html

from app import data, figures
from app.explorer_view import graph
from app.ids import pid

dash.register_page(__name__, path="/som-quality", name="SOM quality",
                   title="zcells · SOM quality", order=3)


def flagged_cells(min_n: int = 10) -> list[dict[str, Any]]:
    """Cells whose statistics are missing or rest on fewer than ``min_n`` in-sample galaxies."""
    cells = data.run().art.cells
    per = cells.groupby("cell").agg(cell_x=("cell_x", "first"), cell_y=("cell_y", "first"),
                                    n=("n", "min"), status=("status", lambda s: ", ".join(sorted(set(s)))))
    bad = per[(per["n"] < min_n) | (per["status"] != "ok")]
    return bad.reset_index().to_dict("records")


def layout(**_: Any) -> html.Div:
    """The quality maps and numbers."""
    run = data.run()
    som = run.art.som
    nx, ny = run.shape
    min_n = int(run.art.manifest.get("config", {}).get("lts", {}).get("min_n", 10))
    bad = flagged_cells(min_n)
    flag = np.zeros((nx, ny), bool)
    for rec in bad:
        flag[int(rec["cell_x"]), int(rec["cell_y"])] = True
    occ_tr = np.asarray(som.get("occupancy_train", som["occupancy"]), float)
    occ_te = np.asarray(som.get("occupancy_test", np.zeros_like(occ_tr)), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = occ_te / (occ_tr + occ_te)
    qe = float(np.asarray(som.get("quantization_error", np.nan)))
    te = float(np.asarray(som.get("topographic_error", np.nan)))
    return html.Div([
        html.H2("SOM quality"),
        html.Ul([
            html.Li(["quantisation error: ", html.B(f"{qe:.4f}", id="som-qe"),
                     " (mean distance of a galaxy to its cell's weight vector, standardised colours)"]),
            html.Li(["topographic error: ", html.B(f"{te:.4f}", id="som-te"),
                     " (fraction of galaxies whose two best cells are not neighbours)"]),
            html.Li(["cells with fewer than ", str(min_n), " in-sample galaxies or no fit: ",
                     html.B(str(len(bad)), id="som-flagged")]),
        ]),
        dcc.Loading(html.Div([
            graph(pid("quality-fig", "umatrix"), figures.map_figure(
                som["u_matrix"], "U-matrix (distance to neighbours)", "distance", flag, "Greys")),
            graph(pid("quality-fig", "occupancy"), figures.map_figure(
                som["occupancy"], "Occupancy (all galaxies)", "galaxies", flag)),
            graph(pid("quality-fig", "coverage"), figures.map_figure(
                frac, "Test / (train + test) per cell", "fraction", flag, "RdBu")),
            graph(pid("quality-fig", "test"), figures.map_figure(
                occ_te, "Test-set occupancy", "galaxies", flag)),
        ], className="pair"), delay_show=300),
        html.H4("Flagged cells"),
        html.Table([html.Thead(html.Tr([html.Th(c) for c in ("cell", "(x, y)", "n", "status")]))]
                   + [html.Tbody([html.Tr([
                       html.Td(dcc.Link(str(r["cell"]), href=f"/?cell={r['cell']}")),
                       html.Td(f"({r['cell_x']}, {r['cell_y']})"), html.Td(str(r["n"])),
                       html.Td(r["status"])]) for r in bad])], className="stats"),
    ])
