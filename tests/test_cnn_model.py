"""Tests of the CNN architectures, pixel normalisation, image store and augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compute.errors import ZcellsInputError
from compute.methods.cnn.data import Normaliser, augment, fit_normaliser, load_store
from compute.methods.cnn.model import Architecture, PhotoZNet, count_parameters

torch.set_num_threads(1)


@pytest.mark.parametrize(
    "variant,size,bands", [("small", 16, 3), ("small", 32, 5), ("pasquet", 16, 5)]
)
def test_output_shape(variant: str, size: int, bands: int) -> None:
    net = PhotoZNet(Architecture(variant, bands, size))
    out = net(torch.randn(4, bands, size, size))
    assert out.shape == (4, 180)


def test_pasquet_size_is_faithful() -> None:
    net = PhotoZNet(Architecture("pasquet", 5, 64))
    n_inception = sum(type(m).__name__ == "Inception" for m in net.modules())
    dense = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert n_inception == 5
    assert [d.out_features for d in dense] == [1024, 1024, 180]
    assert net.features[0].kernel_size == (5, 5) and net.features[0].out_channels == 64
    assert 1e7 < count_parameters(net) < 5e7
    assert count_parameters(PhotoZNet(Architecture("small", 5, 64))) < 1e6


def test_features_are_concatenated() -> None:
    torch.manual_seed(0)
    net = PhotoZNet(Architecture("small", 3, 16, n_features=5))
    x = torch.randn(2, 3, 16, 16)
    a = net(x, torch.zeros(2, 5))
    b = net(x, torch.ones(2, 5))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError):
        net(x)


def test_bad_architecture_refused() -> None:
    with pytest.raises(ZcellsInputError, match="too small"):
        PhotoZNet(Architecture("small", 3, 4))


def test_augment_is_a_dihedral_symmetry_per_image() -> None:
    x = torch.arange(2 * 64 * 1 * 4 * 4, dtype=torch.float32).reshape(128, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    y = augment(x, g)
    seen = set()
    for i in range(len(x)):
        img = x[i, 0]
        candidates = []
        for k in range(4):
            r = torch.rot90(img, k)
            candidates += [r, r.flip(-1)]
        match = [j for j, c in enumerate(candidates) if torch.equal(c, y[i, 0])]
        assert match, "augmented image is not a flip/rotation of its input"
        seen.add(match[0])
    assert len(seen) == 8  # all eight symmetries occur
    assert torch.equal(augment(x, torch.Generator().manual_seed(0)), y)  # reproducible


def test_normaliser_and_store() -> None:
    rng = np.random.default_rng(0)
    cube = rng.normal(0, 2.0, (30, 2, 8, 8)).astype(np.float32)
    cube[:, 1] *= 10
    cube[3, 0, 0, 0] = np.nan
    norm = fit_normaliser(cube, np.arange(30))
    assert norm.scale[1] / norm.scale[0] == pytest.approx(10, rel=0.2)
    out = norm.apply(cube)
    assert np.isfinite(out).all()
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=0.05) and np.allclose(
        out.std(axis=(0, 2, 3)), 1, atol=0.05
    )
    assert Normaliser.from_dict(norm.to_dict()) == norm
    rows = np.array([5, 1, 20])
    store = load_store(
        cube, rows, norm, torch.device("cpu"), num_workers=0, features=np.ones((3, 2))
    )
    x, f = store.batch(torch.tensor([2, 0]))
    assert x.dtype == torch.float32 and f is not None and f.shape == (2, 2)
    assert np.allclose(x.numpy(), norm.apply(cube[[20, 5]]), atol=1e-2)  # float16 storage


def test_fit_normaliser_needs_rows() -> None:
    with pytest.raises(ZcellsInputError):
        fit_normaliser(np.zeros((2, 1, 8, 8), np.float32), np.array([], dtype=int))
