"""Component ids: constants and the one helper that builds pattern-matching ids."""

from __future__ import annotations

from typing import Any

# root-level components (present on every page)
NAV = "nav-location"
NAMED_CELLS = "named-cells"  # dcc.Store(storage_type="local"): {"A": 57, ...}
SELECTED_CELL = "selected-cell"  # dcc.Store(storage_type="session"): last cell looked at

# explorer
COLOR_BY = "color-by"
METHODS = "methods"
GRID = "som-grid"
CELL = "explorer-cell"
KEY_MOVE = "key-move"  # dcc.Store written by assets/keys.js on arrow keys
URL_NAMED = "url-named"
NAMED_PAGE = "named-page"  # page-level mirror of NAMED_CELLS that the Explorer reacts to
CELL_PANEL = "cell-panel"
PANEL_SHOWN = "panel-shown"  # {"cell", "methods"} the panel currently shows
PIN_NAME = "pin-name"
PIN_BUTTON = "pin-button"
NAMED_LIST = "named-list"
NOTICE = "notice"
DL_CELLS = "download-cells"
DL_CELLS_BUTTON = "download-cells-button"
DL_MEMBERS = "download-members"
DL_MEMBERS_BUTTON = "download-members-button"
GALLERY = "gallery"
GALLERY_MORE = "gallery-more"
URL_SYNC = "url-sync"

# trends
TRENDS_A = "trends-method-a"
TRENDS_B = "trends-method-b"
TRENDS_METHOD = "trends-method"
FIG3 = "fig-ratio"
FIG5 = "fig-theta"
FIG5_HIST = "fig-theta-hist"
FIG7 = "fig-decomp"
FIG7_RATIO = "fig-decomp-ratio"

# global


def testid(name: str) -> dict[str, Any]:
    """Keyword arguments that give a component a ``data-testid`` (used by tests to find values)."""
    return {"data-testid": name}


def pid(kind: str, index: int | str) -> dict[str, int | str]:
    """A pattern-matching id, e.g. ``pid("som-cell", 12) == {"type": "som-cell", "index": 12}``.

    >>> pid("named-cell", "A")
    {'type': 'named-cell', 'index': 'A'}
    """
    return {"type": kind, "index": index}
