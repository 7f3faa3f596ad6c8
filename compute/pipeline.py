"""The build pipeline: catalogue -> photo-z methods -> SOM -> per-cell fits -> artifacts."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from compute import __version__, artifacts
from compute.cache import StageCache, content_key, default_cache_dir, frame_key
from compute.catalog import CatalogReport, load_catalog
from compute.cells import cell_statistics
from compute.config import Config
from compute.errors import ZcellsInputError
from compute.methods import MethodContext, MethodResult, get_method
from compute.metrics import bias, outlier_fraction, sigma_nmad
from compute.pz import pit
from compute.somstage import FEATURES, SomResult, colour_features, run_som

#: how many representative galaxies per cell are listed for cutouts
N_REPRESENTATIVES = 48


@dataclasses.dataclass
class BuildResult:
    """Where the artifacts went and what the build measured."""

    out: Path
    methods: list[str]
    global_metrics: dict[str, Any]
    timings: dict[str, float]
    cached: dict[str, bool]


class _Stages:
    """Times stages, moves one overall progress bar and records which stages came from cache."""

    def __init__(self, names: list[str], progress: bool, log: Callable[[str], None]) -> None:
        self.bar = tqdm(total=len(names), desc="zcells build", unit="stage", disable=not progress,
                        leave=True)
        self.timings: dict[str, float] = {}
        self.cached: dict[str, bool] = {}
        self.log = log

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.bar.set_description(f"zcells build: {name}")
        t0 = time.perf_counter()
        result = fn()
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.bar.update(1)
        return result

    def close(self) -> None:
        self.bar.set_description("zcells build: done")
        self.bar.close()


def build(
    catalog_path: str | Path,
    out: str | Path,
    cfg: Config | None = None,
    *,
    progress: bool = True,
    cache_dir: Path | None | str = "default",
    log: Callable[[str], None] = print,
    source: str | None = None,
) -> BuildResult:
    """Run every stage and write the artifacts folder atomically.

    Parameters
    ----------
    catalog_path : path
        Catalogue file (CSV, FITS or Parquet) in, or mappable to, the canonical contract.
    out : path
        Artifacts folder to write (replaced atomically if it exists).
    cfg : Config, optional
        Build configuration; defaults follow the paper.
    progress : bool
        Show progress bars.
    cache_dir : path, None or "default"
        Stage cache location; None disables the cache.
    log : callable
        Receives one human-readable line per event.
    source : str, optional
        "simulated", "sdss" or "file"; guessed from the files beside the catalogue when None.

    Raises
    ------
    ZcellsInputError
        For bad input; nothing is written then.
    """
    cfg = cfg or Config()
    cfg.check()
    catalog_path = Path(catalog_path)
    cache = StageCache(default_cache_dir() if cache_dir == "default" else
                       (Path(cache_dir) if cache_dir is not None else None))
    stages = _Stages(["catalog", "methods", "som", "cells", "artifacts"], progress, log)
    try:
        return _build(catalog_path, Path(out), cfg, cache, stages, progress, log, source)
    finally:
        stages.close()


def _build(catalog_path: Path, out: Path, cfg: Config, cache: StageCache, stages: _Stages,
           progress: bool, log: Callable[[str], None], source: str | None) -> BuildResult:
    if not catalog_path.is_file():
        raise ZcellsInputError(f"{catalog_path}: no such catalogue file")
    file_sha = artifacts.sha256_file(catalog_path)
    methods_to_run = list(dict.fromkeys(cfg.methods))
    parsed = {m: _parse_method(m, cfg) for m in methods_to_run}

    # -- catalogue
    def load() -> tuple[pd.DataFrame, dict[str, Any]]:
        key = content_key("catalog", file_sha, dataclasses.asdict(cfg.selection),
                          dataclasses.asdict(cfg.split), [dataclasses.asdict(e) for e in cfg.external])
        hit = cache.get_frame("catalog", key)
        meta = cache.get_arrays("catalog-report", key)
        if hit is not None and meta is not None:
            stages.cached["catalog"] = True
            return hit, meta["__meta__"]
        df, report = load_catalog(catalog_path, cfg.selection, cfg.split.test_fraction, cfg.split.salt)
        df, ext_notes = _join_external(df, cfg)
        rep = _report_dict(report)
        rep["external"] = ext_notes
        cache.put_frame("catalog", key, df)
        cache.put_arrays("catalog-report", key, {}, rep)
        return df, rep

    catalog, report = stages.run("catalog", load)
    catalog = join_truth(catalog, catalog_path)
    for line in report["lines"]:
        log(line)
    for note in report.get("external", []):
        log(note)
    cat_key = frame_key(catalog)

    # -- photo-z methods
    for m, opts in parsed.items():
        missing = [c for c in get_method(m).required_columns(opts) if c not in catalog.columns]
        if missing:
            raise ZcellsInputError(
                f"{catalog_path}: method '{m}' needs column(s) {', '.join(missing)}, "
                "which the catalogue lacks"
            )
    images = _images_dir(cfg, catalog_path)
    method_info: dict[str, Any] = {}
    pz_store: dict[str, dict[str, np.ndarray]] = {}

    def run_methods() -> None:
        for m, opts in parsed.items():
            key = content_key("method", m, cat_key, _options_record(opts), cfg.per_cell_sample,
                              cfg.seed, _cube_fingerprint(images) if m == "cnn" else None)
            hit = cache.get_arrays("method", key)
            if hit is not None:
                res = MethodResult(zphot=hit["zphot"], flags=hit.get("flags"), pz=hit.get("pz"),
                                   pz_edges=hit.get("pz_edges"), info=hit["__meta__"])
                stages.cached[f"method:{m}"] = True
            else:
                ctx = MethodContext(per_cell_sample=cfg.per_cell_sample, seed=cfg.seed,
                                    progress=progress, workdir=_workdir(cache),
                                    images=images, catalog_path=catalog_path)
                t0 = time.perf_counter()
                res = get_method(m).run(catalog, opts, ctx)
                res.info = {**res.info, "seconds": round(time.perf_counter() - t0, 2)}
                cache.put_arrays("method", key, {"zphot": res.zphot, "flags": res.flags,
                                                 "pz": res.pz, "pz_edges": res.pz_edges}, res.info)
            zphot = np.asarray(res.zphot, dtype=np.float64)
            if zphot.shape != (len(catalog),):
                raise RuntimeError(f"method {m} returned {zphot.shape} predictions for "
                                   f"{len(catalog)} rows")
            catalog[f"zphot_{m}"] = zphot
            if res.flags is not None:
                catalog[f"flag_{m}"] = np.asarray(res.flags, dtype=np.int16)
            if res.pz is not None and res.pz_edges is not None:
                pz_store[m] = {"pz": np.asarray(res.pz), "edges": np.asarray(res.pz_edges)}
            method_info[m] = {"options": _options_record(opts), **res.info}
            log(f"method {m}: {int(np.isfinite(zphot).sum())} galaxies predicted")

    stages.run("methods", run_methods)
    methods = [c[len("zphot_"):] for c in catalog.columns if str(c).startswith("zphot_")]
    if not methods:
        raise ZcellsInputError(
            f"{catalog_path}: nothing to analyse: the catalogue has no zphot_<method> column and "
            "no method was asked for (use --methods rf,llr,cnn or add zphot_<name> columns)"
        )
    for m in methods:
        method_info.setdefault(m, {"options": None, "origin": "supplied with the catalogue"})
        bad = np.isfinite(catalog[f"zphot_{m}"]).sum()
        if bad == 0:
            raise ZcellsInputError(f"{catalog_path}: column 'zphot_{m}' has no finite value")

    # -- SOM
    def som_stage() -> SomResult:
        key = content_key("som", cat_key, dataclasses.asdict(cfg.som))
        hit = cache.get_arrays("som", key)
        if hit is not None:
            stages.cached["som"] = True
            return SomResult.from_arrays(hit, hit["__meta__"])
        res = run_som(catalog, cfg.som, progress=progress)
        cache.put_arrays("som", key, res.arrays(), res.params)
        return res

    som = stages.run("som", som_stage)
    log(f"SOM {som.shape[0]}x{som.shape[1]}: quantisation error {som.quantization_error:.4f}, "
        f"topographic error {som.topographic_error:.4f}")

    # -- per-cell statistics
    galaxies = _galaxy_table(catalog, som, methods, cfg, pz_store)

    def cells_stage() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        return cell_statistics(galaxies, methods, som.shape, cfg.lts)

    cells, clipped = stages.run("cells", cells_stage)
    for m in methods:
        galaxies[f"clipped_{m}"] = clipped[m]
    global_metrics = _global_metrics(galaxies, methods, cfg)
    for m in methods:
        ok = cells[(cells["method"] == m) & (cells["status"] == "ok")]
        global_metrics["methods"][m]["mean_cell_theta_deg"] = (
            float(ok["theta_deg"].mean()) if len(ok) else None)
        global_metrics["methods"][m]["n_cells_fitted"] = int(len(ok))
        g = global_metrics["methods"][m]
        log(f"{m}: sigma_NMAD {g['sigma_nmad']:.4f}, outliers {g['outlier_fraction']:.2%}, "
            f"global theta {g['theta_deg']:.1f} deg, mean per-cell theta "
            f"{g['mean_cell_theta_deg'] if g['mean_cell_theta_deg'] is None else round(g['mean_cell_theta_deg'], 1)} deg "
            f"over {len(ok)} cells")

    # -- artifacts
    def write_stage() -> Path:
        nx, ny = som.shape
        cell = galaxies["cell"].to_numpy(np.int64)
        order = np.argsort(cell, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=nx * ny))])
        occ_all = np.bincount(cell, minlength=nx * ny).reshape(nx, ny)
        test = galaxies["split"].to_numpy() == "test"
        occ_test = np.bincount(cell[test], minlength=nx * ny).reshape(nx, ny)
        som_arrays = {
            "weights": som.weights, "shape": np.asarray(som.shape),
            "feature_names": np.asarray(FEATURES), "feature_mean": som.mean,
            "feature_std": som.std, "u_matrix": som.u_matrix, "occupancy": occ_all,
            "occupancy_train": occ_all - occ_test, "occupancy_test": occ_test,
            "quantization_error": np.asarray(som.quantization_error),
            "topographic_error": np.asarray(som.topographic_error),
        }
        manifest = {
            "zcells_version": __version__,
            "source": source or _guess_source(catalog_path, catalog),
            "config": cfg.to_dict(),
            "input": {"path": str(catalog_path.resolve()), "sha256": file_sha,
                      "n_rows": report["n_read"]},
            "catalog": report,
            "methods": method_info,
            "per_cell_sample": cfg.per_cell_sample,
            "som": {"shape": list(som.shape), "backend": cfg.som.backend, "params": som.params,
                    "quantization_error": som.quantization_error,
                    "topographic_error": som.topographic_error},
            "images": str(images.resolve()) if images is not None else None,
            "packages": artifacts.package_versions(),
            "timings": stages.timings,
            "cached_stages": stages.cached,
            "citation": CITATION,
        }
        aset = artifacts.ArtifactSet(
            galaxies=galaxies, cells=cells, som=som_arrays, global_metrics=global_metrics,
            members_order=order.astype(np.int64), members_offsets=offsets.astype(np.int64),
            representatives=_representatives(galaxies, order, offsets),
            pz=_pz_artifacts(pz_store, galaxies), manifest=manifest,
        )
        return artifacts.write(aset, out)

    path = stages.run("artifacts", write_stage)
    log(f"artifacts written to {path}")
    return BuildResult(path, methods, global_metrics, stages.timings, stages.cached)


CITATION = (
    "Moran, Andrews, Newman & Dey (2025), 'Deep Learning Improves Photometric Redshifts in All "
    "Regions of Color Space'. SDSS DR12: Alam et al. (2015), ApJS 219, 12. Legacy Surveys: "
    "Dey et al. (2019), AJ 157, 168."
)


def _parse_method(name: str, cfg: Config) -> Any:
    method = get_method(name)
    return method.parse_options(dict(cfg.method_options.get(name, {})))


def _options_record(opts: Any) -> Any:
    if dataclasses.is_dataclass(opts) and not isinstance(opts, type):
        return dataclasses.asdict(opts)
    return opts


def _workdir(cache: StageCache) -> Path:
    root = cache.root if cache.root is not None else default_cache_dir()
    path = Path(root) / "work"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _images_dir(cfg: Config, catalog_path: Path) -> Path | None:
    if cfg.images:
        return Path(cfg.images)
    beside = catalog_path.parent
    return beside if (beside / "images.npy").is_file() else None


def _cube_fingerprint(images: Path | None) -> Any:
    if images is None or not (images / "images.npy").is_file():
        return None
    st = (images / "images.npy").stat()
    return [str(images.resolve()), st.st_size, st.st_mtime_ns]


def _join_external(df: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    if not cfg.external:
        return df, notes
    from compute.methods.external import join_external

    for ext in cfg.external:
        if not ext.file or not ext.name:
            raise ZcellsInputError("config: each [[external]] entry needs 'file' and 'name'")
        df, rep = join_external(df, Path(ext.file), name=ext.name, key=ext.key,
                                column=ext.column, file_key=ext.file_key)
        notes.append(f"external photo-z {ext.name}: {rep}")
    return df, notes


def _report_dict(report: CatalogReport) -> dict[str, Any]:
    return {
        "source": report.source, "n_read": report.n_read, "mapping": report.mapping,
        "warnings": report.warnings, "excluded": report.excluded,
        "cuts": [dataclasses.asdict(c) for c in report.cuts], "split": report.split_note,
        "n_final": report.n_final, "n_train": report.n_train, "n_test": report.n_test,
        "lines": report.lines(),
    }


def _guess_source(catalog_path: Path, catalog: pd.DataFrame) -> str:
    prov = catalog_path.parent / "provenance.json"
    if prov.is_file():
        try:
            if "simulator" in json.loads(prov.read_text()):
                return "simulated"
        except (json.JSONDecodeError, OSError):
            pass
    if "specobjid" in catalog.columns and "ra" in catalog.columns:
        return "sdss"
    return "file"


def _galaxy_table(catalog: pd.DataFrame, som: SomResult, methods: list[str], cfg: Config,
                  pz_store: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    n = len(catalog)
    X = colour_features(catalog)

    def col(name: str) -> np.ndarray:
        return catalog[name].to_numpy(np.float64) if name in catalog.columns else np.full(n, np.nan)

    g = pd.DataFrame({
        "objid": catalog["objid"].to_numpy(np.int64),
        "ra": col("ra"), "dec": col("dec"),
        "zspec": catalog["zspec"].to_numpy(np.float64),
        "split": catalog["split"].astype(str).to_numpy(),
        "cell": som.cell.astype(np.int32),
        "cell_x": som.cell_x, "cell_y": som.cell_y,
        "bt": col("frac_dev_r"),
        "in_sample": (catalog["split"].to_numpy() == "test") if cfg.per_cell_sample == "test"
        else np.ones(n, bool),
        **{f: X[:, i].astype(np.float32) for i, f in enumerate(FEATURES)},
        "r": catalog["r"].to_numpy(np.float32),
        "qdist": som.qdist,
    })
    if "specobjid" in catalog.columns:
        g.insert(1, "specobjid", catalog["specobjid"].astype("Int64").to_numpy())
    for m in methods:
        g[f"zphot_{m}"] = catalog[f"zphot_{m}"].to_numpy(np.float32)
        if f"flag_{m}" in catalog.columns:
            g[f"flag_{m}"] = catalog[f"flag_{m}"].to_numpy()
        if m in pz_store:
            store = pz_store[m]
            g[f"pit_{m}"] = pit(store["pz"], store["edges"], g["zspec"].to_numpy()).astype(np.float32)
    truth = [c for c in catalog.columns if str(c).startswith("true_")]
    for c in truth:
        g[c] = catalog[c].to_numpy()
    return g


#: truth-table columns of a simulated survey shown beside its galaxies (as ``true_<name>``)
TRUTH_COLUMNS = {"z_true": "true_z", "bt_r": "true_bt", "abs_mag_r": "true_abs_mag_r",
                 "red_sequence": "true_red_sequence"}


def join_truth(catalog: pd.DataFrame, catalog_path: Path) -> pd.DataFrame:
    """Add a simulated survey's truth (``truth.parquet`` beside the catalogue) as ``true_*``."""
    path = catalog_path.parent / "truth.parquet"
    if not path.is_file():
        return catalog
    try:
        truth = pd.read_parquet(path, columns=["objid", *TRUTH_COLUMNS])
    except (OSError, ValueError, KeyError):  # not a zcells truth table: nothing to add
        return catalog
    truth = truth.rename(columns=TRUTH_COLUMNS).drop_duplicates("objid")
    return catalog.merge(truth, on="objid", how="left", validate="one_to_one")


