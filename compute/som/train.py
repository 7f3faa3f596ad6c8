"""``train_som``: one entry point for the minisom and batch (numpy/torch) backends."""

from __future__ import annotations

from typing import Any

import numpy as np

from compute.errors import ZcellsInputError
from compute.som.devices import resolve_device
from compute.som.initialise import INIT_METHODS, initial_weights
from compute.som.model import SomModel, check_features, parse_shape

BACKENDS = ("batch", "minisom")
DEFAULT_EPOCHS = 10
MINISOM_ITERATIONS_PER_CELL = 500


def default_sigma(shape: tuple[int, int], backend: str) -> float:
    """Start width of the neighbourhood (cells) when ``sigma`` is None.

    Batch: half the longer side (the map starts almost rigid and unfolds).
    minisom: a quarter of the longer side, at least 1; its asymptotic decay
    ends at a third of it.

    Examples
    --------
    >>> default_sigma((10, 12), "batch"), default_sigma((10, 12), "minisom")
    (6.0, 3.0)
    """
    longest = float(max(shape))
    if backend == "batch":
        return max(1.0, longest / 2.0)
    return max(1.0, longest / 4.0)


def default_sigma_end(shape: tuple[int, int]) -> float:
    """Width of the last batch epoch when ``sigma_end`` is None: ``max(0.5, longest side / 20)``.

    0.5 on maps up to 10 cells a side (6x8, 10x10), 0.6 on 10x12. Smaller values
    lower the quantisation error and raise the topographic error.

    Examples
    --------
    >>> default_sigma_end((6, 8)), default_sigma_end((10, 12))
    (0.5, 0.6)
    """
    return max(0.5, float(max(shape)) / 20.0)


def _positive(name: str, value: Any, integer: bool = False) -> Any:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not np.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ZcellsInputError(f"SOM option {name}={value!r}: must be {kind}")
    return int(value) if integer else float(value)


