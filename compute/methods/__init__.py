"""Photo-z methods (random forest, local linear regression, image CNN) behind one registry."""

from .base import MethodContext, MethodResult, PhotoZMethod
from .registry import METHODS, get_method, parse_method_list

__all__ = ["METHODS", "MethodContext", "MethodResult", "PhotoZMethod", "get_method", "parse_method_list"]
