"""Tests of SOM cell assignment, quality measures and input checks against minisom."""

from __future__ import annotations

import numpy as np
import pytest
from minisom import MiniSom

from compute.errors import ZcellsInputError
from compute.som import (
    SomModel,
    assign_cells,
    best_two,
    occupancy,
    parse_shape,
    quantization_error,
    topographic_error,
    train_som,
    u_matrix,
)
from compute.som.synthetic import standardise, synthetic_colours


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return standardise(synthetic_colours(1500, seed=7))


@pytest.fixture(scope="module")
def trained(data: np.ndarray) -> SomModel:
    return train_som(data, "6x8", device="cpu", seed=0)


def _minisom_with(weights: np.ndarray) -> MiniSom:
    nx, ny, d = weights.shape
    som = MiniSom(nx, ny, d, sigma=1.0, random_seed=0)
    som._weights = weights.copy()  # evaluate minisom's own functions on our weights
    return som


def _weight_sets(trained: SomModel) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [trained.weights, rng.normal(size=(5, 7, 4)), rng.normal(size=(1, 4, 4))]


# ---------------------------------------------------------------- shape parsing


@pytest.mark.parametrize("text, expected", [("10x12", (10, 12)), ("6X8", (6, 8)),
                                            (" 3 x 4 ", (3, 4)), ((2, 5), (2, 5))])
def test_parse_shape_valid(text, expected):
    assert parse_shape(text) == expected


@pytest.mark.parametrize("bad", ["10x", "0x5", "x12", "10x12x3", "", "ten x 12", "5x0",
                                 "-1x4", (0, 5), (1.5, 2), (3,), 7])
def test_parse_shape_invalid(bad):
    with pytest.raises(ZcellsInputError, match="SOM shape"):
        parse_shape(bad)


# ---------------------------------------------------------------- bad input


def test_nan_in_X_names_column_and_rows(data):
    X = data.copy()
    X[3, 1] = np.nan
    X[17, 1] = np.inf
    with pytest.raises(ZcellsInputError, match=r"column 1 rows 3, 17"):
        train_som(X, "6x8", device="cpu")
    with pytest.raises(ZcellsInputError, match=r"column 1 rows 3, 17"):
        assign_cells(np.zeros((2, 2, 4)), X, device="cpu")


@pytest.mark.parametrize("X", [np.zeros(10), np.zeros((4, 3, 2)), np.zeros((1, 4)),
                               [["a", "b"], ["c", "d"]]])
def test_bad_matrix_shapes(X):
    with pytest.raises(ZcellsInputError, match="X"):
        train_som(X, "2x2", device="cpu")


def test_wrong_feature_count_for_weights(trained, data):
    with pytest.raises(ZcellsInputError, match="3 feature columns but the SOM codebook has 4"):
        assign_cells(trained.weights, data[:, :3], device="cpu")


@pytest.mark.parametrize("kwargs", [{"shape": "10x"}, {"shape": "0x5"}, {"backend": "kohonen"},
                                    {"device": "tpu"}, {"epochs": 0}, {"sigma": -1.0},
                                    {"sigma_end": 0.0}, {"seed": -3}, {"init": "grid"}])
def test_bad_options(data, kwargs):
    args = {"shape": "3x3", "device": "cpu"} | kwargs
    with pytest.raises(ZcellsInputError):
        train_som(data, **args)


def test_cuda_requested_without_cuda(data):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ZcellsInputError, match="CUDA"):
        train_som(data, "3x3", device="cuda")


# ---------------------------------------------------------------- assignment


@pytest.mark.parametrize("chunk", [200_000, 37])
def test_assign_equals_minisom_winner(trained, data, chunk):
    X = data[:600]
    for w in _weight_sets(trained):
        som = _minisom_with(w)
        ix, iy = assign_cells(w, X, device="cpu", chunk=chunk)
        expected = np.array([som.winner(x) for x in X])  # row by row, in the test only
        np.testing.assert_array_equal(ix, expected[:, 0])
        np.testing.assert_array_equal(iy, expected[:, 1])


def test_assign_ties_take_lowest_index_like_minisom():
    w = np.zeros((2, 2, 2))
    w[0, 1] = [1.0, 0.0]
    w[1, 0] = [-1.0, 0.0]
    w[1, 1] = [0.0, 5.0]
    w[0, 0] = [0.0, -5.0]
    X = np.array([[0.0, 0.0]])  # equidistant from (0, 1) and (1, 0)
    ix, iy = assign_cells(w, X, device="cpu")
    assert (ix[0], iy[0]) == _minisom_with(w).winner(X[0]) == (0, 1)


