"""Tests of the p(z) bins, PIT values and p(z) summaries of the CNN method."""

from __future__ import annotations

import numpy as np
import pytest

from compute.methods.cnn.predict import summarise
from compute.methods.cnn.pz import bin_centres, bin_edges, class_of
from compute.pz import pit


def test_default_bins_are_pasquet() -> None:
    e = bin_edges()
    assert len(e) == 181 and e[0] == 0.0 and e[-1] == pytest.approx(0.4)
    assert np.allclose(np.diff(e), 0.4 / 180)


def test_class_of_round_trips_centres() -> None:
    e = bin_edges()
    assert np.array_equal(class_of(bin_centres(e), e), np.arange(180))
    assert class_of([-0.1, 0.5], e).tolist() == [0, 179]


def test_summaries_of_delta_and_symmetric_pz() -> None:
    e = bin_edges()
    c = bin_centres(e)
    pz = np.zeros((2, 180))
    pz[0, 40] = 1.0
    pz[1, 99:102] = [0.25, 0.5, 0.25]
    s = summarise(pz, e)
    assert s.mean[0] == pytest.approx(c[40]) and s.mode[0] == pytest.approx(c[40])
    assert s.median[0] == pytest.approx(c[40])  # half-way through the only bin
    assert s.mean[1] == pytest.approx(c[100]) and s.mode[1] == pytest.approx(c[100])
    assert s.median[1] == pytest.approx(c[100])


def test_summaries_consistent_with_pz_on_random_rows() -> None:
    rng = np.random.default_rng(1)
    e = bin_edges()
    pz = rng.dirichlet(np.ones(180) * 0.3, size=50)
    s = summarise(pz, e)
    assert np.allclose(s.mean, pz @ bin_centres(e))
    assert np.allclose(s.mode, bin_centres(e)[pz.argmax(axis=1)])
    # the CDF (PIT) at the median is exactly one half
    assert np.allclose(pit(pz, e, s.median), 0.5)


def test_skewed_pz_orders_mean_median_mode() -> None:
    e = bin_edges()
    z = bin_centres(e)
    p = np.exp(-z / 0.05)[None, :]  # mode at 0, long tail
    s = summarise(p / p.sum(), e)
    assert s.mode[0] < s.median[0] < s.mean[0]


def test_non_finite_rows_give_nan() -> None:
    e = bin_edges()
    pz = np.full((2, 180), 1 / 180)
    pz[1] = np.nan
    s = summarise(pz, e)
    assert (
        np.isfinite(s.mean[0])
        and np.isnan(s.mean[1])
        and np.isnan(s.median[1])
        and np.isnan(s.mode[1])
    )
    p = pit(pz, e, [0.2, 0.2])
    assert p[0] == pytest.approx(0.5) and np.isnan(p[1])


def test_pit_is_uniform_for_calibrated_pz() -> None:
    rng = np.random.default_rng(0)
    e = bin_edges()
    z = bin_centres(e)
    mu = rng.uniform(0.1, 0.3, 2000)
    pz = np.exp(-0.5 * ((z[None] - mu[:, None]) / 0.02) ** 2)
    pz /= pz.sum(axis=1, keepdims=True)
    truth = mu + 0.02 * rng.normal(size=mu.size)
    hist, _ = np.histogram(pit(pz, e, truth), bins=5, range=(0, 1))
    assert np.all(np.abs(hist / len(mu) - 0.2) < 0.04)


def test_pit_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        pit(np.ones((3, 10)), bin_edges(), np.zeros(3))
