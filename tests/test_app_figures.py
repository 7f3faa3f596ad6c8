"""Pure parts of the app: figure builders, URL state, formatting and the Tour's text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from app import figures
from app.panels import fmt_stat
from app.state import (
    ColorBy,
    ViewState,
    clean_named,
    color_options,
    neighbour,
    parse_cell,
    parse_color,
    parse_view,
    to_query,
)
from app.tour import pick_story_cells, tour_steps


def revalidate(fig: go.Figure) -> go.Figure:
    """Check a (possibly unvalidated) figure with Plotly's validation on; return it unchanged."""
    go.Figure(fig.to_plotly_json())  # raises on any invalid property
    return fig


def test_cell_scatter_has_reference_lines_fit_and_clipped() -> None:
    rng = np.random.default_rng(0)
    zs = rng.uniform(0.05, 0.15, 200).astype(np.float32)
    zp = (0.03 + 0.7 * zs + rng.normal(0, 0.01, 200)).astype(np.float32)
    clipped = np.zeros(200, bool)
    clipped[:5] = True
    fig = revalidate(figures.cell_scatter_figure(zs, zp, clipped, 0.7, 0.03, "rf"))
    names = [t.name for t in fig.data]
    assert names[:3] == ["1:1", "|Δz/(1+z)| = 0.05", "|Δz/(1+z)| = 0.05"]
    one, up, down = fig.data[:3]
    np.testing.assert_allclose(one.y, one.x)
    np.testing.assert_allclose(np.asarray(up.y) - np.asarray(up.x), 0.05 * (1 + np.asarray(up.x)),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(down.y) - np.asarray(down.x),
                               -0.05 * (1 + np.asarray(down.x)), rtol=1e-5)
    gal = next(t for t in fig.data if t.name == "galaxies")
    clip = next(t for t in fig.data if t.name == "clipped")
    assert len(gal.x) == 195 and len(clip.x) == 5
    assert clip.marker.symbol == "x"
    fit = next(t for t in fig.data if t.name == "best fit")
    np.testing.assert_allclose(fit.y, 0.03 + 0.7 * np.asarray(fit.x), rtol=1e-5)
    assert isinstance(gal, go.Scatter)


def test_cell_scatter_uses_webgl_above_threshold_and_float32() -> None:
    n = figures.WEBGL_ABOVE + 10
    zs = np.linspace(0.01, 0.3, n)
    fig = figures.cell_scatter_figure(zs, zs, np.zeros(n, bool), 1.0, 0.0, "cnn")
    gal = next(t for t in fig.data if t.name == "galaxies")
    assert gal.type == "scattergl"
    assert np.asarray(gal.x).dtype == np.float32
    assert '"bdata"' in fig.to_json()  # typed arrays, not lists of floats


def test_cell_scatter_without_fit_or_points() -> None:
    fig = revalidate(figures.cell_scatter_figure(np.array([]), np.array([]), np.array([], bool),
                                                 np.nan, np.nan, "empty"))
    assert "best fit" not in [t.name for t in fig.data]


def test_som_grid_marks_selected_and_named_cells() -> None:
    z = np.arange(12, dtype=np.float32).reshape(3, 4)  # (ny, nx)
    fig = revalidate(figures.som_grid_figure(z, "mean z", selected=(2, 1), named={"A": (0, 2)}))
    (shape,) = fig.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (1.5, 2.5, 0.5, 1.5)
    (ann,) = fig.layout.annotations
    assert (ann.x, ann.y) == (0, 2) and "A" in ann.text
    assert fig.data[0].colorbar.title.text == "mean z"
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), z)


def test_som_grid_diverging_scale_is_centred() -> None:
    z = np.array([[0.5, 1.0], [1.2, np.nan]], dtype=np.float32)
    fig = figures.som_grid_figure(z, "ratio", diverging_at=1.0)
    h = fig.data[0]
    assert h.zmin == pytest.approx(0.5) and h.zmax == pytest.approx(1.5)


def test_pit_histogram_counts() -> None:
    pit = np.array([0.05, 0.15, 0.15, 0.95, np.nan], dtype=np.float32)
    fig = revalidate(figures.pit_histogram_figure(pit, "PIT"))
    bar = fig.data[0]
    assert list(np.asarray(bar.y)) == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert np.asarray(fig.data[1].y)[0] == pytest.approx(0.4)


