"""Callbacks, one module per page, each with a ``register(app)`` function."""

from __future__ import annotations

import dash


def register_all(app: dash.Dash) -> None:
    """Register every page's callbacks on ``app``."""
    from app.callbacks import explorer, trends

    explorer.register(app)
    trends.register(app)
