"""Benchmark: `zcells build` on the real 5k SDSS MGS sample with a random-forest photo-z.

Step 1 (benchmarks/bench_methods_real.py) writes the catalogue with an honest ``zphot_rf``
(test rows from a forest trained on the training rows, training rows 5-fold out of fold).
Step 2 runs ``zcells build`` on it with every galaxy in the per-cell statistics, on a 6x8 SOM
(the issue's choice for 5,000 galaxies) and on the paper's 10x12 SOM (the data README's choice),
and prints the global sigma_NMAD and the mean per-cell LTS angle theta.

Usage::

    PYTHONPATH=. python benchmarks/bench_real_build.py [--workdir /tmp/zcells-real]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run both steps; returns an exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/zcells-real")
    ap.add_argument("--shapes", default="6x8,10x12")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cat = work / "mgs5k_rf.parquet"
    subprocess.run([sys.executable, str(HERE / "bench_methods_real.py"), "--write-catalog",
                    str(cat)], check=True)
    print("\n| SOM | galaxies | rf sigma_NMAD | rf outliers | global theta (deg) | "
          "mean per-cell theta (deg) | cells fitted | build (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        out = work / f"artifacts_{shape}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "compute.cli", "build", "--catalog", str(cat),
                        "--out", str(out), "--som-shape", shape, "--per-cell-sample", "all",
                        "--no-cache", "--no-progress"], check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        rf = json.loads((out / "global.json").read_text())["methods"]["rf"]
        print(f"| {shape} | {rf['n']} | {rf['sigma_nmad']:.4f} | {rf['outlier_fraction']:.2%} | "
              f"{rf['theta_deg']:.1f} | {rf['mean_cell_theta_deg']:.1f} | "
              f"{rf['n_cells_fitted']} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
