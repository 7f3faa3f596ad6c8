"""The root layout: navigation, the cross-page stores and the page container."""

from __future__ import annotations

import dash
from dash import dcc, html

from app import ids

PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Explorer"),
    ("/global", "Global"),
    ("/trends", "Trends"),
    ("/som-quality", "SOM quality"),
    ("/about", "About this run"),
    ("/tour", "Tour"),
)


def navbar(run_label: str) -> html.Nav:
    """Top bar with the page links and a short description of the loaded run."""
    return html.Nav([
        html.A("zcells", href="/", className="brand"),
        html.Div([dcc.Link(label, href=href, className="nav-link", id=f"nav-{href.strip('/') or 'explorer'}")
                  for href, label in PAGES], className="nav-links"),
        html.Span(run_label, className="run-label"),
        html.Label(["figure download ",
                    html.Select([html.Option("PNG", value="png"), html.Option("SVG", value="svg")],
                                id="image-format", title="format of the camera button on every plot")],
                   className="image-format"),
    ], className="navbar")


def root_layout(run_label: str) -> html.Div:
    """Everything outside the pages: nav, stores (named cells persist in localStorage), location."""
    return html.Div([
        navbar(run_label),
        dcc.Location(id=ids.NAV, refresh="callback-nav"),
        dcc.Store(id=ids.NAMED_CELLS, storage_type="local"),
        dcc.Store(id=ids.SELECTED_CELL, storage_type="session"),
        html.Div(id=ids.URL_SYNC, hidden=True),
        html.Main(dash.page_container, className="page"),
        html.Footer(["zcells: where in colour space photo-z's go wrong. After Moran, Andrews, "
                     "Newman & Dey (2025). ", dcc.Link("About this run", href="/about")]),
    ])


def error_layout(message: str) -> html.Div:
    """The page shown when the artifacts cannot be loaded: what is wrong and how to build them."""
    return html.Div([
        html.Nav([html.A("zcells", href="/", className="brand")], className="navbar"),
        html.Main([
            html.H2("No results to show yet"),
            html.P("zcells could not open its artifacts folder:"),
            html.Pre(message, className="error-message", id="artifacts-error"),
            html.H4("How to build one"),
            html.Ul([
                html.Li([html.Code("zcells demo"), ": simulate a small survey, build and serve it."]),
                html.Li([html.Code("zcells build --catalog FILE --out artifacts"),
                         ": build from your own catalogue."]),
                html.Li(["then ", html.Code("zcells serve --artifacts artifacts"), "."]),
            ]),
        ], className="page"),
    ])
