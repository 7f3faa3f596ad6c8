"""The app served through Flask's test client: pages, callbacks, numbers, bad input, cutouts."""
# ruff: noqa: F811  (pytest fixtures imported from tests.app_fixtures)

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app import data
from app.panels import fmt_stat
from tests.app_fixtures import (  # noqa: F401 (fixtures)
    artifacts_dir,
    client,
    collect_text,
    dash_app,
    find_by,
    free_port,
    real_artifacts_dir,
    render_page,
)


def content(resp: Any) -> Any:
    assert resp.status_code == 200, resp.data[:500]
    return resp.get_json()["response"]["_pages_content"]["children"]


def callback(client: Any, outputs: list[str], inputs: dict[str, Any],
             state: dict[str, Any] | None = None) -> Any:
    """POST a callback like the renderer: find it by its outputs in /_dash-dependencies."""
    deps = client.get("/_dash-dependencies").get_json()
    wanted = [o.split(".") for o in outputs]
    for dep in deps:
        outs = [o.split("@")[0] for o in dep["output"].strip(".").split("...")]
        if outs == [".".join(w) for w in wanted]:
            break
    else:
        raise AssertionError(f"no callback for {outputs}")
    spec_outs = [{"id": i, "property": p} for i, p in wanted]

    def items(specs: list[dict[str, Any]], values: dict[str, Any]) -> list[Any]:
        return [{"id": s["id"], "property": s["property"],
                 "value": values.get(f"{s['id']}.{s['property']}")} for s in specs]

    body = {"output": dep["output"], "outputs": spec_outs if len(spec_outs) > 1 else spec_outs[0],
            "inputs": items(dep["inputs"], inputs), "state": items(dep["state"], state or {}),
            "changedPropIds": list(inputs)}
    return client.post("/_dash-update-component", json=body)


def shown_stats(tree: Any, methods: list[str]) -> dict[tuple[str, str], str]:
    out = {}
    for key in ("n", "theta_deg", "sigma_nmad", "sigma_atten", "sigma_scatter",
                "outlier_fraction", "bias", "status"):
        for m in methods:
            (node,) = find_by(tree, "data-testid", f"stat-{key}-{m}")
            out[(key, m)] = node["props"]["children"]
    return out


def busiest_cell(artifacts_dir: Path) -> int:
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    ok = cells[cells.status == "ok"]
    return int(ok.sort_values("n").iloc[-1]["cell"])


def test_healthz(client: Any) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "galaxies": 5000, "cells": 48, "methods": ["rf", "cnn"]}


@pytest.mark.parametrize("path, text", [
    ("/", "Named cells"), ("/global", "Global photo-z quality"), ("/trends", "Click a point"),
    ("/som-quality", "topographic error"), ("/about", "Moran"), ("/tour", "The run"),
    ("/tour", "5,000 galaxies"), ("/no-such-page", "no such page"),
])
def test_every_page_renders(client: Any, path: str, text: str) -> None:
    assert text in collect_text(content(render_page(client, path)))


def test_explorer_panel_shows_the_cells_table_numbers(client: Any, artifacts_dir: Path) -> None:
    cell = busiest_cell(artifacts_dir)
    tree = content(render_page(client, "/", f"?cell={cell}"))
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    rows = cells[cells.cell == cell].set_index("method")
    shown = shown_stats(tree, ["rf", "cnn"])
    for m in ("rf", "cnn"):
        r = rows.loc[m]
        assert int(shown[("n", m)]) == r.n
        assert float(shown[("sigma_nmad", m)]) == pytest.approx(r.sigma_nmad, abs=5e-5)
        assert float(shown[("sigma_atten", m)]) == pytest.approx(r.sigma_atten, abs=5e-5)
        assert float(shown[("sigma_scatter", m)]) == pytest.approx(r.sigma_scatter, abs=5e-5)
        assert float(shown[("bias", m)]) == pytest.approx(r.bias, abs=5e-5)
        assert float(shown[("outlier_fraction", m)].rstrip("%")) == pytest.approx(
            100 * r.outlier_fraction, abs=5e-3)
        theta, err = shown[("theta_deg", m)].rstrip("°").split(" ± ")
        assert float(theta) == pytest.approx(r.theta_deg, abs=0.05)
        assert float(err) == pytest.approx(r.theta_err, abs=0.05)
    (zs,) = find_by(tree, "data-testid", "cell-mean-zspec")
    assert float(zs["props"]["children"]) == pytest.approx(rows.iloc[0].mean_zspec, abs=5e-5)
    (bt,) = find_by(tree, "data-testid", "cell-mean-bt")
    assert float(bt["props"]["children"]) == pytest.approx(rows.iloc[0].mean_bt, abs=5e-5)
    (members,) = find_by(tree, "data-testid", "cell-members")
    galaxies = pd.read_parquet(artifacts_dir / "galaxies.parquet")
    assert int(members["props"]["children"]) == int((galaxies.cell == cell).sum())
    # the per-method graphs hold the cell's in-sample galaxies and the fitted line
    ins = galaxies[(galaxies.cell == cell) & galaxies.in_sample]
    graphs = [g for g in find_by(tree, "id", {"type": "cell-fig", "index": "rf"})]
    fig = graphs[0]["props"]["figure"]
    npts = sum(_length(t["x"]) for t in fig["data"] if t.get("name") in ("galaxies", "clipped"))
    assert npts == int(np.isfinite(ins.zphot_rf).sum())
    assert find_by(tree, "id", {"type": "pit-fig", "index": "cnn"})  # cnn has p(z)
    assert not find_by(tree, "id", {"type": "pit-fig", "index": "rf"})


