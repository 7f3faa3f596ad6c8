"""Benchmark: batch SOM (numpy CPU, torch CUDA) vs minisom, train + assign on 510,000 galaxies.

Run by hand from the repository root::

    PYTHONPATH=. python benchmarks/bench_som.py                  # numpy CPU (+ CUDA if present) + minisom
    PYTHONPATH=. python benchmarks/bench_som.py --device cuda    # torch on the GPU only (+ minisom)
    PYTHONPATH=. python benchmarks/bench_som.py --no-minisom
    PYTHONPATH=. python benchmarks/bench_som.py --quality-table  # QE/TE vs minisom on 5k rows

The data are 510,000 rows of u-r, g-r, r-i, r-z: the real SDSS MGS 5k sample
(../shared/data/sdss_mgs_real_5k.csv) resampled with replacement, each copy
jittered by its own catalogue 1-sigma colour errors; without that file, the
synthetic galaxy-like colours of compute.som.synthetic. Columns are then
standardised. Timed: train_som + assign_cells, wall clock (best of
``--repeat``) and the process's CPU time (all threads; on a shared machine the
wall time also counts waiting for a core); quality measures are computed
afterwards, untimed. minisom is timed on the same data with
``--minisom-iterations`` single-sample updates (default: one pass, n) plus the
same vectorised assignment; a run with the batch SOM's amount of work
(epochs * n updates) is extrapolated linearly from it.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from compute.som import assign_cells, parse_shape, quantization_error, topographic_error, train_som
from compute.som.synthetic import standardise, synthetic_colours
from compute.som.train import DEFAULT_EPOCHS

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sdss_mgs_real_5k.csv"


def make_colours(n: int, seed: int) -> tuple[np.ndarray, str]:
    """``n`` rows of realistic colours and a description of where they come from."""
    rng = np.random.default_rng(seed)
    if DATA.exists():
        import pandas as pd

        df = pd.read_csv(DATA)
        base = np.column_stack([df["u"] - df["r"], df["g"] - df["r"], df["r"] - df["i"],
                                df["r"] - df["z"]])
        err = np.column_stack([np.hypot(df["err_u"], df["err_r"]), np.hypot(df["err_g"], df["err_r"]),
                               np.hypot(df["err_r"], df["err_i"]), np.hypot(df["err_r"], df["err_z"])])
        rows = rng.integers(0, len(df), n)
        X = base[rows] + rng.normal(size=(n, 4)) * err[rows]
        return X, f"{DATA.name} resampled to {n:,} rows with per-row Gaussian colour-error jitter"
    return synthetic_colours(n, seed=seed), f"compute.som.synthetic.synthetic_colours({n:,})"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def run_batch(X: np.ndarray, shape: tuple[int, int], device: str, seed: int, epochs: int,
              repeat: int) -> dict:
    """Time train_som(batch) + assign_cells on one device; best of ``repeat`` runs."""
    cold = None
    if device.startswith("cuda"):  # CUDA context, cuBLAS handles: report apart
        t0 = time.perf_counter()
        m = train_som(X[:10_000], shape, device=device, seed=seed, epochs=2)
        assign_cells(m.weights, X[:10_000], device=device)
        _sync(device)
        cold = time.perf_counter() - t0
    best = None
    for _ in range(repeat):
        _sync(device)
        c0 = time.process_time()
        t0 = time.perf_counter()
        m = train_som(X, shape, device=device, seed=seed, epochs=epochs)
        _sync(device)
        t1 = time.perf_counter()
        assign_cells(m.weights, X, device=device)
        _sync(device)
        t2 = time.perf_counter()
        c2 = time.process_time()
        if best is None or t2 - t0 < best[0] + best[1]:
            best = (t1 - t0, t2 - t1, c2 - c0)
    assert best is not None
    return {"name": f"batch ({m.params['engine']}, {device}, {m.params['dtype']})",
            "train_s": best[0], "assign_s": best[1], "cpu_s": best[2], "weights": m.weights,
            "cold_s": cold,
            "work": f"{epochs} epochs x {len(X):,} rows", "params": m.params}


def run_minisom(X: np.ndarray, shape: tuple[int, int], seed: int, iterations: int) -> dict:
    """Time minisom train_random(iterations) + vectorised assignment."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    m = train_som(X, shape, backend="minisom", seed=seed, iterations=iterations)
    t1 = time.perf_counter()
    assign_cells(m.weights, X, device="cpu")
    t2 = time.perf_counter()
    c2 = time.process_time()
    return {"name": "minisom (train_random, CPU)", "train_s": t1 - t0, "assign_s": t2 - t1,
            "cpu_s": c2 - c0, "weights": m.weights, "cold_s": None,
            "work": f"{iterations:,} single-sample updates", "params": m.params}


