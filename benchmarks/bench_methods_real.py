"""Benchmark: rf and llr photo-z's on the real 5k SDSS MGS sample, every galaxy predicted honestly.

Loads the catalogue with :func:`compute.catalog.load_catalog` (which derives objid and split),
runs each method with ``per_cell_sample = "all"`` (test rows from a model trained on all training
rows, training rows k-fold out of fold) and prints sigma_NMAD, outlier fraction and bias over all
galaxies and over the test rows alone. ``--write-catalog`` saves the catalogue with ``zphot_rf``
(and ``zphot_llr`` with ``--also-llr``) for ``zcells build``.

Usage::

    PYTHONPATH=. python benchmarks/bench_methods_real.py --write-catalog /tmp/mgs5k_rf.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from compute.catalog import load_catalog
from compute.methods import MethodContext, get_method
from compute.methods.import_command import write_table
from compute.metrics import bias, outlier_fraction, sigma_nmad

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sdss_mgs_real_5k.csv"


def main() -> int:
    """Run the benchmark; returns an exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", default=str(REAL))
    ap.add_argument("--write-catalog", help="write the catalogue with zphot_rf (.parquet or .csv)")
    ap.add_argument("--also-llr", action="store_true", help="also write zphot_llr")
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--feature-sets", action="store_true",
                    help="also run rf with the colors_r_err feature set")
    args = ap.parse_args()
    if not Path(args.catalog).is_file():
        print(f"{args.catalog}: not found", file=sys.stderr)
        return 2
    cat, report = load_catalog(args.catalog)
    print(report.lines()[-1])
    ctx = MethodContext(per_cell_sample="all", seed=args.seed, progress=False)
    runs = [("rf", {"n_estimators": args.trees, "folds": args.folds}),
            ("llr", {"folds": args.folds})]
    if args.feature_sets:
        runs.append(("rf", {"n_estimators": args.trees, "folds": args.folds,
                            "features": "colors_r_err"}))
    z = cat["zspec"].to_numpy()
    test = (cat["split"] == "test").to_numpy()
    results = {}
    print("| method | features | sigma_NMAD (all) | outliers (all) | bias (all) | "
          "sigma_NMAD (test) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, opts in runs:
        method = get_method(name)
        options = method.parse_options(opts)
        t0 = time.perf_counter()
        res = method.run(cat, options, ctx)
        dt = time.perf_counter() - t0
        zp = res.zphot
        assert np.isfinite(zp).all(), "every galaxy should be predicted"
        s = sigma_nmad(z, zp)
        results.setdefault(name, (s, zp))
        print(f"| {name} | {options.features} | {s:.4f} | {100 * outlier_fraction(z, zp):.2f}% | "
              f"{bias(z, zp):+.4f} | {sigma_nmad(z[test], zp[test]):.4f} | {dt:.1f} |")
    ratio = results["llr"][0] / results["rf"][0]
    print(f"llr / rf sigma_NMAD = {ratio:.3f} (acceptance: within 15%)")
    if args.write_catalog:
        out = cat.copy()
        out["zphot_rf"] = results["rf"][1]
        if args.also_llr:
            out["zphot_llr"] = results["llr"][1]
        write_table(out, Path(args.write_catalog))
        print(f"wrote {args.write_catalog} ({len(out)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