def _global_metrics(galaxies: pd.DataFrame, methods: list[str], cfg: Config) -> dict[str, Any]:
    from compute.lts import fit_line, theta_deg
    from compute.metrics import nmad

    out: dict[str, Any] = {"sample": cfg.per_cell_sample, "methods": {}}
    insample = galaxies["in_sample"].to_numpy(bool)
    for m in methods:
        zp = galaxies[f"zphot_{m}"].to_numpy(np.float64)
        sel = insample & np.isfinite(zp)
        zs, zp = galaxies["zspec"].to_numpy(np.float64)[sel], zp[sel]
        rec: dict[str, Any] = {
            "n": int(sel.sum()), "sigma_nmad": sigma_nmad(zs, zp),
            "outlier_fraction": outlier_fraction(zs, zp), "bias": bias(zs, zp),
        }
        if sel.sum() >= cfg.lts.min_n:
            fit = fit_line(zs, zp, cfg.lts.sigma_x, max(rec["sigma_nmad"], 1e-6), clip=cfg.lts.clip,
                           seed=cfg.lts.seed)
            theta, theta_err = theta_deg(np.asarray(fit.slope), np.asarray(fit.slope_err))
            zfit = fit.intercept + fit.slope * zs
            rec.update(slope=float(fit.slope), intercept=float(fit.intercept),
                       slope_err=float(fit.slope_err), theta_deg=float(theta),
                       theta_err=float(theta_err), sigma_atten=nmad(zs, zfit),
                       sigma_scatter=nmad(zfit, zp), status=str(fit.status))
        out["methods"][m] = rec
    return out


