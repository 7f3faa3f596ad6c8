"""Tests of the simulated survey (compute.simulate): config, renderer, photometry, output."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from compute.errors import ZcellsInputError
from compute.imagecube import open_cube
from compute.simulate import SimConfig
from compute.simulate.run import simulate

BANDS = ["u", "g", "r", "i", "z"]


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "bad, words",
    [
        ({"n": -5}, ["n", ">= 1"]),
        ({"n": 0}, ["n", ">= 1"]),
        ({"n": 2.5}, ["n", "integer"]),
        ({"bands": ["u", "g", "r", "y"]}, ["unknown band", "y"]),
        ({"bands": ["u", "g"]}, ["include 'r'"]),
        ({"frobnicate": 1}, ["unknown key", "frobnicate"]),
        ({"z_min": 0.3, "z_max": 0.2}, ["z_min"]),
        ({"psf_fwhm": {"r": -1}}, ["psf_fwhm"]),
        ({"stamp_size": 63}, ["stamp_size", "even"]),
        ({"mag_limit": "bright"}, ["mag_limit"]),
        ({"image_margin": -0.1}, ["image_margin", "outside"]),
    ],
)
def test_bad_config_raises_clear_error(bad, words):
    with pytest.raises(ZcellsInputError) as exc:
        SimConfig.from_dict(bad)
    for w in words:
        assert w in str(exc.value)


def test_image_margin_is_not_physics():
    """image_margin only saves work, so surveys that differ in it share a physics hash."""
    assert (SimConfig.from_dict({"image_margin": 0.3}).physics_hash()
            == SimConfig().physics_hash() != SimConfig.from_dict({"mag_margin": 0.5}).physics_hash())


def test_config_roundtrip_and_file(tmp_path):
    cfg = SimConfig.from_dict({"n": 7, "seed": 3, "psf_fwhm": {"r": 1.2}})
    assert cfg.psf_fwhm["r"] == 1.2 and cfg.psf_fwhm["g"] == SimConfig().psf_fwhm["g"]
    f = tmp_path / "sim.toml"
    f.write_text("[simulate]\nn = 11\nseed = 5\n")
    assert SimConfig.from_file(f).n == 11
    f.write_text("n = 11\nwhat = 1\n")
    with pytest.raises(ZcellsInputError, match="what"):
        SimConfig.from_file(f)


def test_no_galaxy_passes_leaves_no_output(tmp_path):
    out = tmp_path / "sim"
    cfg = SimConfig.from_dict({"n": 40, "mag_limit": 8.0, "chunk_size": 20})
    with pytest.raises(ZcellsInputError, match="no galaxy passes r <= 8.0"):
        simulate(cfg, out, progress=False)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_hopeless_cut_is_reported_not_looped_on():
    """n counts kept galaxies, so a cut that keeps almost nothing must stop with a message."""
    from compute.simulate.run import (
        MAX_DRAWN_PER_KEPT,
        MIN_CHUNKS_BEFORE_GIVING_UP,
        _check_progress,
    )

    cfg = SimConfig.from_dict({"n": 1000, "mag_limit": 12.0, "chunk_size": 100})
    few = MIN_CHUNKS_BEFORE_GIVING_UP
    _check_progress(cfg, few - 1, (few - 1) * 100, 0)  # too early to tell: no error
    with pytest.raises(ZcellsInputError, match="no galaxy passes r <= 12.0"):
        _check_progress(cfg, few, few * 100, 0)
    drawn = few * 100
    _check_progress(cfg, few, drawn, drawn // MAX_DRAWN_PER_KEPT)  # rare, but reachable
    with pytest.raises(ZcellsInputError, match=r"only 1 of \d+ simulated galaxies pass r <= 12.0"):
        _check_progress(cfg, few * 4, drawn * 4, 1)


def test_refuses_foreign_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ZcellsInputError, match="not an earlier"):
        simulate(SimConfig.from_dict({"n": 5}), tmp_path, progress=False)
    assert (tmp_path / "keep.txt").read_text() == "precious"


# ----------------------------------------------------------------------------- renderer
def test_batch_renderer_matches_galsim():
    """The Fourier batch renderer equals GalSim's own drawImage of the same galaxy."""
    from compute.simulate.galaxy import draw_galaxies, galsim_galaxy, render_noiseless
    from compute.simulate.run import build_context

    cfg = SimConfig.from_dict({"n": 10})
    ctx = build_context(cfg)
    rng = np.random.default_rng(11)
    z, m = ctx.population.draw(rng, 40)
    gal = draw_galaxies(rng, z, m, cfg, ctx.sed, ctx.cosmo)
    pick = np.argsort(-gal.n_clumps)[:3]  # galaxies with clumps
    from compute.simulate.run import _subset

    sub = _subset(gal, pick)
    imgs = render_noiseless(sub, 64)
    for i in range(len(sub)):
        for ib in (0, 2, 4):
            ref = galsim_galaxy(sub, i, ib).drawImage(nx=64, ny=64, scale=1.0, offset=(0.5, 0.5)).array
            assert np.max(np.abs(imgs[i, ib] - ref)) < 2e-3 * ref.max()


