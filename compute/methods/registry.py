"""The one place where photo-z methods are registered and looked up by name."""

from __future__ import annotations

import importlib

from compute.errors import ZcellsInputError

from .base import PhotoZMethod

#: name -> "module:attribute" of a PhotoZMethod instance (imported lazily: torch only when needed)
METHODS: dict[str, str] = {
    "rf": "compute.methods.rf:METHOD",
    "llr": "compute.methods.llr:METHOD",
    "cnn": "compute.methods.cnn:METHOD",
}


def get_method(name: str) -> PhotoZMethod:
    """Return the registered method called ``name``.

    Raises
    ------
    ZcellsInputError
        If no method of that name is registered.
    """
    if name not in METHODS:
        raise ZcellsInputError(
            f"unknown photo-z method '{name}'; available: {', '.join(sorted(METHODS))}"
        )
    module, attr = METHODS[name].split(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def parse_method_list(text: str) -> list[str]:
    """Parse ``"rf,llr,cnn"`` into names, checking each is registered.

    Examples
    --------
    >>> parse_method_list("rf, llr")
    ['rf', 'llr']
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in METHODS:
            raise ZcellsInputError(
                f"--methods: unknown method '{n}'; available: {', '.join(sorted(METHODS))}"
            )
    return names
