"""Image CNN photo-z method (Pasquet et al. 2019 style), exposed as ``METHOD``."""

from .method import METHOD, CNNMethod
from .options import CNNOptions

__all__ = ["METHOD", "CNNMethod", "CNNOptions"]