def test_kolmogorov_transfer_function_is_galsims():
    """The analytic PSF transfer function equals GalSim's Kolmogorov kValue (any FWHM)."""
    import galsim

    from compute.simulate.profiles import kolmogorov_ft

    for fwhm in (2.5, 3.4, 5.0):
        k = np.linspace(0.0, 3.0, 61)
        ref = np.array([galsim.Kolmogorov(fwhm=fwhm).kValue(x, 0.0).real for x in k])
        got = kolmogorov_ft(((k * fwhm) ** (5.0 / 3.0)).astype(np.float32))
        assert np.max(np.abs(got - ref)) < 1e-6


def test_add_noise_has_the_requested_variance():
    from compute.simulate.render import add_noise

    img = np.zeros((20, 5, 64, 64), np.float32)
    var = np.broadcast_to(np.array([1.0, 4.0, 0.25, 9.0, 2.0])[None, :, None, None], img.shape)
    add_noise(img, var, 17)
    got = img.var(axis=(0, 2, 3))
    assert np.allclose(got, [1.0, 4.0, 0.25, 9.0, 2.0], rtol=0.02)
    assert abs(img.mean()) < 0.01
    again = np.zeros_like(img)
    add_noise(again, var, 17)
    assert np.array_equal(img, again)


# ----------------------------------------------------------------------------- photometry
def _single_component(kind: str, n: int, seed: int):
    """Pure exponential or pure deV galaxies with known fluxes, noisy images, measurements."""
    from compute.simulate.galaxy import Galaxies, render_noiseless
    from compute.simulate.photometry import measure
    from compute.simulate.render import NoiseModel, add_noise

    cfg = SimConfig()
    rng = np.random.default_rng(seed)
    zero = np.zeros((n, 5))
    mags = rng.uniform(15.5, 17.5, n)[:, None] + np.array([1.5, 0.5, 0.0, -0.3, -0.5])[None]
    flux = 10 ** (-0.4 * (mags - 22.5))
    hlr = rng.uniform(1.5, 4.0, n)
    gal = Galaxies(
        z=np.full(n, 0.1), abs_r=np.full(n, -21.0), red=np.zeros(n, bool), bt_rest=np.zeros(n),
        type_bulge=np.zeros(n), type_disk=np.ones(n), type_disk_inner=np.ones(n),
        type_disk_outer=np.ones(n), av_disk=np.zeros(n), cos_incl=np.ones(n),
        hlr_bulge=hlr, q_bulge=rng.uniform(0.5, 1.0, n), hlr_disk=hlr / 0.65,
        q_disk=rng.uniform(0.3, 1.0, n), beta=rng.uniform(0, np.pi, n),
        clump_frac=np.zeros(n), n_clumps=np.zeros(n, int), clump_dx=np.zeros((n, 6)),
        clump_dy=np.zeros((n, 6)), clump_sigma=np.ones(n), clump_weight=np.zeros((n, 6)),
        flux_bulge=flux if kind == "dev" else zero, flux_disk_in=flux if kind == "exp" else zero,
        flux_disk_out=zero, flux_clumps=zero,
        fwhm=np.array([[cfg.psf_fwhm[b] for b in BANDS]]) / cfg.pixel_scale * rng.uniform(0.9, 1.1, (n, 1)),
    )
    noise = NoiseModel.from_depths(BANDS, cfg.depth5, cfg.sky_sb, cfg.psf_fwhm, cfg.pixel_scale)
    img = render_noiseless(gal, 64)
    var = np.stack([noise.variance(b, img[:, i]) for i, b in enumerate(BANDS)], 1)
    add_noise(img, var, seed)
    return flux, measure(img, gal.fwhm, BANDS, noise), img


@pytest.mark.parametrize("kind", ["exp", "dev"])
def test_model_mag_recovers_single_component_fluxes(kind):
    flux, m, _ = _single_component(kind, 160, seed=5 if kind == "exp" else 6)
    pull = (m.model_flux - flux) / m.model_err
    assert np.mean(m.best_is_dev) == pytest.approx(1.0 if kind == "dev" else 0.0, abs=0.1)
    for ib, b in enumerate(BANDS):
        p = pull[:, ib]
        assert abs(np.median(p)) < 0.35, (b, np.median(p))
        width = 1.4826 * np.median(np.abs(p - np.median(p)))
        assert 0.7 < width < 1.35, (b, width)


