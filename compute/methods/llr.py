"""Local linear regression photo-z (``llr``): the Beck et al. (2016) SDSS DR12 algorithm, vectorised.

For each galaxy, the ``k`` (100) nearest training galaxies in (u-g, g-r, r-i, i-z, cModel r) space
are found with a KD-tree; a first-order polynomial ``z = a + b . (x - x0)`` is fitted to their
spectroscopic redshifts by least squares, neighbours whose residual exceeds ``clip_sigma`` times
the fit's rms are rejected and the fit repeated; the photo-z is ``a`` (the fit at the galaxy).
All galaxies of a chunk are fitted at once through their stacked (n, 6, 6) normal equations.

Flags (bits, combined by OR; see :data:`FLAGS`): where a fallback bit is set the photo-z is the
median redshift of the (kept) neighbours instead of the fit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from tqdm.auto import tqdm

from compute.errors import ZcellsInputError

from .base import MethodContext, MethodResult
from .features import (
    FLAG_MISSING_FEATURE,
    build_features,
    check_unknown_keys,
    prediction_plan,
    required_columns,
)

FLAG_OUTSIDE_BOX = 1
FLAG_DISTANT = 2
FLAG_FEW_NEIGHBOURS = 4
FLAG_SINGULAR = 8
FLAG_EXTRAPOLATED = 16
#: Flags that replace the fit by the median neighbour redshift.
FALLBACK_FLAGS = FLAG_DISTANT | FLAG_FEW_NEIGHBOURS | FLAG_SINGULAR | FLAG_EXTRAPOLATED

FLAGS: dict[str, str] = {
    "0": "local linear fit",
    str(FLAG_OUTSIDE_BOX): "outside the bounding box of its kept neighbours: the fit extrapolates "
    "(B16's nnIsInside = 0); fit kept unless a fallback bit is also set",
    str(FLAG_DISTANT): "nearest training neighbour farther than max_distance: fallback to the "
    "median neighbour redshift",
    str(FLAG_FEW_NEIGHBOURS): "fewer than min_neighbours neighbours left after outlier rejection "
    "(or a training set smaller than that): fallback to the median neighbour redshift",
    str(FLAG_SINGULAR): "the neighbours do not span the feature space (singular normal equations): "
    "fallback to the median neighbour redshift",
    str(FLAG_EXTRAPOLATED): "the fit lies outside the kept neighbours' redshift range widened by half "
    "its width on each side: fallback to the median neighbour redshift",
    str(FLAG_MISSING_FEATURE): "a feature value is missing; not predicted",
}

#: Smallest eigenvalue ratio of the (scaled) normal equations treated as regular.
RCOND = 1e-10


@dataclass(frozen=True)
class LLROptions:
    """Options of the ``llr`` method.

    Attributes
    ----------
    k : int
        Neighbours per galaxy (B16: 100).
    clip_sigma : float
        Reject neighbours with ``|residual| > clip_sigma * rms`` (rms with n - 6 degrees of freedom).
    clip_iterations : int
        Most rejection rounds (stops earlier when nothing changes); 0 fits once.
    min_neighbours : int
        Fewest kept neighbours for a fit (at least 7: six coefficients plus one).
    max_distance : float or None
        Distance (magnitudes, Euclidean in feature space) beyond which the nearest neighbour
        makes a galaxy isolated; None switches the check off.
    features : str
        Feature set (default the B16 set ``colors_r``).
    folds : int
        K of the out-of-fold predictions for the training rows.
    chunk_size : int
        Galaxies per batch (bounds memory: about ``chunk_size * k * 100`` bytes).
    """

    k: int = 100
    clip_sigma: float = 3.0
    clip_iterations: int = 5
    min_neighbours: int = 20
    max_distance: float | None = 1.0
    features: str = "colors_r"
    folds: int = 5
    chunk_size: int = 10000


KNOWN = tuple(f.name for f in fields(LLROptions))


def _number(options: dict[str, Any], key: str, low: float, integer: bool) -> Any:
    value: Any = options[key]
    kinds: tuple[type, ...] = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    number: Any = value
    if not ok or not number >= low:
        what = "an integer" if integer else "a number"
        raise ZcellsInputError(f"method 'llr': option {key} must be {what} >= {low}, got {value!r}")
    return int(number) if integer else float(number)


@dataclass
class LLRFit:
    """Result of :func:`local_linear_predict` for the query galaxies.

    Attributes
    ----------
    zphot, flags : numpy.ndarray
        Photo-z and flag bits per query galaxy.
    n_kept : numpy.ndarray
        Neighbours left after outlier rejection.
    rms : numpy.ndarray
        rms residual of the final local fit (NaN where it fell back).
    """

    zphot: np.ndarray
    flags: np.ndarray
    n_kept: np.ndarray
    rms: np.ndarray


def fit_neighbourhoods(
    x_query: np.ndarray,
    x_neigh: np.ndarray,
    z_neigh: np.ndarray,
    dist0: np.ndarray,
    options: LLROptions,
) -> LLRFit:
    """Fit the local linear model of every query galaxy to its neighbours at once.

    Parameters
    ----------
    x_query : numpy.ndarray
        (n, d) features of the galaxies to predict.
    x_neigh : numpy.ndarray
        (n, k, d) features of their neighbours.
    z_neigh : numpy.ndarray
        (n, k) spectroscopic redshifts of the neighbours.
    dist0 : numpy.ndarray
        (n,) distance to the nearest neighbour.
    options : LLROptions
        Clipping and fallback settings.

    Returns
    -------
    LLRFit
    """
    n, k, d = x_neigh.shape
    p = d + 1
    offsets = x_neigh - x_query[:, None, :]
    # scale each feature by its rms offset in the neighbourhood: the fit is invariant to it,
    # and the normal equations become well conditioned
    scale = np.sqrt(np.mean(offsets**2, axis=1))
    scale[scale == 0] = 1.0
    design = np.empty((n, k, p))
    design[:, :, 0] = 1.0
    design[:, :, 1:] = offsets / scale[:, None, :]
    keep = np.ones((n, k), dtype=bool)
    flags = np.zeros(n, dtype=np.int32)

    def solve(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least-squares coefficients of the galaxies ``rows`` over their kept neighbours."""
        a = design[rows]
        weighted = a * keep[rows][:, :, None]
        wt = weighted.transpose(0, 2, 1)
        normal = np.matmul(wt, a)  # (m, p, p)
        rhs = np.matmul(wt, z_neigh[rows][:, :, None])[:, :, 0]
        evals, evecs = np.linalg.eigh(normal)
        regular = evals[:, 0] > RCOND * np.maximum(evals[:, -1], np.finfo(float).tiny)
        inv = np.where(regular[:, None], 1.0 / np.where(regular[:, None], evals, 1.0), 0.0)
        proj = np.matmul(evecs.transpose(0, 2, 1), rhs[:, :, None])[:, :, 0]
        coef = np.matmul(evecs, (inv * proj)[:, :, None])[:, :, 0]
        return coef, regular

    def residuals(rows: np.ndarray) -> np.ndarray:
        return z_neigh[rows] - np.matmul(design[rows], coef[rows][:, :, None])[:, :, 0]

    everyone = np.arange(n)
    coef, regular = solve(everyone)
    active = everyone  # galaxies whose kept set may still change
    for _ in range(options.clip_iterations):
        if active.size == 0:
            break
        resid = residuals(active)
        kept = keep[active]
        dof = np.maximum(kept.sum(axis=1) - p, 1)
        rms = np.sqrt(np.sum(np.where(kept, resid**2, 0.0), axis=1) / dof)
        new_keep = kept & (np.abs(resid) <= options.clip_sigma * rms[:, None])
        # galaxies whose fit is singular or would drop below p + 1 points are left as they are
        frozen = ~regular[active] | (new_keep.sum(axis=1) <= p)
        new_keep[frozen] = kept[frozen]
        changed = (new_keep != kept).any(axis=1)
        active = active[changed]
        keep[active] = new_keep[changed]
        if active.size:
            coef[active], regular[active] = solve(active)

    n_kept = keep.sum(axis=1)
    resid = residuals(everyone)
    rms = np.sqrt(np.sum(np.where(keep, resid**2, 0.0), axis=1) / np.maximum(n_kept - p, 1))
    zfit = coef[:, 0]

    big = np.inf
    lo = np.min(np.where(keep[:, :, None], x_neigh, big), axis=1)
    hi = np.max(np.where(keep[:, :, None], x_neigh, -big), axis=1)
    outside = np.any((x_query < lo) | (x_query > hi), axis=1)
    zlo = np.min(np.where(keep, z_neigh, big), axis=1)
    zhi = np.max(np.where(keep, z_neigh, -big), axis=1)
    half = 0.5 * (zhi - zlo)
    extrapolated = (zfit < zlo - half - 1e-9) | (zfit > zhi + half + 1e-9)

    flags |= np.where(outside, FLAG_OUTSIDE_BOX, 0).astype(np.int32)
    if options.max_distance is not None:
        flags |= np.where(dist0 > options.max_distance, FLAG_DISTANT, 0).astype(np.int32)
    flags |= np.where(n_kept < options.min_neighbours, FLAG_FEW_NEIGHBOURS, 0).astype(np.int32)
    flags |= np.where(~regular, FLAG_SINGULAR, 0).astype(np.int32)
    flags |= np.where(regular & extrapolated, FLAG_EXTRAPOLATED, 0).astype(np.int32)

    fallback = (flags & FALLBACK_FLAGS) != 0
    zphot = zfit.copy()
    if fallback.any():
        zphot[fallback] = np.nanmedian(np.where(keep[fallback], z_neigh[fallback], np.nan), axis=1)
    rms = np.where(fallback, np.nan, rms)
    return LLRFit(zphot=zphot, flags=flags, n_kept=n_kept, rms=rms)


