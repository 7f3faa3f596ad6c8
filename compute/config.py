"""Build configuration: typed sections, loaded from TOML, YAML or JSON with unknown keys refused."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute.catalog.selection import SelectionConfig
from compute.errors import ZcellsInputError


@dataclass
class SplitConfig:
    """Train/test split: ``test_fraction`` of galaxies, chosen by a hash of ``objid`` and ``salt``."""

    test_fraction: float = 0.1
    salt: int = 0


@dataclass
class SomConfig:
    """Self-organizing map: shape ``NXxNY``, backend (``minisom`` or ``batch``) and training settings."""

    shape: str = "10x12"
    backend: str = "minisom"
    seed: int = 0
    sigma: float | None = None
    learning_rate: float = 0.5
    epochs: int | None = None
    device: str = "auto"


@dataclass
class LtsConfig:
    """Per-cell least-trimmed-squares fits: clipping, sigma_x, minimum count and backend."""

    clip: float = 2.6
    sigma_x: float = 0.005
    min_n: int = 10
    backend: str = "numpy"
    device: str = "auto"
    seed: int = 0
    bootstrap: int = 0


@dataclass
class ExternalPhotoz:
    """A photo-z catalogue computed elsewhere, joined by key into ``zphot_<name>``."""

    file: str = ""
    name: str = ""
    key: str = "specobjid"
    column: str = "z_phot"
    file_key: str | None = None


@dataclass
class Config:
    """Everything ``zcells build`` needs besides the catalogue itself."""

    selection: SelectionConfig = field(default_factory=SelectionConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    som: SomConfig = field(default_factory=SomConfig)
    lts: LtsConfig = field(default_factory=LtsConfig)
    methods: list[str] = field(default_factory=list)
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_cell_sample: str = "test"
    external: list[ExternalPhotoz] = field(default_factory=list)
    images: str | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, as recorded in the manifest."""
        return dataclasses.asdict(self)

    def check(self) -> None:
        """Check values that the types alone do not catch."""
        if self.per_cell_sample not in ("test", "all"):
            raise ZcellsInputError(
                f"config: per_cell_sample must be 'test' or 'all', got {self.per_cell_sample!r}"
            )
        if self.som.backend not in ("minisom", "batch"):
            raise ZcellsInputError(
                f"config: som.backend must be 'minisom' or 'batch', got {self.som.backend!r}"
            )
        if self.lts.backend not in ("numpy", "torch"):
            raise ZcellsInputError(
                f"config: lts.backend must be 'numpy' or 'torch', got {self.lts.backend!r}"
            )
        if self.lts.min_n < 3:
            raise ZcellsInputError(f"config: lts.min_n must be at least 3, got {self.lts.min_n}")
        if not 0 < self.split.test_fraction < 1:
            raise ZcellsInputError(
                f"config: split.test_fraction must be in (0, 1), got {self.split.test_fraction}"
            )


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Convert ``value`` to the annotated type ``tp``, refusing unknown keys and wrong types."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ZcellsInputError(f"config: '{where}' must be a table/mapping, got {value!r}")
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ZcellsInputError(f"config: '{where}' must be a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ZcellsInputError(f"config: '{where}' must be a table/mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ZcellsInputError(
        f"config: '{where}' must be of type {getattr(tp, '__name__', tp)}, got {value!r}"
    )


def from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`ZcellsInputError`.

    Examples
    --------
    >>> from_dict(SplitConfig, {"test_fraction": 0.2})
    SplitConfig(test_fraction=0.2, salt=0)
    >>> from_dict(SplitConfig, {"test_frac": 0.2})
    Traceback (most recent call last):
    ...
    compute.errors.ZcellsInputError: config: unknown key 'test_frac'; known keys: test_fraction, salt
    """
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}" if where else str(key)
        if key not in known:
            raise ZcellsInputError(
                f"config: unknown key '{name}'; known keys: {', '.join(known)}"
            )
        kwargs[key] = _convert(hints[key], value, name)
    return cls(**kwargs)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON file into a dict, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise ZcellsInputError(f"{path}: no such config file")
    text = path.read_text()
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ZcellsInputError(f"{path}: unknown config type '{suffix}'; use .toml, .yaml or .json")
    except ZcellsInputError:
        raise
    except Exception as exc:  # tomllib, yaml and json each raise their own error type
        raise ZcellsInputError(f"{path}: cannot parse config: {exc}") from None
    if not isinstance(data, dict):
        raise ZcellsInputError(f"{path}: the config must be a mapping at the top level")
    return data


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load a config file (optional) and apply command-line overrides on top.

    Parameters
    ----------
    path : path, optional
        TOML/YAML/JSON file.
    overrides : dict, optional
        Nested dict of values from the command line, e.g. ``{"som": {"shape": "6x8"}}``.
    """
    data: dict[str, Any] = read_config_file(path) if path is not None else {}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    try:
        cfg: Config = from_dict(Config, data)
    except ZcellsInputError as exc:
        if path is not None:
            raise ZcellsInputError(f"{path}: {exc}") from None
        raise
    cfg.check()
    return cfg
