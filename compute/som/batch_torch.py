"""Batch SOM training and BMU search with torch (CUDA in float32, or CPU in float64)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from compute.som.grid import cell_coords, sigma_schedule

DEFAULT_TORCH_CHUNK = 262_144


def default_dtype(device: str) -> torch.dtype:
    """float32 on CUDA (speed), float64 on the CPU (parity with numpy)."""
    return torch.float32 if torch.device(device).type == "cuda" else torch.float64


def _augment(X: torch.Tensor) -> torch.Tensor:
    return torch.cat([X, torch.ones((X.shape[0], 1), dtype=X.dtype, device=X.device)], dim=1)


def _augment_codebook(Wf: torch.Tensor) -> torch.Tensor:
    return torch.cat([-2.0 * Wf.T, (Wf * Wf).sum(dim=1)[None, :]], dim=0)


def train_batch_torch(X: np.ndarray, W0: np.ndarray, *, sigma_start: float, sigma_end: float,
                      epochs: int, device: str = "cpu", dtype: torch.dtype | None = None,
                      chunk: int = DEFAULT_TORCH_CHUNK, progress: bool = False) -> np.ndarray:
    """Train a batch SOM with torch; same algorithm as :func:`train_batch_numpy`.

    The data are moved to ``device`` once and stay there. Per epoch: BMUs of
    all rows from one matmul per block, per-cell sums and counts from a
    one-hot matmul (deterministic, unlike atomic scatter-adds on CUDA), then
    ``W = (H @ sums) / (H @ counts)``.

    Parameters
    ----------
    X : numpy.ndarray
        Validated data ``(n, d)``.
    W0 : numpy.ndarray
        Initial codebook ``(nx, ny, d)``.
    sigma_start, sigma_end : float
        Neighbourhood widths of the first and last epoch.
    epochs : int
        Number of passes.
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    dtype : torch.dtype, optional
        Defaults to :func:`default_dtype`.
    chunk : int
        Rows per block.
    progress : bool
        Show a tqdm bar over epochs.

    Returns
    -------
    numpy.ndarray
        Trained codebook ``(nx, ny, d)`` as float64 numpy.
    """
    nx, ny, d = W0.shape
    K = nx * ny
    dt = dtype or default_dtype(device)
    Xt = torch.as_tensor(X, device=device).to(dt)
    Xa = _augment(Xt)
    Wf = torch.as_tensor(W0.reshape(K, d), device=device).to(dt).clone()
    r = torch.as_tensor(cell_coords((nx, ny)), device=device).to(dt)
    grid_d2 = ((r[:, None, :] - r[None, :, :]) ** 2).sum(dim=2)
    cells = torch.arange(K, device=device)
    n = Xt.shape[0]
    for sigma in tqdm(sigma_schedule(sigma_start, sigma_end, epochs), disable=not progress,
                      desc=f"batch SOM (torch {device})", unit="epoch"):
        Wa = _augment_codebook(Wf)
        acc = torch.zeros((K, d + 1), dtype=dt, device=device)  # sums | counts
        for s in range(0, n, chunk):
            Xc = Xa[s:s + chunk]
            bmu = torch.argmin(Xc @ Wa, dim=1)
            onehot = (bmu[:, None] == cells[None, :]).to(dt)
            acc += onehot.T @ Xc
        H = torch.exp(-grid_d2 / (2.0 * float(sigma) ** 2))
        num = H @ acc[:, :d]
        den = H @ acc[:, d]
        ok = den > 0
        Wf = torch.where(ok[:, None], num / torch.where(ok, den, 1.0)[:, None], Wf)
    return Wf.to(torch.float64).cpu().numpy().reshape(nx, ny, d)


def best_two_flat_torch(X: np.ndarray, Wf: np.ndarray, device: str,
                        chunk: int = DEFAULT_TORCH_CHUNK
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-BMU search on a torch device, in float64 so it agrees with numpy.

    Returns
    -------
    tuple of numpy.ndarray
        ``(first, second, dist1, dist2)`` as in
        :func:`compute.som.assign.best_two_flat_numpy`.
    """
    dt = torch.float64
    Xt = torch.as_tensor(X, device=device).to(dt)
    W = torch.as_tensor(Wf, device=device).to(dt)
    Wa = _augment_codebook(W)
    K = W.shape[0]
    outs: list[list[torch.Tensor]] = [[], [], [], []]
    for s in range(0, Xt.shape[0], chunk):
        Xc = Xt[s:s + chunk]
        D = _augment(Xc) @ Wa
        i1 = torch.argmin(D, dim=1)
        if K > 1:
            D.scatter_(1, i1[:, None], float("inf"))
            i2 = torch.argmin(D, dim=1)
        else:
            i2 = i1.clone()
        d1 = torch.sqrt(((Xc - W[i1]) ** 2).sum(dim=1))
        d2 = torch.sqrt(((Xc - W[i2]) ** 2).sum(dim=1))
        swap = (d2 < d1) | ((d2 == d1) & (i2 < i1))
        outs[0].append(torch.where(swap, i2, i1))
        outs[1].append(torch.where(swap, i1, i2))
        outs[2].append(torch.where(swap, d2, d1))
        outs[3].append(torch.where(swap, d1, d2))
    first, second, dist1, dist2 = (torch.cat(o).cpu().numpy() for o in outs)
    return first.astype(np.int64), second.astype(np.int64), dist1, dist2
