"""The ``zcells`` command line: build, simulate, demo, fetch, import-photoz and serve."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compute import __version__
from compute.errors import ArtifactsError, ZcellsInputError

#: subcommands provided by other modules: module with ``add_parser(subparsers)`` and ``run(args)``
PLUGIN_COMMANDS = (
    "compute.simulate.command",
    "compute.fetch.command",
    "compute.methods.import_command",
    "compute.methods.train_cnn_command",
    "compute.demo",
    "app.command",
)


def _err(msg: str) -> None:
    print(f"zcells: error: {msg}", file=sys.stderr)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def add_build_parser(sub: Any) -> None:
    """The ``build`` subcommand."""
    p = sub.add_parser(
        "build", help="run the analysis on a catalogue and write an artifacts folder",
        description="Photo-z methods, SOM and per-cell LTS fits for a catalogue; writes the "
                    "artifacts folder that `zcells serve` shows.",
    )
    p.add_argument("--catalog", required=True, help="catalogue file (CSV, FITS or Parquet)")
    p.add_argument("--out", required=True, help="artifacts folder to write")
    p.add_argument("--config", help="config file (TOML, YAML or JSON)")
    p.add_argument("--som-shape", help="SOM shape NXxNY (default 10x12)")
    p.add_argument("--som-backend", choices=["minisom", "batch"], help="SOM backend")
    p.add_argument("--lts-backend", choices=["numpy", "torch"], help="line-fit backend")
    p.add_argument("--methods", help="photo-z methods to train, e.g. rf,llr,cnn")
    p.add_argument("--per-cell-sample", choices=["test", "all"],
                   help="galaxies used for per-cell statistics")
    p.add_argument("--images", help="image-cube folder for image methods (cnn)")
    p.add_argument("--cache-dir", help="stage cache folder (default ~/.cache/zcells)")
    p.add_argument("--no-cache", action="store_true", help="recompute every stage")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_build)


def build_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Config overrides from command-line options."""
    from compute.methods import parse_method_list

    over: dict[str, Any] = {}
    if args.som_shape:
        from compute.som import parse_shape

        parse_shape(args.som_shape)
        over.setdefault("som", {})["shape"] = args.som_shape
    if args.som_backend:
        over.setdefault("som", {})["backend"] = args.som_backend
    if args.lts_backend:
        over.setdefault("lts", {})["backend"] = args.lts_backend
    if args.methods is not None:
        over["methods"] = parse_method_list(args.methods)
    if args.per_cell_sample:
        over["per_cell_sample"] = args.per_cell_sample
    if args.images:
        over["images"] = args.images
    return over


def run_build(args: argparse.Namespace) -> int:
    """Run ``zcells build``."""
    from compute.config import load_config
    from compute.pipeline import build

    cfg = load_config(args.config, build_overrides(args))
    if args.no_cache:
        cache: Any = None
    elif args.cache_dir:
        cache = Path(args.cache_dir)
    else:
        cache = "default"
    res = build(args.catalog, args.out, cfg, progress=not args.no_progress, cache_dir=cache,
                log=_log)
    print(f"artifacts: {res.out}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="zcells",
        description="Where in colour space photometric redshifts go wrong, and why.",
    )
    parser.add_argument("--version", action="version", version=f"zcells {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_build_parser(sub)
    for name in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.add_parser(sub)
        for action in sub.choices.values():
            if action.get_default("func") is None:
                action.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zcells`` console script; returns the exit code.

    Exit codes: 0 success, 2 bad input (message on stderr), 1 internal error, 130 interrupted.
    """
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ZcellsInputError, ArtifactsError) as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # an internal error: short message unless --debug
        if args.debug or os.environ.get("ZCELLS_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
