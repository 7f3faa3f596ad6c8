"""`zcells serve`, the WSGI module and a real gunicorn start."""
# ruff: noqa: F811  (pytest fixtures imported from tests.app_fixtures)

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from app import command
from tests.app_fixtures import artifacts_dir, free_port  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zcells")
    command.add_parser(p.add_subparsers(dest="cmd"))
    return p


def test_serve_options() -> None:
    args = parser().parse_args(["serve", "--artifacts", "a"])
    assert (args.host, args.port, args.debug, args.workers) == ("127.0.0.1", 8050, False, 2)
    assert args.func is command.run
    args = parser().parse_args(["serve", "--artifacts", "a", "--port", "9000", "--debug",
                                "--workers", "4", "--host", "0.0.0.0"])
    assert (args.host, args.port, args.debug, args.workers) == ("0.0.0.0", 9000, True, 4)
    with pytest.raises(SystemExit):
        parser().parse_args(["serve"])


def test_bad_port_is_refused(capsys: Any) -> None:
    args = parser().parse_args(["serve", "--artifacts", "a", "--port", "70000"])
    assert command.run(args) == 2
    assert "--port" in capsys.readouterr().err


def test_gunicorn_command() -> None:
    cmd = command.gunicorn_command("127.0.0.1", 8123, 3)
    assert cmd[-1] == "app.wsgi:server"
    assert "--bind" in cmd and cmd[cmd.index("--bind") + 1] == "127.0.0.1:8123"
    assert cmd[cmd.index("--workers") + 1] == "3" and "--preload" in cmd


def test_wsgi_module_reads_the_environment(artifacts_dir: Path) -> None:
    code = ("import app.wsgi as w; c = w.server.test_client(); "
            "print(c.get('/healthz').get_json()['status'])")
    env = dict(os.environ, ZCELLS_ARTIFACTS=str(artifacts_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


@pytest.mark.slow
def test_serve_with_gunicorn(artifacts_dir: Path) -> None:
    port = free_port()
    code = (f"import sys; from app.command import serve; "
            f"sys.exit(serve({str(artifacts_dir)!r}, '127.0.0.1', {port}, workers=1))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        body = None
        deadline = time.time() + 90
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert body is not None and '"status":"ok"' in body.replace(" ", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"_dash-config" in r.read()
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out  # it prints the URL