def _reference_petrosian_fraction(prof) -> float:
    """Petrosian flux fraction from a 4x oversampled image and fine annuli (independent)."""
    over = 4
    img = prof.drawImage(nx=64 * over, ny=64 * over, scale=1.0 / over, method="no_pixel").array
    c = 64 * over / 2 - 0.5
    y, x = np.mgrid[0:64 * over, 0:64 * over]
    rad = np.hypot(x - c, y - c) / over
    order = np.argsort(rad.ravel())
    r_sorted = rad.ravel()[order]
    cum = np.cumsum(img.ravel()[order]) / over**2

    def within(r):
        return np.interp(r, r_sorted, cum)

    radii = np.linspace(0.5, 25.0, 2000)
    sb_ann = (within(1.25 * radii) - within(0.8 * radii)) / (np.pi * (1.25**2 - 0.8**2) * radii**2)
    sb_in = within(radii) / (np.pi * radii**2)
    r_p = radii[np.argmax(sb_ann / sb_in < 0.2)]
    return float(within(min(2 * r_p, 31.5)) / cum[-1])


@pytest.mark.parametrize("kind, hlr", [("exp", 4.0), ("dev", 3.0), ("dev", 1.5)])
def test_petrosian_matches_reference(kind, hlr):
    """Petrosian fluxes (eta = 0.2, 2 r_P) of noise-free galaxies equal an oversampled
    reference; the exponential captures ~99%, the (truncated, seeing-blurred) deV less."""
    import galsim

    from compute.simulate.photometry import petrosian
    from compute.simulate.profiles import galsim_profile

    prof = galsim.Convolve(galsim_profile(kind, hlr, 1.0, 0.0, 100.0), galsim.Kolmogorov(fwhm=3.4))
    img = prof.drawImage(nx=64, ny=64, scale=1.0, offset=(0.5, 0.5)).array
    f, _ = petrosian(img[None])
    ref = _reference_petrosian_fraction(galsim.Convolve(prof, galsim.Pixel(1.0)))
    assert f[0] / 100.0 == pytest.approx(ref, abs=0.02)
    assert (ref > 0.97) if kind == "exp" else (0.8 < ref < 0.99)


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("sim")
    cfg = {"n": 150, "seed": 7, "chunk_size": 90}
    a = simulate(SimConfig.from_dict({**cfg, "workers": 1}), base / "a", progress=False)
    b = simulate(SimConfig.from_dict({**cfg, "workers": 2}), base / "b", progress=False)
    return a, b


def test_output_contract(small_run):
    out, _ = small_run
    cat = pd.read_parquet(out / "catalog.parquet")
    truth = pd.read_parquet(out / "truth.parquet")
    expected = ["objid", "ra", "dec", "zspec", *BANDS, *[f"err_{b}" for b in BANDS],
                "cmodel_r", "petro_r", "frac_dev_r", "exp_ab_r"]
    assert list(cat.columns) == expected
    assert "split" not in cat.columns
    assert cat["objid"].dtype == np.int64 and cat["objid"].is_unique
    assert len(cat) == 150  # n counts the galaxies in the catalogue
    assert (cat["petro_r"] <= 17.8).all()
    assert cat[expected].notna().all().all()
    assert cat["zspec"].between(0.0, 0.41).all()
    assert cat["frac_dev_r"].between(0, 1).all() and cat["exp_ab_r"].between(0, 1).all()
    assert (truth["objid"].to_numpy() == cat["objid"].to_numpy()).all()
    cube = open_cube(out)
    assert cube.images.shape == (len(cat), 5, 64, 64) and cube.bands == BANDS
    assert (cube.objid == cat["objid"].to_numpy()).all()
    assert cube.meta["pixel_scale_arcsec"] == pytest.approx(0.396)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 7 and prov["config"]["n"] == 150
    counts = prov["counts"]
    assert counts["kept"] == 150 and counts["passed_cut"] >= 150
    assert counts["simulated"] == 90 * counts["chunks"] and counts["chunks"] >= 2
    # every chunk but the last was needed: the catalogue ends inside the last chunk
    assert counts["passed_cut"] - 150 < counts["passed_cut"] / counts["chunks"] * 2
    # the image sum in a big aperture agrees with the measured model flux (r band)
    flux_r = 10 ** (-0.4 * (cat["r"].to_numpy() - 22.5))
    total = cube.images[:, 2].sum(axis=(1, 2))
    assert np.median(total / flux_r) == pytest.approx(1.0, abs=0.08)
    # no temporary files left next to the output
    assert sorted(p.name for p in out.parent.iterdir()) == ["a", "b"]