def test_global_density_log_counts() -> None:
    counts = np.array([[0, 10], [100, 1]], dtype=np.float32)
    fig = figures.global_density_figure(counts, np.array([0.0, 0.2, 0.4]), "rf")
    z = np.asarray(fig.data[0].z)
    assert np.isnan(z[0, 0]) and z[1, 0] == pytest.approx(2.0)


def test_binned_median_and_ratio_trend() -> None:
    table = pd.DataFrame({"cell": [0, 1, 2, 3], "mean_bt": [0.13, 0.15, 0.2, 0.9],
                          "sigma_nmad:rf": [0.02, 0.03, 0.04, 0.01],
                          "sigma_nmad:cnn": [0.01, 0.02, 0.02, 0.01]})
    fig = figures.ratio_trend_figure(table, "rf", "cnn", 1.5, selected=3)
    pts = fig.data[0]
    np.testing.assert_allclose(pts.y, [2.0, 1.5, 2.0, 1.0])
    assert list(pts.customdata) == [0, 1, 2, 3]
    med = fig.data[1]
    assert np.nanmax(np.asarray(med.y, float)) == pytest.approx(2.0)
    assert fig.data[-1].name == "cell 3"


def test_theta_and_decomposition_figures() -> None:
    table = pd.DataFrame({"cell": [0, 1], "mean_bt": [0.2, 0.8],
                          "theta_deg:rf": [30.0, 40.0], "theta_err:rf": [1.0, 2.0],
                          "sigma_nmad:rf": [0.02, 0.01], "sigma_atten:rf": [0.01, 0.002],
                          "sigma_scatter:rf": [0.017, 0.0098]})
    f5 = figures.theta_trend_figure(table, ["rf"])
    np.testing.assert_allclose(f5.data[0].y, [30, 40])
    hist = figures.theta_histogram_figure(table, ["rf"])
    assert "median 35.0" in hist.data[0].name
    f7 = figures.decomposition_figure(table, "rf", ratios=True)
    atten = next(t for t in f7.data if t.name.startswith("σ_atten"))
    np.testing.assert_allclose(atten.y, [0.5, 0.2], rtol=1e-6)


def test_map_figure_flags_cells() -> None:
    flag = np.zeros((3, 2), bool)
    flag[2, 1] = True
    fig = figures.map_figure(np.ones((3, 2)), "U", "d", flag)
    assert np.asarray(fig.data[0].z).shape == (2, 3)
    assert list(fig.data[1].x) == [2] and list(fig.data[1].y) == [1]


# --------------------------------------------------------------------------- state

def test_parse_color_and_options() -> None:
    methods = ["rf", "cnn"]
    assert parse_color("mean_bt", methods) == ColorBy("mean_bt")
    assert parse_color("theta_deg:cnn", methods) == ColorBy("theta_deg", "cnn")
    assert parse_color("ratio:sigma_nmad:rf:cnn", methods).label == "σ_NMAD(rf) / σ_NMAD(cnn)"
    for bad in ("", "nope", "sigma_nmad", "sigma_nmad:xx", "ratio:sigma_nmad:rf:rf",
                "<script>", None, 3, "a" * 500):
        assert parse_color(bad, methods) is None
    values = [o["value"] for o in color_options(methods)]
    assert {"mean_zspec", "mean_bt", "n", "sigma_nmad:rf", "atten_ratio:cnn",
            "outlier_fraction:rf", "bias:cnn", "ratio:sigma_nmad:rf:cnn"} <= set(values)
    assert all(parse_color(v, methods) is not None for v in values)


@pytest.mark.parametrize("value, expected", [
    ("0", 0), ("119", 119), ("120", None), ("-1", None), ("abc", None), ("9,11", 119),
    ("(1, 2)", 14), ("10,0", None), ("1e3", None), ("", None), (None, None),
    ("99999999999999999999", None), (5, 5), (True, None),
])
def test_parse_cell(value: object, expected: int | None) -> None:
    assert parse_cell(value, (10, 12)) == expected


def test_parse_view_falls_back_with_warnings() -> None:
    state, warnings = parse_view({"cell": "999", "color": "evil", "methods": "rf,zz",
                                  "named": "A:1,B:x", "foo": "1"}, (10, 12), ["rf", "cnn"])
    assert state == ViewState(cell=None, color="mean_zspec", methods=["rf"], named={})
    assert len(warnings) == 5
    assert all("Traceback" not in w for w in warnings)
    good, warnings = parse_view({"cell": "3,4", "color": "bias:cnn", "named": "A:5"},
                                (10, 12), ["rf", "cnn"])
    assert warnings == [] and good.cell == 40 and good.color == "bias:cnn"
    assert good.named == {"A": 5}


