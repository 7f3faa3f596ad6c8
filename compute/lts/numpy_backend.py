"""numpy namespace shim for the batched LTS search (CPU, vectorised)."""

from __future__ import annotations

import numpy as np

from compute.lts.search import SearchOptions, lts_batch


class NumpyOps:
    """The handful of array operations the shared algorithm needs, for numpy."""

    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    maximum = staticmethod(np.maximum)
    matmul = staticmethod(np.matmul)

    @staticmethod
    def f(mask):
        return mask.astype(np.float64)

    @staticmethod
    def rowmin(a):
        """Minimum over axis 1, keeping it (``(G, S) -> (G, 1)``)."""
        return a.min(axis=1, keepdims=True)

    @staticmethod
    def kth(a, k: int):
        """k-th smallest (0-based) along the last axis."""
        return np.partition(a, k, axis=-1)[..., k]

    @staticmethod
    def take(a, idx, axis: int):
        return np.take_along_axis(a, idx, axis=axis)

    @staticmethod
    def take_rows(a, idx):
        return a[np.arange(a.shape[0]), idx]

    @staticmethod
    def argsort(a, axis: int):
        return np.argsort(a, axis=axis, kind="stable")

    @staticmethod
    def stack(arrays, axis: int):
        return np.stack(arrays, axis=axis)

    @staticmethod
    def cat(arrays, axis: int):
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def all(a) -> bool:
        return bool(np.all(a))


def run(arr: dict, opt: SearchOptions) -> dict:
    """Run one padded batch (numpy arrays in, numpy arrays out)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return lts_batch(NumpyOps, arr, opt)
