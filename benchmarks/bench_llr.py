"""Benchmark: local linear regression (llr) for 51,000 test galaxies against 459,000 training galaxies.

The 5-D (u-g, g-r, r-i, i-z, r) training and test sets resample the real 5k MGS sample with a
small jitter; redshifts follow a smooth colour-magnitude-redshift relation (a quadratic
least-squares fit to the real sample) plus scatter 0.012 (1 + z).

Usage::

    PYTHONPATH=. python benchmarks/bench_llr.py [--n-train 459000] [--n-test 51000] [--k 100]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from compute.methods.llr import FALLBACK_FLAGS, FLAG_OUTSIDE_BOX, LLROptions, local_linear_predict
from compute.metrics import outlier_fraction, sigma_nmad

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sdss_mgs_real_5k.csv"
JITTER = np.array([0.06, 0.02, 0.015, 0.015, 0.08])


def _quadratic(x: np.ndarray) -> np.ndarray:
    cols = [np.ones(len(x)), *x.T]
    cols += [x[:, a] * x[:, b] for a in range(x.shape[1]) for b in range(a, x.shape[1])]
    return np.column_stack(cols)


def synthetic_sets(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, z_train, x_test, z_test) resampled from the real sample (or a Gaussian without it)."""
    rng = np.random.default_rng(seed)
    if REAL.is_file():
        df = pd.read_csv(REAL)
        base = np.column_stack([df.u - df.g, df.g - df.r, df.r - df.i, df.i - df.z, df.r])
        coef = np.linalg.lstsq(_quadratic(base), df.zspec.to_numpy(), rcond=None)[0]
    else:
        print(f"note: {REAL} not found; using a Gaussian colour distribution")
        base = rng.normal([1.6, 0.8, 0.4, 0.3, 17.0], [0.4, 0.15, 0.06, 0.06, 0.6], (5000, 5))
        coef = np.zeros(21)
        coef[[0, 2, 3]] = [-0.25, 0.25, 0.25]

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = base[rng.integers(0, len(base), n)] + rng.normal(size=(n, 5)) * JITTER
        z = np.clip(_quadratic(x) @ coef, 0.005, 0.45)
        return x, z + rng.normal(size=n) * 0.012 * (1 + z)

    x_train, z_train = draw(n_train)
    x_test, z_test = draw(n_test)
    return x_train, z_train, x_test, z_test


def main() -> None:
    """Run the benchmark and print timings and accuracy."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=459_000)
    ap.add_argument("--n-test", type=int, default=51_000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    x_train, z_train, x_test, z_test = synthetic_sets(args.n_train, args.n_test, args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    fit, timings = local_linear_predict(
        x_train, z_train, x_test, LLROptions(k=args.k), progress=not args.no_progress,
    )
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"llr: {args.n_test} test vs {args.n_train} train galaxies, k = {args.k}")
    print(f"  total {total:.1f} s (tree {timings['tree']:.1f} s, query {timings['query']:.1f} s, "
          f"fit {timings['fit']:.1f} s); process CPU {cpu:.1f} s, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"  sigma_NMAD {sigma_nmad(z_test, fit.zphot):.4f}, outliers "
          f"{100 * outlier_fraction(z_test, fit.zphot):.2f}% (truth scatter 0.012)")
    print(f"  fallbacks {int(((fit.flags & FALLBACK_FLAGS) != 0).sum())}, outside box "
          f"{int(((fit.flags & FLAG_OUTSIDE_BOX) != 0).sum())}, mean kept neighbours "
          f"{fit.n_kept.mean():.1f}")


if __name__ == "__main__":
    main()
