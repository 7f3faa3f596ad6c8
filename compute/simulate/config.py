"""Simulation configuration: the SimConfig dataclass and its validation."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from compute.errors import ZcellsInputError

ALL_BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z")


def _per_band(u: float, g: float, r: float, i: float, z: float) -> dict[str, float]:
    return {"u": u, "g": g, "r": r, "i": i, "z": z}


@dataclass
class SimConfig:
    """Everything that defines a simulated survey (with the seed, it fixes the output).

    Attributes
    ----------
    n : int
        Number of galaxies in the output catalogue: galaxies are drawn from the luminosity
        function, imaged and measured, chunk by chunk, until ``n`` of them have measured
        Petrosian r <= ``mag_limit`` (about 40% of those drawn).
    seed : int
        Master seed; chunk ``c`` uses ``SeedSequence([seed, c])``, so the output does not
        depend on the number of worker processes.
    mag_limit : float
        Dereddened Petrosian r limit applied after simulation (SDSS MGS: 17.8).
    mag_margin : float
        Galaxies are drawn down to ``mag_limit + mag_margin`` in *model-free* apparent r
        (bluest k-correction, no dust), so nothing that could pass is left out.
    image_margin : float
        Drawn galaxies are imaged and measured only if their true total r is at most
        ``mag_limit + image_margin``. A Petrosian flux is a fraction of the total flux, so
        fainter galaxies cannot pass the cut (measured Petrosian minus true r >= -0.03 mag in
        simulations, the noise); this only saves work and does not change the population,
        so it is not part of ``physics_hash``.
    z_min, z_max : float
        Redshift range of the simulated volume.
    bands : list of str
        Bands to simulate, a subset of ugriz that contains r.
    stamp_size : int
        Cutout side in pixels (even).
    pixel_scale : float
        Arcsec per pixel.
    psf_fwhm : dict
        Median Kolmogorov PSF FWHM per band (arcsec).
    seeing_scatter : float
        Log-normal scatter (dex-free, natural log) of the per-galaxy seeing.
    sky_sb : dict
        Sky surface brightness per band (AB mag / arcsec^2); sets the source/sky noise ratio.
    depth5 : dict
        5-sigma point-source depth per band (AB), used to set the pixel noise. Defaults are
        the SDSS single-epoch 5-sigma depths (u 22.15, g 23.13, r 22.70, i 22.20, z 20.71);
        the often quoted 95%-completeness limits (22.0, 22.2, 22.2, 21.3, 20.5) give model
        magnitude errors about twice those of the real MGS catalogue in g and i.
    chunk_size : int
        Galaxies drawn per chunk; chunk ``c`` has its own seed stream (a worker process
        takes a few chunks at a time), so the output depends on it, not on ``workers``.
    workers : int
        Worker processes (1 = in-process).
    h0, om0 : float
        Flat LCDM cosmology.
    lf_mstar, lf_alpha : float
        Schechter parameters of the r-band luminosity function (h = 0.7 units).
    m_bright : float
        Brightest absolute magnitude drawn.
    red_mid, red_width : float
        Red-sequence fraction: logistic in absolute magnitude, 0.5 at ``red_mid``.
    disk_gradient : float
        Template-type difference between the outer and inner disk (colour gradient).
    clump_rate : float
        Mean number of star-forming clumps in a pure disk (scaled by 1 - B/T).
    clump_frac_max : float
        Largest fraction of the disk's r-band light in clumps.
    av_face, av_slope : float
        Disk dust: A_V = av_face + av_slope * log10(1/q_disk).
    max_disk_hlr, max_bulge_hlr : float
        Caps on the apparent half-light radii (pixels) so profiles fit the render grid.
    """

    n: int = 10000
    seed: int = 42
    mag_limit: float = 17.8
    mag_margin: float = 0.35
    image_margin: float = 0.1
    z_min: float = 0.005
    z_max: float = 0.4
    bands: list[str] = field(default_factory=lambda: list(ALL_BANDS))
    stamp_size: int = 64
    pixel_scale: float = 0.396
    psf_fwhm: dict[str, float] = field(default_factory=lambda: _per_band(1.55, 1.45, 1.35, 1.30, 1.30))
    seeing_scatter: float = 0.12
    sky_sb: dict[str, float] = field(default_factory=lambda: _per_band(22.0, 21.8, 20.8, 20.2, 18.9))
    depth5: dict[str, float] = field(default_factory=lambda: _per_band(22.15, 23.13, 22.70, 22.20, 20.71))
    chunk_size: int = 256
    workers: int = 1
    h0: float = 70.0
    om0: float = 0.3
    lf_mstar: float = -21.21
    lf_alpha: float = -1.05
    m_bright: float = -24.0
    red_mid: float = -20.8
    red_width: float = 0.9
    disk_gradient: float = 0.8
    clump_rate: float = 3.0
    clump_frac_max: float = 0.3
    av_face: float = 0.15
    av_slope: float = 0.9
    max_disk_hlr: float = 16.0
    max_bulge_hlr: float = 8.0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimConfig:
        """Build and validate a config from a plain dict (e.g. parsed TOML/JSON).

        Raises
        ------
        ZcellsInputError
            On unknown keys, wrong types or values out of range.
        """
        if not isinstance(d, dict):
            raise ZcellsInputError(f"simulation config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ZcellsInputError(
                f"simulation config: unknown key(s) {unknown}; known keys are {sorted(known)}"
            )
        defaults = cls()
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            default = getattr(defaults, key)
            if isinstance(default, dict):
                if not isinstance(value, dict):
                    raise ZcellsInputError(f"simulation config: {key} must be a mapping band -> value")
                merged = dict(default)
                merged.update(value)
                value = merged
            kwargs[key] = value
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **overrides: Any) -> SimConfig:
        """Read a TOML (``.toml``) or JSON config file; keyword overrides (not None) win."""
        data = read_config_file(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.from_dict(data)
        except ZcellsInputError as exc:
            raise ZcellsInputError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for provenance)."""
        return asdict(self)

    def physics_hash(self) -> str:
        """Hash of everything that shapes the galaxies and images, but not of n, seed or workers.

        Two surveys with the same hash are draws from the same simulated universe, so a model
        trained on one applies to the other (the CNN's pre-trained weights check it).
        """
        import hashlib
        import json

        record = {k: v for k, v in asdict(self).items()
                  if k not in ("n", "seed", "workers", "chunk_size", "image_margin")}
        record["simulator_version"] = _simulator_version()
        blob = json.dumps(record, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check types and ranges; raise ZcellsInputError naming the offending key."""
        def _int(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ZcellsInputError(f"simulation config: {name} must be an integer, got {v!r}")
            if v < lo:
                raise ZcellsInputError(f"simulation config: {name} must be >= {lo}, got {v}")

        def _num(name: str, lo: float, hi: float, lo_open: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ZcellsInputError(f"simulation config: {name} must be a finite number, got {v!r}")
            if v < lo or v > hi or (lo_open and v == lo):
                raise ZcellsInputError(f"simulation config: {name} = {v} is outside [{lo}, {hi}]")

        _int("n", 1)
        _int("seed", 0)
        _int("chunk_size", 1)
        _int("workers", 1)
        _int("stamp_size", 16)
        if self.stamp_size % 2:
            raise ZcellsInputError(f"simulation config: stamp_size must be even, got {self.stamp_size}")
        if self.stamp_size > 256:
            raise ZcellsInputError(f"simulation config: stamp_size must be <= 256, got {self.stamp_size}")
        _num("mag_limit", 5.0, 30.0)
        _num("mag_margin", 0.0, 3.0)
        _num("image_margin", 0.0, 3.0)
        _num("z_min", 0.0, 1.0, lo_open=True)
        _num("z_max", 0.0, 1.0, lo_open=True)
        if self.z_min >= self.z_max:
            raise ZcellsInputError(
                f"simulation config: z_min ({self.z_min}) must be below z_max ({self.z_max})"
            )
        _num("pixel_scale", 0.01, 5.0)
        _num("seeing_scatter", 0.0, 1.0)
        _num("h0", 20.0, 200.0)
        _num("om0", 0.01, 1.0)
        _num("lf_mstar", -30.0, -10.0)
        _num("lf_alpha", -3.0, 1.0)
        _num("m_bright", -30.0, -10.0)
        _num("red_mid", -30.0, -10.0)
        _num("red_width", 0.01, 10.0)
        _num("disk_gradient", 0.0, 3.0)
        _num("clump_rate", 0.0, 50.0)
        _num("clump_frac_max", 0.0, 0.9)
        _num("av_face", 0.0, 3.0)
        _num("av_slope", 0.0, 5.0)
        _num("max_disk_hlr", 0.5, 0.25 * self.stamp_size)
        _num("max_bulge_hlr", 0.5, 0.125 * self.stamp_size)
        if not isinstance(self.bands, (list, tuple)) or not self.bands:
            raise ZcellsInputError(f"simulation config: bands must be a non-empty list, got {self.bands!r}")
        bad = [b for b in self.bands if b not in ALL_BANDS]
        if bad:
            raise ZcellsInputError(
                f"simulation config: unknown band(s) {bad}; choose from {list(ALL_BANDS)}"
            )
        if len(set(self.bands)) != len(self.bands):
            raise ZcellsInputError(f"simulation config: duplicate bands in {list(self.bands)}")
        if "r" not in self.bands:
            raise ZcellsInputError("simulation config: bands must include 'r' (shape fit and r cut)")
        self.bands = [b for b in ALL_BANDS if b in self.bands]
        for name, lo, hi in (("psf_fwhm", 0.2, 5.0), ("sky_sb", 10.0, 30.0), ("depth5", 10.0, 35.0)):
            table = getattr(self, name)
            extra = sorted(set(table) - set(ALL_BANDS))
            if extra:
                raise ZcellsInputError(f"simulation config: {name} has unknown band(s) {extra}")
            for b in self.bands:
                v = table.get(b)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= v <= hi):
                    raise ZcellsInputError(
                        f"simulation config: {name}[{b!r}] must be a number in [{lo}, {hi}], got {v!r}"
                    )


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML or JSON simulation config (a top-level ``[simulate]`` table is accepted)."""
    path = Path(path)
    if not path.is_file():
        raise ZcellsInputError(f"{path}: simulation config file not found")
    try:
        text = path.read_text()
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parse errors of either format
        raise ZcellsInputError(f"{path}: cannot parse simulation config: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("simulate"), dict):
        data = data["simulate"]
    if not isinstance(data, dict):
        raise ZcellsInputError(f"{path}: simulation config must be a table/object")
    return dict(data)


def _simulator_version() -> str:
    from compute.simulate import SIMULATOR_VERSION

    return SIMULATOR_VERSION
