"""The ``zcells simulate`` subcommand: argument parser and runner."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from compute.errors import ZcellsInputError
from compute.simulate.config import SimConfig, read_config_file


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``simulate`` to an argparse sub-parser collection and return its parser."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate an SDSS-like survey with images (catalogue, truth, image cube)",
        description=(
            "Simulate an SDSS Main-Galaxy-Sample-like survey: galaxies drawn from a luminosity "
            "function, bulge + disk + clumps with their own SEDs, 64x64 ugriz images with PSF "
            "and noise, photometry measured from the images, Petrosian r <= 17.8 cut."
        ),
    )
    p.add_argument("--n", type=int, default=None,
                   help="galaxies in the output catalogue, all passing the magnitude cut (default 10000)")
    p.add_argument("--seed", type=int, default=None, help="master random seed (default 42)")
    p.add_argument("--out", required=True, help="output folder (created atomically)")
    p.add_argument("--config", default=None, help="TOML or JSON file with SimConfig keys")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all CPU cores)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    return p


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Combine --config with the explicit options (options win).

    Without --workers (and no ``workers`` in the config file) all CPU cores are used.
    """
    overrides = {"n": args.n, "seed": args.seed, "workers": args.workers}
    data = read_config_file(args.config) if getattr(args, "config", None) else {}
    if args.workers is None and "workers" not in data:
        overrides["workers"] = max(1, os.cpu_count() or 1)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SimConfig.from_dict(data)
    except ZcellsInputError as exc:
        where = f"{args.config}: " if getattr(args, "config", None) else ""
        raise ZcellsInputError(f"{where}{exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run the simulation for parsed arguments; 0 on success (bad input raises)."""
    from compute.simulate.run import simulate

    cfg = config_from_args(args)
    if not args.out:
        raise ZcellsInputError("simulate: --out is required")
    out = simulate(cfg, args.out, progress=not args.no_progress)
    prov = json.loads((Path(out) / "provenance.json").read_text())
    c = prov["counts"]
    print(f"simulated survey written to {out}: {c['kept']} galaxies with Petrosian r <= "
          f"{cfg.mag_limit} ({c['simulated']} drawn, {c['imaged']} imaged) in "
          f"{prov['elapsed_s']:.1f} s ({c['kept'] / max(prov['elapsed_s'], 1e-9):.0f} galaxies/s)")
    return 0