def _representatives(galaxies: pd.DataFrame, order: np.ndarray, offsets: np.ndarray) -> pd.DataFrame:
    """Per cell, the galaxies closest to the cell's weight vector (in-sample ones first)."""
    qd = galaxies["qdist"].to_numpy(np.float64)
    ins = galaxies["in_sample"].to_numpy(bool)
    cell = galaxies["cell"].to_numpy(np.int64)
    key = np.lexsort((qd, ~ins, cell))
    sorted_cell = cell[key]
    starts = np.searchsorted(sorted_cell, sorted_cell, side="left")
    rank = np.arange(len(key)) - starts
    keep = rank < N_REPRESENTATIVES
    rows = key[keep]
    return pd.DataFrame({
        "cell": cell[rows].astype(np.int32), "rank": rank[keep].astype(np.int32),
        "row": rows.astype(np.int64), "objid": galaxies["objid"].to_numpy()[rows],
    })


def _pz_artifacts(pz_store: dict[str, dict[str, np.ndarray]],
                  galaxies: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for m, store in pz_store.items():
        pz = store["pz"]
        rows = np.flatnonzero(np.isfinite(pz).all(axis=1) & (np.nansum(pz, axis=1) > 0))
        out[m] = {"rows": rows.astype(np.int64), "pz": pz[rows].astype(np.float16),
                  "edges": store["edges"].astype(np.float64)}
    return out