def _length(arr: Any) -> int:
    if isinstance(arr, dict):  # typed array
        import base64

        return len(base64.b64decode(arr["bdata"])) // np.dtype(arr["dtype"]).itemsize
    return len(arr)


def test_cell_click_callback_matches_table(client: Any, artifacts_dir: Path) -> None:
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    ny = 8
    r = callback(client, ["explorer-cell.data"],
                 {"som-grid.clickData": {"points": [{"x": 2, "y": 5, "z": 0.1}]}},
                 {"explorer-cell.data": None})
    assert r.get_json()["response"]["explorer-cell"]["data"] == 2 * ny + 5
    r = callback(client, ["cell-panel.children", "selected-cell.data", "panel-shown.data"],
                 {"explorer-cell.data": 2 * ny + 5, "methods.value": ["rf"]})
    resp = r.get_json()["response"]
    tree = resp["cell-panel"]["children"]
    row = cells[(cells.cell == 21) & (cells.method == "rf")].iloc[0]
    (node,) = find_by(tree, "data-testid", "stat-sigma_nmad-rf")
    assert node["props"]["children"] == fmt_stat("sigma_nmad", row.to_dict())
    assert not find_by(tree, "data-testid", "stat-sigma_nmad-cnn")
    assert resp["selected-cell"]["data"] == 21


def test_keyboard_and_named_cell_navigation(client: Any) -> None:
    r = callback(client, ["explorer-cell.data"], {"key-move.data": {"dir": "right", "t": 1}},
                 {"explorer-cell.data": 3})
    assert r.get_json()["response"]["explorer-cell"]["data"] == 11
    r = callback(client, ["explorer-cell.data"], {"key-move.data": {"dir": "left", "t": 2}},
                 {"explorer-cell.data": 3})
    assert r.status_code == 204 or "explorer-cell" not in r.get_json().get("response", {}), r.data


def test_colour_by_changes_grid_values(client: Any, artifacts_dir: Path) -> None:
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    r = callback(client, ["som-grid.figure"], {"color-by.value": "ratio:sigma_nmad:rf:cnn"},
                 {"explorer-cell.data": 0, "named-page.data": {}})
    fig = r.get_json()["response"]["som-grid"]["figure"]
    assert "σ_NMAD(rf) / σ_NMAD(cnn)" in fig["data"][0]["colorbar"]["title"]["text"]
    with data_ctx(client) as _:
        z = data.grid("ratio:sigma_nmad:rf:cnn")["z"]
    wide = cells.pivot(index="cell", columns="method", values="sigma_nmad")
    expected = (wide["rf"] / wide["cnn"]).to_numpy().reshape(6, 8).T
    np.testing.assert_allclose(z, expected, rtol=1e-5)


class data_ctx:
    """An app context of the client's app (for calling app.data directly)."""

    def __init__(self, client: Any) -> None:
        self.ctx = client.application.app_context()

    def __enter__(self) -> Any:
        return self.ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.ctx.__exit__(*exc)


@pytest.mark.parametrize("search", [
    "?cell=abc", "?cell=-3", "?cell=48", "?cell=99999999999999999999999", "?cell=1e9",
    "?color=nope", "?color=sigma_nmad:zz", "?color=%3Cscript%3Ealert(1)%3C/script%3E",
    "?methods=zz", "?methods=", "?named=A:999", "?named=%3Cb%3E:1", "?cell=1&cell=2",
    "?%ff%fe=1", "?cell=" + "9" * 5000, "?step=x", "?" + "&".join(f"k{i}=v" for i in range(200)),
])
def test_bad_links_give_a_friendly_page(client: Any, search: str) -> None:
    for path in ("/", "/trends", "/tour"):
        r = render_page(client, path, search)
        assert r.status_code == 200
        text = collect_text(content(r))
        assert "Traceback" not in text
    text = collect_text(content(render_page(client, "/", search)))
    if search not in ("?methods=",):
        assert find_by(content(render_page(client, "/", search)), "className", "notice")
    assert "Named cells" in text


