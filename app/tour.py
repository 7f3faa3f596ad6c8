"""The guided Tour's story, written from the loaded run's own numbers (nothing hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.numbers import fmt_number


@dataclass
class TourStep:
    """One step: a title, paragraphs of text and a link into the app (``href``)."""

    title: str
    paragraphs: list[str]
    href: str
    link_text: str
    cells: dict[str, int] = field(default_factory=dict)


def _ok(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[(cells["status"] == "ok") & np.isfinite(cells["sigma_nmad"])]


def pick_story_cells(cells: pd.DataFrame) -> dict[str, int]:
    """Cells that play the roles of the paper's A-D on this run.

    A: most bulge-dominated cell in the upper half of mean z; B: most disk-dominated cell;
    C: the cell whose mean B/T is closest to the median (transition); D: lowest mean z.
    """
    ok = _ok(cells).drop_duplicates("cell").set_index("cell")
    if ok.empty:
        return {}
    zmed = ok["mean_zspec"].median()
    high = ok[ok["mean_zspec"] >= zmed]
    out = {"A": int((high if len(high) else ok)["mean_bt"].idxmax()),
           "B": int(ok["mean_bt"].idxmin()),
           "C": int((ok["mean_bt"] - ok["mean_bt"].median()).abs().idxmin()),
           "D": int(ok["mean_zspec"].idxmin())}
    seen: dict[int, str] = {}
    return {k: v for k, v in out.items() if seen.setdefault(v, k) == k}


def _f(v: Any, nd: int) -> str:
    return fmt_number(v, nd, missing="n/a")


def median_theta(cells: pd.DataFrame) -> dict[str, float]:
    """Median per-cell theta (degrees) of each method over cells with a fit."""
    ok = _ok(cells)
    return {m: float(np.nanmedian(g["theta_deg"])) for m, g in ok.groupby("method", sort=False)}


def median_atten_share(cells: pd.DataFrame) -> dict[str, float]:
    """Median per-cell sigma_atten / sigma_NMAD of each method."""
    ok = _ok(cells)
    return {m: float(np.nanmedian(g["sigma_atten"] / g["sigma_nmad"]))
            for m, g in ok.groupby("method", sort=False)}


def tour_steps(cells: pd.DataFrame, global_metrics: dict[str, Any], methods: list[str],
               manifest: dict[str, Any], shape: tuple[int, int], n_galaxies: int,
               named: dict[str, int] | None = None) -> list[TourStep]:
    """The Tour for a run: the run, the global view, named cells, attenuation, decomposition."""
    nx, ny = shape
    gm = global_metrics.get("methods", {})
    source = manifest.get("source", "file")
    sample = "test-set" if global_metrics.get("sample") == "test" else "all"
    steps = [TourStep(
        "The run",
        [f"This run holds {n_galaxies:,} galaxies ({source} data) mapped onto a {nx} × {ny} "
         f"self-organizing map of their colours, with photo-z's from {len(methods)} method(s): "
         f"{', '.join(methods)}.",
         "Each cell of the map groups galaxies of similar colour. In the paper, mean z_spec rises "
         "along one axis of the map and mean B/T along the other; the Explorer shows whether "
         "this run does too."], "/", "Open the Explorer")]
    sig = {m: float(gm.get(m, {}).get("sigma_nmad", np.nan)) for m in methods}
    lines = [f"{m}: σ_NMAD = {_f(sig[m], 4)}, outlier fraction = "
             f"{_f(100 * float(gm.get(m, {}).get('outlier_fraction', np.nan)), 2)}%, bias = "
             f"{_f(gm.get(m, {}).get('bias'), 4)}, global θ = {_f(gm.get(m, {}).get('theta_deg'), 1)}°."
             for m in methods]
    finite = {m: s for m, s in sig.items() if np.isfinite(s) and s > 0}
    if len(finite) >= 2:
        worst, best = max(finite, key=finite.get), min(finite, key=finite.get)  # type: ignore[arg-type]
        lines.append(f"Globally, {worst} scatters {finite[worst] / finite[best]:.2f} times as much "
                     f"as {best} (σ_NMAD ratio over {sample} galaxies).")
    steps.append(TourStep("The global view", lines, "/global", "Open the Global page"))
    story = dict(named) if named else pick_story_cells(cells)
    chosen = "your named cells" if named else "cells chosen from this run to play the paper's A-D"
    paras = [f"Here are {chosen}:"]
    for name, cell in story.items():
        rows = cells[cells["cell"] == cell].set_index("method")
        if rows.empty:
            continue
        r0 = rows.iloc[0]
        per = "; ".join(f"{m} θ = {_f(rows.loc[m, 'theta_deg'], 1)}°, σ_NMAD = "
                        f"{_f(rows.loc[m, 'sigma_nmad'], 4)}" for m in methods if m in rows.index)
        paras.append(f"Cell {name} = {cell} ({cell // ny}, {cell % ny}): ⟨z_spec⟩ = "
                     f"{_f(r0['mean_zspec'], 3)}, ⟨B/T⟩ = {_f(r0['mean_bt'], 2)}; {per}.")
    named_q = ",".join(f"{k}:{v}" for k, v in story.items())
    first = next(iter(story.values()), None)
    href = f"/?cell={first}&named={named_q}" if first is not None else "/"
    steps.append(TourStep("Named cells", paras, href, "See them on the map", story))
    th = median_theta(cells)
    lines = ["Within single cells, a perfect photo-z would follow z_phot = z_spec (θ = 45°). "
             "The median per-cell θ is " + ", ".join(f"{_f(th.get(m), 1)}° for {m}" for m in methods)
             + "."]
    if len(th) >= 2:
        flat, steep = min(th, key=th.get), max(th, key=th.get)  # type: ignore[arg-type]
        gflat = gm.get(flat, {}).get("theta_deg")
        lines.append(f"{flat} has the flattest cell-level slopes (median {_f(th[flat], 1)}°) even "
                     f"though its global θ is {_f(gflat, 1)}°: that gap is attenuation bias "
                     f"(regression dilution), which the global view hides. {steep} stays closer "
                     f"to 45° (median {_f(th[steep], 1)}°).")
    steps.append(TourStep("Attenuation bias, cell by cell", lines, "/trends", "Open the Trends"))
    share = median_atten_share(cells)
    lines = ["Each cell's scatter splits into σ_atten (from the flattened fit line) and "
             "σ_scatter (around it), with σ_atten² + σ_scatter² ≈ σ_NMAD².",
             "The median share σ_atten / σ_NMAD is " + ", ".join(
                 f"{_f(share.get(m), 2)} for {m}" for m in methods) + "."]
    ok = _ok(cells)
    if not ok.empty:
        lo = ok[ok["mean_bt"] <= ok["mean_bt"].median()]
        hi = ok[ok["mean_bt"] > ok["mean_bt"].median()]
        for m in methods:
            a = np.nanmedian(lo[lo.method == m]["sigma_atten"] / lo[lo.method == m]["sigma_nmad"])
            b = np.nanmedian(hi[hi.method == m]["sigma_atten"] / hi[hi.method == m]["sigma_nmad"])
            lines.append(f"{m}: median share {_f(a, 2)} in disk-dominated cells (low ⟨B/T⟩) and "
                         f"{_f(b, 2)} in bulge-dominated cells.")
    steps.append(TourStep("Decomposing the scatter", lines, "/trends?method=" + methods[0],
                          "See Fig. 7 live"))
    return steps
