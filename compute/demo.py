"""`zcells demo`: simulate the default survey (cached), build every method, and serve the app."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from compute.cache import content_key, default_cache_dir

#: galaxies in the demo survey (all with Petrosian r <= 17.8; ~48,000 drawn to get them)
DEMO_N = 20_000
#: the demo survey's seed; the packaged CNN weights were trained on another draw (seed 42)
DEMO_SEED = 2026
DEMO_METHODS = ("rf", "llr", "cnn")
#: CNN weights for CPU-only machines, made by `zcells train-cnn` (see README, "CNN weights")
PACKAGED_CNN_WEIGHTS = Path(__file__).resolve().parent / "data" / "cnn_demo_small.pt"


def add_parser(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser(
        "demo", help="simulate the default survey, build rf/llr/cnn, and serve the app",
        description="The one-command tour: a simulated SDSS-like survey (cached by its config), "
                    "every photo-z method, the SOM and per-cell fits, then the web app.",
    )
    p.add_argument("--n", type=int, default=DEMO_N, help=f"galaxies in the simulated survey (default {DEMO_N})")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="simulation seed")
    p.add_argument("--out", default="zcells-demo", help="artifacts folder (default ./zcells-demo)")
    p.add_argument("--methods", default=",".join(DEMO_METHODS), help="photo-z methods")
    p.add_argument("--workers", type=int, default=0, help="simulation processes (0 = all cores)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on")
    p.add_argument("--port", type=int, default=8050, help="port to serve on")
    p.add_argument("--no-serve", action="store_true", help="build only, do not serve")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def simulated_survey(n: int, seed: int, workers: int, progress: bool,
                     log: Any = print) -> Path:
    """The simulated survey for these settings, simulated once and then reused from the cache."""
    from compute.simulate.config import SimConfig

    cfg = SimConfig.from_dict({"n": n, "seed": seed})
    record = cfg.to_dict()
    record.pop("workers", None)
    folder = default_cache_dir() / "sim" / content_key("sim", record)
    if (folder / "catalog.parquet").is_file() and (folder / "provenance.json").is_file():
        log(f"simulated survey: reusing {folder}")
        return folder
    from compute.simulate.run import simulate

    cfg.workers = workers or os.cpu_count() or 1
    log(f"simulating {n} galaxies with {cfg.workers} process(es) into {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(simulate(cfg, folder, progress=progress))


def cnn_options(log: Any = print) -> dict[str, Any]:
    """Train the full network on a GPU; on a CPU use the packaged weights (another draw)."""
    import torch

    if torch.cuda.is_available():
        log("cnn: CUDA found, training the Pasquet-size network (5-fold out of fold)")
        return {"variant": "pasquet", "oof_folds": 5}
    if PACKAGED_CNN_WEIGHTS.is_file():
        log(f"cnn: no GPU, using the packaged weights {PACKAGED_CNN_WEIGHTS.name} "
            "(trained by `zcells train-cnn` on another draw of the same simulation)")
        return {"variant": "small", "weights": str(PACKAGED_CNN_WEIGHTS), "device": "cpu"}
    log("cnn: no GPU and no packaged weights, training the small network on the CPU")
    return {"variant": "small", "epochs": 6, "oof_folds": 2, "device": "cpu"}


def demo_config(methods: list[str], log: Any = print) -> Any:
    """The build configuration of the demo: every galaxy gets an out-of-sample prediction."""
    from compute.config import load_config

    options = {"cnn": cnn_options(log)} if "cnn" in methods else {}
    return load_config(None, {
        "methods": methods,
        "per_cell_sample": "all",
        "method_options": options,
        "som": {"shape": "10x12", "backend": "batch"},
    })


def run(args: argparse.Namespace) -> int:
    """Run ``zcells demo``."""
    from compute.methods import parse_method_list
    from compute.pipeline import build

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    methods = parse_method_list(args.methods)
    survey = simulated_survey(args.n, args.seed, args.workers, not args.no_progress, log)
    res = build(survey / "catalog.parquet", args.out, demo_config(methods, log),
                progress=not args.no_progress, log=log, source="simulated")
    log(f"demo ready in {time.perf_counter() - t0:.1f} s: artifacts in {res.out}")
    if args.no_serve:
        print(f"artifacts: {res.out}")
        return 0
    from app.command import serve

    return int(serve(res.out, host=args.host, port=args.port) or 0)