def test_bad_callback_inputs_never_500(client: Any) -> None:
    cases = [
        (["explorer-cell.data"], {"som-grid.clickData": {"points": "junk"}}),
        (["explorer-cell.data"], {"som-grid.clickData": {"points": [{"x": 99, "y": -1}]}}),
        (["explorer-cell.data"], {"key-move.data": "left"}),
        (["cell-panel.children", "selected-cell.data", "panel-shown.data"],
         {"explorer-cell.data": "9; DROP", "methods.value": "rf"}),
        (["som-grid.figure"], {"color-by.value": {"evil": 1}}),
        (["gallery.children"], {"explorer-cell.data": -5, "gallery-more.n_clicks": 10**9}),
        (["nav-location.href", "selected-cell.data"],
         {"fig-ratio.clickData": {"points": [{"customdata": "../../etc"}]}}),
    ]
    for outputs, inputs in cases:
        r = callback(client, outputs, inputs)
        assert r.status_code in (200, 204), (outputs, r.data[:300])


def test_trends_click_opens_the_cell(client: Any) -> None:
    r = callback(client, ["nav-location.href", "selected-cell.data"],
                 {"fig-theta.clickData": {"points": [{"customdata": 17, "x": 0.3, "y": 40}]}})
    resp = r.get_json()["response"]
    assert resp["nav-location"]["href"] == "/?cell=17"
    assert resp["selected-cell"]["data"] == 17


def test_exports(client: Any, artifacts_dir: Path) -> None:
    r = callback(client, ["download-cells.data"], {"download-cells-button.n_clicks": 1})
    dl = r.get_json()["response"]["download-cells"]["data"]
    assert dl["filename"] == "zcells_cells.csv"
    table = pd.read_csv(__import__("io").StringIO(dl["content"]))
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    assert len(table) == len(cells) and list(table.columns) == list(cells.columns)
    r = callback(client, ["download-members.data"], {"download-members-button.n_clicks": 1},
                 {"explorer-cell.data": 9})
    dl = r.get_json()["response"]["download-members"]["data"]
    members = pd.read_csv(__import__("io").StringIO(dl["content"]))
    galaxies = pd.read_parquet(artifacts_dir / "galaxies.parquet")
    assert len(members) == int((galaxies.cell == 9).sum())
    assert {"objid", "ra", "dec", "zspec", "zphot_rf", "zphot_cnn"} <= set(members.columns)
    assert set(members.objid) == set(galaxies.objid[galaxies.cell == 9])


def test_global_page_numbers(client: Any, artifacts_dir: Path) -> None:
    gm = json.loads((artifacts_dir / "global.json").read_text())
    tree = content(render_page(client, "/global"))
    for m in ("rf", "cnn"):
        (node,) = find_by(tree, "data-testid", f"global-sigma_nmad-{m}")
        assert float(node["props"]["children"]) == pytest.approx(
            gm["methods"][m]["sigma_nmad"], abs=5e-5)


def test_quality_page_flags_too_few(client: Any, artifacts_dir: Path) -> None:
    cells = pd.read_parquet(artifacts_dir / "cells.parquet")
    n_bad = cells[(cells.status != "ok") | (cells.n < 10)].cell.nunique()
    assert n_bad >= 1
    tree = content(render_page(client, "/som-quality"))
    (node,) = find_by(tree, "id", "som-flagged")
    assert int(node["props"]["children"]) == n_bad


# --------------------------------------------------------------------------- cutouts

