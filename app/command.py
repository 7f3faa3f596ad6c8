"""``zcells serve``: serve an artifacts folder with gunicorn (or the Dash dev server with --debug)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add the ``serve`` sub-command to a CLI's subparsers."""
    p = subparsers.add_parser("serve", help="serve the web app on an artifacts folder",
                              description="Serve the zcells web app for an artifacts folder.")
    p.add_argument("--artifacts", required=True, help="artifacts folder (zcells build --out)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--debug", action="store_true", help="Dash dev server with hot reload")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.set_defaults(func=run)
    return p


def gunicorn_command(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line used in production.

    >>> gunicorn_command("127.0.0.1", 8050, 2)[-1]
    'app.wsgi:server'
    """
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
            str(max(1, workers)), "--threads", "4", "--timeout", "120", "--preload",
            "--access-logfile", "-", "app.wsgi:server"]


def serve(artifacts_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8050,
          debug: bool = False, workers: int = 2) -> int:
    """Serve an artifacts folder until interrupted; returns an exit code.

    A missing or corrupt folder still serves a page that says how to build one.
    """
    artifacts_dir = str(Path(artifacts_dir).resolve())
    url = f"http://{host}:{port}/"
    if debug or shutil.which("gunicorn") is None and not _has_gunicorn():
        from app.factory import create_app

        print(f"zcells: serving {artifacts_dir} at {url} (Dash dev server)", flush=True)
        create_app(artifacts_dir).run(host=host, port=port, debug=debug)
        return 0
    env = dict(os.environ, ZCELLS_ARTIFACTS=artifacts_dir)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
    print(f"zcells: serving {artifacts_dir} at {url} (gunicorn, {workers} workers)", flush=True)
    try:
        return subprocess.call(gunicorn_command(host, port, workers), env=env)
    except KeyboardInterrupt:
        return 0


def _has_gunicorn() -> bool:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    """Run ``zcells serve`` from parsed arguments."""
    if not 0 < args.port < 65536:
        print(f"zcells serve: --port must be 1-65535, not {args.port}", file=sys.stderr)
        return 2
    return serve(args.artifacts, args.host, args.port, args.debug, args.workers)
