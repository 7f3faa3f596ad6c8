"""Random-forest photo-z (``rf``): scikit-learn RandomForestRegressor on a named feature set."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from tqdm.auto import tqdm

from compute.errors import ZcellsInputError

from .base import MethodContext, MethodResult
from .features import (
    FEATURE_SETS,
    FLAG_MISSING_FEATURE,
    build_features,
    check_unknown_keys,
    prediction_plan,
    required_columns,
)


@dataclass(frozen=True)
class RFOptions:
    """Options of the ``rf`` method.

    Attributes
    ----------
    features : str
        Feature set (see :data:`compute.methods.features.FEATURE_SETS`): ``colors_r`` (fiducial:
        4 colours + cModel r), ``colors_r_err``, ``colors_r_morph`` or ``all``.
    n_estimators : int
        Number of trees.
    min_samples_leaf : int
        Smallest leaf; 5 keeps a forest on ~460k galaxies to a few GB.
    max_features : float, int or str
        Features tried per split: a fraction (1.0 = all), a count, ``"sqrt"`` or ``"log2"``.
    max_depth : int or None
        Depth limit (None: grow until ``min_samples_leaf``).
    max_samples : float or None
        Fraction of the training rows in each tree's bootstrap sample (None: all).
    folds : int
        K of the out-of-fold predictions for the training rows (``per_cell_sample = "all"``).
    """

    features: str = "colors_r"
    n_estimators: int = 200
    min_samples_leaf: int = 5
    max_features: float | int | str = 1.0
    max_depth: int | None = None
    max_samples: float | None = None
    folds: int = 5


KNOWN = tuple(f.name for f in fields(RFOptions))


def _int(options: dict[str, Any], key: str, low: int, allow_none: bool = False) -> Any:
    value = options[key]
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ZcellsInputError(f"method 'rf': option {key} must be an integer >= {low}, got {value!r}")
    return int(value)


class RandomForestMethod:
    """The ``rf`` photo-z method (satisfies :class:`compute.methods.base.PhotoZMethod`)."""

    name = "rf"

    def parse_options(self, options: dict[str, Any]) -> RFOptions:
        """Validate a config dict into :class:`RFOptions`.

        Examples
        --------
        >>> METHOD.parse_options({"n_estimators": 50}).n_estimators
        50
        """
        options = dict(options or {})
        check_unknown_keys(options, KNOWN, self.name)
        out: dict[str, Any] = {}
        if "features" in options:
            if options["features"] not in FEATURE_SETS:
                raise ZcellsInputError(
                    f"method 'rf': option features must be one of {', '.join(FEATURE_SETS)}, "
                    f"got {options['features']!r}"
                )
            out["features"] = options["features"]
        for key, low in (("n_estimators", 1), ("min_samples_leaf", 1), ("folds", 2)):
            if key in options:
                out[key] = _int(options, key, low)
        if "max_depth" in options:
            out["max_depth"] = _int(options, "max_depth", 1, allow_none=True)
        if "max_features" in options:
            mf = options["max_features"]
            ok = (mf in ("sqrt", "log2")) or (
                isinstance(mf, (int, np.integer)) and not isinstance(mf, bool) and mf >= 1
            ) or (isinstance(mf, float) and 0.0 < mf <= 1.0)
            if not ok:
                raise ZcellsInputError(
                    "method 'rf': option max_features must be a fraction in (0, 1], a count >= 1, "
                    f"'sqrt' or 'log2', got {mf!r}"
                )
            out["max_features"] = mf
        if "max_samples" in options:
            ms = options["max_samples"]
            if ms is not None and (
                isinstance(ms, bool) or not isinstance(ms, (int, float)) or not 0.0 < ms <= 1.0
            ):
                raise ZcellsInputError(
                    f"method 'rf': option max_samples must be a fraction in (0, 1] or null, got {ms!r}"
                )
            out["max_samples"] = None if ms is None else float(ms)
        return RFOptions(**out)

    def required_columns(self, options: RFOptions) -> list[str]:
        """Catalogue columns of the chosen feature set (plus zspec and split)."""
        return ["zspec", "split", *required_columns(options.features)]

    def run(self, catalog: pd.DataFrame, options: RFOptions, context: MethodContext) -> MethodResult:
        """Train on ``split == "train"``, predict the test rows (and out-of-fold the train rows).

        Returns
        -------
        MethodResult
            ``zphot`` for every row (NaN where not predicted); ``flags`` 0, or
            ``FLAG_MISSING_FEATURE`` where a feature value is missing.
        """
        source = str(context.catalog_path or "catalogue")
        fm = build_features(catalog, options.features, self.name, source)
        steps, samples = prediction_plan(catalog, fm.valid, context, options.folds, self.name)
        z = catalog["zspec"].to_numpy(dtype=np.float64)
        zphot = np.full(len(catalog), np.nan)
        flags = np.where(fm.valid, 0, FLAG_MISSING_FEATURE).astype(np.int32)
        t0 = time.perf_counter()
        for step in tqdm(steps, desc="rf", unit="fit", disable=not context.progress):
            if len(step.predict_rows) == 0:
                continue
            forest = self._forest(options, context.seed)
            forest.fit(fm.X[step.fit_rows], z[step.fit_rows])
            # threaded prediction sums the trees in a varying order (last-bit differences):
            # predict in one thread so that a seed gives bit-identical photo-z's
            forest.set_params(n_jobs=1)
            zphot[step.predict_rows] = forest.predict(fm.X[step.predict_rows])
            del forest
        info = {
            "method": self.name,
            "options": asdict(options),
            "features": fm.names,
            "notes": fm.notes,
            "samples": samples,
            "flags": {"0": "predicted", str(FLAG_MISSING_FEATURE): "a feature value is missing; not predicted"},
            "seconds": round(time.perf_counter() - t0, 3),
        }
        return MethodResult(zphot=zphot, flags=flags, info=info)

    @staticmethod
    def _forest(options: RFOptions, seed: int) -> RandomForestRegressor:
        return RandomForestRegressor(
            n_estimators=options.n_estimators,
            min_samples_leaf=options.min_samples_leaf,
            max_features=options.max_features,
            max_depth=options.max_depth,
            max_samples=options.max_samples,
            n_jobs=-1,
            random_state=seed,
        )


#: The registered instance (see :mod:`compute.methods.registry`).
METHOD = RandomForestMethod()
