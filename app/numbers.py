"""Number formatting shared by the cell panel, the grid hovers and the tour text."""

from __future__ import annotations

from typing import Any

import numpy as np

MISSING = "–"


def finite(v: Any) -> float | None:
    """``v`` as a float, or None when it is missing, not a number or not finite.

    >>> finite("0.5"), finite(None), finite(float("nan")), finite("x")
    (0.5, None, None, None)
    """
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def fmt_number(v: Any, nd: int, missing: str = MISSING) -> str:
    """``v`` with ``nd`` decimals, or ``missing`` when it has no finite value.

    >>> fmt_number(0.01234, 3), fmt_number(None, 2), fmt_number(float("inf"), 1, "n/a")
    ('0.012', '–', 'n/a')
    """
    f = finite(v)
    return missing if f is None else f"{f:.{nd}f}"
