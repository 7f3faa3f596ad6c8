"""Screenshots of the app on a real build (e.g. the demo): Explorer with an open cell, and Trends.

Usage::

    zcells demo --no-serve --out zcells-demo
    PYTHONPATH=. python docs/make_screenshots.py zcells-demo --cell 57

Needs Debian's Chromium at /usr/bin/chromium and the playwright package (no browser download).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.app_fixtures import CHROMIUM, CHROMIUM_ARGS, ServerThread  # noqa: E402


def main() -> int:
    """Serve the artifacts on 127.0.0.1 and save the screenshots under docs/screenshots/."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifacts")
    ap.add_argument("--cell", type=int, default=57)
    ap.add_argument("--prefix", default="demo-")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from app.factory import create_app

    tmp = Path(tempfile.mkdtemp())
    app = create_app(args.artifacts, cache_dir=str(tmp / "cache"), cutout_cache_dir=str(tmp / "c"))
    out = HERE / "screenshots"
    with ServerThread(app.server) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{srv.url}/?cell={args.cell}")
        page.wait_for_function(
            f"(document.querySelector('#cell-title') || {{}}).innerText?.startsWith('Cell {args.cell} ')")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / f"{args.prefix}explorer-cell.png"), full_page=True)
        page.goto(f"{srv.url}/trends")
        page.wait_for_selector(".js-plotly-plot")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / f"{args.prefix}trends.png"), full_page=True)
        browser.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
