"""Robust per-group straight-line fits: least trimmed squares with errors in both
coordinates and intrinsic scatter (Cappellari et al. 2013, MNRAS 432, 1709, eq. 7;
FAST-LTS C-steps of Rousseeuw & Van Driessen 2006), batched over many groups, with a
numpy backend and a torch backend (GPU when present).

>>> from compute.lts import fit_line, fit_lines, theta_deg
"""

from compute.lts.api import fit_line, fit_lines
from compute.lts.results import LineFit, LineFits, theta_deg

__all__ = ["fit_line", "fit_lines", "LineFit", "LineFits", "theta_deg"]
