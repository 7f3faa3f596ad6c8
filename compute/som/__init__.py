"""Self-organizing map layer: training (minisom or batch SOM), cell assignment, map quality."""

from compute.som.assign import assign_cells, best_two
from compute.som.model import SomModel, parse_shape
from compute.som.quality import occupancy, quantization_error, topographic_error, u_matrix
from compute.som.train import train_som

__all__ = [
    "SomModel",
    "assign_cells",
    "best_two",
    "occupancy",
    "parse_shape",
    "quantization_error",
    "topographic_error",
    "train_som",
    "u_matrix",
]
