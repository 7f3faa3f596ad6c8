"""Pure figure builders: numpy/pandas in, ``go.Figure`` out (float32 arrays, WebGL when large)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

WEBGL_ABOVE = 1000
OUTLIER = 0.05
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
# no template: copying a Plotly template costs ~0.1 s per figure, too slow for a click
_BASE = dict(margin=dict(l=50, r=20, t=40, b=45), plot_bgcolor="white", paper_bgcolor="white",
             font=dict(family="system-ui, sans-serif", size=12))


def _ax(**kw: object) -> dict[str, object]:
    """Axis settings with the app's light grid."""
    return dict(gridcolor="#e8e8e8", zeroline=False, linecolor="#999", showline=True, **kw)
GRAPH_CONFIG: Any = {"displaylogo": False,
                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "zcells"}}


def fast_figure(data: list[dict[str, object]], layout: dict[str, object]) -> go.Figure:
    """A ``go.Figure`` built without Plotly's per-property validation (~20x faster).

    Used on the hot path (a cell click); tests re-validate these figures with ``go.Figure(fig.to_dict())``.
    """
    return go.Figure(data=data, layout={"template": "none", **layout}, _validate=False)


def _f32(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def scatter_trace(x: np.ndarray, y: np.ndarray, **kw: object) -> go.Scatter | go.Scattergl:
    """A markers trace, WebGL above ``WEBGL_ABOVE`` points."""
    cls = go.Scattergl if len(x) > WEBGL_ABOVE else go.Scatter
    return cls(x=_f32(x), y=_f32(y), mode="markers", **kw)


def som_grid_figure(z: np.ndarray, label: str, hover: np.ndarray | None = None,
                    selected: tuple[int, int] | None = None,
                    named: dict[str, tuple[int, int]] | None = None,
                    diverging_at: float | None = None) -> go.Figure:
    """The SOM as a heatmap of cells (``z`` shaped (ny, nx)) with the selected cell outlined.

    Parameters
    ----------
    z : array (ny, nx)
        Values per cell; NaN cells are left blank.
    label : str
        Colour-bar title.
    hover : array (ny, nx) of str, optional
        Hover summary per cell.
    selected : (x, y), optional
        Cell to mark with a thick outline.
    named : dict name -> (x, y), optional
        Pinned cells, labelled on the map.
    diverging_at : float, optional
        Centre of a diverging colour scale (1 for ratios, 0 for bias).
    """
    z = _f32(z)
    ny, nx = z.shape
    heat: dict[str, object] = dict(type="heatmap", z=z, x=np.arange(nx, dtype=np.int32),
                                   y=np.arange(ny, dtype=np.int32),
                                   colorbar=dict(title=dict(text=label)), xgap=1, ygap=1,
                                   hoverongaps=False)
    if hover is not None:
        heat.update(text=hover, hovertemplate="%{text}<br>value: %{z:.4g}<extra></extra>")
    if diverging_at is not None and np.isfinite(z).any():
        span = float(np.nanmax(np.abs(z - diverging_at))) or 1.0
        heat.update(colorscale="RdBu", reversescale=True, zmin=diverging_at - span,
                    zmax=diverging_at + span)
    else:
        heat.update(colorscale="Viridis")
    return fast_figure([heat], dict(
        **_BASE, height=520, clickmode="event",
        xaxis=_ax(title=dict(text="cell x  (mean z_spec rises →)"), dtick=1, constrain="domain"),
        yaxis=_ax(title=dict(text="cell y  (mean B/T rises ↑)"), dtick=1, scaleanchor="x"),
        shapes=selection_shapes(selected), annotations=named_annotations(named or {})))


def selection_shapes(selected: tuple[int, int] | None) -> list[dict[str, object]]:
    """The outline drawn around the selected cell (empty when none)."""
    if selected is None:
        return []
    x, y = selected
    return [dict(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5,
                 line=dict(color="#ff2d55", width=4), fillcolor="rgba(0,0,0,0)")]


def named_annotations(named: dict[str, tuple[int, int]]) -> list[dict[str, object]]:
    """Labels for pinned cells."""
    return [dict(x=x, y=y, text=f"<b>{name}</b>", showarrow=False,
                 font=dict(color="white", size=14), bgcolor="rgba(0,0,0,0.55)")
            for name, (x, y) in named.items()]


def cell_scatter_figure(zspec: np.ndarray, zphot: np.ndarray, clipped: np.ndarray,
                        slope: float, intercept: float, title: str) -> go.Figure:
    """z_phot vs z_spec of one cell and method: 1:1, outlier lines, best-fit line, clipped marked."""
    zspec, zphot = _f32(zspec), _f32(zphot)
    clipped = np.asarray(clipped, bool)
    ok = np.isfinite(zspec) & np.isfinite(zphot)
    if ok.any():
        lo = float(min(zspec[ok].min(), zphot[ok].min()))
        hi = float(max(zspec[ok].max(), zphot[ok].max()))
    else:
        lo, hi = 0.0, 0.4
    pad = 0.05 * (hi - lo) + 0.005
    lo, hi = max(lo - pad, 0.0), hi + pad
    xs = np.array([lo, hi], dtype=np.float32)
    line = dict(color="black", width=1)
    traces: list[dict[str, object]] = [dict(type="scatter", x=xs, y=xs, mode="lines", line=line,
                                            name="1:1", hoverinfo="skip")]
    for sign in (1, -1):
        traces.append(dict(type="scatter", x=xs, y=xs + sign * OUTLIER * (1 + xs), mode="lines",
                           line=dict(line, dash="dash"), name="|Δz/(1+z)| = 0.05",
                           showlegend=sign == 1, hoverinfo="skip"))
    kind = "scattergl" if ok.sum() > WEBGL_ABOVE else "scatter"
    keep = ok & ~clipped
    traces.append(dict(type=kind, x=zspec[keep], y=zphot[keep], mode="markers", name="galaxies",
                       marker=dict(size=5, color="#1f77b4", opacity=0.7)))
    if (ok & clipped).any():
        traces.append(dict(type=kind, x=zspec[ok & clipped], y=zphot[ok & clipped], mode="markers",
                           name="clipped", marker=dict(size=7, color="#7f7f7f", symbol="x")))
    if np.isfinite(slope) and np.isfinite(intercept):
        traces.append(dict(type="scatter", x=xs, y=_f32(intercept + slope * xs), mode="lines",
                           line=dict(color="#d62728", width=2), name="best fit"))
    return fast_figure(traces, dict(
        **_BASE, title=dict(text=title, font=dict(size=14)), height=330,
        xaxis=_ax(title=dict(text="z_spec"), range=[lo, hi]),
        yaxis=_ax(title=dict(text="z_phot"), range=[lo, hi], scaleanchor="x"),
        legend=dict(orientation="h", y=-0.25, font=dict(size=10))))


def pit_histogram_figure(pit: np.ndarray, title: str, bins: int = 10) -> go.Figure:
    """Histogram of PIT values in [0, 1] with the uniform expectation."""
    pit = _f32(pit)
    pit = pit[np.isfinite(pit)]
    counts, edges = np.histogram(pit, bins=bins, range=(0, 1))
    centres = _f32(0.5 * (edges[1:] + edges[:-1]))
    expected = np.full(2, len(pit) / bins, np.float32)
    return fast_figure([
        dict(type="bar", x=centres, y=_f32(counts), width=1 / bins, name="PIT",
             marker=dict(color="#9467bd")),
        dict(type="scatter", x=_f32([0, 1]), y=expected, mode="lines", name="uniform",
             line=dict(color="black", dash="dot"), hoverinfo="skip"),
    ], dict(**_BASE, title=dict(text=title, font=dict(size=14)), height=250, showlegend=False,
            xaxis=_ax(title=dict(text="PIT"), range=[0, 1]), yaxis=_ax(title=dict(text="galaxies")),
            bargap=0.05))


def global_density_figure(counts: np.ndarray, edges: np.ndarray, title: str) -> go.Figure:
    """Global z_phot vs z_spec as a log-scaled 2-D histogram with 1:1 and outlier lines."""
    counts = _f32(counts)
    centres = _f32(0.5 * (edges[1:] + edges[:-1]))
    with np.errstate(divide="ignore"):
        logc = np.where(counts > 0, np.log10(counts), np.nan).astype(np.float32)
    fig = go.Figure(go.Heatmap(x=centres, y=centres, z=logc, colorscale="Viridis",
                               colorbar=dict(title=dict(text="log₁₀ N")),
                               hovertemplate="z_spec %{x:.3f}<br>z_phot %{y:.3f}<br>"
                                             "log N %{z:.2f}<extra></extra>"))
    xs = _f32([edges[0], edges[-1]])
    fig.add_trace(go.Scatter(x=xs, y=xs, mode="lines", line=dict(color="grey"), name="1:1"))
    for sign in (1, -1):
        fig.add_trace(go.Scatter(x=xs, y=xs + sign * OUTLIER * (1 + xs), mode="lines",
                                 line=dict(color="grey", dash="dash"), showlegend=False))
    fig.update_layout(**_BASE, title=dict(text=title, font=dict(size=14)), height=430,
                      showlegend=False, xaxis=_ax(title="z_spec", range=[edges[0], edges[-1]]),
                      yaxis=_ax(title="z_phot", range=[edges[0], edges[-1]], scaleanchor="x"))
    return fig


def binned_median(x: np.ndarray, y: np.ndarray, edges: np.ndarray,
                  min_count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``y`` in bins of ``x``; bins with fewer than ``min_count`` points are NaN.

    >>> c, m = binned_median(np.array([0.1, 0.2, 0.3, 0.7]), np.array([1., 2., 3., 9.]),
    ...                      np.array([0, 0.5, 1.0]), min_count=1)
    >>> m.tolist()
    [2.0, 9.0]
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    centres = 0.5 * (edges[1:] + edges[:-1])
    med = np.full(centres.size, np.nan)
    idx = np.digitize(x[ok], edges) - 1
    for k in range(centres.size):
        sel = y[ok][idx == k]
        if sel.size >= min_count:
            med[k] = np.median(sel)
    return centres, med


def ratio_trend_figure(table: pd.DataFrame, a: str, b: str, global_ratio: float | None = None,
                       selected: int | None = None) -> go.Figure:
    """Fig. 3: sigma_NMAD(a)/sigma_NMAD(b) per cell vs mean B/T, with the binned median."""
    bt = table["mean_bt"].to_numpy(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (table[f"sigma_nmad:{a}"].to_numpy(np.float32)
                 / table[f"sigma_nmad:{b}"].to_numpy(np.float32))
    cells = table["cell"].to_numpy(np.int64)  # customdata goes as a list: plotly.js leaves
    # typed-array customdata out of click events
    ok = np.isfinite(bt) & np.isfinite(ratio)
    fig = go.Figure(scatter_trace(bt[ok], ratio[ok], customdata=cells[ok].tolist(), name="cells",
                                  marker=dict(size=8, color="#7f7f7f"),
                                  hovertemplate="cell %{customdata}<br>⟨B/T⟩ %{x:.2f}"
                                                "<br>ratio %{y:.2f}<extra></extra>"))
    c, med = binned_median(bt[ok], ratio[ok], np.linspace(0, 1, 9))
    fig.add_trace(go.Scatter(x=_f32(c), y=_f32(med), mode="lines+markers", name="binned median",
                             line=dict(color="#1f77b4", width=3)))
    fig.add_hline(y=1.0, line_dash="dot", line_color="black")
    if global_ratio is not None and np.isfinite(global_ratio):
        fig.add_hline(y=global_ratio, line_dash="dash", line_color="#2ca02c",
                      annotation_text=f"global {global_ratio:.2f}")
    _mark_selected(fig, table, bt, ratio, selected)
    fig.update_layout(**_BASE, height=420, xaxis=_ax(title="⟨B/T⟩", range=[0, 1]),
                      yaxis=_ax(title=f"σ_NMAD({a}) / σ_NMAD({b})"),
                      title=dict(text="σ_NMAD ratio per cell (paper Fig. 3)", font=dict(size=14)))
    return fig


def _mark_selected(fig: go.Figure, table: pd.DataFrame, x: np.ndarray, y: np.ndarray,
                   selected: int | None) -> None:
    if selected is None:
        return
    hit = np.flatnonzero(table["cell"].to_numpy() == selected)
    if hit.size and np.isfinite(x[hit[0]]) and np.isfinite(y[hit[0]]):
        fig.add_trace(go.Scatter(x=_f32(x[hit[:1]]), y=_f32(y[hit[:1]]), mode="markers",
                                 name=f"cell {selected}", hoverinfo="skip",
                                 marker=dict(size=16, color="rgba(0,0,0,0)",
                                             line=dict(color="#ff2d55", width=3))))


def theta_trend_figure(table: pd.DataFrame, methods: Sequence[str]) -> go.Figure:
    """Fig. 5 (left): theta per cell vs mean B/T for each method, 45 deg marked."""
    fig = go.Figure()
    bt = table["mean_bt"].to_numpy(np.float32)
    cells = table["cell"].to_numpy(np.int64)
    for k, m in enumerate(methods):
        th = table[f"theta_deg:{m}"].to_numpy(np.float32)
        err = table[f"theta_err:{m}"].to_numpy(np.float32)
        ok = np.isfinite(bt) & np.isfinite(th)
        fig.add_trace(go.Scatter(x=bt[ok], y=th[ok], error_y=dict(array=err[ok], thickness=1),
                                 customdata=cells[ok].tolist(), mode="markers", name=m,
                                 marker=dict(color=COLORS[k % len(COLORS)], size=7),
                                 hovertemplate=f"{m}: cell %{{customdata}}<br>θ %{{y:.1f}}°"
                                               "<extra></extra>"))
    fig.add_hline(y=45, line_dash="dot", line_color="black", annotation_text="45° (ideal)")
    fig.update_layout(**_BASE, height=400, xaxis=_ax(title="⟨B/T⟩", range=[0, 1]),
                      yaxis=_ax(title="θ = arctan(slope) (deg)"),
                      title=dict(text="Per-cell slope angle θ (paper Fig. 5)", font=dict(size=14)))
    return fig


def theta_histogram_figure(table: pd.DataFrame, methods: Sequence[str]) -> go.Figure:
    """Fig. 5 (right): histogram of per-cell theta for each method."""
    fig = go.Figure()
    for k, m in enumerate(methods):
        th = table[f"theta_deg:{m}"].to_numpy(np.float32)
        th = th[np.isfinite(th)]
        fig.add_trace(go.Histogram(x=th, name=f"{m} (median {np.median(th):.1f}°)" if th.size
                                   else m, opacity=0.6, xbins=dict(start=0, end=60, size=2.5),
                                   marker_color=COLORS[k % len(COLORS)]))
    fig.update_layout(**_BASE, height=400, barmode="overlay", xaxis=_ax(title="θ (deg)"),
                      yaxis=_ax(title="cells"),
                      title=dict(text="θ distribution per method", font=dict(size=14)))
    return fig


def decomposition_figure(table: pd.DataFrame, method: str, ratios: bool = False) -> go.Figure:
    """Fig. 7: sigma, sigma_scatter and sigma_atten per cell vs mean B/T (or their ratios to sigma)."""
    bt = table["mean_bt"].to_numpy(np.float32)
    cells = table["cell"].to_numpy(np.int64)
    sig = table[f"sigma_nmad:{method}"].to_numpy(np.float32)
    fig = go.Figure()
    series = [("σ_NMAD", sig, "#000000"),
              ("σ_scatter", table[f"sigma_scatter:{method}"].to_numpy(np.float32), "#1f77b4"),
              ("σ_atten", table[f"sigma_atten:{method}"].to_numpy(np.float32), "#d62728")]
    if ratios:
        series = series[1:]
    for name, y, color in series:
        with np.errstate(divide="ignore", invalid="ignore"):
            yy = y / sig if ratios else y
        ok = np.isfinite(bt) & np.isfinite(yy)
        label = f"{name} / σ_NMAD" if ratios else name
        fig.add_trace(go.Scatter(x=bt[ok], y=_f32(yy[ok]), customdata=cells[ok].tolist(), mode="markers",
                                 name=label, marker=dict(color=color, size=7),
                                 hovertemplate=f"{label}: %{{y:.4f}}<br>cell %{{customdata}}"
                                               "<extra></extra>"))
    what = "ratios to σ_NMAD" if ratios else "σ decomposition"
    fig.update_layout(**_BASE, height=380, xaxis=_ax(title="⟨B/T⟩", range=[0, 1]),
                      yaxis=_ax(title="ratio" if ratios else "σ"),
                      title=dict(text=f"{what} for {method} (paper Fig. 7)", font=dict(size=14)))
    return fig


def map_figure(values: np.ndarray, title: str, label: str, flagged: np.ndarray | None = None,
               colorscale: str = "Viridis") -> go.Figure:
    """A plain per-cell map (U-matrix, occupancy, coverage), ``values`` shaped (nx, ny).

    ``flagged`` (nx, ny) bool marks cells with an ✕ (e.g. too few spectroscopic galaxies).
    """
    z = _f32(values).T
    ny, nx = z.shape
    fig = go.Figure(go.Heatmap(z=z, x=np.arange(nx, dtype=np.int32),
                               y=np.arange(ny, dtype=np.int32), colorscale=colorscale,
                               xgap=1, ygap=1, colorbar=dict(title=dict(text=label)),
                               hovertemplate="cell (%{x}, %{y})<br>%{z:.4g}<extra></extra>"))
    if flagged is not None and np.asarray(flagged).any():
        fx, fy = (a.astype(np.int32) for a in np.nonzero(np.asarray(flagged)))
        fig.add_trace(go.Scatter(x=fx, y=fy, mode="markers", name="too few galaxies",
                                 marker=dict(symbol="x", size=14, color="#ff2d55")))
    fig.update_layout(**_BASE, height=420, title=dict(text=title, font=dict(size=14)),
                      xaxis=_ax(title="cell x", dtick=1, constrain="domain"),
                      yaxis=_ax(title="cell y", dtick=1, scaleanchor="x"),
                      legend=dict(orientation="h", y=-0.2))
    return fig
