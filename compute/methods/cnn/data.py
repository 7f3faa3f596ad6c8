"""Image data for the CNN: asinh normalisation, an in-memory (ideally on-device) store, augmentation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from compute.errors import ZcellsInputError

#: photometric features concatenated before the dense layers when ``use_features`` is on
FEATURE_NAMES: tuple[str, ...] = ("u-g", "g-r", "r-i", "i-z", "r")
FEATURE_COLUMNS: tuple[str, ...] = ("u", "g", "r", "i", "z")
#: fraction of free GPU memory the image store may take
DEVICE_MEMORY_FRACTION = 0.6
LOAD_CHUNK = 2048


@dataclass
class Normaliser:
    """Per-band ``(asinh(x / scale) - mean) / std`` scaling of pixel values.

    ``scale`` is a robust estimate of each band's pixel noise (1.4826 MAD), so the asinh is
    linear in the sky noise and logarithmic in bright galaxy cores; ``mean`` and ``std``
    then standardise the result.
    """

    scale: list[float]
    mean: list[float]
    std: list[float]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalise a float array (n, bands, H, W); non-finite pixels become 0 first."""
        x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        s = np.asarray(self.scale, np.float32)[None, :, None, None]
        m = np.asarray(self.mean, np.float32)[None, :, None, None]
        d = np.asarray(self.std, np.float32)[None, :, None, None]
        return (np.arcsinh(x / s) - m) / d

    def to_dict(self) -> dict[str, list[float]]:
        """Return the parameters as a plain dict (stored in checkpoints)."""
        return {"scale": list(self.scale), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Normaliser:
        """Rebuild from :meth:`to_dict` output."""
        return cls(scale=list(d["scale"]), mean=list(d["mean"]), std=list(d["std"]))


def fit_normaliser(
    images: np.ndarray, rows: np.ndarray, max_images: int = 2000, seed: int = 0
) -> Normaliser:
    """Estimate a :class:`Normaliser` from (up to ``max_images`` of) the given cube rows.

    Raises
    ------
    ZcellsInputError
        If there are no rows to estimate from.
    """
    if len(rows) == 0:
        raise ZcellsInputError("cnn: no training images to estimate the pixel normalisation from")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(rows, size=min(max_images, len(rows)), replace=False))
    x = np.nan_to_num(np.asarray(images[pick], dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    per_band = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1).astype(np.float64)
    med = np.median(per_band, axis=1, keepdims=True)
    scale = 1.4826 * np.median(np.abs(per_band - med), axis=1)
    fallback = per_band.std(axis=1)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, 1.0))
    z = np.arcsinh(per_band / scale[:, None])
    mean = z.mean(axis=1)
    std = z.std(axis=1)
    std = np.where(std > 0, std, 1.0)
    return Normaliser(scale=scale.tolist(), mean=mean.tolist(), std=std.tolist())


@dataclass
class FeatureScaler:
    """Standardisation of the photometric feature vector (training mean and std)."""

    mean: list[float]
    std: list[float]

    def to_dict(self) -> dict[str, list[float]]:
        """Return the parameters as a plain dict."""
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> FeatureScaler:
        """Rebuild from :meth:`to_dict` output."""
        return cls(mean=list(d["mean"]), std=list(d["std"]))