def quality_table(shapes: list[str], seeds: list[int]) -> None:
    """QE/TE of batch vs minisom on the unresampled real 5k colours and on 5k synthetic rows."""
    sets = []
    if DATA.exists():
        import pandas as pd

        df = pd.read_csv(DATA)
        sets.append(("SDSS MGS 5k", np.column_stack([df["u"] - df["r"], df["g"] - df["r"],
                                                     df["r"] - df["i"], df["r"] - df["z"]])))
    sets.append(("synthetic 5k", synthetic_colours(5000, seed=1)))
    print("\n| data | map | backend | settings | seed | QE | TE |")
    print("|---|---|---|---|---:|---:|---:|")
    for name, raw in sets:
        X = standardise(raw)
        for shape in shapes:
            runs: list[tuple[str, dict, str, int]] = [("batch", {}, "defaults", 0)]
            runs += [("minisom", {}, "defaults", s) for s in seeds]
            runs += [("minisom", {"sigma": 1.5}, "sigma=1.5", s) for s in seeds]
            for backend, kw, label, seed in runs:
                m = train_som(X, shape, backend=backend, seed=seed, device="cpu", **kw)
                p = m.params
                desc = (f"{label}: sigma {p['sigma']:.2g}->{p['sigma_end']:.2g}, "
                        + (f"{p['epochs']} epochs" if backend == "batch"
                           else f"{p['iterations']:,} updates"))
                print(f"| {name} | {shape} | {backend} | {desc} | {seed} | "
                      f"{quantization_error(m.weights, X):.4f} | "
                      f"{topographic_error(m.weights, X):.4f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the benchmarks and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=510_000)
    ap.add_argument("--shape", default="10x12")
    ap.add_argument("--device", action="append", choices=["cpu", "torch-cpu", "cuda"],
                    help="repeatable; default: cpu, plus cuda when available")
    ap.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="best of this many timed runs")
    ap.add_argument("--minisom-iterations", type=int, default=None,
                    help="single-sample updates for minisom (default: n, one pass)")
    ap.add_argument("--no-minisom", action="store_true")
    ap.add_argument("--quality-table", action="store_true",
                    help="instead: QE/TE of batch vs minisom (several seeds) on 5k rows")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit numpy's BLAS threads (threadpoolctl); default: library default")
    args = ap.parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")

    if args.quality_table:
        quality_table(["6x8", "10x12"], [0, 1, 2])
        return

    import torch

    shape = parse_shape(args.shape)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    raw, source = make_colours(args.n, args.seed)
    X = standardise(raw)
    print(f"data: {source}; shape {shape[0]}x{shape[1]}; {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cuda {'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}",
          flush=True)

    results = [run_batch(X, shape, d, args.seed, args.epochs, args.repeat) for d in devices]
    if not args.no_minisom:
        results.append(run_minisom(X, shape, args.seed, args.minisom_iterations or args.n))

    print("\n| backend | work | train (s) | assign (s) | train+assign (s) | process CPU (s) | QE | TE |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        qe = quantization_error(r["weights"], X, device="cpu")
        te = topographic_error(r["weights"], X, device="cpu")
        print(f"| {r['name']} | {r['work']} | {r['train_s']:.2f} | {r['assign_s']:.2f} | "
              f"{r['train_s'] + r['assign_s']:.2f} | {r['cpu_s']:.2f} | {qe:.4f} | {te:.4f} |")
    for r in results:
        if r["cold_s"] is not None:
            print(f"\n{r['name']}: first call incl. CUDA init (10k rows, 2 epochs): {r['cold_s']:.2f} s")
        if r["name"].startswith("minisom"):
            per = r["train_s"] / r["params"]["iterations"]
            print(f"\nminisom: {per * 1e6:.1f} us per update; the batch SOM's work "
                  f"({args.epochs} x {args.n:,} = {args.epochs * args.n:,} updates) would take "
                  f"about {per * args.epochs * args.n:.0f} s")


if __name__ == "__main__":
    main()
