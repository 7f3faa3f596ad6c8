"""Benchmark the web app on 510,000 synthetic galaxies: callback time, cold load, memory, load test.

Usage::

    PYTHONPATH=. python benchmarks/bench_app.py [--galaxies 510000] [--clients 50] [--duration 60]
    PYTHONPATH=. python benchmarks/bench_app.py browser [--runs 5]  # cold-browser timing only
    PYTHONPATH=. python benchmarks/bench_app.py load --url URL --clients 50 --duration 60  # (internal)

Everything binds and targets 127.0.0.1 only; the load test is bounded by --clients and --duration.
Writes benchmarks/results/app.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "app.md"


def pct(values: list[float], q: float) -> float:
    """Percentile in milliseconds of values in seconds."""
    return float(np.percentile(np.asarray(values), q) * 1000) if values else float("nan")


def panel_body(cell: int, methods: list[str]) -> dict[str, Any]:
    """The JSON the browser POSTs when the selected cell changes (the cell-panel callback)."""
    return {
        "output": "..cell-panel.children...selected-cell.data...panel-shown.data..",
        "outputs": [{"id": "cell-panel", "property": "children"},
                    {"id": "selected-cell", "property": "data"},
                    {"id": "panel-shown", "property": "data"}],
        "inputs": [{"id": "explorer-cell", "property": "data", "value": cell},
                   {"id": "methods", "property": "value", "value": methods}],
        "state": [{"id": "panel-shown", "property": "data", "value": None}],
        "changedPropIds": ["explorer-cell.data"],
    }


def ensure_artifacts(folder: Path, n: int) -> Path:
    """Build (once) the synthetic artifacts of ``n`` galaxies on a 10x12 SOM."""
    from tests.app_fixtures import make_artifacts

    if (folder / "manifest.json").is_file():
        return folder
    t = time.perf_counter()
    make_artifacts(folder, n_galaxies=n, shape=(10, 12), methods=("rf", "cnn"), seed=1,
                   test_fraction=0.1)
    print(f"artifacts: {n:,} galaxies in {time.perf_counter() - t:.1f} s", flush=True)
    return folder


def bench_callback(folder: Path, repeats: int = 3) -> dict[str, Any]:
    """Time the cell-click work: the view function, and the full POST through Dash."""
    from app import explorer_view
    from app.factory import create_app

    cache = tempfile.mkdtemp(prefix="zcells-bench-cache-")
    t = time.perf_counter()
    app = create_app(folder, cache_dir=cache)
    startup = time.perf_counter() - t
    client = app.server.test_client()
    client.get("/")
    ncell = 120
    methods = ["rf", "cnn"]
    func_cold, func_warm, post_cold, post_warm = [], [], [], []
    explorer_view.PANELS.clear()
    with app.server.test_request_context():
        for cell in range(ncell):
            t = time.perf_counter()
            explorer_view.cell_panel(cell, methods)
            func_cold.append(time.perf_counter() - t)
        for _ in range(repeats):
            for cell in random.Random(0).sample(range(ncell), ncell):
                t = time.perf_counter()
                explorer_view.cell_panel(cell, methods)
                func_warm.append(time.perf_counter() - t)
    explorer_view.PANELS.clear()  # the per-worker LRU is keyed by run, not by app
    app2 = create_app(folder, cache_dir=tempfile.mkdtemp(prefix="zcells-bench-cache-"))
    c2 = app2.server.test_client()
    c2.get("/")
    for cell in range(ncell):
        t = time.perf_counter()
        r = c2.post("/_dash-update-component", json=panel_body(cell, methods))
        post_cold.append(time.perf_counter() - t)
        assert r.status_code == 200
    sizes = []
    for _ in range(repeats):
        for cell in random.Random(1).sample(range(ncell), ncell):
            t = time.perf_counter()
            r = c2.post("/_dash-update-component", json=panel_body(cell, methods))
            post_warm.append(time.perf_counter() - t)
            sizes.append(len(r.data))
    explorer_view.PANELS.clear()  # as in another gunicorn worker: a shared-cache read
    post_shared = []
    for cell in range(ncell):
        t = time.perf_counter()
        c2.post("/_dash-update-component", json=panel_body(cell, methods))
        post_shared.append(time.perf_counter() - t)
    return {"startup_s": startup, "func_cold": func_cold, "func_warm": func_warm,
            "post_cold": post_cold, "post_warm": post_warm, "post_shared": post_shared,
            "bytes": float(np.median(sizes))}


def rss_tree(pid: int) -> tuple[float, list[float]]:
    """Resident memory (MB) of a process and its children, from /proc."""
    def rss(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int(Path(d, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(rss(int(d.name)))
    return rss(pid), kids


def start_server(folder: Path, port: int, workers: int) -> subprocess.Popen[str]:
    """gunicorn (as ``zcells serve`` runs it) on 127.0.0.1."""
    from app.command import gunicorn_command

    env = dict(os.environ, ZCELLS_ARTIFACTS=str(folder), PYTHONPATH=str(ROOT),
               ZCELLS_CACHE_DIR=tempfile.mkdtemp(prefix="zcells-bench-srv-"))
    cmd = [c for c in gunicorn_command("127.0.0.1", port, workers) if c != "-"]
    cmd = [c for c in cmd if c != "--access-logfile"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("server did not start")


def cold_browser(url: str, runs: int = 3) -> list[dict[str, float]]:
    """Fresh browser each run: time to the drawn grid, and to a clicked cell's panel."""
    from playwright.sync_api import sync_playwright

    from tests.app_fixtures import CHROMIUM, CHROMIUM_ARGS

    out = []
    with sync_playwright() as p:
        for k in range(runs):
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(120_000)
            t = time.perf_counter()
            pg.goto(url + "/")
            pg.wait_for_selector("#som-grid .main-svg")
            pg.wait_for_function("document.querySelector('#som-grid .js-plotly-plot')._fullLayout")
            grid = time.perf_counter() - t
            cell = 13 + k
            x, y = divmod(cell, 12)
            pos = pg.evaluate(f"""() => {{
                const gd = document.querySelector('#som-grid .js-plotly-plot');
                const L = gd._fullLayout, r = gd.getBoundingClientRect();
                return [r.left + L._size.l + L.xaxis.l2p({x}), r.top + L._size.t + L.yaxis.l2p({y})];
            }}""")
            t2 = time.perf_counter()
            pg.mouse.click(pos[0], pos[1])
            pg.wait_for_function(
                f"(document.querySelector('#cell-title')||{{}}).innerText?.startsWith('Cell {cell} ')")
            click = time.perf_counter() - t2
            out.append({"grid_s": grid, "click_s": click})
            b.close()
    return out


