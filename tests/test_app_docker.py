"""Docker packaging without a Docker engine: compose file, Dockerfile, and its pip steps replayed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_lines() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_compose_file_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"app", "redis", "compute"} <= set(services)
    app = services["app"]
    assert app["depends_on"]["compute"]["condition"] == "service_completed_successfully"
    assert app["depends_on"]["redis"]["condition"] in ("service_healthy", "service_started")
    assert app["environment"]["ZCELLS_REDIS_URL"].startswith("redis://redis:")
    assert app["environment"]["ZCELLS_ARTIFACTS"] == "/data/artifacts"
    assert services["compute"]["command"][:3] == ["zcells", "demo", "--no-serve"]
    assert "/data/artifacts" in services["compute"]["command"]
    vol = lambda s: {v.split(":")[0] for v in services[s]["volumes"]}  # noqa: E731
    # the app reads the artifacts and (for simulated cutouts) the survey cache, both read-only
    assert vol("app") & vol("compute") == {"artifacts", "zcells-cache"}
    assert all(v.endswith(":ro") for v in services["app"]["volumes"])
    assert all(p.startswith("127.0.0.1:") for p in app["ports"])
    gpu = services["compute-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert set(compose["volumes"]) >= {"artifacts"}


def test_dockerfile_shape() -> None:
    lines = dockerfile_lines()
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) == 2 and froms[0].endswith("AS builder") and froms[1].endswith("AS runtime")
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    (health,) = [ln for ln in lines if ln.startswith("HEALTHCHECK")]
    assert "/healthz" in health
    (cmd,) = [ln for ln in lines if ln.startswith("CMD ")]
    assert "gunicorn" in cmd and "app.wsgi:server" in cmd
    assert any("download.pytorch.org/whl/cpu" in ln for ln in lines)
    assert any(ln.startswith("COPY --from=builder") for ln in lines)


def pip_steps() -> list[str]:
    """The RUN commands of the Dockerfile that call pip, in order (split on &&)."""
    args = {}
    for ln in dockerfile_lines():
        if ln.startswith("ARG ") and "=" in ln:
            k, v = ln[4:].split("=", 1)
            args[k.strip()] = v.strip()
    steps = []
    for ln in dockerfile_lines():
        if not ln.startswith("RUN "):
            continue
        for part in ln[4:].split("&&"):
            part = part.strip()
            if re.search(r"(^|\s)(pip|python -m pip)\s", part + " "):
                steps.append(re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), part))
    return steps


@pytest.mark.slow
def test_dockerfile_pip_steps_work_in_a_fresh_venv(tmp_path: Path) -> None:
    """Replay the pip steps in a new venv, from this checkout, without dependencies.

    The torch wheel step is skipped (a large download; its index URL is checked above), every
    other step gets ``--no-deps`` so only zcells' own wheel is built and installed.
    """
    steps = pip_steps()
    assert any("pip wheel" in s and s.split()[-1] == "." for s in steps)
    assert any(s.startswith("pip install --no-index --find-links /wheels zcells") for s in steps)
    src = tmp_path / "src"  # the builder stage's COPY steps, so the checkout stays clean
    src.mkdir()
    lines = dockerfile_lines()
    froms = [i for i, ln in enumerate(lines) if ln.startswith("FROM ")]
    builder = lines[froms[0]:froms[1]]
    for ln in builder:
        if ln.startswith("COPY ") and "--from" not in ln:
            *sources, _dest = ln.split()[1:]
            for name in sources:
                path = ROOT / name
                if path.is_dir():
                    shutil.copytree(path, src / name,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(path, src / name)
    assert (src / "pyproject.toml").is_file() and (src / "app").is_dir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    log: list[str] = []
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_FIND_LINKS")}
    for step in steps:
        if re.search(r"""["'\s]torch([<>=~!"'\s]|$)""", step):
            continue  # the torch wheel itself
        argv = shlex.split(step.replace("/wheels", str(wheels)))
        if argv[:3] == ["python", "-m", "pip"]:
            argv = argv[3:]
        elif argv[0] == "pip":
            argv = argv[1:]
        if argv[0] in ("wheel", "install") and "--upgrade" not in argv:
            argv.insert(1, "--no-deps")
        try:
            out = subprocess.run([str(py), "-m", "pip", *argv], cwd=src, capture_output=True,
                                 text=True, timeout=300, env=env)
        except subprocess.TimeoutExpired:
            pytest.skip("pip took too long (offline or slow network)")
        if out.returncode != 0 and "--no-index" not in argv and re.search(
                r"(?i)connection|network|resolve|temporary failure", out.stdout + out.stderr):
            pytest.skip(f"no network for pip: {step}")
        assert out.returncode == 0, f"{step}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        log.append(f"{argv}: {out.stdout[-300:]}")
    check = ("import importlib.util as u; "
             "assert u.find_spec('app.wsgi') and u.find_spec('app.factory') "
             "and u.find_spec('compute.cli'); print('ok')")
    out = subprocess.run([str(py), "-c", check], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path, env=env)
    assert out.stdout.strip() == "ok", out.stderr
    assert (venv / "bin" / "zcells").exists(), log
