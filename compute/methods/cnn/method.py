"""The ``cnn`` photo-z method: a Pasquet et al. (2019) style inception CNN giving p(z) from images."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from compute.errors import ZcellsInputError
from compute.imagecube import CUBE_FILE, ImageCube, open_cube
from compute.methods.base import MethodContext, MethodResult

from .data import (
    FEATURE_COLUMNS,
    FEATURE_NAMES,
    FeatureScaler,
    Normaliser,
    check_finite_features,
    fit_feature_scaler,
    fit_normaliser,
    load_store,
    raw_features,
)
from .model import Architecture, PhotoZNet
from .options import CNNOptions
from .predict import predict_pz, summarise
from .pz import bin_edges, class_of
from .train import (
    CHECKPOINT_VERSION,
    FitData,
    GuardedForward,
    Runtime,
    fingerprint,
    fit,
    load_checkpoint,
)

FLAG_OK = 0
FLAG_NO_IMAGE = 1
NO_CUBE_HELP = (
    "run `zcells simulate ...` for the simulated survey, or "
    "`zcells fetch cutouts --catalog FILE --out DIR` for real data, then pass --images DIR"
)


def find_cube(context: MethodContext) -> Path:
    """Return the image-cube folder: ``context.images``, else the catalogue's folder if it holds one.

    Raises
    ------
    ZcellsInputError
        If there is no cube, saying how to make one.
    """
    if context.images is not None:
        folder = Path(context.images)
        if not folder.is_dir():
            raise ZcellsInputError(f"cnn: image folder {folder} does not exist; {NO_CUBE_HELP}")
        return folder
    if context.catalog_path is not None:
        folder = Path(context.catalog_path).parent
        if (folder / CUBE_FILE).is_file():
            return folder
    where = f" beside {context.catalog_path}" if context.catalog_path is not None else ""
    raise ZcellsInputError(
        f"cnn: the image CNN needs an image cube and none was given or found{where}; {NO_CUBE_HELP}"
    )


def _data_hash(cube: ImageCube, rows: np.ndarray, objid: np.ndarray, zspec: np.ndarray) -> str:
    """Hash of what training sees: ids, redshifts, cube layout and metadata, and sample pixels."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(objid, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(zspec, dtype=np.float64).tobytes())
    h.update(
        repr(
            (tuple(cube.images.shape), list(cube.bands), cube.meta.get("sim_config_hash"))
        ).encode()
    )
    sample = np.unique(rows[np.linspace(0, len(rows) - 1, num=min(8, len(rows))).astype(int)])
    h.update(np.ascontiguousarray(cube.images[sample], dtype=np.float32).tobytes())
    return h.hexdigest()


def check_weights(
    ckpt: dict[str, Any],
    arch: Architecture,
    bands: list[str],
    sim_hash: Any,
    z_max: float,
    path: str,
) -> None:
    """Refuse pre-trained weights that do not fit the images and options at hand.

    Raises
    ------
    ZcellsInputError
        Naming each mismatch (architecture, bands, image size, redshift range, simulation config).
    """
    problems = []
    got = dict(ckpt.get("arch", {}))
    want = arch.to_dict()
    for key, label in (
        ("variant", "variant"),
        ("image_size", "image size"),
        ("in_bands", "band count"),
        ("n_bins", "n_bins"),
        ("n_features", "photometric features (use_features)"),
    ):
        if got.get(key) != want[key]:
            problems.append(f"{label}: weights {got.get(key)!r}, here {want[key]!r}")
    if list(ckpt.get("bands", [])) != list(bands):
        problems.append(f"bands: weights {ckpt.get('bands')}, images {bands}")
    if ckpt.get("z_max") is not None and abs(float(ckpt["z_max"]) - z_max) > 1e-12:
        problems.append(f"z_max: weights {ckpt['z_max']}, here {z_max}")
    trained_hash = (ckpt.get("provenance") or {}).get("sim_config_hash")
    if trained_hash is not None and sim_hash is not None and trained_hash != sim_hash:
        problems.append(
            f"sim_config_hash: weights {trained_hash}, images {sim_hash} (another simulated survey)"
        )
    if "best_model" not in ckpt or "normaliser" not in ckpt:
        problems.append("the file holds no trained model")
    if problems:
        raise ZcellsInputError(f"cnn: weights {path} do not match: " + "; ".join(problems))


def _weights_images(path: Path) -> str | None:
    """The image-cube folder a weights file was trained on (resolved), or None if unknown."""
    if not path.is_file():
        raise ZcellsInputError(f"cnn: weights file {path} does not exist")
    ckpt = load_checkpoint(path)
    images = (ckpt.get("provenance") or {}).get("images")
    return str(Path(images).resolve()) if images else None