def raw_features(catalog: pd.DataFrame) -> np.ndarray:
    """Return the (n, 5) array of colours u-g, g-r, r-i, i-z and magnitude r.

    Raises
    ------
    ZcellsInputError
        If a magnitude column is missing.
    """
    missing = [c for c in FEATURE_COLUMNS if c not in catalog.columns]
    if missing:
        raise ZcellsInputError(f"cnn use_features: catalogue lacks column(s) {', '.join(missing)}")
    m = catalog[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    return np.column_stack(
        [m[:, 0] - m[:, 1], m[:, 1] - m[:, 2], m[:, 2] - m[:, 3], m[:, 3] - m[:, 4], m[:, 2]]
    )


def fit_feature_scaler(features: np.ndarray) -> FeatureScaler:
    """Fit a :class:`FeatureScaler` on training features (all finite)."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return FeatureScaler(mean=mean.tolist(), std=np.where(std > 0, std, 1.0).tolist())


def check_finite_features(features: np.ndarray, catalog_rows: np.ndarray) -> None:
    """Refuse rows with non-finite magnitudes, naming the first few catalogue rows."""
    bad = ~np.all(np.isfinite(features), axis=1)
    if bad.any():
        rows = catalog_rows[bad]
        raise ZcellsInputError(
            f"cnn use_features: {int(bad.sum())} galaxies have non-finite ugriz magnitudes "
            f"(catalogue rows {', '.join(map(str, rows[:5]))}{' ...' if len(rows) > 5 else ''}); "
            "drop them or set use_features=false"
        )


class ImageStore:
    """Normalised images of the rows in use, held as one float16 tensor.

    On CUDA the tensor lives on the GPU when it fits (``DEVICE_MEMORY_FRACTION`` of free
    memory), else in pinned host memory; batches are gathered by indexing with a tensor of
    positions, so no per-sample Python code runs on the training hot path.

    Parameters
    ----------
    images : torch.Tensor
        (n, bands, H, W) float16.
    device : torch.device
        Where batches are delivered.
    features : torch.Tensor or None
        (n, n_features) float32 standardised photometric features, on the same device as images.
    """

    def __init__(
        self, images: torch.Tensor, device: torch.device, features: torch.Tensor | None = None
    ) -> None:
        self.images = images
        self.device = device
        self.features = features
        self.channels_last = True  # NHWC: faster convolutions and pooling on GPUs and CPUs alike

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def on_device(self) -> bool:
        """Whether the images already live on the compute device."""
        return self.images.device.type == self.device.type

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return float32 images (and features) at store positions ``idx``, on the device."""
        idx = idx.to(self.images.device, non_blocking=True)
        x = self.images.index_select(0, idx)
        if not self.on_device:
            x = x.pin_memory() if self.device.type == "cuda" else x
            x = x.to(self.device, non_blocking=True)
        x = x.float()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        f = None
        if self.features is not None:
            f = self.features.index_select(0, idx).to(self.device, non_blocking=True)
        return x, f


def _store_location(n_bytes: int, device: torch.device) -> tuple[torch.device, bool]:
    """Return where to hold a store of ``n_bytes`` and whether host memory should be pinned."""
    if device.type != "cuda":
        return torch.device("cpu"), False
    free, _total = torch.cuda.mem_get_info(device)
    if n_bytes < DEVICE_MEMORY_FRACTION * free:
        return device, False
    return torch.device("cpu"), True


def load_store(
    images: np.ndarray,
    rows: np.ndarray,
    normaliser: Normaliser,
    device: torch.device,
    num_workers: int = 0,
    features: np.ndarray | None = None,
) -> ImageStore:
    """Read cube ``rows`` (memory-mapped), normalise them and hold them as a float16 store.

    Parameters
    ----------
    images : numpy.ndarray
        The (memory-mapped) cube (N, bands, H, W).
    rows : numpy.ndarray
        Cube rows to load, in store order.
    normaliser : Normaliser
        Pixel scaling.
    device : torch.device
        Compute device (the store goes there when it fits).
    num_workers : int
        Threads reading and normalising chunks in parallel (0 = this thread).
    features : numpy.ndarray, optional
        Standardised features (len(rows), n_features), kept beside the images.
    """
    n = len(rows)
    shape = (n, *images.shape[1:])
    n_bytes = int(np.prod(shape)) * 2
    where, pin = _store_location(n_bytes, device)
    store = torch.empty(shape, dtype=torch.float16, device=where, pin_memory=pin)
    order = np.argsort(rows, kind="stable")  # read the memory map in ascending order

    def load(start: int) -> None:
        sel = order[start : start + LOAD_CHUNK]
        block = normaliser.apply(images[rows[sel]])
        dest = torch.as_tensor(sel, device=where)
        store.index_copy_(0, dest, torch.from_numpy(block).to(torch.float16).to(where))

    starts = range(0, n, LOAD_CHUNK)
    if num_workers > 0 and n > LOAD_CHUNK:
        with ThreadPoolExecutor(max_workers=num_workers) as pool:
            list(pool.map(load, starts))
    else:
        for s in starts:
            load(s)
    feats = None
    if features is not None:
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32), device=where)
    return ImageStore(store, device, feats)


def augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply a random element of the dihedral group (flips and 90-degree rotations) per image.

    Three independent coin flips (horizontal flip, vertical flip, transpose) generate all eight
    symmetries of a square; each is applied with ``torch.where`` so the batch stays one tensor
    on its device and the shapes never depend on the draw (``torch.compile``-friendly).

    Parameters
    ----------
    x : torch.Tensor
        (batch, bands, H, H) images.
    generator : torch.Generator, optional
        Source of randomness (on the same device as ``x``).
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError("augment needs square images")
    coins = torch.rand((3, x.shape[0], 1, 1, 1), generator=generator, device=x.device) < 0.5
    x = torch.where(coins[0], x.flip(-1), x)
    x = torch.where(coins[1], x.flip(-2), x)
    x = torch.where(coins[2], x.transpose(-1, -2), x)
    return x
