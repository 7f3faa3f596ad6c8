"""Run a simulation: chunks in parallel (seeded per chunk), streamed to an output folder."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compute.errors import ZcellsInputError
from compute.simulate.config import SimConfig
from compute.simulate.galaxy import (
    INNER_SCALE,
    OUTER_SCALE,
    Galaxies,
    draw_galaxies,
    render_noiseless,
)
from compute.simulate.photometry import Measurements, luptitude, measure, pogson
from compute.simulate.population import Cosmology, Population, draw_footprint
from compute.simulate.profiles import dev_table, exp_table, psf_table
from compute.simulate.render import KGrid, NoiseModel, add_noise
from compute.simulate.seds import build_sed_grid
from compute.simulate.writer import SurveyWriter

OBJID_BASE = 1_237_650_000_000_000_000
"""Simulated objids: this base plus the index of the drawn galaxy (SDSS-like int64)."""
RENDER_BATCH = 128


@dataclass
class Context:
    """Everything a worker needs, built once (inherited by forked workers)."""

    cfg: SimConfig
    population: Population
    sed: Any
    cosmo: Cosmology
    noise: NoiseModel
    grid: KGrid


_CTX: Context | None = None


def build_context(cfg: SimConfig) -> Context:
    """Build SED grids, distance tables, profile tables and the noise model."""
    sed = build_sed_grid(cfg.bands, cfg.z_max)
    cosmo = Cosmology.make(cfg.h0, cfg.om0, cfg.z_max)
    pop = Population.make(cfg, sed, cosmo)
    dev_table(), exp_table(), psf_table()
    noise = NoiseModel.from_depths(cfg.bands, cfg.depth5, cfg.sky_sb, cfg.psf_fwhm, cfg.pixel_scale)
    n_render = cfg.stamp_size + cfg.stamp_size // 2
    return Context(cfg, pop, sed, cosmo, noise, KGrid.make(n_render))


@dataclass
class ChunkResult:
    """Kept galaxies of one chunk, plus counts."""

    index: int
    n_drawn: int
    n_imaged: int
    catalog: pd.DataFrame
    truth: pd.DataFrame
    images: np.ndarray


def simulate_chunk(index: int, first: int, n: int, ctx: Context | None = None) -> ChunkResult:
    """Simulate chunk ``index`` (galaxies ``first .. first + n - 1``) deterministically."""
    ctx = ctx or _CTX
    assert ctx is not None
    cfg = ctx.cfg
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index]))
    z, abs_r = ctx.population.draw(rng, n)
    ra, dec = draw_footprint(rng, n)
    gal = draw_galaxies(rng, z, abs_r, cfg, ctx.sed, ctx.cosmo)
    noise_seed = int(rng.integers(1, 2**31 - 1))
    objid = OBJID_BASE + first + np.arange(n, dtype=np.int64)
    ir = cfg.bands.index("r")
    # galaxies whose true total r is fainter than limit + margin cannot pass the cut
    imaged = np.nonzero(pogson(gal.flux_total[:, ir]) <= cfg.mag_limit + cfg.mag_margin)[0]
    s = cfg.stamp_size
    images = np.empty((len(imaged), len(cfg.bands), s, s), np.float32)
    meas: list[Measurements] = []
    for bi, lo in enumerate(range(0, len(imaged), RENDER_BATCH)):
        sel = imaged[lo:lo + RENDER_BATCH]
        sub = _subset(gal, sel)
        img = render_noiseless(sub, ctx.grid, s)
        var = np.stack([ctx.noise.variance(b, img[:, ib]) for ib, b in enumerate(cfg.bands)], 1)
        add_noise(img, var, noise_seed + bi)
        images[lo:lo + len(sel)] = img
        meas.append(measure(img, sub.fwhm, cfg.bands, ctx.noise))
    if meas:
        m = Measurements(*[np.concatenate([getattr(x, f) for x in meas]) for f in Measurements.__dataclass_fields__])
        petro_mag, _ = luptitude(m.petro_flux_r, np.zeros(len(imaged)), "r")
        keep_local = np.nonzero(petro_mag <= cfg.mag_limit)[0]
    else:
        keep_local = np.zeros(0, int)
    keep = imaged[keep_local]
    if len(keep):
        catalog = _catalog(cfg, objid[keep], ra[keep], dec[keep], z[keep], m, keep_local)
        truth = _truth(cfg, objid[keep], _subset(gal, keep), m, keep_local)
    else:
        catalog, truth = pd.DataFrame(), pd.DataFrame()
    return ChunkResult(index, n, len(imaged), catalog, truth, images[keep_local])


def _subset(gal: Galaxies, idx: np.ndarray) -> Galaxies:
    return Galaxies(**{k: v[idx] for k, v in gal.__dict__.items()})


def _catalog(cfg: SimConfig, objid: np.ndarray, ra: np.ndarray, dec: np.ndarray, z: np.ndarray,
             m: Measurements, k: np.ndarray) -> pd.DataFrame:
    cols: dict[str, Any] = {"objid": objid, "ra": ra, "dec": dec, "zspec": z}
    errs = {}
    for ib, b in enumerate(cfg.bands):
        cols[b], errs[f"err_{b}"] = luptitude(m.model_flux[k, ib], m.model_err[k, ib], b)
    cols.update(errs)
    cols["cmodel_r"] = luptitude(m.cmodel_flux_r[k], m.cmodel_err_r[k], "r")[0]
    cols["petro_r"] = luptitude(m.petro_flux_r[k], np.zeros(len(k)), "r")[0]
    cols["frac_dev_r"] = m.frac_dev_r[k]
    cols["exp_ab_r"] = m.exp_ab_r[k]
    frame = pd.DataFrame(cols)
    for c in frame.columns:
        if c != "objid":
            frame[c] = frame[c].astype(np.float64)
    return frame


def _truth(cfg: SimConfig, objid: np.ndarray, g: Galaxies, m: Measurements, k: np.ndarray) -> pd.DataFrame:
    ir = cfg.bands.index("r")
    kpc = cfg.pixel_scale
    tot = g.flux_total
    cols: dict[str, Any] = {
        "objid": objid, "z_true": g.z, "abs_mag_r": g.abs_r, "red_sequence": g.red,
        "bt_r": g.flux_bulge[:, ir] / tot[:, ir], "bt_rest_r": g.bt_rest,
    }
    for ib, b in enumerate(cfg.bands):
        cols[f"flux_bulge_{b}"] = g.flux_bulge[:, ib]
        cols[f"flux_disk_{b}"] = g.flux_disk_in[:, ib] + g.flux_disk_out[:, ib]
        cols[f"flux_clumps_{b}"] = g.flux_clumps[:, ib]
        cols[f"flux_total_{b}"] = tot[:, ib]
        cols[f"mag_true_{b}"] = pogson(tot[:, ib])
        cols[f"meas_err_lin_{b}"] = luptitude(m.model_flux[k, ib], m.model_err_lin[k, ib], b)[1]
        cols[f"psf_fwhm_{b}"] = g.fwhm[:, ib] * kpc
    cols.update({
        "hlr_bulge_arcsec": g.hlr_bulge * kpc, "hlr_disk_arcsec": g.hlr_disk * kpc,
        "hlr_disk_inner_arcsec": g.hlr_disk * INNER_SCALE * kpc,
        "hlr_disk_outer_arcsec": g.hlr_disk * OUTER_SCALE * kpc,
        "q_bulge": g.q_bulge, "q_disk": g.q_disk,
        "inclination_deg": np.degrees(np.arccos(g.cos_incl)),
        "position_angle_deg": np.degrees(g.beta),
        "sed_type_bulge": g.type_bulge, "sed_type_disk": g.type_disk,
        "sed_type_disk_inner": g.type_disk_inner, "sed_type_disk_outer": g.type_disk_outer,
        "av_disk": g.av_disk, "n_clumps": g.n_clumps,
        "clump_frac_r": g.flux_clumps[:, ir] / tot[:, ir],
        "clump_sigma_arcsec": g.clump_sigma * kpc,
        "meas_best_model": np.where(m.best_is_dev[k], "dev", "exp"),
        "meas_dev_hlr_arcsec": m.dev_hlr_r[k] * kpc, "meas_exp_hlr_arcsec": m.exp_hlr_r[k] * kpc,
        "meas_dev_ab_r": m.dev_ab_r[k], "meas_petro_rad_arcsec": m.petro_rad_r[k] * kpc,
    })
    return pd.DataFrame(cols)


def _init_worker(ctx: Context) -> None:
    global _CTX
    _CTX = ctx


def _run_chunk(args: tuple[int, int, int]) -> ChunkResult:
    return simulate_chunk(*args)


def chunk_plan(n: int, chunk_size: int) -> list[tuple[int, int, int]]:
    """(index, first galaxy, size) of every chunk; fixed by n and chunk_size only."""
    return [(c, lo, min(chunk_size, n - lo)) for c, lo in enumerate(range(0, n, chunk_size))]


def simulate(config: SimConfig, out_dir: str | os.PathLike[str], progress: bool = True) -> Path:
    """Simulate a survey and write it to ``out_dir`` (atomically).

    Writes ``catalog.parquet``, ``truth.parquet``, the image cube (``images.npy`` etc.,
    rows in catalogue order) and ``provenance.json``.

    Raises
    ------
    ZcellsInputError
        On an invalid config or when no galaxy passes the magnitude limit; no output
        folder is left behind.
    """
    from tqdm import tqdm

    from compute.simulate import SIMULATOR_VERSION

    if not isinstance(config, SimConfig):
        raise ZcellsInputError(f"simulate() needs a SimConfig, got {type(config).__name__}")
    config.validate()
    t0 = time.perf_counter()
    ctx = build_context(config)
    writer = SurveyWriter(out_dir, config.bands, config.stamp_size)
    plan = chunk_plan(config.n, config.chunk_size)
    n_drawn = n_imaged = 0
    try:
        bar = tqdm(total=config.n, unit="gal", desc="simulate", disable=not progress)
        workers = min(config.workers, len(plan))
        if workers > 1:
            global _CTX
            _CTX = ctx
            pool = mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(ctx,))
            results: Iterator[ChunkResult] = pool.imap(_run_chunk, plan)
        else:
            pool = None
            results = (simulate_chunk(*p, ctx=ctx) for p in plan)
        try:
            for res in results:
                writer.append(res.catalog, res.truth, res.images)
                n_drawn += res.n_drawn
                n_imaged += res.n_imaged
                bar.update(res.n_drawn)
                bar.set_postfix(kept=writer.n_rows)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            bar.close()
        if writer.n_rows == 0:
            raise ZcellsInputError(
                f"simulation config: no galaxy passes r <= {config.mag_limit} "
                f"(Petrosian r) among {n_drawn} simulated; use a fainter mag_limit or a larger n"
            )
        elapsed = time.perf_counter() - t0
        cube_meta = {
            "pixel_scale_arcsec": config.pixel_scale, "units": "nanomaggies per pixel",
            "source": "zcells simulate", "psf": "Kolmogorov, FWHM per galaxy in truth.parquet",
            "simulator_version": SIMULATOR_VERSION, "seed": config.seed,
            "sim_config_hash": config.physics_hash(),
        }
        provenance = {
            "simulator": "zcells.compute.simulate", "simulator_version": SIMULATOR_VERSION,
            "seed": config.seed, "config": config.to_dict(),
            "sim_config_hash": config.physics_hash(),
            "counts": {"simulated": n_drawn, "imaged": n_imaged, "passed_cut": writer.n_rows},
            "cut": f"petro_r <= {config.mag_limit}", "elapsed_s": round(elapsed, 2),
            "note": "n = galaxies drawn from the luminosity function; those whose true total r is "
                    "fainter than mag_limit + mag_margin cannot pass and are not imaged",
        }
        return writer.finish(cube_meta, provenance)
    except BaseException:
        writer.abort()
        raise
