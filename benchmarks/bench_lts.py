"""Benchmark: batched robust line fits (compute.lts) vs ltsfit run serially, 480 groups.

Run by hand from the repository root::

    PYTHONPATH=. python benchmarks/bench_lts.py                  # numpy + torch CPU (+ CUDA if present) + ltsfit
    PYTHONPATH=. python benchmarks/bench_lts.py --device cuda    # also torch on the GPU
    PYTHONPATH=. python benchmarks/bench_lts.py --ltsfit-groups 48   # time ltsfit on 48 groups, extrapolate
    PYTHONPATH=. python benchmarks/bench_lts.py --ltsfit-log /tmp/lts_ltsfit.jsonl   # resumable

The data: 120 SOM-cell-like groups x 4 photo-z methods = 480 groups of 400-450
points (label ``cell * 4 + method``). Per cell a zspec window inside 0-0.4; per
method ``zphot = zc + b (zspec - zc) + noise`` with slope ``b`` in 0.5-1,
sigy 0.01-0.03 (some groups with point-to-point errors), intrinsic scatter 0-0.03,
5 % catastrophic outliers, sigx = 0.005.

Timed (wall clock, best of ``--repeat``, after one untimed warm-up call): the whole
``fit_lines`` call on all 480 groups, numpy backend; torch backend on CPU; torch on
CUDA when available (or asked for with ``--device cuda``). ltsfit
(``lts_linefit(..., clip=2.6, epsy=True, plot=False)``, its printing swallowed) is run
one group after the other on the same groups (by default all 480 on CPU runs, 24 on
``--device cuda`` runs; with fewer than 480 the total is extrapolated and marked so).
The slopes of both are compared on the groups ltsfit fitted.

Results are printed and written to ``benchmarks/results/lts.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from compute.lts import fit_lines

OUT = Path(__file__).resolve().parent / "results" / "lts.md"


def make_groups(n_cells: int = 120, n_methods: int = 4, n_mean: int = 425, seed: int = 0):
    """Synthetic (zspec, zphot) groups; returns x, y, sigx, sigy, labels, true slopes."""
    rng = np.random.default_rng(seed)
    xs, ys, sys_, labs, truth = [], [], [], [], {}
    for c in range(n_cells):
        n = int(rng.integers(n_mean - 25, n_mean + 26))
        zc = rng.uniform(0.04, 0.36)
        half = rng.uniform(0.02, 0.06)
        zspec = np.clip(rng.uniform(zc - half, zc + half, n), 0.0, 0.4)
        for m in range(n_methods):
            b = rng.uniform(0.5, 1.0)
            sy0 = rng.uniform(0.01, 0.03)
            sy = sy0 * rng.uniform(0.7, 1.3, n) if (c + m) % 4 == 0 else np.full(n, sy0)
            eps = rng.uniform(0.0, 0.03)
            zt = zspec + rng.normal(0, 0.005, n)          # x observed with sigx = 0.005
            y = zc + b * (zt - zc) + rng.normal(0, 1, n) * np.sqrt(sy**2 + eps**2)
            out = rng.random(n) < 0.05
            y[out] = rng.uniform(0.0, 0.6, out.sum())
            xs.append(zspec), ys.append(y), sys_.append(sy)
            labs.append(np.full(n, c * n_methods + m))
            truth[c * n_methods + m] = b
    x, y, sy, lab = (np.concatenate(v) for v in (xs, ys, sys_, labs))
    return x, y, np.full(x.size, 0.005), sy, lab, truth


def _sync(device: str | None) -> None:
    if device and str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_ours(data, backend: str, device: str | None, repeat: int):
    x, y, sx, sy, lab, _ = data
    kw = dict(backend=backend, device=device)
    t0 = time.perf_counter()
    res = fit_lines(x, y, sx, sy, lab, **kw)
    _sync(device)
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        _sync(device)
        t0 = time.perf_counter()
        res = fit_lines(x, y, sx, sy, lab, **kw)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return res, first, best


def time_ltsfit(data, groups: np.ndarray, log: Path | None = None):
    """ltsfit on each group, one after the other; returns results and the summed time.

    Each group is timed on its own and the times are added up (the same as timing the
    loop, minus the loop's own negligible overhead). With ``log``, every group's result
    and time are appended to that JSON-lines file as it finishes and groups already
    there are not rerun, so that a long run can be interrupted and resumed.
    """
    from ltsfit.lts_linefit import lts_linefit

    x, y, sx, sy, lab, _ = data
    out: dict[int, tuple] = {}
    if log is not None and log.is_file():
        for line in log.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                rec = json.loads(line)
                out[int(rec["group"])] = (rec["slope"], rec["slope_err"], rec["n_kept"], rec["seconds"])
    for g in groups:
        if int(g) in out:
            continue
        m = lab == g
        xg = x[m]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            p = lts_linefit(xg, y[m], sx[m], sy[m], clip=2.6, epsy=True, plot=False, text=False,
                            pivot=float(np.median(xg)))
        dt = time.perf_counter() - t0
        out[int(g)] = (float(p.ab[1]), float(p.ab_err[1]), int(np.sum(p.mask)), dt)
        if log is not None:
            with log.open("a") as f:
                f.write(json.dumps({"group": int(g), "slope": out[int(g)][0], "slope_err": out[int(g)][1],
                                    "n_kept": out[int(g)][2], "seconds": dt}) + "\n")
    wanted = {int(q) for q in groups}
    out = {g: v for g, v in out.items() if g in wanted}
    return {g: v[:3] for g, v in out.items()}, float(sum(v[3] for v in out.values()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=120)
    ap.add_argument("--methods", type=int, default=4)
    ap.add_argument("--points", type=int, default=425, help="mean points per group")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None,
                    help="torch device for the GPU timing (default: cuda if available)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ltsfit-groups", type=int, default=None,
                    help="groups to run ltsfit on (default: all on CPU runs, 24 with --device cuda; 0: skip)")
    ap.add_argument("--ltsfit-log", type=Path, default=None,
                    help="JSON-lines file of per-group ltsfit results and times: appended to, "
                         "and groups already in it are not rerun (resumable long runs)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    data = make_groups(args.cells, args.methods, args.points, args.seed)
    x, truth = data[0], data[5]
    G = len(truth)
    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"# compute.lts benchmark: {G} groups ({args.cells} cells x {args.methods} methods), "
             f"{x.size:,} points (~{x.size // G} per group)", "",
             f"Machine: {platform.processor() or platform.machine()}, {cpus} CPUs, "
             f"python {platform.python_version()}, numpy {np.__version__}; "
             f"1-min load average at start {load:.1f}", ""]

    rows = []
    res_np, first, best = time_ours(data, "numpy", None, args.repeat)
    rows.append(("compute.lts numpy (CPU)", first, best))
    print(f"numpy: first {first:.3f} s, best of {args.repeat} {best:.3f} s")

    cuda_dev = None
    if not args.no_torch:
        import torch

        # torch's default intra-op threads can be much slower than 1 thread on a busy
        # machine (the threads wait on each other), so both are timed
        n_threads = torch.get_num_threads()
        for nt in sorted({1, n_threads}, reverse=True):
            torch.set_num_threads(nt)
            res_t, f_t, b_t = time_ours(data, "torch", "cpu", max(1, args.repeat))
            rows.append((f"compute.lts torch CPU ({nt} thread{'s' if nt > 1 else ''})", f_t, b_t))
            print(f"torch cpu, {nt} threads: first {f_t:.3f} s, best {b_t:.3f} s")
        torch.set_num_threads(n_threads)
        dev = args.device or ("cuda" if torch.cuda.is_available() else None)
        if dev and dev != "cpu":
            if dev.startswith("cuda") and not torch.cuda.is_available():
                print("CUDA asked for but torch sees no GPU: skipped")
                lines += ["CUDA asked for but torch sees no GPU: skipped.", ""]
            else:
                cuda_dev = dev
                res_c, f_c, b_c = time_ours(data, "torch", dev, max(3, args.repeat))
                name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else dev
                rows.append((f"compute.lts torch {dev} ({name})", f_c, b_c))
                print(f"torch {dev}: first {f_c:.3f} s, best {b_c:.3f} s")
                d = np.abs(res_c.slope - res_np.slope) / res_np.slope_err
                lines += [f"torch {dev} vs numpy: max |db| / slope_err = {np.nanmax(d):.2e}", ""]
        d = np.abs(res_t.slope - res_np.slope) / res_np.slope_err
        lines += [f"torch CPU vs numpy: max |db| / slope_err = {np.nanmax(d):.2e}", ""]

    n_lts = args.ltsfit_groups
    if n_lts is None:
        n_lts = 24 if (cuda_dev or (args.device and args.device != "cpu")) else G
    n_lts = min(n_lts, G)
    lts_total = None
    if n_lts > 0:
        pick = res_np.groups if n_lts == G else np.random.default_rng(1).choice(
            res_np.groups, n_lts, replace=False)
        print(f"ltsfit: {n_lts} groups, one after the other ...", flush=True)
        lts, t_lts = time_ltsfit(data, np.sort(pick), args.ltsfit_log)
        lts_total = t_lts * G / n_lts
        tag = "" if n_lts == G else f" (timed on {n_lts} groups, extrapolated x{G / n_lts:.1f})"
        lines += [f"ltsfit time: sum of the {n_lts} per-group wall times (each group timed on its "
                  "own, one after the other" + (", some read back from an earlier interrupted run's "
                  "--ltsfit-log" if args.ltsfit_log else "") + ").", ""]
        rows.append((f"ltsfit {_version()} serial{tag}", float("nan"), lts_total))
        print(f"ltsfit: {t_lts:.1f} s for {n_lts} groups -> {lts_total:.1f} s for {G}")
        idx = np.searchsorted(res_np.groups, sorted(lts))
        b_l = np.array([lts[g][0] for g in sorted(lts)])
        e_l = np.array([lts[g][1] for g in sorted(lts)])
        k_l = np.array([lts[g][2] for g in sorted(lts)])
        dev = np.abs(res_np.slope[idx] - b_l) / e_l
        tb = np.array([truth[g] for g in sorted(lts)])
        agree = (f"Slope agreement on the {n_lts} groups ltsfit fitted: |b_ours - b_ltsfit| <= "
                 f"sigma_ltsfit in {np.mean(dev <= 1):.1%}; median {np.median(dev):.3g} sigma, "
                 f"max {dev.max():.3g} sigma; same number of kept points in "
                 f"{np.mean(res_np.n_kept[idx] == k_l):.1%}; median slope_err ratio "
                 f"{np.median(res_np.slope_err[idx] / e_l):.4f}. Median |b - b_true|: ours "
                 f"{np.median(np.abs(res_np.slope[idx] - tb)):.4f}, ltsfit {np.median(np.abs(b_l - tb)):.4f}.")
        print(agree)

    lines += ["| fit | first call (s) | best (s) | per group (ms) | speed-up vs ltsfit |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, f, b in rows:
        sp = f"{lts_total / b:,.0f}x" if lts_total and not name.startswith("ltsfit") else ""
        fs = "" if np.isnan(f) else f"{f:.3f}"
        lines.append(f"| {name} | {fs} | {b:.3f} | {1e3 * b / G:.2f} | {sp} |")
        if sp:
            print(f"{name}: {sp} faster than ltsfit")
    if n_lts > 0:
        lines += ["", agree]
    lines += ["", f"Status of our fits: { {str(k): int(v) for k, v in zip(*np.unique(res_np.status, return_counts=True), strict=True)} }; "
              "command: `" + " ".join(["python benchmarks/bench_lts.py", *(sys.argv[1:] if argv is None else argv)])
              + "`", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ltsfit")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
