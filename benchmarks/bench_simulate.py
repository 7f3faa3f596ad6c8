"""Benchmark `zcells simulate`: wall time and galaxies per second for a full-size run.

Usage::

    PYTHONPATH=. python benchmarks/bench_simulate.py --n 50000 --workers 2 [--keep DIR]

Writes the speed section of benchmarks/results/simulate.md. Timings on a shared machine are
affected by other load: the script records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "simulate.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", default=None, help="write the survey here and keep it")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from compute.simulate import SimConfig, simulate
    from compute.simulate.report import replace_section

    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zcells-bench-")) / "sim"
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    c0 = os.times()
    simulate(SimConfig.from_dict({"n": args.n, "seed": args.seed, "workers": args.workers}), out)
    wall = time.perf_counter() - t0
    c1 = os.times()
    load1 = os.getloadavg()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system)
    counts = json.loads((out / "provenance.json").read_text())["counts"]
    size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    import datetime

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = f"""## Speed

`PYTHONPATH=. python benchmarks/bench_simulate.py --n {args.n} --workers {args.workers}`
on {platform.machine()} with {os.cpu_count()} cores, {when} (load average {load0[0]:.1f}
before, {load1[0]:.1f} after).

| galaxies (n, kept) | drawn | imaged | wall [s] | CPU [s] | galaxies / s | drawn / s | CPU ms / galaxy | output [MB] |
|---|---|---|---|---|---|---|---|---|
| {counts['kept']} | {counts['simulated']} | {counts['imaged']} | {wall:.1f} | {cpu:.1f} | {counts['kept'] / wall:.0f} | {counts['simulated'] / wall:.0f} | {1000 * cpu / max(counts['kept'], 1):.2f} | {size_mb:.0f} |

`n` counts the galaxies in the catalogue, every one with a 5-band 64 x 64 image and
measured photometry, all with Petrosian r <= 17.8. Galaxies are drawn from the luminosity
function chunk by chunk until n pass; drawn galaxies whose true total r is fainter than
mag_limit + image_margin (0.1 mag) cannot pass and are not imaged. "Imaged" galaxies are
rendered in 5 bands, noised and measured (two r-band profile fits, model photometry in 5
bands, cModel, Petrosian). CPU time includes the worker processes.
"""
    replace_section(RESULTS, "speed", body)
    print(body)
    if not args.keep:
        shutil.rmtree(out.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