def test_best_two_matches_full_sort(trained, data):
    X = data[:400]
    w = trained.weights
    nx, ny, d = w.shape
    dist = np.linalg.norm(X[:, None, :] - w.reshape(1, nx * ny, d), axis=2)
    order = np.argsort(dist, axis=1, kind="stable")
    ix1, iy1, ix2, iy2 = best_two(w, X, device="cpu", chunk=64)
    np.testing.assert_array_equal(ix1 * ny + iy1, order[:, 0])
    np.testing.assert_array_equal(ix2 * ny + iy2, order[:, 1])


# ---------------------------------------------------------------- quality measures


def test_quantization_error_equals_minisom(trained, data):
    for w in _weight_sets(trained):
        expected = _minisom_with(w).quantization_error(data)
        assert quantization_error(w, data, device="cpu") == pytest.approx(expected, rel=1e-12)


def test_topographic_error_equals_minisom(trained, data):
    for w in _weight_sets(trained):
        expected = _minisom_with(w).topographic_error(data)
        assert topographic_error(w, data, device="cpu", chunk=101) == pytest.approx(expected, abs=1e-15)
    assert 0.0 < topographic_error(_weight_sets(trained)[1], data, device="cpu") < 1.0


def test_topographic_error_single_cell_is_nan(data):
    assert np.isnan(topographic_error(np.zeros((1, 1, 4)), data, device="cpu"))


@pytest.mark.parametrize("scaling", ["mean", "sum"])
def test_u_matrix_equals_minisom_distance_map(trained, scaling):
    for w in _weight_sets(trained):
        expected = _minisom_with(w).distance_map(scaling=scaling)
        np.testing.assert_allclose(u_matrix(w, scaling=scaling, normalize=True), expected,
                                   rtol=1e-12, atol=1e-14)


def test_u_matrix_unnormalised_is_mean_neighbour_distance(trained):
    w = trained.weights
    um = u_matrix(w)
    corner = np.mean([np.linalg.norm(w[0, 0] - w[a, b]) for a, b in [(0, 1), (1, 0), (1, 1)]])
    inner = np.mean([np.linalg.norm(w[2, 3] - w[2 + a, 3 + b])
                     for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)])
    assert um[0, 0] == pytest.approx(corner, rel=1e-12)
    assert um[2, 3] == pytest.approx(inner, rel=1e-12)


def test_occupancy_equals_minisom_activation_response(trained, data):
    ix, iy = assign_cells(trained.weights, data, device="cpu")
    occ = occupancy(ix, iy, trained.shape)
    np.testing.assert_array_equal(occ, _minisom_with(trained.weights).activation_response(data))
    assert occ.sum() == len(data)
    with pytest.raises(ZcellsInputError, match="rows 1"):
        occupancy(np.array([0, 6]), np.array([0, 0]), "6x8")


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("kwargs", [{"backend": "batch", "device": "cpu"},
                                    {"backend": "batch", "device": "torch-cpu"},
                                    {"backend": "batch", "device": "cpu", "init": "sample"},
                                    {"backend": "minisom", "iterations": 3000}])
def test_reproducible_from_seed(data, kwargs):
    a = train_som(data, "4x5", seed=11, **kwargs)
    b = train_som(data, "4x5", seed=11, **kwargs)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.params == b.params and a.shape == (4, 5) and a.weights.shape == (4, 5, 4)


@pytest.mark.parametrize("kwargs", [{"backend": "batch", "device": "cpu", "init": "sample"},
                                    {"backend": "minisom", "iterations": 3000}])
def test_seed_changes_result_where_it_is_used(data, kwargs):
    a = train_som(data, "4x5", seed=1, **kwargs)
    b = train_som(data, "4x5", seed=2, **kwargs)
    assert not np.array_equal(a.weights, b.weights)


def test_model_records_parameters(trained):
    assert trained.backend == "batch" and trained.seed == 0 and trained.shape == (6, 8)
    p = trained.params
    assert p["sigma"] == 4.0 and p["sigma_end"] == 0.5 and p["epochs"] == 10
    assert p["engine"] == "numpy" and trained.weights.dtype == np.float64