class CNNMethod:
    """Image CNN photo-z (Pasquet et al. 2019 style): redshift classification over bins -> p(z)."""

    name = "cnn"

    def parse_options(self, options: dict[str, Any] | CNNOptions | None) -> CNNOptions:
        """Return validated :class:`CNNOptions` (unknown keys and bad values are refused)."""
        if isinstance(options, CNNOptions):
            options.validate()
            return options
        return CNNOptions.from_dict(options)

    def required_columns(self, options: CNNOptions) -> list[str]:
        """``objid``, ``zspec`` and ``split``, plus ugriz with ``use_features``."""
        cols = ["objid", "zspec", "split"]
        return cols + list(FEATURE_COLUMNS) if options.use_features else cols

    def run(self, catalog: pd.DataFrame, options: Any, context: MethodContext) -> MethodResult:
        """Train on ``split == "train"`` rows with images and predict p(z) for the test rows.

        Rows without an image get NaN (flag 1). With ``per_cell_sample == "all"`` the training
        rows are predicted out-of-fold when ``oof_folds >= 2``; otherwise they stay NaN, since
        in-sample predictions would flatter the method.
        """
        t_start = time.perf_counter()
        opts = options if isinstance(options, CNNOptions) else self.parse_options(options)
        missing = [c for c in self.required_columns(opts) if c not in catalog.columns]
        if missing:
            raise ZcellsInputError(f"cnn: catalogue lacks column(s) {', '.join(missing)}")
        cube_dir = find_cube(context)
        cube = open_cube(cube_dir)
        if cube.images.shape[-1] != cube.images.shape[-2]:
            raise ZcellsInputError(
                f"cnn: {cube_dir}: images must be square, got {cube.images.shape[-2:]}"
            )
        runtime = Runtime.resolve(opts, context.device)
        edges = bin_edges(opts.n_bins, opts.z_max)

        n = len(catalog)
        objid = catalog["objid"].to_numpy(dtype=np.int64)
        zspec = catalog["zspec"].to_numpy(dtype=np.float64)
        split = catalog["split"].astype(str).to_numpy()
        cube_rows = cube.index_of(objid)
        has_image = cube_rows >= 0
        if not has_image.any():
            raise ZcellsInputError(
                f"cnn: none of the {n} catalogue objid values has an image in {cube_dir}; "
                "was the cube made for another catalogue?"
            )
        train_ok = (split == "train") & has_image & np.isfinite(zspec)
        test_rows = np.flatnonzero((split == "test") & has_image)
        train_rows = np.flatnonzero(train_ok)
        feats = raw_features(catalog) if opts.use_features else None
        if feats is not None:
            used = np.flatnonzero(has_image & np.isin(split, ("train", "test")))
            check_finite_features(feats[used], used)
        arch = Architecture(
            variant=opts.variant,
            in_bands=len(cube.bands),
            image_size=int(cube.images.shape[-1]),
            n_bins=opts.n_bins,
            n_features=len(FEATURE_NAMES) if opts.use_features else 0,
        )
        ctx = _RunContext(
            opts, context, runtime, cube, cube_dir, cube_rows, objid, zspec, feats, edges, arch
        )

        pz = np.full((n, opts.n_bins), np.nan, dtype=np.float32)
        info: dict[str, Any] = {
            "options": opts.to_dict(),
            "device": str(runtime.device),
            "amp_bf16": runtime.amp,
            "images": str(cube_dir),
            "n_without_image": int((~has_image).sum()),
            "n_train_no_zspec": int(((split == "train") & has_image & ~np.isfinite(zspec)).sum()),
            "n_test_predicted": int(len(test_rows)),
            "zspec_outside_bins": int(
                ((zspec[train_rows] < 0) | (zspec[train_rows] > opts.z_max)).sum()
            ),
            "flags": {
                str(FLAG_OK): "normal",
                str(FLAG_NO_IMAGE): "no image in the cube (zphot NaN)",
            },
        }
        if opts.weights:
            trained_on = _weights_images(Path(opts.weights))
            independent = trained_on is not None and trained_on != str(Path(cube_dir).resolve())
            if context.per_cell_sample == "all" and independent:
                # weights trained on another image set never saw these galaxies: every
                # galaxy's prediction is out of sample
                rows = np.flatnonzero(has_image)
                pz[rows], winfo = ctx.predict_with_weights(Path(opts.weights), rows)
                info["train_predictions"] = (
                    f"pre-trained weights from another image set ({trained_on}): every galaxy "
                    "predicted out of sample"
                )
            else:
                pz[test_rows], winfo = ctx.predict_with_weights(Path(opts.weights), test_rows)
                info["train_predictions"] = "not made: pre-trained weights, training rows left NaN"
            info.update(winfo)
        else:
            if len(train_rows) < 2:
                raise ZcellsInputError(
                    f"cnn: only {len(train_rows)} training galaxies (split == 'train' with an image "
                    "and a finite zspec); need at least 2"
                )
            pz[test_rows], finfo = ctx.train_and_predict(train_rows, test_rows, fold=None)
            info.update(finfo)
            if context.per_cell_sample == "all" and opts.oof_folds >= 2:
                info["folds"] = ctx.out_of_fold(train_rows, pz)
                info["train_predictions"] = f"out-of-fold, {opts.oof_folds} folds"
            elif context.per_cell_sample == "all":
                info["train_predictions"] = (
                    "in-sample predictions would be optimistic, so training rows are left NaN "
                    "(set oof_folds >= 2 for out-of-fold predictions)"
                )
            else:
                info["train_predictions"] = "not requested (per_cell_sample = test)"
        zphot = summarise(pz, edges).get(opts.point_estimate)
        flags = np.where(has_image, FLAG_OK, FLAG_NO_IMAGE).astype(np.int64)
        info["timing"] = dict(
            info.get("timing", {}), total_s=round(time.perf_counter() - t_start, 3)
        )
        return MethodResult(zphot=zphot, flags=flags, pz=pz, pz_edges=edges, info=info)