def test_cutout_route_serves_simulated_images_and_404s(client: Any, artifacts_dir: Path) -> None:
    reps = pd.read_parquet(artifacts_dir / "representatives.parquet")
    r = client.get(f"/cutout/{int(reps.objid.iloc[0])}.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.headers["X-Cutout"] == "image" and r.data[:2] == b"\xff\xd8"
    galaxies = pd.read_parquet(artifacts_dir / "galaxies.parquet")
    not_rep = int(galaxies.objid[~galaxies.objid.isin(reps.objid)].iloc[0])
    r = client.get(f"/cutout/{not_rep}.jpg")
    assert r.status_code == 200 and r.headers["X-Cutout"] == "placeholder"
    for bad in ("/cutout/1.jpg", "/cutout/abc.jpg", "/cutout/..%2F..%2Fetc%2Fpasswd.jpg",
                "/cutout/99999999999999999999999.jpg", "/cutout/http:%2F%2Fexample.com.jpg",
                "/cutout/-1.jpg", "/cutout/%20123.jpg"):
        r = client.get(bad)
        assert r.status_code == 404 or r.mimetype != "image/jpeg", bad


class _FakeLegacy(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        from app.cutouts import placeholder

        body = placeholder("fake")
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_real_data_cutouts_fetch_cache_and_offline(real_artifacts_dir: Path, tmp_path: Path) -> None:
    from app.factory import create_app

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLegacy)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{srv.server_port}/cutout"
        app = create_app(real_artifacts_dir, cache_dir=str(tmp_path / "c"),
                         cutout_cache_dir=str(tmp_path / "cut"), cutout_base_url=base)
        c = app.server.test_client()
        galaxies = pd.read_parquet(real_artifacts_dir / "galaxies.parquet")
        g = galaxies.iloc[3]
        _FakeLegacy.hits.clear()
        r1 = c.get(f"/cutout/{int(g.objid)}.jpg")
        r2 = c.get(f"/cutout/{int(g.objid)}.jpg")
        assert r1.status_code == r2.status_code == 200
        assert r1.headers["X-Cutout"] == "image" and r2.headers["X-Cutout"] == "cache"
        assert len(_FakeLegacy.hits) == 1
        assert _FakeLegacy.hits[0].startswith("/cutout/cutout.jpg?") and f"ra={g.ra:.6f}" in _FakeLegacy.hits[0]
        assert c.get("/cutout/42.jpg").status_code == 404
        assert len(_FakeLegacy.hits) == 1  # unknown ids never trigger a fetch
        # gallery links for real data: Legacy Surveys viewer and SkyServer
        c.get("/")
        cell = int(g.cell)
        tree = content(render_page(c, "/", f"?cell={cell}"))
        hrefs = [n["props"]["href"] for n in find_by(tree, "target", "_blank")]
        assert any(h.startswith("https://www.legacysurvey.org/viewer?ra=") and "layer=ls-dr10"
                   in h and "zoom=16" in h for h in hrefs)
        assert any("skyserver.sdss.org" in h for h in hrefs)
    finally:
        srv.shutdown()
        srv.server_close()
    offline = create_app(real_artifacts_dir, cache_dir=str(tmp_path / "c2"),
                         cutout_cache_dir=str(tmp_path / "cut2"),
                         cutout_base_url=f"http://127.0.0.1:{free_port()}/x", cutout_timeout=1)
    r = offline.server.test_client().get(f"/cutout/{int(galaxies.objid.iloc[5])}.jpg")
    assert r.status_code == 200 and r.headers["X-Cutout"] == "placeholder"


# --------------------------------------------------------------------------- broken artifacts

def _error_page(app: Any) -> str:
    c = app.server.test_client()
    assert c.get("/").status_code == 200
    layout = c.get("/_dash-layout")
    assert layout.status_code == 200
    return collect_text(layout.get_json())


def test_missing_artifacts_give_a_clear_page(tmp_path: Path) -> None:
    from app.factory import create_app

    app = create_app(tmp_path / "nowhere", cache_dir=str(tmp_path / "c"))
    text = _error_page(app)
    assert "no artifacts folder" in text and "zcells demo" in text and "zcells build" in text
    c = app.server.test_client()
    assert c.get("/healthz").get_json()["status"] == "no_artifacts"
    assert c.get("/cutout/1.jpg").status_code == 404
    assert c.get("/trends").status_code == 200


def test_corrupt_artifacts_give_a_clear_page(artifacts_dir: Path, tmp_path: Path) -> None:
    from app.factory import create_app

    bad = tmp_path / "bad"
    shutil.copytree(artifacts_dir, bad)
    with open(bad / "cells.parquet", "r+b") as fh:
        fh.seek(20)
        fh.write(b"garbage")
    text = _error_page(create_app(bad, cache_dir=str(tmp_path / "c")))
    assert "checksum" in text and "zcells" in text
    (bad / "manifest.json").write_text("{not json")
    assert "corrupt manifest" in _error_page(create_app(bad, cache_dir=str(tmp_path / "c")))


def test_redis_cache_is_chosen_from_the_environment(artifacts_dir: Path, monkeypatch: Any) -> None:
    from app.factory import create_app

    monkeypatch.setenv("ZCELLS_REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app(artifacts_dir)
    assert type(app.server.extensions["cache"][data.cache]).__name__ == "RedisCache"
    monkeypatch.delenv("ZCELLS_REDIS_URL")
    app = create_app(artifacts_dir)
    assert type(app.server.extensions["cache"][data.cache]).__name__ == "FileSystemCache"
