"""A friendly page for unknown addresses."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", name="Not found", title="zcells · not found")


def layout(**_: Any) -> html.Div:
    """Say that the page does not exist and link back."""
    return html.Div([html.H2("There is no such page"),
                     html.P(["Try the ", dcc.Link("Explorer", href="/"), " or the ",
                             dcc.Link("Tour", href="/tour"), "."])], className="notfound")
