"""The app factory: ``create_app(artifacts_dir)`` builds the Dash app around one artifacts folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dash
from flask import jsonify

from app import cutouts, data, plotlyjs
from app.layout import error_layout, root_layout

PAGES_FOLDER = Path(__file__).resolve().parent / "pages"


def assets_folder() -> str:
    """The CSS/JS assets folder: ``$ZCELLS_ASSETS``, else ``assets/`` beside the package."""
    env = os.environ.get("ZCELLS_ASSETS")
    if env:
        return env
    for cand in (Path(__file__).resolve().parent.parent / "assets",
                 Path(__file__).resolve().parent / "assets"):
        if cand.is_dir():
            return str(cand)
    return str(Path(__file__).resolve().parent / "assets")


def create_app(artifacts_dir: str | os.PathLike[str], *, redis_url: str | None = None,
               cache_dir: str | None = None, cutout_base_url: str | None = None,
               cutout_cache_dir: str | None = None, cutout_timeout: float = 4.0,
               title: str = "zcells") -> dash.Dash:
    """Build the zcells Dash app for one artifacts folder.

    Parameters
    ----------
    artifacts_dir : path
        Folder written by ``zcells build`` / ``zcells demo``. When it is missing or corrupt
        the app still starts and every page explains how to build one.
    redis_url : str, optional
        Redis cache (default ``$ZCELLS_REDIS_URL``); else a FileSystem cache in ``cache_dir``.
    cutout_base_url : str, optional
        Legacy Surveys JPEG cutout service (default ``$ZCELLS_CUTOUT_BASE_URL`` or the public one).
    cutout_cache_dir, cutout_timeout : optional
        Disk cache of fetched cutouts and the fetch timeout in seconds.

    Returns
    -------
    dash.Dash
        The app; ``app.server`` is the Flask (WSGI) server.
    """
    import flask

    server = flask.Flask("app")
    run = data.bind(server, artifacts_dir, redis_url=redis_url, cache_dir=cache_dir)
    cutouts.register(server, base_url=cutout_base_url, cache_dir=cutout_cache_dir,
                     timeout=cutout_timeout)

    @server.route("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        if run is None:
            return jsonify(status="no_artifacts", message=data.load_error(artifacts_dir))
        return jsonify(status="ok", galaxies=int(len(run.art.galaxies)),
                       cells=int(run.shape[0] * run.shape[1]), methods=run.methods)

    common: dict[str, Any] = dict(server=server, assets_folder=assets_folder(), title=title, update_title=None,
                  suppress_callback_exceptions=True, serve_locally=True)
    if run is None:
        app = dash.Dash("app", use_pages=False, **common)
        app.layout = error_layout(data.load_error(artifacts_dir) or "unknown error")
        return prime(app)

    from dash import State

    from app import ids

    app = dash.Dash("app", use_pages=True, pages_folder=str(PAGES_FOLDER),
                    external_scripts=plotlyjs.register(server),
                    routing_callback_inputs={"selected": State(ids.SELECTED_CELL, "data"),
                                             "named_store": State(ids.NAMED_CELLS, "data")},
                    **common)
    source = run.art.manifest.get("source", "file")
    nx, ny = run.shape
    app.layout = root_layout(f"{len(run.art.galaxies):,} galaxies · {nx}×{ny} SOM · "
                             f"{', '.join(run.methods)} · {source}")
    from app.callbacks import register_all

    register_all(app)
    return prime(app)


def prime(app: dash.Dash) -> dash.Dash:
    """Render the index page once, so Dash's first-request setup happens here.

    Dash registers the paths of its JS bundles while rendering the index and refuses (HTTP 500)
    bundle requests it has not registered; under gunicorn a browser's bundle requests can reach
    a worker that never rendered the index. Priming in the factory (the master, with
    ``--preload``) gives every forked worker the registry, and spares each its first-request setup.
    """
    resp = app.server.test_client().get(app.config.requests_pathname_prefix)
    if resp.status_code != 200:
        raise RuntimeError(f"zcells: the index page failed ({resp.status_code})")
    return app