def local_linear_predict(
    x_train: np.ndarray,
    z_train: np.ndarray,
    x_query: np.ndarray,
    options: LLROptions,
    progress: bool = False,
    desc: str = "llr",
) -> tuple[LLRFit, dict[str, float]]:
    """Predict redshifts of ``x_query`` from the training set by local linear regression.

    Parameters
    ----------
    x_train : numpy.ndarray
        (n_train, d) training features.
    z_train : numpy.ndarray
        (n_train,) their spectroscopic redshifts.
    x_query : numpy.ndarray
        (n, d) features of the galaxies to predict (all finite).
    options : LLROptions
        Method options.
    progress : bool
        Show a progress bar over chunks.
    desc : str
        Progress-bar label.

    Returns
    -------
    (LLRFit, dict)
        The predictions and timings in seconds (``tree``, ``query``, ``fit``).
    """
    n = len(x_query)
    k = min(options.k, len(x_train))
    timings = {"tree": 0.0, "query": 0.0, "fit": 0.0}
    out = LLRFit(
        zphot=np.full(n, np.nan), flags=np.zeros(n, np.int32),
        n_kept=np.zeros(n, np.int64), rms=np.full(n, np.nan),
    )
    if n == 0:
        return out, timings
    t = time.perf_counter()
    tree = NearestNeighbors(n_neighbors=k, algorithm="kd_tree", leaf_size=20, n_jobs=-1)
    tree.fit(x_train)
    timings["tree"] = time.perf_counter() - t
    starts = range(0, n, options.chunk_size)
    for s in tqdm(starts, desc=desc, unit="chunk", disable=not progress):
        sl = slice(s, min(s + options.chunk_size, n))
        t = time.perf_counter()
        dist, idx = tree.kneighbors(x_query[sl], return_distance=True)
        timings["query"] += time.perf_counter() - t
        t = time.perf_counter()
        fit = fit_neighbourhoods(x_query[sl], x_train[idx], z_train[idx], dist[:, 0], options)
        timings["fit"] += time.perf_counter() - t
        out.zphot[sl], out.flags[sl], out.n_kept[sl], out.rms[sl] = (
            fit.zphot, fit.flags, fit.n_kept, fit.rms,
        )
    return out, timings


