"""Global: z_phot vs z_spec density per method and the global metrics (the paper's Fig. 1)."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import data, figures
from app.explorer_view import graph
from app.ids import pid, testid
from app.panels import fmt_stat

dash.register_page(__name__, path="/global", name="Global", title="zcells · Global", order=1)

ROWS = (("n", "n"), ("sigma_nmad", "σ_NMAD"), ("outlier_fraction", "outlier fraction"),
        ("bias", "bias ⟨Δz/(1+z)⟩"), ("theta_deg", "global θ"), ("sigma_atten", "σ_atten"),
        ("sigma_scatter", "σ_scatter"))


def layout(**_: Any) -> html.Div:
    """Density plots and the global metrics table."""
    run = data.run()
    gm = run.art.global_metrics
    per = gm.get("methods", {})
    sample = "test set" if gm.get("sample") == "test" else "all galaxies"
    head = html.Tr([html.Th("")] + [html.Th(m) for m in run.methods])
    body = [html.Tr([html.Th(label), *[
        html.Td(fmt_stat(k, per.get(m, {})), **testid(f"global-{k}-{m}"))
        for m in run.methods]]) for k, label in ROWS]
    figs = []
    for m in run.methods:
        d = data.global_density(m)
        s = per.get(m, {})
        title = (f"{m}: σ_NMAD = {fmt_stat('sigma_nmad', s)}, f_out = "
                 f"{fmt_stat('outlier_fraction', s)}, bias = {fmt_stat('bias', s)}")
        figs.append(graph(pid("global-fig", m), figures.global_density_figure(
            d["counts"], d["edges"], title)))
    return html.Div([
        html.H2(f"Global photo-z quality ({sample})"),
        html.Table([html.Thead(head), html.Tbody(body)], className="stats"),
        dcc.Loading(html.Div(figs, className="pair"), delay_show=300),
        html.P("Globally the classical methods can look close to the 1:1 line; the attenuation "
               "bias shows up cell by cell (see Trends and the Explorer).", className="hint"),
    ])
