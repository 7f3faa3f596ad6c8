"""Batch SOM (numpy and torch) against a direct Kohonen formula and against minisom's map quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compute.som import assign_cells, quantization_error, topographic_error, train_som
from compute.som.batch_numpy import augmented, batch_update, bmu_flat, train_batch_numpy
from compute.som.batch_torch import train_batch_torch
from compute.som.grid import neighbourhood_matrix
from compute.som.initialise import pca_init
from compute.som.synthetic import standardise, synthetic_colours

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# tolerated excess over minisom: relative on QE, absolute on TE
QE_REL_TOL = 0.02
TE_ABS_TOL = 0.01


@pytest.fixture(scope="module")
def synth() -> np.ndarray:
    return standardise(synthetic_colours(3000, seed=1))


def _real_colours() -> np.ndarray:
    path = DATA / "sdss_mgs_real_5k.csv"
    if not path.exists():
        pytest.skip(f"{path} absent")
    import pandas as pd

    df = pd.read_csv(path)
    X = np.column_stack([df["u"] - df["r"], df["g"] - df["r"], df["r"] - df["i"], df["r"] - df["z"]])
    return standardise(X)


# ---------------------------------------------------------------- algorithm


def test_batch_update_equals_direct_kohonen_formula():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    W = rng.normal(size=(3, 4, 3))
    Wf = W.reshape(12, 3)
    sigma = 1.3
    bmu = bmu_flat(augmented(X), Wf, chunk=7)
    direct_bmu = np.array([np.argmin(((x - Wf) ** 2).sum(axis=1)) for x in X])
    np.testing.assert_array_equal(bmu, direct_bmu)
    # w_k = sum_i h(k, c_i) x_i / sum_i h(k, c_i), h Gaussian in grid distance
    grid = np.array([(a, b) for a in range(3) for b in range(4)], dtype=float)
    expected = np.empty_like(Wf)
    for k in range(12):
        h = np.array([np.exp(-np.sum((grid[k] - grid[c]) ** 2) / (2 * sigma**2)) for c in bmu])
        expected[k] = (h[:, None] * X).sum(axis=0) / h.sum()
    got = batch_update(X, bmu, Wf, neighbourhood_matrix((3, 4), sigma))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_torch_cpu_float64_matches_numpy(synth):
    W0 = pca_init(synth, (6, 8))
    kw = {"sigma_start": 4.0, "sigma_end": 0.5, "epochs": 8}
    wn = train_batch_numpy(synth, W0, **kw)
    wt = train_batch_torch(synth, W0, device="cpu", chunk=1000, **kw)
    np.testing.assert_allclose(wt, wn, rtol=0, atol=1e-9)
    # and through the public entry point
    mn = train_som(synth, "6x8", device="cpu")
    mt = train_som(synth, "6x8", device="torch-cpu")
    np.testing.assert_allclose(mt.weights, mn.weights, rtol=0, atol=1e-9)
    assert mt.params["engine"] == "torch" and mt.params["dtype"] == "float64"


def test_torch_float32_path_close_to_numpy(synth):
    """The CUDA path runs in float32; exercise that arithmetic on the CPU."""
    W0 = pca_init(synth, (6, 8))
    kw = {"sigma_start": 4.0, "sigma_end": 0.5, "epochs": 10}
    wn = train_batch_numpy(synth, W0, **kw)
    w32 = train_batch_torch(synth, W0, device="cpu", dtype=torch.float32, **kw)
    qn = quantization_error(wn, synth, device="cpu")
    q32 = quantization_error(w32, synth, device="cpu")
    assert q32 == pytest.approx(qn, rel=0.01)
    assert np.abs(w32 - wn).max() < 0.05


def test_torch_assignment_equals_numpy(synth):
    w = train_som(synth, "5x7", device="cpu").weights
    a = assign_cells(w, synth, device="cpu")
    b = assign_cells(w, synth, device="torch-cpu", chunk=333)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert topographic_error(w, synth, device="torch-cpu") == topographic_error(w, synth, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(synth):
    mc = train_som(synth, "6x8", device="cpu")
    mg = train_som(synth, "6x8", device="cuda")
    assert mg.params["dtype"] == "float32"
    qc = quantization_error(mc.weights, synth, device="cpu")
    qg = quantization_error(mg.weights, synth, device="cpu")
    assert qg == pytest.approx(qc, rel=0.01)
    a = assign_cells(mc.weights, synth, device="cpu")
    b = assign_cells(mc.weights, synth, device="cuda")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# ---------------------------------------------------------------- map quality vs minisom


def _compare_with_minisom(X: np.ndarray, shape: str) -> None:
    mb = train_som(X, shape, backend="batch", device="cpu", seed=0)
    mm = train_som(X, shape, backend="minisom", seed=0)
    qb, tb = quantization_error(mb.weights, X), topographic_error(mb.weights, X)
    qm, tm = quantization_error(mm.weights, X), topographic_error(mm.weights, X)
    print(f"{shape}: batch QE {qb:.4f} TE {tb:.4f} | minisom QE {qm:.4f} TE {tm:.4f}")
    assert qb <= qm * (1 + QE_REL_TOL), (qb, qm)
    assert tb <= tm + TE_ABS_TOL, (tb, tm)


def test_batch_quality_no_worse_than_minisom_synthetic(synth):
    _compare_with_minisom(synth, "6x8")


@pytest.mark.realdata
def test_batch_quality_no_worse_than_minisom_real_sdss():
    _compare_with_minisom(_real_colours(), "6x8")
