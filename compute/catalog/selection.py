"""The paper's sample selection as named, configurable, reported cuts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class SelectionConfig:
    """Cuts applied to the validated catalogue; ``None`` switches a cut off.

    Attributes
    ----------
    petro_r_max : float or None
        Dereddened Petrosian r limit of the Main Galaxy Sample (17.8). Uses ``petro_r``;
        a catalogue without it skips the cut (reported).
    zspec_max : float or None
        Upper redshift limit (0.4).
    faint_model_mag : dict
        Galaxies fainter than these dereddened model magnitudes are removed
        (the paper: u > 24, g > 20, r > 30, i > 19 or z > 19).
    """

    petro_r_max: float | None = 17.8
    zspec_max: float | None = 0.4
    faint_model_mag: dict[str, float] = field(
        default_factory=lambda: {"u": 24.0, "g": 20.0, "r": 30.0, "i": 19.0, "z": 19.0}
    )


@dataclass
class CutReport:
    """One applied cut: its name, how many rows it removed and any note."""

    name: str
    removed: int
    note: str = ""


def apply_cuts(df: pd.DataFrame, cfg: SelectionConfig) -> tuple[pd.DataFrame, list[CutReport]]:
    """Apply the selection cuts in order and report each.

    Examples
    --------
    >>> d = pd.DataFrame({"zspec": [0.1, 0.5], "u": [19., 19.], "g": [18., 18.], "r": [17., 17.],
    ...                   "i": [16., 16.], "z": [16., 16.]})
    >>> out, rep = apply_cuts(d, SelectionConfig())
    >>> len(out), [(c.name, c.removed) for c in rep][:2]
    (1, [('petro_r <= 17.8', 0), ('zspec <= 0.4', 1)])
    """
    keep = np.ones(len(df), bool)
    reports: list[CutReport] = []

    def cut(name: str, passes: np.ndarray, note: str = "") -> None:
        nonlocal keep
        removed = int((keep & ~passes).sum())
        keep &= passes
        reports.append(CutReport(name, removed, note))

    if cfg.petro_r_max is not None:
        if "petro_r" in df.columns:
            p = df["petro_r"].to_numpy()
            cut(f"petro_r <= {cfg.petro_r_max:g}", np.isfinite(p) & (p <= cfg.petro_r_max))
        else:
            cut(f"petro_r <= {cfg.petro_r_max:g}", np.ones(len(df), bool),
                "skipped: the catalogue has no petro_r column")
    if cfg.zspec_max is not None:
        cut(f"zspec <= {cfg.zspec_max:g}", df["zspec"].to_numpy() <= cfg.zspec_max)
    for band, limit in cfg.faint_model_mag.items():
        cut(f"{band} <= {limit:g} (faint model magnitude)", df[band].to_numpy() <= limit)
    return df.loc[keep].reset_index(drop=True), reports
