"""Calibrate the simulated survey against the real SDSS MGS sample (colours, n(z), r, errors).

Usage::

    PYTHONPATH=. python benchmarks/calibrate_simulate.py --n 20000 --workers 2
    PYTHONPATH=. python benchmarks/calibrate_simulate.py --existing /tmp/sim   # reuse a run

Writes the calibration section of benchmarks/results/simulate.md and
docs/simulate_calibration.png. Needs ../shared/data/sdss_mgs_real_5k.csv (skips otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, spearmanr

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "sdss_mgs_real_5k.csv"
RESULTS = ROOT / "benchmarks" / "results" / "simulate.md"
PLOT = ROOT / "docs" / "simulate_calibration.png"
COLOURS = [("u_g", "u", "g"), ("g_r", "g", "r"), ("r_i", "r", "i"), ("i_z", "i", "z")]
ZBINS = [0.0, 0.05, 0.08, 0.11, 0.14, 0.18, 0.25, 0.4]


def add_colours(df: pd.DataFrame) -> pd.DataFrame:
    """Add the four adjacent colours."""
    df = df.copy()
    for name, a, b in COLOURS:
        df[name] = df[a] - df[b]
    return df


def binned_table(real: pd.DataFrame, sim: pd.DataFrame) -> tuple[str, list[tuple[str, str, float, int, int]]]:
    """Markdown table of binned medians and 16-84% ranges; list of (colour, bin, diff, n_real, n_sim)."""
    lines = ["| colour | z bin | real median [16%, 84%] | sim median [16%, 84%] | sim - real | n real | n sim |",
             "|---|---|---|---|---|---|---|"]
    diffs = []
    for name, _, _ in COLOURS:
        for lo, hi in zip(ZBINS[:-1], ZBINS[1:], strict=True):
            a = real.loc[(real.zspec >= lo) & (real.zspec < hi), name]
            b = sim.loc[(sim.zspec >= lo) & (sim.zspec < hi), name]
            if len(a) < 5 or len(b) < 5:
                continue
            d = float(b.median() - a.median())
            diffs.append((name, f"{lo:.2f}-{hi:.2f}", d, len(a), len(b)))
            flag = "" if abs(d) <= 0.05 else " **"
            lines.append(
                f"| {name.replace('_', '-')} | {lo:.2f}-{hi:.2f} | {a.median():.3f} [{a.quantile(.16):.2f}, {a.quantile(.84):.2f}] "
                f"| {b.median():.3f} [{b.quantile(.16):.2f}, {b.quantile(.84):.2f}] | {d:+.3f}{flag} | {len(a)} | {len(b)} |")
    return "\n".join(lines), diffs


def pixel_weighting_table(sim: pd.DataFrame, truth: pd.DataFrame) -> str:
    """How far the model colours are from the true integrated colours, by true B/T."""
    lines = ["| true B/T (r) | n | median |(g-r)_model - (g-r)_true| | NMAD of (g-r)_model - (g-r)_true | "
             "NMAD of (u-r) diff | median err_g-r (quoted) |", "|---|---|---|---|---|---|"]
    gr_true = truth["mag_true_g"] - truth["mag_true_r"]
    ur_true = truth["mag_true_u"] - truth["mag_true_r"]
    d_gr = (sim["g"] - sim["r"]) - gr_true
    d_ur = (sim["u"] - sim["r"]) - ur_true
    err = np.hypot(sim["err_g"], sim["err_r"])
    for lo, hi in [(0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)]:
        m = (truth["bt_r"] >= lo) & (truth["bt_r"] < hi)
        if m.sum() < 5:
            continue
        dd, du = d_gr[m], d_ur[m]
        nmad = 1.4826 * np.median(np.abs(dd - np.median(dd)))
        nmad_u = 1.4826 * np.median(np.abs(du - np.median(du)))
        lines.append(f"| {lo:.1f}-{min(hi, 1):.1f} | {int(m.sum())} | {np.median(np.abs(dd)):.3f} | {nmad:.3f} | "
                     f"{nmad_u:.3f} | {np.median(err[m]):.3f} |")
    return "\n".join(lines)


def _nmad(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def pixel_information_check(out: Path, sim: pd.DataFrame, truth: pd.DataFrame, seed: int = 0) -> str:
    """Random-forest photo-z from model photometry, + aperture colours from the images, and from
    the true integrated colours (noise-free, and with the catalogue's fixed-shape noise)."""
    from sklearn.cluster import KMeans
    from sklearn.ensemble import RandomForestRegressor

    from compute.imagecube import open_cube

    cube = open_cube(out)
    n = len(sim)
    s = cube.images.shape[-1]
    y, x = np.mgrid[0:s, 0:s] - s // 2
    r = np.hypot(x, y)
    m_in = (r <= 2.5).astype(np.float32)
    m_out = ((r > 2.5) & (r <= 7)).astype(np.float32)
    f_in, f_out = np.zeros((n, 5)), np.zeros((n, 5))
    for lo in range(0, n, 2000):
        im = np.asarray(cube.images[lo:lo + 2000])
        f_in[lo:lo + 2000] = np.einsum("nbij,ij->nb", im, m_in)
        f_out[lo:lo + 2000] = np.einsum("nbij,ij->nb", im, m_out)

    def lup(f: np.ndarray) -> np.ndarray:
        b = 1.2e-10
        return -2.5 / np.log(10) * (np.arcsinh(f * 1e-9 / (2 * b)) + np.log(b))

    rng = np.random.default_rng(seed)
    model = np.c_[sim.u - sim.g, sim.g - sim.r, sim.r - sim.i, sim.i - sim.z, sim.r]
    li, lo_ = lup(f_in), lup(f_out)
    aper = np.c_[model, li[:, :-1] - li[:, 1:], lo_[:, :-1] - lo_[:, 1:]]
    tm = truth[[f"mag_true_{b}" for b in "ugriz"]].to_numpy()
    true_free = np.c_[tm[:, :-1] - tm[:, 1:], tm[:, 2]]
    noisy = tm + rng.normal(size=tm.shape) * truth[[f"meas_err_lin_{b}" for b in "ugriz"]].to_numpy()
    true_noisy = np.c_[noisy[:, :-1] - noisy[:, 1:], noisy[:, 2]]
    z = sim.zspec.to_numpy()
    idx = rng.permutation(n)
    tr, te = idx[: int(0.7 * n)], idx[int(0.7 * n):]
    labels = KMeans(40, n_init=3, random_state=seed).fit(model[:, :4]).labels_[te]
    bt = truth.bt_r.to_numpy()[te]
    lines = ["| features | sigma_NMAD | B/T < 0.4 | B/T > 0.7 | mean theta over 40 colour cells [deg] |",
             "|---|---|---|---|---|"]
    for name, feats in (("model colours + r (fiducial RF)", model),
                        ("+ inner (r<1\") and outer (1-2.8\") aperture colours from the images", aper),
                        ("true integrated colours + r, noise-free", true_free),
                        ("true integrated colours + r, with SDSS-like noise", true_noisy)):
        rf = RandomForestRegressor(150, min_samples_leaf=3, n_jobs=2, random_state=seed)
        zp = rf.fit(feats[tr], z[tr]).predict(feats[te])
        dz = (zp - z[te]) / (1 + z[te])
        theta = [np.degrees(np.arctan(np.polyfit(z[te][labels == c], zp[labels == c], 1)[0]))
                 for c in range(40) if np.sum(labels == c) >= 30]
        lines.append(f"| {name} | {_nmad(dz):.4f} | {_nmad(dz[bt < 0.4]):.4f} | {_nmad(dz[bt > 0.7]):.4f} "
                     f"| {np.mean(theta):.1f} |")
    return "\n".join(lines)


def make_plot(real: pd.DataFrame, sim: pd.DataFrame, path: Path) -> None:
    """Colour-redshift medians and ranges, n(z) and r distributions, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    centres = 0.5 * (np.array(ZBINS[:-1]) + np.array(ZBINS[1:]))
    for ax, (name, _, _) in zip(axes.ravel()[:4], COLOURS, strict=True):
        for df, lab, col in ((real, "SDSS MGS (real 5k)", "k"), (sim, "simulated", "tab:orange")):
            ax.scatter(df.zspec, df[name], s=1, alpha=0.15, color=col, rasterized=True)
            med, lo, hi = [], [], []
            for a, b in zip(ZBINS[:-1], ZBINS[1:], strict=True):
                x = df.loc[(df.zspec >= a) & (df.zspec < b), name]
                med.append(x.median() if len(x) >= 5 else np.nan)
                lo.append(x.quantile(0.16) if len(x) >= 5 else np.nan)
                hi.append(x.quantile(0.84) if len(x) >= 5 else np.nan)
            ax.plot(centres, med, "-o", color=col, label=lab)
            ax.fill_between(centres, lo, hi, color=col, alpha=0.15)
        q = np.nanpercentile(real[name], [0.5, 99.5])
        ax.set_ylim(q[0] - 0.2, q[1] + 0.2)
        ax.set_xlim(0, 0.3)
        ax.set_xlabel("z_spec")
        ax.set_ylabel(name.replace("_", " - "))
    axes[0, 0].legend(loc="lower right", fontsize=8)
    ax = axes[1, 1]
    bins = np.linspace(0, 0.35, 36)
    ax.hist(real.zspec, bins, density=True, histtype="step", color="k", label="real")
    ax.hist(sim.zspec, bins, density=True, histtype="step", color="tab:orange", label="simulated")
    ax.set_xlabel("z_spec")
    ax.set_ylabel("n(z)")
    ax.legend()
    ax = axes[1, 2]
    bins = np.linspace(13, 18.5, 45)
    ax.hist(real.r, bins, density=True, histtype="step", color="k", label="real model r")
    ax.hist(sim.r, bins, density=True, histtype="step", color="tab:orange", label="sim model r")
    ax.hist(sim.petro_r, bins, density=True, histtype="step", color="tab:orange", ls=":",
            label="sim Petrosian r")
    ax.set_xlabel("r (dereddened)")
    ax.legend(fontsize=8)
    fig.suptitle("zcells simulate vs SDSS MGS: colour medians and 16-84% ranges by redshift, n(z), r")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--existing", default=None, help="reuse a simulated folder")
    ap.add_argument("--no-pixel-check", dest="pixel_check", action="store_false",
                    help="skip the random-forest photo-z check")
    args = ap.parse_args(argv)
    if not REAL.is_file():
        print(f"skip: {REAL} not found")
        return 0
    sys.path.insert(0, str(ROOT))
    from compute.simulate import SimConfig, simulate
    from compute.simulate.report import replace_section

    if args.existing:
        out = Path(args.existing)
        elapsed = None
    else:
        out = Path(tempfile.mkdtemp(prefix="zcells-cal-")) / "sim"
        t0 = time.perf_counter()
        simulate(SimConfig.from_dict({"n": args.n, "seed": args.seed, "workers": args.workers}), out)
        elapsed = time.perf_counter() - t0
    prov = json.loads((out / "provenance.json").read_text())
    n_sim, seed_sim = prov["config"]["n"], prov["config"]["seed"]
    regen = (f"`PYTHONPATH=. python benchmarks/calibrate_simulate.py --n {n_sim} --seed {seed_sim}` "
             f"(or `zcells simulate --n {n_sim} --seed {seed_sim} --out DIR` and `--existing DIR`)")
    sim = add_colours(pd.read_parquet(out / "catalog.parquet"))
    truth = pd.read_parquet(out / "truth.parquet")
    real = add_colours(pd.read_csv(REAL))
    table, diffs = binned_table(real, sim)
    ks_z = ks_2samp(real.zspec, sim.zspec).statistic
    ks_r = ks_2samp(real.r, sim.r).statistic
    good = [d for d in diffs if d[3] >= 20 and d[4] >= 20]
    n_ok = sum(abs(d[2]) <= 0.05 for d in good)
    errs = "\n".join(
        f"| {b} | {real[f'err_{b}'].median():.4f} | {sim[f'err_{b}'].median():.4f} | "
        f"{truth[f'meas_err_lin_{b}'].median() if f'meas_err_lin_{b}' in truth else float('nan'):.4f} |"
        for b in "ugriz")
    rho = spearmanr(sim.frac_dev_r, truth.bt_r).statistic
    body = f"""## Calibration against the real SDSS MGS sample

Simulated: {len(sim)} galaxies passing Petrosian r <= 17.8 (folder `{out}`{'' if elapsed is None else f', {elapsed:.0f} s'}),
compared with `../shared/data/sdss_mgs_real_5k.csv` (5,000 real MGS galaxies). Regenerate with
{regen}.

- n(z): KS distance **{ks_z:.3f}** (goal < 0.1); median z real {real.zspec.median():.3f}, sim {sim.zspec.median():.3f}.
- model r distribution: KS distance **{ks_r:.3f}**; median r real {real.r.median():.2f}, sim {sim.r.median():.2f}.
- binned colour medians within 0.05 mag of the real sample: **{n_ok} of {len(good)}** (bins with >= 20 galaxies in both; ** marks misses).
- frac_dev_r vs true B/T (r): Spearman {rho:.2f}.

{table}

Median magnitude errors (the simulated `err_*` include the r-band shape uncertainty propagated
into every band, so they describe the real scatter; SDSS's quoted errors, like the `meas_err_lin_*`
column of truth.parquet, are fixed-shape linear errors):

| band | real MGS err | sim err (catalogue) | sim fixed-shape err (truth) |
|---|---|---|---|
{errs}

### What the measured photometry loses (the physics of Sec. 6.2)

Model colours (r-band shape imposed on every band) against the true integrated colours of the
same galaxies, by true B/T. Bulge-dominated galaxies are smooth and nearly colour-uniform, so the
model weighting is close to right; disks with colour gradients and blue clumps are weighted
wrongly, so their model colours scatter away from the truth by more than the noise:

{pixel_weighting_table(sim, truth)}

### Photo-z check (random forest, 70/30 split of the simulated sample)

{pixel_information_check(out, sim, truth) if args.pixel_check else "(skipped)"}

(The real-data RF on the same 5 features gives sigma_NMAD ~0.013 and mean theta ~28 deg per
SOM cell; the 40 colour cells here are k-means cells, a stand-in for the SOM.)

![calibration](../../docs/simulate_calibration.png)
"""
    replace_section(RESULTS, "calibration", body)
    make_plot(real, sim, PLOT)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