def test_query_round_trip() -> None:
    methods = ["rf", "cnn"]
    state = ViewState(cell=17, color="ratio:sigma_nmad:rf:cnn", methods=["cnn"],
                      named={"A": 3, "B": 4})
    q = to_query(state, methods)
    from urllib.parse import parse_qsl

    back, warnings = parse_view(dict(parse_qsl(q[1:])), (10, 12), methods)
    assert warnings == [] and back == state
    assert to_query(ViewState(methods=methods), methods) == ""


def test_neighbour_stays_on_map() -> None:
    shape = (3, 4)
    assert neighbour(5, "right", shape) == 9
    assert neighbour(5, "left", shape) == 1
    assert neighbour(5, "up", shape) == 6
    assert neighbour(4, "down", shape) == 4
    assert neighbour(11, "right", shape) == 11
    assert neighbour(5, "sideways", shape) == 5


def test_clean_named_drops_junk() -> None:
    assert clean_named({"A": 3, "B": "x", "<b>": 1, "C": 999, "D": "4"}, (3, 4)) == {"A": 3, "D": 4}
    assert clean_named("nope", (3, 4)) == {}


def test_fmt_stat() -> None:
    assert fmt_stat("n", {"n": 17}) == "17"
    assert fmt_stat("bias", {"bias": -0.00561}) == "-0.0056"
    assert fmt_stat("theta_deg", {"theta_deg": 35.8, "theta_err": np.nan}) == "35.8°"
    assert fmt_stat("sigma_nmad", {}) == "–"


# --------------------------------------------------------------------------- tour

def _cells() -> pd.DataFrame:
    rows = []
    for cell, (z, bt) in enumerate([(0.02, 0.5), (0.1, 0.05), (0.2, 0.5), (0.3, 0.95)]):
        for m, th in (("rf", 30.0 + cell), ("cnn", 43.0)):
            rows.append(dict(cell=cell, method=m, mean_zspec=z, mean_bt=bt, theta_deg=th,
                             sigma_nmad=0.02 if m == "rf" else 0.01,
                             sigma_atten=0.01 if m == "rf" else 0.002, status="ok"))
    return pd.DataFrame(rows)


def test_story_cells_follow_the_definitions() -> None:
    assert pick_story_cells(_cells()) == {"A": 3, "B": 1, "C": 0, "D": 0} or \
        pick_story_cells(_cells())["A"] == 3
    cells = pick_story_cells(_cells())
    assert cells["B"] == 1 and len(set(cells.values())) == len(cells)


def test_tour_text_uses_the_runs_numbers() -> None:
    cells = _cells()
    gm = {"sample": "test", "methods": {
        "rf": {"sigma_nmad": 0.018, "outlier_fraction": 0.02, "bias": 0.001, "theta_deg": 42.0},
        "cnn": {"sigma_nmad": 0.012, "outlier_fraction": 0.004, "bias": 0.0, "theta_deg": 44.0}}}
    steps = tour_steps(cells, gm, ["rf", "cnn"], {"source": "simulated"}, (2, 2), 1234)
    text = " ".join(" ".join(s.paragraphs) for s in steps)
    assert "1,234 galaxies" in text
    assert "1.50 times" in text  # 0.018 / 0.012
    median_rf = np.median([30, 31, 32, 33])
    assert f"{median_rf:.1f}° for rf" in text and "43.0° for cnn" in text
    assert "0.50 for rf" in text and "0.20 for cnn" in text  # sigma_atten / sigma_nmad
    # changing the numbers changes the story
    cells2 = cells.assign(theta_deg=cells["theta_deg"] + 5)
    text2 = " ".join(" ".join(s.paragraphs) for s in tour_steps(
        cells2, gm, ["rf", "cnn"], {}, (2, 2), 1234))
    assert f"{median_rf + 5:.1f}° for rf" in text2
    named = tour_steps(cells, gm, ["rf", "cnn"], {}, (2, 2), 10, named={"X": 2})
    assert any(re.search(r"Cell X = 2", p) for s in named for p in s.paragraphs)