class _RunContext:
    """Everything one ``run`` call shares between its training and prediction passes."""

    def __init__(
        self,
        opts: CNNOptions,
        context: MethodContext,
        runtime: Runtime,
        cube: ImageCube,
        cube_dir: Path,
        cube_rows: np.ndarray,
        objid: np.ndarray,
        zspec: np.ndarray,
        feats: np.ndarray | None,
        edges: np.ndarray,
        arch: Architecture,
    ) -> None:
        self.opts, self.context, self.runtime = opts, context, runtime
        self.cube, self.cube_dir, self.cube_rows = cube, cube_dir, cube_rows
        self.objid, self.zspec, self.feats, self.edges, self.arch = objid, zspec, feats, edges, arch

    def _build_model(self) -> PhotoZNet:
        torch.manual_seed(self.context.seed)
        model = PhotoZNet(self.arch).to(self.runtime.device)
        return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,no-any-return]

    def _store(self, rows: np.ndarray, normaliser: Normaliser, scaler: FeatureScaler | None):  # noqa: ANN202
        f = None
        if self.feats is not None and scaler is not None:
            f = (self.feats[rows] - np.asarray(scaler.mean)) / np.asarray(scaler.std)
        return load_store(
            self.cube.images,
            self.cube_rows[rows],
            normaliser,
            self.runtime.device,
            self.opts.num_workers,
            f,
        )

    def _predict(
        self, model: PhotoZNet, store: Any, positions: np.ndarray, compile: bool
    ) -> np.ndarray:
        if len(positions) == 0:
            return np.empty((0, self.opts.n_bins), dtype=np.float32)
        model.eval()
        forward = GuardedForward(model, compile)
        return predict_pz(
            forward,
            store.batch,
            positions,
            self.opts.batch_size,
            self.runtime.device,
            self.runtime.amp,
        )

    def train_and_predict(
        self, train_rows: np.ndarray, predict_rows: np.ndarray, fold: int | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Train on catalogue rows ``train_rows`` (minus a validation part) and predict ``predict_rows``."""
        opts, seed = self.opts, self.context.seed
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, 0 if fold is None else fold + 1])
        shuffled = rng.permutation(train_rows)
        n_val = max(1, int(round(opts.val_fraction * len(shuffled))))
        val_rows, fit_rows = np.sort(shuffled[:n_val]), np.sort(shuffled[n_val:])
        normaliser = fit_normaliser(self.cube.images, self.cube_rows[fit_rows], seed=seed)
        scaler = fit_feature_scaler(self.feats[fit_rows]) if self.feats is not None else None
        use = np.concatenate([fit_rows, val_rows, predict_rows])
        store = self._store(use, normaliser, scaler)
        labels = np.full(len(use), -1, dtype=np.int64)
        labels[: len(fit_rows) + len(val_rows)] = class_of(
            self.zspec[np.concatenate([fit_rows, val_rows])], self.edges
        )
        positions = np.arange(len(use))
        fit_pos = positions[: len(fit_rows)]
        val_pos = positions[len(fit_rows) : len(fit_rows) + len(val_rows)]
        pred_pos = positions[len(fit_rows) + len(val_rows) :]
        t_load = time.perf_counter() - t0

        payload = {
            "version": CHECKPOINT_VERSION,
            "options": opts.training_dict(),
            "arch": self.arch.to_dict(),
            "seed": seed,
            "fold": fold,
            "n_folds": opts.oof_folds if fold is not None else None,
            "data": _data_hash(
                self.cube,
                self.cube_rows[train_rows],
                self.objid[train_rows],
                self.zspec[train_rows],
            ),
        }
        fp = fingerprint(payload)
        run_dir = Path(self.context.workdir) / "cnn" / fp[:16]
        sim_hash = self.cube.meta.get("sim_config_hash")
        meta = {
            "arch": self.arch.to_dict(),
            "bands": list(self.cube.bands),
            "z_max": opts.z_max,
            "normaliser": normaliser.to_dict(),
            "feature_scaler": scaler.to_dict() if scaler is not None else None,
            "provenance": {
                "made_by": "zcells cnn method (compute/methods/cnn)",
                "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "catalog": str(self.context.catalog_path) if self.context.catalog_path else None,
                "images": str(self.cube_dir),
                "sim_config_hash": sim_hash,
                "n_train": int(len(fit_rows)),
                "n_val": int(len(val_rows)),
                "seed": seed,
                "fold": fold,
                "options": opts.training_dict(),
                "torch": str(torch.__version__),
            },
        }
        model = self._build_model()
        data = FitData(
            store=store,
            labels=torch.as_tensor(labels, device=store.images.device),
            train_pos=fit_pos,
            val_pos=val_pos,
            val_zspec=self.zspec[val_rows],
            edges=self.edges,
        )
        result = fit(
            model,
            data,
            opts,
            self.runtime,
            run_dir,
            fp,
            meta,
            seed=seed,
            progress=self.context.progress,
        )
        t1 = time.perf_counter()
        pz = self._predict(model, store, pred_pos, result.compiled)
        t_pred = time.perf_counter() - t1
        del store, data
        if self.runtime.device.type == "cuda":
            torch.cuda.empty_cache()
        info = {
            "fingerprint": fp,
            "n_train": int(len(fit_rows)),
            "n_val": int(len(val_rows)),
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "best_val_sigma_nmad": result.best_val_sigma_nmad,
            "stop_reason": result.stop_reason,
            "resumed_from_epoch": result.resumed_from_epoch,
            "checkpoint": result.checkpoint_path,
            "weights": result.weights_path,
            "log": result.log_path,
            "compiled": result.compiled,
            "compile_error": result.compile_error,
            "timing": {
                "load_s": round(t_load, 3),
                "train_s": round(result.train_seconds, 3),
                "predict_s": round(t_pred, 3),
            },
        }
        return pz, info

    def out_of_fold(self, train_rows: np.ndarray, pz: np.ndarray) -> list[dict[str, Any]]:
        """Fill ``pz`` for the training rows with predictions of models that did not see them."""
        k = self.opts.oof_folds
        rng = np.random.default_rng([self.context.seed, 10_000])
        fold_of = rng.permutation(np.arange(len(train_rows)) % k)
        infos = []
        for f in range(k):
            held = train_rows[fold_of == f]
            rest = train_rows[fold_of != f]
            if len(rest) < 2 or len(held) == 0:
                raise ZcellsInputError(
                    f"cnn: too few training galaxies ({len(train_rows)}) for {k} folds"
                )
            pz[held], finfo = self.train_and_predict(rest, held, fold=f)
            infos.append(
                {
                    key: finfo[key]
                    for key in ("fingerprint", "epochs_run", "best_val_sigma_nmad", "checkpoint")
                }
            )
        return infos

    def predict_with_weights(
        self, path: Path, predict_rows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Predict ``predict_rows`` with a pre-trained checkpoint after checking it fits."""
        t0 = time.perf_counter()
        ckpt = load_checkpoint(path)
        check_weights(
            ckpt,
            self.arch,
            self.cube.bands,
            self.cube.meta.get("sim_config_hash"),
            self.opts.z_max,
            str(path),
        )
        model = self._build_model()
        try:
            model.load_state_dict(ckpt["best_model"])
        except RuntimeError as exc:
            raise ZcellsInputError(
                f"cnn: weights {path} do not fit the network: {str(exc)[:300]}"
            ) from None
        scaler = (
            FeatureScaler.from_dict(ckpt["feature_scaler"]) if ckpt.get("feature_scaler") else None
        )
        store = self._store(predict_rows, Normaliser.from_dict(ckpt["normaliser"]), scaler)
        pz = self._predict(model, store, np.arange(len(predict_rows)), self.runtime.compile)
        return pz, {
            "weights_used": str(path),
            "weights_fingerprint": ckpt.get("fingerprint"),
            "weights_provenance": ckpt.get("provenance"),
            "epochs_run": ckpt.get("epoch"),
            "best_val_sigma_nmad": (ckpt.get("best") or {}).get("val_sigma_nmad"),
            "timing": {"predict_s": round(time.perf_counter() - t0, 3)},
        }


METHOD = CNNMethod()
