"""Headless Chromium (Playwright) on an app served from small generated artifacts on 127.0.0.1."""
# ruff: noqa: F811  (pytest fixtures imported from tests.app_fixtures)

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.app_fixtures import (  # noqa: F401 (fixtures)
    CHROMIUM,
    CHROMIUM_ARGS,
    ServerThread,
    artifacts_dir,
    free_port,
    real_artifacts_dir,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
WAIT = 60_000  # ms; the machine is shared, plotly.js can take seconds to parse


@pytest.fixture(scope="module")
def served(artifacts_dir: Path, tmp_path_factory: Any) -> Iterator[str]:
    import logging

    from app.factory import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(artifacts_dir, cache_dir=str(tmp / "cache"),
                     cutout_cache_dir=str(tmp / "cut"))
    with ServerThread(app.server) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors


def cells_table(artifacts_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(artifacts_dir / "cells.parquet")


def wait_grid(pg: Any) -> None:
    pg.wait_for_selector("#som-grid .main-svg")
    pg.wait_for_function("document.querySelector('#som-grid .js-plotly-plot')"
                         " && document.querySelector('#som-grid .js-plotly-plot')._fullLayout")


def wait_panel(pg: Any, cell: int) -> None:
    pg.wait_for_function(
        f"(document.querySelector('#cell-title') || {{}}).innerText?.startsWith('Cell {cell} ')")
    pg.wait_for_selector("#cell-title", state="visible")


def click_cell(pg: Any, x: int, y: int) -> None:
    """Click the centre of grid cell (x, y) using the plot's own axis mapping."""
    pos = pg.evaluate(f"""() => {{
        const gd = document.querySelector('#som-grid .js-plotly-plot');
        const L = gd._fullLayout, r = gd.getBoundingClientRect();
        return [r.left + L._size.l + L.xaxis.l2p({x}), r.top + L._size.t + L.yaxis.l2p({y})];
    }}""")
    pg.mouse.click(pos[0], pos[1])


def check_stats(pg: Any, table: pd.DataFrame, cell: int, methods: list[str]) -> None:
    rows = table[table.cell == cell].set_index("method")
    for m in methods:
        r = rows.loc[m]
        n = pg.inner_text(f"[data-testid='stat-n-{m}']")
        sig = pg.inner_text(f"[data-testid='stat-sigma_nmad-{m}']")
        theta = pg.inner_text(f"[data-testid='stat-theta_deg-{m}']")
        assert int(n) == r.n
        assert float(sig) == pytest.approx(r.sigma_nmad, abs=5e-5)
        assert float(theta.split(" ± ")[0]) == pytest.approx(r.theta_deg, abs=0.05)


def test_click_a_cell_shows_its_numbers(page: Any, served: str, artifacts_dir: Path) -> None:
    table = cells_table(artifacts_dir)
    page.goto(served + "/")
    wait_grid(page)
    ny = 8
    x, y = 2, 5
    click_cell(page, x, y)
    cell = x * ny + y
    wait_panel(page, cell)
    check_stats(page, table, cell, ["rf", "cnn"])
    assert f"cell={cell}" in page.url
    zs = float(page.inner_text("[data-testid='cell-mean-zspec']"))
    assert zs == pytest.approx(table[table.cell == cell].mean_zspec.iloc[0], abs=5e-5)
    # the selected cell is outlined on the map
    shapes = page.evaluate("document.querySelector('#som-grid .js-plotly-plot').layout.shapes")
    assert shapes and shapes[0]["x0"] == x - 0.5 and shapes[0]["y0"] == y - 0.5
    page.wait_for_selector("img.cutout")
    page.wait_for_function("[...document.querySelectorAll('img.cutout')].every(i => i.complete)")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explorer-cell.png"), full_page=True)
    # arrow keys move to the neighbouring cell
    page.keyboard.press("ArrowRight")
    wait_panel(page, cell + ny)
    check_stats(page, table, cell + ny, ["rf"])


def test_switch_colour_by(page: Any, served: str) -> None:
    page.goto(served + "/?cell=3")
    wait_grid(page)
    page.click("#color-by")
    page.fill("input[placeholder='Search']", "outlier fraction (cnn)")
    page.get_by_role("option", name="outlier fraction (cnn)", exact=True).click()
    page.wait_for_function(
        "document.querySelector('#som-grid .js-plotly-plot').data[0].colorbar.title.text"
        " === 'outlier fraction (cnn)'")
    page.wait_for_function("location.search.includes('color=outlier_fraction:cnn')")
    assert "cell=3" in page.url


def test_shared_link_lands_on_the_same_view(page: Any, served: str, artifacts_dir: Path) -> None:
    page.goto(served + "/?cell=20&color=ratio:sigma_nmad:rf:cnn&methods=cnn&named=A:20,B:7")
    wait_grid(page)
    wait_panel(page, 20)
    check_stats(page, cells_table(artifacts_dir), 20, ["cnn"])
    assert page.locator("[data-testid='stat-n-rf']").count() == 0
    title = page.evaluate(
        "document.querySelector('#som-grid .js-plotly-plot').data[0].colorbar.title.text")
    assert title == "σ_NMAD(rf) / σ_NMAD(cnn)"
    page.wait_for_selector("#named-list button.chip")
    chips = page.inner_text("#named-list")
    assert "A: (2, 4)" in chips and "B: (0, 7)" in chips
    # named cells are remembered locally and clicking one moves there
    page.click("text=B: (0, 7)")
    wait_panel(page, 7)
    stored = page.evaluate("localStorage.getItem('named-cells')")
    assert '"A":20' in stored.replace(" ", "")


def test_trends_point_opens_its_cell(page: Any, served: str) -> None:
    page.goto(served + "/trends")
    page.wait_for_selector("#fig-ratio .scatterlayer .point")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "trends.png"), full_page=True)
    cell, px, py = page.evaluate("""() => {
        const gd = document.querySelector('#fig-ratio .js-plotly-plot');
        const t = gd._fullData[0], L = gd._fullLayout, r = gd.getBoundingClientRect();
        let k = 0;  // the highest point: away from the binned-median line
        for (let i = 1; i < t.y.length; i++) { if (t.y[i] > t.y[k]) { k = i; } }
        const x = t.x[k], y = t.y[k];
        return [t.customdata[k], r.left + L._size.l + L.xaxis.l2p(x), r.top + L._size.t + L.yaxis.l2p(y)];
    }""")
    page.mouse.click(px, py)
    page.wait_for_function(f"location.pathname === '/' && location.search.includes('cell={cell}')")
    wait_panel(page, int(cell))


