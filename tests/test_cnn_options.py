"""Tests of the CNN method's options and its registration."""

from __future__ import annotations

import pytest

from compute.errors import ZcellsInputError
from compute.methods import get_method
from compute.methods.cnn import METHOD, CNNOptions


def test_registered() -> None:
    assert get_method("cnn") is METHOD
    assert METHOD.name == "cnn"


def test_defaults() -> None:
    o = METHOD.parse_options({})
    assert isinstance(o, CNNOptions)
    assert (o.variant, o.n_bins, o.z_max, o.oof_folds, o.compile, o.amp) == (
        "pasquet",
        180,
        0.4,
        0,
        "auto",
        "auto",
    )
    assert METHOD.required_columns(o) == ["objid", "zspec", "split"]
    assert "r" in METHOD.required_columns(METHOD.parse_options({"use_features": True}))


def test_unknown_key_refused() -> None:
    with pytest.raises(ZcellsInputError, match="unknown key.*epoch_count"):
        CNNOptions.from_dict({"epoch_count": 3})


@pytest.mark.parametrize(
    "bad",
    [
        {"variant": "resnet"},
        {"epochs": 0},
        {"epochs": 2.5},
        {"batch_size": True},
        {"lr": -1.0},
        {"val_fraction": 0.0},
        {"point_estimate": "max"},
        {"device": "tpu"},
        {"compile": "yes"},
        {"oof_folds": 1},
        {"use_features": "no"},
        {"monitor": "accuracy"},
        {"weights": 3},
    ],
)
def test_bad_values_refused(bad: dict) -> None:
    key = next(iter(bad))
    with pytest.raises(ZcellsInputError, match=key):
        CNNOptions.from_dict(bad)


def test_training_dict_excludes_runtime_switches() -> None:
    o = CNNOptions.from_dict({"device": "cpu", "compile": "off", "epochs": 3})
    d = o.training_dict()
    assert "device" not in d and "compile" not in d and "epochs" not in d and "variant" in d
