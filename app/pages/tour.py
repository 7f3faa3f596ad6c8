"""Tour: a guided walk through the paper's story, told with this run's numbers."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import data
from app.state import clean_named
from app.tour import tour_steps

dash.register_page(__name__, path="/tour", name="Tour", title="zcells · Tour", order=5)


def layout(step: Any = None, named_store: Any = None, **_: Any) -> html.Div:
    """One step of the Tour (``?step=N``), with links to the previous and next steps."""
    run = data.run()
    named = clean_named(named_store, run.shape) or None
    steps = tour_steps(run.art.cells, run.art.global_metrics, run.methods, run.art.manifest,
                       run.shape, len(run.art.galaxies), named)
    try:
        k = min(max(int(str(step)), 1), len(steps)) if step not in (None, "") else 1
    except ValueError:
        k = 1
    s = steps[k - 1]
    nav = []
    if k > 1:
        nav.append(dcc.Link("← previous", href=f"/tour?step={k - 1}", className="button"))
    if k < len(steps):
        nav.append(dcc.Link("next →", href=f"/tour?step={k + 1}", className="button",
                            id="tour-next"))
    return html.Div([
        html.Ol([html.Li(dcc.Link(t.title, href=f"/tour?step={i + 1}"),
                         className="current" if i + 1 == k else "") for i, t in enumerate(steps)],
                className="tour-steps"),
        html.Section([
            html.H2(f"{k}. {s.title}", id="tour-title"),
            html.Div([html.P(p) for p in s.paragraphs], id="tour-text"),
            dcc.Link(s.link_text + " →", href=s.href, className="button primary"),
        ], className="tour-step"),
        html.Div(nav, className="tour-nav"),
    ], className="tour")