def test_deterministic_and_independent_of_workers(small_run):
    a, b = small_run
    ca, cb = pd.read_parquet(a / "catalog.parquet"), pd.read_parquet(b / "catalog.parquet")
    pd.testing.assert_frame_equal(ca, cb)
    ia, ib = open_cube(a).images, open_cube(b).images
    assert np.array_equal(np.asarray(ia), np.asarray(ib))


def test_smaller_n_is_a_prefix(small_run, tmp_path):
    """A survey of fewer galaxies is the start of the bigger one (same seed and chunks)."""
    a, _ = small_run
    c = simulate(SimConfig.from_dict({"n": 40, "seed": 7, "chunk_size": 90}), tmp_path / "c",
                 progress=False)
    big, small = pd.read_parquet(a / "catalog.parquet"), pd.read_parquet(c / "catalog.parquet")
    assert len(small) == 40
    pd.testing.assert_frame_equal(small, big.iloc[:40])
    assert np.array_equal(np.asarray(open_cube(c).images), np.asarray(open_cube(a).images)[:40])


def test_render_grid_is_big_enough_for_the_stamp():
    """Large galaxies drawn on the chosen FFT grid equal the same galaxies on a huge grid."""
    from compute.simulate.galaxy import (
        draw_galaxies,
        extent_pixels,
        fits_grid,
        kgrid,
        render_grid_sizes,
        render_noiseless,
        render_on,
    )
    from compute.simulate.run import _subset, build_context

    cfg = SimConfig.from_dict({"n": 10})
    ctx = build_context(cfg)
    rng = np.random.default_rng(5)
    z, m = ctx.population.draw(rng, 400)
    gal = draw_galaxies(rng, z, m, cfg, ctx.sed, ctx.cosmo)
    need = extent_pixels(gal)
    sizes = render_grid_sizes(64)
    # for each grid size, the galaxies that just fit it (and not the next smaller one)
    picks = []
    for lo, hi in zip(sizes[:-1], sizes[1:], strict=True):
        ok = np.nonzero(fits_grid(need, hi, 64) & ~fits_grid(need, lo, 64))[0]
        picks.extend(ok[:2])
    assert len(picks) >= 6
    sub = _subset(gal, np.array(picks))
    imgs = render_noiseless(sub, 64)
    ref = render_on(sub, np.arange(len(sub)), kgrid(384), 64)
    peak = ref.max(axis=(2, 3), keepdims=True)
    assert np.max(np.abs(imgs - ref) / peak) < 2e-4


def test_frac_dev_tracks_true_bt(small_run):
    from scipy.stats import spearmanr

    out, _ = small_run
    cat = pd.read_parquet(out / "catalog.parquet")
    truth = pd.read_parquet(out / "truth.parquet")
    rho = spearmanr(cat["frac_dev_r"], truth["bt_r"]).statistic
    assert rho > 0.7, rho
    # and the exponential axis ratio tracks the true disk axis ratio for disk-dominated ones
    disky = truth["bt_r"] < 0.3
    rho_q = spearmanr(cat.loc[disky, "exp_ab_r"], truth.loc[disky, "q_disk"]).statistic
    assert rho_q > 0.5, rho_q


# ----------------------------------------------------------------------------- command
def test_command_parser_and_bad_config(tmp_path):
    from compute.simulate import command

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    command.add_parser(sub)
    args = parser.parse_args(["simulate", "--n", "30", "--seed", "1", "--out", str(tmp_path / "o"),
                              "--workers", "1", "--no-progress"])
    assert args.n == 30 and args.workers == 1 and args.no_progress
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"n": 10, "colour": "red"}))
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "o2"), "--config", str(bad)])
    with pytest.raises(ZcellsInputError, match="colour"):
        command.run(args)
    args = parser.parse_args(["simulate", "--n", "-3", "--out", str(tmp_path / "o3")])
    with pytest.raises(ZcellsInputError, match="n must be >= 1"):
        command.run(args)
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
    good = tmp_path / "good.toml"
    good.write_text("n = 60\nseed = 4\nchunk_size = 30\n")
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "ok"), "--config", str(good),
                              "--seed", "9", "--no-progress"])
    assert command.run(args) == 0
    prov = json.loads((tmp_path / "ok" / "provenance.json").read_text())
    assert prov["seed"] == 9 and prov["config"]["n"] == 60 and prov["config"]["workers"] >= 1
