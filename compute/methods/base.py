"""The photo-z method interface: options, context and result types shared by every method."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


@dataclass
class MethodContext:
    """What the pipeline tells a method besides its own options.

    Attributes
    ----------
    per_cell_sample : str
        ``"test"``: predict the test set only. ``"all"``: also give out-of-fold predictions
        for the training set, so every galaxy has an honest prediction.
    seed : int
        Seed for anything random.
    progress : bool
        Show progress bars.
    workdir : Path
        A folder the method may use for checkpoints and caches (kept between runs).
    images : Path or None
        Image-cube folder (see :mod:`compute.imagecube`), for image methods.
    catalog_path : Path or None
        The catalogue file, for messages.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    per_cell_sample: str = "test"
    seed: int = 0
    progress: bool = True
    workdir: Path = field(default_factory=lambda: Path(".zcells-cache"))
    images: Path | None = None
    catalog_path: Path | None = None
    device: str = "auto"


@dataclass
class MethodResult:
    """Predictions of one method for every catalogue row.

    Attributes
    ----------
    zphot : numpy.ndarray
        float64, one per catalogue row; NaN where the method gives no prediction.
    flags : numpy.ndarray or None
        int per row, 0 = normal; method-specific non-zero codes documented in ``info["flags"]``.
    pz : numpy.ndarray or None
        float32 (n_rows, n_bins) p(z) on ``pz_edges`` bins, for methods that give one.
    pz_edges : numpy.ndarray or None
        Bin edges of ``pz`` (n_bins + 1).
    info : dict
        JSON-serialisable notes for the manifest (options used, samples predicted, timings).
    """

    zphot: np.ndarray
    flags: np.ndarray | None = None
    pz: np.ndarray | None = None
    pz_edges: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


class PhotoZMethod(Protocol):
    """A photo-z method: validates its options, names its columns, and predicts."""

    name: str

    def parse_options(self, options: dict[str, Any]) -> Any:
        """Return the method's typed options; raise ZcellsInputError on unknown keys or bad values."""
        ...

    def required_columns(self, options: Any) -> list[str]:
        """Catalogue columns the method needs with these options."""
        ...

    def run(self, catalog: pd.DataFrame, options: Any, context: MethodContext) -> MethodResult:
        """Train on ``split == "train"`` and predict (see :class:`MethodContext`)."""
        ...
