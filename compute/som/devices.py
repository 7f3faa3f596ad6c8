"""Resolve the ``device`` option: numpy on the CPU or a torch device."""

from __future__ import annotations

from typing import Any

from compute.errors import ZcellsInputError


def cuda_available() -> bool:
    """True when torch is importable and sees a CUDA device."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: Any) -> str | None:
    """Map the user's ``device`` to ``None`` (numpy) or a torch device string.

    ``None``/``"auto"``: ``"cuda"`` when available, else numpy; ``"cpu"`` or
    ``"numpy"``: numpy; ``"torch-cpu"``: torch on the CPU; ``"cuda"``/``"cuda:N"``:
    that GPU (an error when CUDA is unavailable).

    Raises
    ------
    ZcellsInputError
        Unknown device or CUDA requested but unavailable.

    Examples
    --------
    >>> resolve_device("cpu") is None
    True
    >>> resolve_device("torch-cpu")
    'cpu'
    """
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        return "cuda" if cuda_available() else None
    if name in ("cpu", "numpy"):
        return None
    if name == "torch-cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        if not cuda_available():
            raise ZcellsInputError(
                f"SOM device {device!r}: CUDA requested but torch.cuda.is_available() is False"
            )
        return name
    raise ZcellsInputError(
        f"SOM device {device!r}: expected None, 'auto', 'cpu', 'torch-cpu', 'cuda' or 'cuda:N'"
    )
