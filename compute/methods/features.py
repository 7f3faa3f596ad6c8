"""Feature sets of the photometric photo-z methods and the train / test / out-of-fold row plan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from compute.errors import ZcellsInputError

from .base import MethodContext

BANDS = ("u", "g", "r", "i", "z")
COLOURS = ("u-g", "g-r", "r-i", "i-z")

#: Feature set name -> the features it holds (Moran et al. 2025, Sec. 3.2). "cmodel_r" falls
#: back to the model r magnitude when the catalogue has no cModel r; "err_<colour>" is the
#: quadrature sum of the two magnitude errors.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "colors_r": (*COLOURS, "cmodel_r"),
    "colors_r_err": (*COLOURS, "cmodel_r", *(f"err_{c}" for c in COLOURS), "err_r"),
    "colors_r_morph": (*COLOURS, "r", "exp_ab_r", "frac_dev_r"),
    "all": (*COLOURS, "r", *(f"err_{c}" for c in COLOURS), "err_r", "exp_ab_r", "frac_dev_r"),
}

#: Flag bit shared by the methods: a feature value is missing (NaN), so the row is not predicted.
FLAG_MISSING_FEATURE = 32

#: Order used when folding the training rows: values of ``MethodContext.per_cell_sample``.
SAMPLES = ("test", "all")


def feature_set(name: str) -> tuple[str, ...]:
    """Return the features of the set called ``name``.

    Examples
    --------
    >>> feature_set("colors_r")
    ('u-g', 'g-r', 'r-i', 'i-z', 'cmodel_r')
    """
    if name not in FEATURE_SETS:
        raise ZcellsInputError(
            f"unknown feature set '{name}'; available: {', '.join(FEATURE_SETS)}"
        )
    return FEATURE_SETS[name]


def _columns_of(feature: str) -> tuple[str, ...]:
    """Catalogue columns one feature is computed from (cmodel_r is optional: see FEATURE_SETS)."""
    if feature in COLOURS:
        return tuple(feature.split("-"))
    if feature.startswith("err_") and feature[4:] in COLOURS:
        a, b = feature[4:].split("-")
        return (f"err_{a}", f"err_{b}")
    if feature == "cmodel_r":
        return ("r",)
    return (feature,)


def required_columns(name: str) -> list[str]:
    """Catalogue columns the feature set ``name`` needs (``cmodel_r`` is optional).

    Examples
    --------
    >>> required_columns("colors_r_morph")
    ['u', 'g', 'r', 'i', 'z', 'exp_ab_r', 'frac_dev_r']
    """
    cols: list[str] = []
    for feature in feature_set(name):
        for col in _columns_of(feature):
            if col not in cols:
                cols.append(col)
    order = {c: k for k, c in enumerate(BANDS)}
    return sorted(cols, key=lambda c: (order.get(c, len(BANDS)), cols.index(c)))


def check_columns(catalog: pd.DataFrame, name: str, method: str, source: str = "catalogue") -> None:
    """Raise ZcellsInputError naming every column the feature set needs and the catalogue lacks."""
    missing = [c for c in required_columns(name) if c not in catalog.columns]
    if missing:
        raise ZcellsInputError(
            f"{source}: method '{method}' with features '{name}' needs column(s) "
            f"{', '.join(missing)}, which the catalogue lacks; choose another feature set "
            f"(available: {', '.join(FEATURE_SETS)}) or add the columns"
        )


@dataclass
class FeatureMatrix:
    """Features of every catalogue row.

    Attributes
    ----------
    X : numpy.ndarray
        float64 (n_rows, n_features); NaN where an input value is missing.
    names : list of str
        Feature names, in column order.
    valid : numpy.ndarray
        bool per row: every feature finite.
    notes : list of str
        What was substituted (e.g. r for a missing cModel r), for ``MethodResult.info``.
    """

    X: np.ndarray
    names: list[str]
    valid: np.ndarray
    notes: list[str]


def build_features(
    catalog: pd.DataFrame, name: str, method: str, source: str = "catalogue"
) -> FeatureMatrix:
    """Build the feature matrix of the set ``name`` for every row of ``catalog``.

    ``cmodel_r`` is the catalogue's cModel r where present and finite, else the model r
    magnitude (counted in ``notes``).

    Examples
    --------
    >>> cat = pd.DataFrame({"u": [19.0], "g": [18.0], "r": [17.5], "i": [17.2], "z": [17.0]})
    >>> fm = build_features(cat, "colors_r", "rf")
    >>> fm.X.round(2).tolist(), fm.notes
    ([[1.0, 0.5, 0.3, 0.2, 17.5]], ['cmodel_r: the catalogue has no cmodel_r column; model r used'])
    """
    check_columns(catalog, name, method, source)
    notes: list[str] = []
    cols: list[np.ndarray] = []
    for feature in feature_set(name):
        if feature in COLOURS or (feature.startswith("err_") and feature[4:] in COLOURS):
            a, b = (catalog[c].to_numpy(dtype=np.float64) for c in _columns_of(feature))
            cols.append(a - b if feature in COLOURS else np.hypot(a, b))
        elif feature == "cmodel_r":
            r = catalog["r"].to_numpy(dtype=np.float64)
            if "cmodel_r" not in catalog.columns:
                notes.append("cmodel_r: the catalogue has no cmodel_r column; model r used")
                cols.append(r)
            else:
                cm = catalog["cmodel_r"].to_numpy(dtype=np.float64)
                bad = ~np.isfinite(cm)
                if bad.any():
                    notes.append(f"cmodel_r: missing in {int(bad.sum())} rows; model r used there")
                cols.append(np.where(bad, r, cm))
        else:
            cols.append(catalog[feature].to_numpy(dtype=np.float64))
    X = np.column_stack(cols) if cols else np.empty((len(catalog), 0))
    finite = np.isfinite(X)
    valid: np.ndarray = np.asarray(finite.all(axis=1))
    if not valid.all():
        columns_ok: np.ndarray = np.asarray(finite.all(axis=0))
        bad_names = [n for n, ok in zip(feature_set(name), columns_ok, strict=True) if not ok]
        notes.append(
            f"{int((~valid).sum())} rows have a missing value in {', '.join(bad_names)}: "
            f"not used for training and not predicted (flag {FLAG_MISSING_FEATURE})"
        )
    return FeatureMatrix(X=X, names=list(feature_set(name)), valid=valid, notes=notes)


@dataclass
class Fold:
    """One fit-and-predict step: train on ``fit_rows``, predict ``predict_rows`` (row indices)."""

    label: str
    fit_rows: np.ndarray
    predict_rows: np.ndarray


def prediction_plan(
    catalog: pd.DataFrame, valid: np.ndarray, context: MethodContext, folds: int, method: str
) -> tuple[list[Fold], dict[str, object]]:
    """Which rows each model is trained on and predicts.

    The "test" step trains on every usable training row and predicts the test rows. With
    ``context.per_cell_sample == "all"`` the training rows are also predicted out of fold:
    ``folds`` shuffled K-fold splits (seeded by ``context.seed``), each training row predicted
    exactly once by a model that never saw it.

    Returns
    -------
    (list of Fold, dict)
        The steps, and a JSON-serialisable description for ``MethodResult.info["samples"]``.

    Raises
    ------
    ZcellsInputError
        Without a ``split`` column, a bad ``per_cell_sample``, too few training rows.
    """
    if context.per_cell_sample not in SAMPLES:
        raise ZcellsInputError(
            f"per_cell_sample must be one of {', '.join(SAMPLES)}, got '{context.per_cell_sample}'"
        )
    if "split" not in catalog.columns:
        raise ZcellsInputError(f"method '{method}': the catalogue has no 'split' column")
    split = catalog["split"].to_numpy()
    train = np.flatnonzero((split == "train") & valid)
    test = np.flatnonzero((split == "test") & valid)
    minimum = max(2, folds if context.per_cell_sample == "all" else 2)
    if len(train) < minimum:
        raise ZcellsInputError(
            f"method '{method}': only {len(train)} usable training rows (split == 'train' with "
            f"every feature present); at least {minimum} needed"
        )
    steps = [Fold("test", train, test)]
    info: dict[str, object] = {
        "test": {"rows": int(len(test)), "how": "model trained on all usable train rows",
                 "n_train": int(len(train))},
    }
    if context.per_cell_sample == "all":
        kf = KFold(n_splits=folds, shuffle=True, random_state=context.seed)
        for k, (fit, pred) in enumerate(kf.split(train)):
            steps.append(Fold(f"fold {k + 1}/{folds}", train[fit], train[pred]))
        info["train"] = {"rows": int(len(train)), "how": "k-fold out-of-fold", "k": folds}
    else:
        info["train"] = {"rows": 0, "how": "not predicted (per_cell_sample = 'test')"}
    return steps, info


def check_unknown_keys(options: dict[str, object], known: tuple[str, ...], method: str) -> None:
    """Raise ZcellsInputError when ``options`` holds keys the method does not know."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ZcellsInputError(
            f"method '{method}': unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
