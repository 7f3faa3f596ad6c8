"""Tests of the CNN training machinery: compile fallback, bf16 autocast on CPU, checkpoint checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compute.errors import ZcellsInputError
from compute.methods.base import MethodContext
from compute.methods.cnn import METHOD, CNNOptions
from compute.methods.cnn.model import Architecture, PhotoZNet
from compute.methods.cnn.train import GuardedForward, Runtime, load_checkpoint, train_step
from tests.test_cnn_synthetic import make_survey

torch.set_num_threads(1)


def _broken_compile(model: torch.nn.Module, **_: object):  # noqa: ANN202
    def call(*args: object, **kwargs: object) -> torch.Tensor:
        raise RuntimeError("inductor exploded")

    return call


def test_compile_failure_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "compile", _broken_compile)
    torch.manual_seed(0)
    net = PhotoZNet(Architecture("small", 2, 16))
    fwd = GuardedForward(net, compile=True)
    assert fwd.is_compiled
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.warns(RuntimeWarning, match="inductor exploded"):
        loss = train_step(
            fwd, opt, torch.randn(4, 2, 16, 16), None, torch.tensor([0, 5, 9, 170]), amp=False
        )
    assert torch.isfinite(loss) and not fwd.is_compiled and "inductor exploded" in (fwd.error or "")
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    # the inference path is guarded too
    fwd2 = GuardedForward(net, compile=True)
    with pytest.warns(RuntimeWarning), torch.no_grad():
        assert fwd2(torch.randn(3, 2, 16, 16)).shape == (3, 180)


def test_runtime_switches_on_cpu() -> None:
    rt = Runtime.resolve(CNNOptions(device="cpu"))
    assert (rt.device.type, rt.amp, rt.compile) == ("cpu", False, False)
    rt = Runtime.resolve(CNNOptions(device="auto", amp="on", compile="off"), context_device="cpu")
    assert (rt.device.type, rt.amp, rt.compile) == ("cpu", True, False)


def test_method_with_compile_fallback_and_bf16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch, "compile", _broken_compile)
    cat = make_survey(tmp_path / "cube", n=64, size=16)
    ctx = MethodContext(
        images=tmp_path / "cube", workdir=tmp_path / "w", progress=True, device="cpu"
    )
    opts = {"variant": "small", "epochs": 1, "batch_size": 16, "compile": "on", "amp": "on"}
    with pytest.warns(RuntimeWarning):
        r = METHOD.run(cat, opts, ctx)
    assert (
        r.info["amp_bf16"] is True
        and r.info["compiled"] is False
        and "inductor" in r.info["compile_error"]
    )
    ok = np.isfinite(r.zphot)
    assert ok.any() and np.allclose(r.pz[ok].sum(axis=1), 1.0, atol=1e-4)


def test_foreign_files_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.pt"
    torch.save({"state_dict": {}}, p)
    with pytest.raises(ZcellsInputError, match="not a zcells CNN checkpoint"):
        load_checkpoint(p)
    torch.save({"format": "zcells-cnn-checkpoint", "version": 99}, p)
    with pytest.raises(ZcellsInputError, match="format version"):
        load_checkpoint(p)
    torch.save({"format": "zcells-cnn-checkpoint", "version": 1, "fingerprint": "aaa"}, p)
    with pytest.raises(ZcellsInputError, match="stale"):
        load_checkpoint(p, expected_fingerprint="bbb")
