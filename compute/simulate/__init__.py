"""Simulated SDSS-like survey with images: the embedded default data set of zcells."""

from __future__ import annotations

from typing import Any

from compute.simulate.config import SimConfig

SIMULATOR_VERSION = "1.0.0"

__all__ = ["SimConfig", "simulate", "SIMULATOR_VERSION"]


def __getattr__(name: str) -> Any:
    """Import the heavy runner lazily (``compute.simulate.simulate``)."""
    if name == "simulate":
        from compute.simulate.run import simulate

        return simulate
    raise AttributeError(name)
