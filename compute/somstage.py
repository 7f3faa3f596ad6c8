"""Pipeline stage: colour features, SOM training on all objects, cell assignment and map quality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compute.config import SomConfig

#: the SOM inputs (paper Sec. 4): colours relative to r
FEATURES = ("u_r", "g_r", "r_i", "r_z")


def colour_features(catalog: pd.DataFrame) -> np.ndarray:
    """The (n, 4) colour matrix u-r, g-r, r-i, r-z.

    Examples
    --------
    >>> df = pd.DataFrame({"u": [20.], "g": [18.5], "r": [17.5], "i": [17.], "z": [16.8]})
    >>> colour_features(df).round(2).tolist()
    [[2.5, 1.0, 0.5, 0.7]]
    """
    r = catalog["r"].to_numpy(np.float64)
    return np.column_stack([
        catalog["u"].to_numpy(np.float64) - r,
        catalog["g"].to_numpy(np.float64) - r,
        r - catalog["i"].to_numpy(np.float64),
        r - catalog["z"].to_numpy(np.float64),
    ])


@dataclass
class SomResult:
    """The trained map and where every galaxy falls on it."""

    weights: np.ndarray
    shape: tuple[int, int]
    mean: np.ndarray
    std: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    qdist: np.ndarray
    quantization_error: float
    topographic_error: float
    u_matrix: np.ndarray
    params: dict

    @property
    def cell(self) -> np.ndarray:
        """Flat cell index ``cell_x * ny + cell_y``."""
        return self.cell_x.astype(np.int64) * self.shape[1] + self.cell_y

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays for the cache and for ``som.npz``."""
        return {
            "weights": self.weights, "shape": np.asarray(self.shape), "feature_mean": self.mean,
            "feature_std": self.std, "cell_x": self.cell_x, "cell_y": self.cell_y,
            "qdist": self.qdist, "quantization_error": np.asarray(self.quantization_error),
            "topographic_error": np.asarray(self.topographic_error), "u_matrix": self.u_matrix,
        }

    @classmethod
    def from_arrays(cls, a: dict, params: dict) -> SomResult:
        """Rebuild from :meth:`arrays` output."""
        return cls(
            weights=a["weights"], shape=(int(a["shape"][0]), int(a["shape"][1])),
            mean=a["feature_mean"], std=a["feature_std"], cell_x=a["cell_x"], cell_y=a["cell_y"],
            qdist=a["qdist"], quantization_error=float(a["quantization_error"]),
            topographic_error=float(a["topographic_error"]), u_matrix=a["u_matrix"], params=params,
        )


def run_som(catalog: pd.DataFrame, cfg: SomConfig, progress: bool = True) -> SomResult:
    """Standardise the colours, train the map on every object and assign each to its cell.

    Parameters
    ----------
    catalog : pandas.DataFrame
        Validated catalogue (train and test rows alike: the map is trained on all objects).
    cfg : SomConfig
        Shape, backend, seed and training settings.
    """
    from compute.som import parse_shape, train_som, u_matrix
    from compute.som.assign import best_two_flat
    from compute.som.quality import adjacent

    shape = parse_shape(cfg.shape)
    X = colour_features(catalog)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    Xs = (X - mean) / std
    device = None if cfg.device == "auto" else cfg.device
    model = train_som(
        Xs, shape, backend=cfg.backend, seed=cfg.seed, sigma=cfg.sigma,
        learning_rate=cfg.learning_rate, epochs=cfg.epochs, device=device, progress=progress,
    )
    W = np.asarray(model.weights, dtype=np.float64)
    # one pass finds the best and second-best units: cells, quantisation and topographic error
    first, second, dist1, _ = best_two_flat(W, Xs, device=device)
    ny = shape[1]
    ix, iy = first // ny, first % ny
    neighbours = adjacent(ix, iy, second // ny, second % ny)
    return SomResult(
        weights=W, shape=shape, mean=mean, std=std,
        cell_x=ix.astype(np.int16), cell_y=iy.astype(np.int16), qdist=dist1.astype(np.float32),
        quantization_error=float(dist1.mean()),
        topographic_error=float(1.0 - neighbours.mean()) if W.shape[0] * ny > 1 else float("nan"),
        u_matrix=np.asarray(u_matrix(W)), params=dict(model.params),
    )
