"""`zcells train-cnn`: train the image CNN on a catalogue and save its weights with provenance."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from compute.atomic import write_atomic


def add_parser(sub: Any) -> None:
    """Add the ``train-cnn`` subcommand."""
    p = sub.add_parser(
        "train-cnn", help="train the image CNN and save inference weights",
        description="Train the cnn photo-z method on a catalogue's training split and save the "
                    "best model (weights + provenance) for `method_options.cnn.weights`.",
    )
    p.add_argument("--catalog", required=True, help="catalogue (e.g. a simulated survey's catalog.parquet)")
    p.add_argument("--images", help="image-cube folder (default: beside the catalogue)")
    p.add_argument("--out", required=True, help="weights file to write (.pt)")
    p.add_argument("--config", help="TOML/JSON file of cnn options (a [cnn] table or top level)")
    p.add_argument("--variant", choices=["pasquet", "small"], help="network size")
    p.add_argument("--epochs", type=int, help="maximum epochs")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--cache-dir", help="where checkpoints go (default ~/.cache/zcells)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from compute.config import read_config_file

    opts: dict[str, Any] = {}
    if args.config:
        data = read_config_file(args.config)
        opts.update(data.get("cnn", data))
    for key in ("variant", "epochs", "device"):
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)
    return opts


def run(args: argparse.Namespace) -> int:
    """Run ``zcells train-cnn``; writes the weights and a ``.json`` summary beside them."""
    from compute.cache import default_cache_dir
    from compute.catalog import load_catalog
    from compute.errors import ZcellsInputError
    from compute.methods import MethodContext
    from compute.methods.cnn import METHOD
    from compute.metrics import outlier_fraction, sigma_nmad

    out = Path(args.out)
    if out.suffix != ".pt":
        raise ZcellsInputError(f"{out}: the weights file must end in .pt")
    catalog_path = Path(args.catalog)
    catalog, report = load_catalog(catalog_path)
    opts = METHOD.parse_options(_options(args))
    if opts.weights:
        raise ZcellsInputError("train-cnn trains new weights; remove 'weights' from the options")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    ctx = MethodContext(per_cell_sample="test", progress=not args.no_progress,
                        workdir=cache / "work", images=Path(args.images) if args.images else None,
                        catalog_path=catalog_path, device=opts.device)
    res = METHOD.run(catalog, opts, ctx)
    test = (catalog["split"] == "test").to_numpy()
    zs, zp = catalog["zspec"].to_numpy()[test], res.zphot[test]
    summary = {
        "command": "zcells " + " ".join(sys.argv[1:]),
        "catalog": str(catalog_path), "catalog_rows": report.n_final,
        "options": opts.to_dict(),
        "test_sigma_nmad": sigma_nmad(zs, zp), "test_outlier_fraction": outlier_fraction(zs, zp),
        "n_test": int(test.sum()),
        **{k: res.info.get(k) for k in ("epochs_run", "best_epoch", "best_val_sigma_nmad",
                                        "device", "timing")},
    }
    write_atomic(out, lambda tmp: shutil.copyfile(res.info["weights"], tmp))
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"weights: {out} (test sigma_NMAD {summary['test_sigma_nmad']:.4f} on "
          f"{summary['n_test']} galaxies)")
    return 0
