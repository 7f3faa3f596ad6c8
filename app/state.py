"""Shareable view state: parse and write the URL query (cell, colour-by, methods, named cells)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

#: per-method quantities the grid can be coloured by: key -> label
METHOD_QUANTITIES: dict[str, str] = {
    "sigma_nmad": "σ_NMAD",
    "theta_deg": "θ (deg)",
    "atten_ratio": "σ_atten / σ_NMAD",
    "outlier_fraction": "outlier fraction",
    "bias": "bias ⟨Δz/(1+z)⟩",
    "sigma_atten": "σ_atten",
    "sigma_scatter": "σ_scatter",
}
#: method-independent quantities: key -> label
CELL_QUANTITIES: dict[str, str] = {
    "mean_zspec": "mean z_spec",
    "mean_bt": "mean B/T",
    "n": "galaxy count (in sample)",
}
#: quantities offered as ratios between two methods
RATIO_QUANTITIES = ("sigma_nmad", "theta_deg", "outlier_fraction")
DEFAULT_COLOR = "mean_zspec"
_NAME_RE = re.compile(r"^[A-Za-z0-9_\- ]{1,12}$")


@dataclass(frozen=True)
class ColorBy:
    """A parsed colour-by key: ``quantity``, optional ``method`` and ``other`` (for ratios)."""

    quantity: str
    method: str | None = None
    other: str | None = None

    @property
    def key(self) -> str:
        """The key as written in the URL and the dropdown."""
        if self.other is not None:
            return f"ratio:{self.quantity}:{self.method}:{self.other}"
        if self.method is not None:
            return f"{self.quantity}:{self.method}"
        return self.quantity

    @property
    def label(self) -> str:
        """Human label, e.g. ``σ_NMAD(rf) / σ_NMAD(cnn)``."""
        if self.other is not None:
            q = METHOD_QUANTITIES[self.quantity]
            return f"{q}({self.method}) / {q}({self.other})"
        if self.method is not None:
            return f"{METHOD_QUANTITIES[self.quantity]} ({self.method})"
        return CELL_QUANTITIES[self.quantity]


def parse_color(key: object, methods: list[str]) -> ColorBy | None:
    """Parse a colour-by key; None when it is malformed or names an unknown method.

    >>> parse_color("ratio:sigma_nmad:rf:cnn", ["rf", "cnn"])
    ColorBy(quantity='sigma_nmad', method='rf', other='cnn')
    >>> parse_color("sigma_nmad:nope", ["rf"]) is None
    True
    """
    if not isinstance(key, str) or len(key) > 100:
        return None
    parts = key.split(":")
    if len(parts) == 1 and parts[0] in CELL_QUANTITIES:
        return ColorBy(parts[0])
    if len(parts) == 2 and parts[0] in METHOD_QUANTITIES and parts[1] in methods:
        return ColorBy(parts[0], parts[1])
    if (len(parts) == 4 and parts[0] == "ratio" and parts[1] in METHOD_QUANTITIES
            and parts[2] in methods and parts[3] in methods and parts[2] != parts[3]):
        return ColorBy(parts[1], parts[2], parts[3])
    return None


def color_options(methods: list[str]) -> list[dict[str, str]]:
    """Dropdown options for every colour-by the run supports."""
    opts = [ColorBy(q) for q in CELL_QUANTITIES]
    opts += [ColorBy(q, m) for m in methods for q in METHOD_QUANTITIES]
    opts += [ColorBy(q, a, b) for q in RATIO_QUANTITIES for a in methods for b in methods if a != b]
    return [{"label": c.label, "value": c.key} for c in opts]


@dataclass
class ViewState:
    """What the Explorer shows: selected cell, colour-by key, methods and named cells."""

    cell: int | None = None
    color: str = DEFAULT_COLOR
    methods: list[str] = field(default_factory=list)
    named: dict[str, int] = field(default_factory=dict)


def parse_cell(value: object, shape: tuple[int, int]) -> int | None:
    """A cell index from ``"17"`` or ``"3,4"`` (cell_x, cell_y); None when invalid or out of range.

    >>> parse_cell("3,4", (10, 12)), parse_cell("119", (10, 12)), parse_cell("120", (10, 12))
    (40, 119, None)
    """
    nx, ny = shape
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < nx * ny else None
    if not isinstance(value, str) or len(value) > 20:
        return None
    text = value.strip().strip("()")
    if re.fullmatch(r"\d+", text):
        k = int(text)
        return k if k < nx * ny else None
    m = re.fullmatch(r"(\d+)\s*[,_ ]\s*(\d+)", text)
    if m:
        x, y = int(m.group(1)), int(m.group(2))
        return x * ny + y if x < nx and y < ny else None
    return None


def parse_named(value: object, shape: tuple[int, int]) -> dict[str, int] | None:
    """Named cells from ``"A:57,B:13"``; None when malformed.

    >>> parse_named("A:5,B:0", (2, 3))
    {'A': 5, 'B': 0}
    """
    if not isinstance(value, str) or len(value) > 400:
        return None
    out: dict[str, int] = {}
    for item in filter(None, value.split(",")):
        name, _, cell = item.partition(":")
        k = parse_cell(cell, shape)
        if not _NAME_RE.match(name) or k is None:
            return None
        out[name] = k
    return out


def valid_name(name: object) -> bool:
    """Whether a user-typed cell name is acceptable (1-12 letters, digits, space, - or _)."""
    return isinstance(name, str) and bool(_NAME_RE.match(name.strip()))


def parse_view(query: dict[str, object], shape: tuple[int, int],
               methods: list[str]) -> tuple[ViewState, list[str]]:
    """Parse the Explorer's query parameters into a :class:`ViewState` and friendly warnings.

    Anything invalid falls back to a default and adds one warning; nothing raises.
    """
    warnings: list[str] = []
    state = ViewState(methods=list(methods))
    nx, ny = shape
    if query.get("cell") not in (None, ""):
        state.cell = parse_cell(query["cell"], shape)
        if state.cell is None:
            warnings.append(f"Cell {str(query['cell'])[:20]!r} is not on this {nx} x {ny} map "
                            f"(use 0-{nx * ny - 1} or x,y); showing no cell.")
    if query.get("color") not in (None, ""):
        c = parse_color(query["color"], methods)
        if c is None:
            warnings.append(f"Unknown colour-by {str(query['color'])[:40]!r}; showing mean z_spec.")
        else:
            state.color = c.key
    if query.get("methods") not in (None, ""):
        raw = query["methods"]
        wanted = [m for m in str(raw)[:200].split(",") if m]
        good = [m for m in wanted if m in methods]
        if len(good) < len(wanted):
            bad = [m[:20] for m in wanted if m not in methods]
            warnings.append(f"Unknown method(s) {', '.join(bad)}; available: {', '.join(methods)}.")
        state.methods = good or list(methods)
    if query.get("named") not in (None, ""):
        named = parse_named(query["named"], shape)
        if named is None:
            warnings.append("Could not read the named cells in the link; ignoring them.")
        else:
            state.named = named
    known = {"cell", "color", "methods", "named"}
    extra = [k for k in query if k not in known]
    if extra:
        warnings.append(f"Ignored unknown link parameter(s): {', '.join(k[:20] for k in extra[:5])}.")
    return state, warnings


def to_query(state: ViewState, all_methods: list[str]) -> str:
    """The query string (with ``?``) for a view; defaults are left out.

    >>> to_query(ViewState(cell=5, color="n", methods=["rf"]), ["rf", "cnn"])
    '?cell=5&color=n&methods=rf'
    """
    params: dict[str, str] = {}
    if state.cell is not None:
        params["cell"] = str(state.cell)
    if state.color != DEFAULT_COLOR:
        params["color"] = state.color
    if state.methods and list(state.methods) != list(all_methods):
        params["methods"] = ",".join(state.methods)
    if state.named:
        params["named"] = ",".join(f"{k}:{v}" for k, v in state.named.items())
    return "?" + urlencode(params, safe=":,") if params else ""


def neighbour(cell: int, direction: str, shape: tuple[int, int]) -> int:
    """The adjacent cell in a direction (``left/right/up/down``), staying on the map.

    Up means larger ``cell_y`` (B/T rises bottom to top on the grid).

    >>> neighbour(0, "right", (10, 12)), neighbour(0, "up", (10, 12)), neighbour(0, "left", (10, 12))
    (12, 1, 0)
    """
    nx, ny = shape
    x, y = divmod(cell, ny)
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, 1), "down": (0, -1)}.get(direction, (0, 0))
    x, y = min(max(x + dx, 0), nx - 1), min(max(y + dy, 0), ny - 1)
    return x * ny + y


def clean_named(named: Any, shape: tuple[int, int]) -> dict[str, int]:
    """Keep only well-formed entries of a named-cells store (it lives in localStorage)."""
    if not isinstance(named, dict):
        return {}
    out = {}
    for k, v in named.items():
        cell = parse_cell(v, shape)
        if valid_name(k) and cell is not None:
            out[str(k).strip()] = cell
    return out
