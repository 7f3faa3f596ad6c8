"""Small helpers shared by the simulation benchmark and calibration scripts."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: str | Path, name: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Simulated survey (`zcells simulate`)\n"
    block = f"<!-- {name}:begin -->\n{body.rstrip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:begin -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
