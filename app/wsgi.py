"""WSGI entry point: ``gunicorn app.wsgi:server`` serves the artifacts in ``$ZCELLS_ARTIFACTS``."""

from __future__ import annotations

import os

from app.factory import create_app

app = create_app(os.environ.get("ZCELLS_ARTIFACTS", "artifacts"))
server = app.server