@pytest.mark.parametrize("path, selector, shot", [
    ("/global", ".js-plotly-plot", "global.png"),
    ("/som-quality", "#som-qe", "som-quality.png"),
    ("/about", "#about-citation", "about.png"),
    ("/tour", "#tour-title", "tour.png"),
    ("/tour?step=4", "#tour-title", "tour-attenuation.png"),
])
def test_pages_load(page: Any, served: str, path: str, selector: str, shot: str) -> None:
    page.goto(served + path)
    page.wait_for_selector(selector)
    if path in ("/global", "/som-quality"):
        page.wait_for_selector(".js-plotly-plot .main-svg")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / shot), full_page=True)
    assert "Traceback" not in page.inner_text("body")


def test_bad_link_gives_a_friendly_message(page: Any, served: str) -> None:
    page.goto(served + "/?cell=999&color=evil&methods=nope")
    page.wait_for_selector(".notice")
    text = page.inner_text("#notice")
    assert "not on this 6 x 8 map" in text and "Unknown colour-by" in text
    wait_grid(page)


def test_cutout_placeholder_when_offline(browser: Any, real_artifacts_dir: Path,
                                        tmp_path: Path) -> None:
    from app.factory import create_app

    app = create_app(real_artifacts_dir, cache_dir=str(tmp_path / "c"),
                     cutout_cache_dir=str(tmp_path / "cut"),
                     cutout_base_url=f"http://127.0.0.1:{free_port()}/viewer", cutout_timeout=1)
    with ServerThread(app.server) as srv:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT)
        try:
            pg.goto(srv.url + "/?cell=6")
            pg.wait_for_selector("img.cutout")
            pg.wait_for_function("[...document.querySelectorAll('img.cutout')]"
                                 ".every(i => i.complete && i.naturalWidth > 0)")
            src = pg.get_attribute("img.cutout", "src")
            resp = pg.request.get(srv.url + src)
            assert resp.status == 200 and resp.headers["x-cutout"] == "placeholder"
            link = pg.get_attribute(".thumb a[target=_blank]", "href")
            assert link.startswith("https://www.legacysurvey.org/viewer?ra=")
            assert pg.request.get(srv.url + "/cutout/12345.jpg").status == 404
        finally:
            ctx.close()


def test_explorer_uses_the_partial_plotly_bundle(page: Any, served: str) -> None:
    from app import plotlyjs

    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(served + "/?cell=5")
    wait_grid(page)
    wait_panel(page, 5)
    traces = page.evaluate("Object.keys(window.Plotly.PlotSchema.get().traces)")
    assert set(plotlyjs.TRACES) <= set(traces)
    assert not [u for u in requested if "plotly.min.js" in u]
