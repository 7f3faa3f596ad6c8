"""torch namespace shim for the batched LTS search (CUDA when available, else CPU)."""

from __future__ import annotations

import warnings

import numpy as np

from compute.lts.search import SearchOptions, lts_batch


def pick_device(device=None) -> str:
    """``device`` if given (``"cuda..."`` without a GPU falls back to ``"cpu"`` with a
    warning), else ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"torch sees no GPU: running the LTS fits on the CPU instead of {device}",
                      RuntimeWarning, stacklevel=3)
        return "cpu"
    return device


class TorchOps:
    """The handful of array operations the shared algorithm needs, for torch."""

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def where(self, c, a, b):
        return self.torch.where(c, a, b)      # python scalars are fine (no host->device copy)

    def sqrt(self, a):
        return self.torch.sqrt(a)

    def maximum(self, a, b):
        return self.torch.maximum(a, b)

    def matmul(self, a, b):
        return self.torch.matmul(a, b)

    def f(self, mask):
        return mask.to(self.torch.float64)

    def rowmin(self, a):
        return a.min(dim=1, keepdim=True).values

    def kth(self, a, k: int):
        return self.torch.kthvalue(a, k + 1, dim=-1).values

    def take(self, a, idx, axis: int):
        return self.torch.gather(a, axis, idx)

    def take_rows(self, a, idx):
        return a[self.torch.arange(a.shape[0], device=a.device), idx]

    def argsort(self, a, axis: int):
        return self.torch.argsort(a, dim=axis, stable=True)

    def stack(self, arrays, axis: int):
        return self.torch.stack(arrays, dim=axis)

    def cat(self, arrays, axis: int):
        return self.torch.cat(arrays, dim=axis)

    def all(self, a) -> bool:
        return bool(self.torch.all(a))


def run(arr: dict, opt: SearchOptions, device: str) -> dict:
    """Run one padded batch: numpy arrays in, numpy arrays out, computed on ``device``."""
    import torch

    ops = TorchOps()
    targ = {}
    for key, val in arr.items():
        if isinstance(val, np.ndarray):
            targ[key] = torch.as_tensor(val, device=device)
        else:
            targ[key] = val
    with torch.no_grad():
        out = lts_batch(ops, targ, opt)
    return {k: v.detach().cpu().numpy() for k, v in out.items()}