class LocalLinearMethod:
    """The ``llr`` photo-z method (satisfies :class:`compute.methods.base.PhotoZMethod`)."""

    name = "llr"

    def parse_options(self, options: dict[str, Any]) -> LLROptions:
        """Validate a config dict into :class:`LLROptions`.

        Examples
        --------
        >>> METHOD.parse_options({"k": 50}).k
        50
        """
        options = dict(options or {})
        check_unknown_keys(options, KNOWN, self.name)
        out: dict[str, Any] = {}
        for key, low in (("k", 7), ("min_neighbours", 7), ("folds", 2), ("chunk_size", 1),
                         ("clip_iterations", 0)):
            if key in options:
                out[key] = _number(options, key, low, integer=True)
        if "clip_sigma" in options:
            out["clip_sigma"] = _number(options, "clip_sigma", 0.5, integer=False)
        if "max_distance" in options:
            out["max_distance"] = (
                None if options["max_distance"] is None
                else _number(options, "max_distance", 0.0, integer=False)
            )
        if "features" in options:
            from .features import FEATURE_SETS

            if options["features"] not in FEATURE_SETS:
                raise ZcellsInputError(
                    f"method 'llr': option features must be one of {', '.join(FEATURE_SETS)}, "
                    f"got {options['features']!r}"
                )
            out["features"] = options["features"]
        parsed = LLROptions(**out)
        if parsed.min_neighbours > parsed.k:
            raise ZcellsInputError(
                f"method 'llr': min_neighbours ({parsed.min_neighbours}) exceeds k ({parsed.k})"
            )
        return parsed

    def required_columns(self, options: LLROptions) -> list[str]:
        """Catalogue columns of the chosen feature set (plus zspec and split)."""
        return ["zspec", "split", *required_columns(options.features)]

    def run(self, catalog: pd.DataFrame, options: LLROptions, context: MethodContext) -> MethodResult:
        """Train on ``split == "train"``, predict the test rows (and out-of-fold the train rows).

        Returns
        -------
        MethodResult
            ``zphot`` for every row (NaN where not predicted) and ``flags`` (see :data:`FLAGS`).
        """
        source = str(context.catalog_path or "catalogue")
        fm = build_features(catalog, options.features, self.name, source)
        steps, samples = prediction_plan(catalog, fm.valid, context, options.folds, self.name)
        z = catalog["zspec"].to_numpy(dtype=np.float64)
        zphot = np.full(len(catalog), np.nan)
        flags = np.where(fm.valid, 0, FLAG_MISSING_FEATURE).astype(np.int32)
        timings = {"tree": 0.0, "query": 0.0, "fit": 0.0}
        for step in steps:
            fit, t = local_linear_predict(
                fm.X[step.fit_rows], z[step.fit_rows], fm.X[step.predict_rows], options,
                progress=context.progress, desc=f"llr {step.label}",
            )
            zphot[step.predict_rows] = fit.zphot
            flags[step.predict_rows] = fit.flags
            for key in timings:
                timings[key] += t[key]
        predicted = np.isfinite(zphot)
        counts = {
            name: int(((flags & bit) != 0)[predicted].sum())
            for bit, name in ((FLAG_OUTSIDE_BOX, "outside_box"), (FLAG_DISTANT, "distant"),
                              (FLAG_FEW_NEIGHBOURS, "few_neighbours"), (FLAG_SINGULAR, "singular"),
                              (FLAG_EXTRAPOLATED, "extrapolated"))
        }
        counts["fallback"] = int(((flags & FALLBACK_FLAGS) != 0)[predicted].sum())
        info = {
            "method": self.name,
            "options": asdict(options),
            "features": fm.names,
            "notes": fm.notes,
            "samples": samples,
            "flags": FLAGS,
            "flag_counts": counts,
            "seconds": {key: round(v, 3) for key, v in timings.items()},
        }
        return MethodResult(zphot=zphot, flags=flags, info=info)


#: The registered instance (see :mod:`compute.methods.registry`).
METHOD = LocalLinearMethod()
