"""zcells compute layer: catalogue, photo-z methods, SOM, per-cell line fits and artifacts."""

__version__ = "0.1.0"
