"""Train a SOM with minisom (PCA initialisation, random-order online updates)."""

from __future__ import annotations

import contextlib
import io
import sys
import warnings

import numpy as np
from minisom import MiniSom


def train_minisom(X: np.ndarray, shape: tuple[int, int], *, seed: int, sigma: float,
                  learning_rate: float, iterations: int, progress: bool = False) -> np.ndarray:
    """Train ``MiniSom(nx, ny, d, random_seed=seed)`` and return its weights.

    The codebook starts on the plane of the first two principal components
    (``pca_weights_init``) and is trained with ``train_random`` for
    ``iterations`` single-sample updates. Sigma and the learning rate follow
    minisom's default asymptotic decay (to a third of their start values).

    Parameters
    ----------
    X : numpy.ndarray
        Validated data ``(n, d)``, d >= 2.
    shape : tuple of int
        ``(nx, ny)``.
    seed : int
        minisom ``random_seed`` (sample order).
    sigma, learning_rate : float
        Start values of the neighbourhood width and learning rate.
    iterations : int
        Number of single-sample updates.
    progress : bool
        Let minisom print its own progress line.

    Returns
    -------
    numpy.ndarray
        Weights ``(nx, ny, d)`` float64 (a copy).
    """
    nx, ny = shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sigma might be too high" for tiny maps
        som = MiniSom(nx, ny, X.shape[1], sigma=sigma, learning_rate=learning_rate,
                      neighborhood_function="gaussian", topology="rectangular",
                      random_seed=seed)
        som.pca_weights_init(X)
    if progress:
        # minisom's own progress line goes to stderr, keeping stdout for results
        with contextlib.redirect_stdout(sys.stderr):
            som.train_random(X, iterations, verbose=True)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            som.train_random(X, iterations, verbose=False)
    return np.array(som.get_weights(), dtype=np.float64, copy=True)