def train_som(X: Any, shape: Any = (10, 12), *, backend: str = "batch", seed: int = 0,
              sigma: float | None = None, learning_rate: float = 0.5, epochs: int | None = None,
              device: Any = None, progress: bool = False, sigma_end: float | None = None,
              init: str = "pca", iterations: int | None = None) -> SomModel:
    """Train a rectangular SOM on a standardised feature matrix.

    Parameters
    ----------
    X : array_like
        Features ``(n, d)`` (e.g. standardised u-r, g-r, r-i, r-z), no NaN.
    shape : str or pair of int
        ``(nx, ny)`` or ``"NXxNY"``; weights are ``(nx, ny, d)``.
    backend : {"batch", "minisom"}
        ``"batch"``: classical Kohonen batch SOM (numpy on the CPU, torch on
        a GPU). ``"minisom"``: minisom's online ``train_random``.
    seed : int
        Seed: minisom's sample order; for the batch SOM only the
        ``init="sample"`` draw (PCA initialisation and the batch updates are
        deterministic).
    sigma : float, optional
        Start width of the Gaussian neighbourhood, in cells
        (default :func:`default_sigma`).
    learning_rate : float
        minisom's start learning rate. The batch algorithm has none (each
        epoch sets the prototypes to neighbourhood-weighted means); it is
        recorded as None in ``params``.
    epochs : int, optional
        Batch: number of epochs (default 10). minisom: passes over the data,
        ``iterations = epochs * n``; by default ``iterations = 500 * nx * ny``
        (Kohonen's rule of thumb).
    device : None, "auto", "cpu", "torch-cpu", "cuda" or "cuda:N"
        Batch backend only. ``None``/``"auto"``: torch on CUDA when available,
        else numpy; ``"cpu"``: numpy; ``"torch-cpu"``: the torch code on the
        CPU in float64. CUDA runs in float32 with the data kept on the GPU.
    progress : bool
        Progress bar (tqdm) over epochs, or minisom's own progress line.
    sigma_end : float, optional
        Batch: neighbourhood width of the last epoch (default
        :func:`default_sigma_end`, 0.5 to 0.6 on the usual maps); the width
        shrinks exponentially from ``sigma`` to it.
    init : {"pca", "sample"}
        Batch: PCA-plane start (default) or a seeded sample of rows.
        minisom always uses its ``pca_weights_init``.
    iterations : int, optional
        minisom: explicit number of single-sample updates (overrides ``epochs``).

    Returns
    -------
    SomModel
        Weights ``(nx, ny, d)`` float64 and the parameters used.

    Raises
    ------
    ZcellsInputError
        Bad ``X`` (not 2-D, NaN/inf, fewer than 2 rows), bad shape string,
        unknown backend/device/init or non-positive options.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = train_som(rng.normal(size=(200, 3)), "3x4", device="cpu", epochs=5)
    >>> m.weights.shape, m.params["engine"]
    ((3, 4, 3), 'numpy')
    """
    nx, ny = parse_shape(shape)
    if backend not in BACKENDS:
        raise ZcellsInputError(f"SOM backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if init not in INIT_METHODS:
        raise ZcellsInputError(f"SOM init {init!r}: expected one of {', '.join(INIT_METHODS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ZcellsInputError(f"SOM option seed={seed!r}: must be a non-negative integer")
    Xv = check_features(X, min_rows=2)
    sig = _positive("sigma", sigma) if sigma is not None else default_sigma((nx, ny), backend)
    if epochs is not None:
        epochs = _positive("epochs", epochs, integer=True)

    if backend == "minisom":
        from compute.som.minisom_backend import train_minisom

        if Xv.shape[1] < 2:
            raise ZcellsInputError("SOM backend 'minisom': needs at least 2 features (PCA init)")
        lr = _positive("learning_rate", learning_rate)
        if iterations is not None:
            n_it = _positive("iterations", iterations, integer=True)
        elif epochs is not None:
            n_it = epochs * Xv.shape[0]
        else:
            n_it = MINISOM_ITERATIONS_PER_CELL * nx * ny
        weights = train_minisom(Xv, (nx, ny), seed=int(seed), sigma=sig, learning_rate=lr,
                                iterations=n_it, progress=progress)
        params: dict[str, Any] = {
            "sigma": sig, "sigma_end": sig / 3.0, "learning_rate": lr,
            "learning_rate_end": lr / 3.0, "iterations": n_it, "epochs": n_it / Xv.shape[0],
            "init": "pca", "method": "train_random", "decay": "asymptotic",
            "neighborhood": "gaussian", "engine": "minisom", "device": "cpu",
        }
        return SomModel(weights=weights, shape=(nx, ny), backend="minisom", seed=int(seed),
                        params=params)

    s_end = (_positive("sigma_end", sigma_end) if sigma_end is not None
             else default_sigma_end((nx, ny)))
    n_ep = epochs if epochs is not None else DEFAULT_EPOCHS
    W0 = initial_weights(Xv, (nx, ny), init, int(seed))
    torch_device = resolve_device(device)
    if torch_device is None:
        from compute.som.batch_numpy import train_batch_numpy

        weights = train_batch_numpy(Xv, W0, sigma_start=sig, sigma_end=s_end, epochs=n_ep,
                                    progress=progress)
        engine, dtype = "numpy", "float64"
    else:
        from compute.som.batch_torch import default_dtype, train_batch_torch

        weights = train_batch_torch(Xv, W0, sigma_start=sig, sigma_end=s_end, epochs=n_ep,
                                    device=torch_device, progress=progress)
        engine, dtype = "torch", str(default_dtype(torch_device)).replace("torch.", "")
    params = {
        "sigma": sig, "sigma_end": s_end, "schedule": "exponential", "learning_rate": None,
        "epochs": n_ep, "init": init, "neighborhood": "gaussian", "engine": engine,
        "device": torch_device or "cpu", "dtype": dtype,
    }
    return SomModel(weights=weights, shape=(nx, ny), backend="batch", seed=int(seed),
                    params=params)
