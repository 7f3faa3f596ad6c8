"""From p(z) to point estimates (mean, median, mode) and batched p(z) inference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .pz import bin_centres


@dataclass
class PzSummary:
    """Point estimates of a set of p(z).

    Attributes
    ----------
    mean, median, mode : numpy.ndarray
        float64, one per row; NaN where the p(z) row is not finite.
    """

    mean: np.ndarray
    median: np.ndarray
    mode: np.ndarray

    def get(self, name: str) -> np.ndarray:
        """Return the estimate called ``name`` (``"mean"``, ``"median"`` or ``"mode"``)."""
        return {"mean": self.mean, "median": self.median, "mode": self.mode}[name]


def summarise(pz: np.ndarray, edges: np.ndarray) -> PzSummary:
    """Mean, median and mode of each p(z) row.

    The mean uses bin centres; the median interpolates the CDF linearly inside the bin where
    it crosses 0.5; the mode is the centre of the most probable bin. Rows are renormalised
    before use; non-finite rows give NaN.

    Examples
    --------
    >>> e = np.array([0.0, 0.1, 0.2, 0.3])
    >>> s = summarise(np.array([[0.25, 0.5, 0.25]]), e)
    >>> round(float(s.mean[0]), 6), round(float(s.median[0]), 6), round(float(s.mode[0]), 6)
    (0.15, 0.15, 0.15)
    """
    p = np.asarray(pz, dtype=np.float64)
    n = p.shape[0]
    good = np.all(np.isfinite(p), axis=1) & (p.sum(axis=1) > 0)
    mean = np.full(n, np.nan)
    median = np.full(n, np.nan)
    mode = np.full(n, np.nan)
    if good.any():
        q = p[good] / p[good].sum(axis=1, keepdims=True)
        centres = bin_centres(edges)
        mean[good] = q @ centres
        mode[good] = centres[np.argmax(q, axis=1)]
        cdf = np.cumsum(q, axis=1)
        k = np.minimum((cdf < 0.5).sum(axis=1), q.shape[1] - 1)
        rows = np.arange(q.shape[0])
        below = np.where(k > 0, cdf[rows, np.maximum(k - 1, 0)], 0.0)
        width = q[rows, k]
        frac = np.where(width > 0, (0.5 - below) / np.where(width > 0, width, 1.0), 0.5)
        median[good] = edges[k] + np.clip(frac, 0.0, 1.0) * (edges[k + 1] - edges[k])
    return PzSummary(mean=mean, median=median, mode=mode)


@torch.no_grad()
def predict_pz(
    forward: Callable[..., torch.Tensor],
    batches: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]],
    positions: np.ndarray,
    batch_size: int,
    device: torch.device,
    amp: bool,
) -> np.ndarray:
    """Run the network over ``positions`` of an image store and return float32 p(z) rows.

    Parameters
    ----------
    forward : callable
        ``forward(images, features) -> logits`` (the model, eager or compiled).
    batches : callable
        ``batches(index_tensor) -> (images, features)``, already normalised and on ``device``.
    positions : numpy.ndarray
        Rows of the store to predict, in output order.
    batch_size : int
        Images per forward pass.
    device : torch.device
        Where the network runs.
    amp : bool
        Use bf16 autocast (softmax is taken in float32 regardless).
    """
    out = np.empty((len(positions), 0), dtype=np.float32)
    chunks: list[np.ndarray] = []
    idx_all = torch.as_tensor(np.asarray(positions, dtype=np.int64))
    for start in range(0, len(positions), batch_size):
        idx = idx_all[start : start + batch_size]
        n = len(idx)
        if n < batch_size and len(positions) > batch_size:  # keep one shape (compiled graphs)
            idx = torch.cat([idx, idx[-1:].expand(batch_size - n)])
        images, feats = batches(idx)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = forward(images, feats)
        chunks.append(torch.softmax(logits[:n].float(), dim=1).cpu().numpy().astype(np.float32))
    return np.concatenate(chunks, axis=0) if chunks else out