def browser_only(folder: Path, workers: int, runs: int) -> int:
    """The cold-browser part alone (gunicorn as served), printed as JSON with its median."""
    from tests.app_fixtures import free_port

    port = free_port()
    proc = start_server(folder, port, workers)
    try:
        res = cold_browser(f"http://127.0.0.1:{port}", runs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    grid = [r["grid_s"] for r in res]
    print(json.dumps({"runs": res, "grid_median_s": float(np.median(grid)),
                      "load_average": os.getloadavg()}))
    return 0


def load_worker(url: str, clients: int, duration: float, seed: int = 0) -> dict[str, Any]:
    """``clients`` threads replaying cell clicks (random cells) for ``duration`` seconds."""
    import http.client
    from urllib.parse import urlparse

    u = urlparse(url)
    if u.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("the load test only targets 127.0.0.1")
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.time() + duration

    def client(k: int) -> None:
        rng = random.Random(seed + k)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while time.time() < stop:
            body = json.dumps(panel_body(rng.randrange(120), ["rf", "cnn"]))
            t = time.perf_counter()
            try:
                conn.request("POST", "/_dash-update-component", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                dt = time.perf_counter() - t
                with lock:
                    if resp.status == 200:
                        lat.append(dt)
                    else:
                        errors.append(str(resp.status))
            except Exception as exc:  # a failed request is a result, not a crash
                with lock:
                    errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            time.sleep(rng.uniform(0.0, 0.2))  # a person clicks, pauses, clicks again
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"n": len(lat), "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
            "rps": len(lat) / duration}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="all", choices=["all", "load", "browser"])
    ap.add_argument("--galaxies", type=int, default=510_000)
    ap.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "zcells-bench-510k"))
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--url", default="")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--runs", type=int, default=3, help="cold-browser runs")
    args = ap.parse_args()
    args.clients = min(args.clients, 200)
    args.duration = min(args.duration, 300.0)
    if args.mode == "load":
        print(json.dumps(load_worker(args.url, args.clients, args.duration)))
        return 0
    folder = ensure_artifacts(Path(args.folder), args.galaxies)
    if args.mode == "browser":
        return browser_only(folder, args.workers, args.runs)
    cb = bench_callback(folder)
    print(json.dumps({k: (pct(v, 95) if isinstance(v, list) else v) for k, v in cb.items()}),
          flush=True)
    from tests.app_fixtures import free_port

    port = free_port()
    proc = start_server(folder, port, args.workers)
    url = f"http://127.0.0.1:{port}"
    try:
        mem_idle = rss_tree(proc.pid)
        browser = [] if args.skip_browser else cold_browser(url, args.runs)
        print(json.dumps(browser), flush=True)
        out = subprocess.run([sys.executable, __file__, "load", "--url", url, "--clients",
                              str(args.clients), "--duration", str(args.duration)],
                             capture_output=True, text=True, timeout=args.duration + 120,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
        load = json.loads(out.stdout.strip().splitlines()[-1])
        mem_load = rss_tree(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    print(json.dumps(load), flush=True)
    write_report(args, cb, browser, load, mem_idle, mem_load)
    return 0


NOTES = """## Notes

- "first visit" builds the panel (members lookup, statistics table, one WebGL/SVG figure per
  method and the PIT histogram, built with `figures.fast_figure`, i.e. without Plotly's
  per-property validation) and stores it as plain JSON data in the flask-caching memo
  (FileSystem cache here; Redis under docker-compose, shared by all gunicorn workers);
  "revisits" are served from each worker's in-memory LRU (`explorer_view.PANELS`) in front of
  it, and a cell first seen by another worker costs a shared-cache read. After one pass over
  the 120 cells every click is a revisit.
- The load test reuses one HTTP connection per client; gunicorn ran 2 workers x 4 threads,
  on the same 2 cores as the 50 client threads.
- The page loads a partial plotly.js bundle (`app/vendor/plotly-zcells.min.js`, 1.5 MB: the
  trace types the app draws) instead of dcc.Graph's full plotly.min.js (4.8 MB); cold-browser
  time is then mostly parsing the JS bundles and Dash's first callbacks on a busy CPU.
- Memory: the artifacts (galaxies table ~70 MB for 510k rows) are loaded once in the gunicorn
  master (--preload) and shared copy-on-write by the workers.
"""


def write_report(args: Any, cb: dict[str, Any], browser: list[dict[str, float]],
                 load: dict[str, Any], mem_idle: tuple[float, list[float]],
                 mem_load: tuple[float, list[float]]) -> None:
    """Write benchmarks/results/app.md."""
    def row(name: str, v: list[float]) -> str:
        return f"| {name} | {len(v)} | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {pct(v, 99):.1f} |"

    load_avg = os.getloadavg()
    worker_max = max(mem_load[1] or [0.0])
    lines = [
        "# Web app benchmark (benchmarks/bench_app.py)",
        "",
        f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.platform()}; "
        f"{os.cpu_count()} CPU cores (load average {load_avg[0]:.1f} / {load_avg[1]:.1f} at the "
        "end, counting the benchmark's own server, clients and browser).",
        f"- Artifacts: {args.galaxies:,} synthetic galaxies (tests/app_fixtures.make_artifacts), "
        "10 x 12 SOM, methods rf and cnn, 10% test set (~425 in-sample galaxies per cell).",
        f"- App startup (load + index artifacts): {cb['startup_s']:.2f} s.",
        "",
        "## Cell click (server time)",
        "",
        "| what | n | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|",
        row("view function `cell_panel`, first visit of each cell", cb["func_cold"]),
        row("view function `cell_panel`, revisits", cb["func_warm"]),
        row("POST /_dash-update-component, first visit of each cell", cb["post_cold"]),
        row("POST /_dash-update-component, revisits (worker LRU)", cb["post_warm"]),
        row("POST /_dash-update-component, first visit in this worker (shared cache)",
            cb["post_shared"]),
        "",
        f"Response size (median): {cb['bytes'] / 1024:.0f} KiB (float32 typed arrays). "
        "Target: p95 < 50 ms.",
        "",
        "## Cold browser (headless Chromium, new browser per run)",
        "",
        "| run | grid drawn (s) | click to panel (s) |",
        "|---|---|---|",
        *[f"| {i + 1} | {b['grid_s']:.2f} | {b['click_s']:.2f} |" for i, b in enumerate(browser)],
        "",
        "Target: Explorer interactive < 2 s from a cold browser.",
        "",
        "## Server memory (gunicorn, --preload, "
        f"{args.workers} workers)",
        "",
        f"- idle: master {mem_idle[0]:.0f} MB, workers "
        f"{', '.join(f'{m:.0f}' for m in mem_idle[1])} MB",
        f"- after the load test: master {mem_load[0]:.0f} MB, workers "
        f"{', '.join(f'{m:.0f}' for m in mem_load[1])} MB (largest worker {worker_max:.0f} MB; "
        "RSS counts pages shared with the master after fork, so the sum over-counts).",
        "",
        "Target: < 1.5 GB resident.",
        "",
        f"## Load test: {args.clients} concurrent clients for {args.duration:.0f} s "
        "(second process, 127.0.0.1)",
        "",
        "Each client replays cell clicks (POST of the cell-panel callback, random cells, "
        "0-200 ms pause between clicks).",
        "",
        f"- requests: {load['n']} ({load['rps']:.1f}/s), errors: {load['errors']} "
        f"{load['error_kinds'] or ''}",
        f"- latency p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, "
        f"p99 {load['p99_ms']:.0f} ms",
        "",
        "Target: p95 < 300 ms, no errors.",
        "",
        NOTES,
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    raise SystemExit(main())
