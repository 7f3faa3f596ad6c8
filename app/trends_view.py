"""The Trends page's view functions (paper Figs. 3, 5 and 7, each point a cell)."""

from __future__ import annotations

import plotly.graph_objects as go

from app import data, figures


def pick_methods(a: object, b: object, method: object) -> tuple[str, str, str]:
    """Valid (a, b, method) for the figures: unknown names fall back to the run's methods.

    The default ratio is the first classical method over the last one (e.g. rf / cnn).
    """
    methods = data.run().methods
    da, db = methods[0], methods[-1]
    a = a if a in methods else da
    b = b if b in methods else (db if db != a else methods[0])
    method = method if method in methods else methods[0]
    return str(a), str(b), str(method)


def global_ratio(a: str, b: str) -> float | None:
    """Global sigma_NMAD(a) / sigma_NMAD(b) from the run's global metrics."""
    gm = data.run().art.global_metrics.get("methods", {})
    try:
        return float(gm[a]["sigma_nmad"]) / float(gm[b]["sigma_nmad"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def trend_figures(a: object, b: object, method: object,
                  selected: int | None) -> tuple[go.Figure, ...]:
    """The five Trends figures for methods ``a``/``b`` (ratio) and ``method`` (decomposition)."""
    a, b, method = pick_methods(a, b, method)
    table = data.trend_table()
    methods = data.run().methods
    return (figures.ratio_trend_figure(table, a, b, global_ratio(a, b), selected),
            figures.theta_trend_figure(table, methods),
            figures.theta_histogram_figure(table, methods),
            figures.decomposition_figure(table, method),
            figures.decomposition_figure(table, method, ratios=True))
