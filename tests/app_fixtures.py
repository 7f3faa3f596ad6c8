"""Small, self-consistent synthetic artifacts for the app's tests and benchmark."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compute import metrics
from compute.artifacts import CELL_COLUMNS, ArtifactSet, write

#: methods treated as "deep learning on pixels" (steep per-cell slopes, a p(z))
_DEEP = ("cnn", "encapzulate", "pasquet")
MIN_N = 10
N_REPRESENTATIVES = 8
IMAGE_SIZE = 32


def _fit_line(zs: np.ndarray, zp: np.ndarray, clip: float = 3.0) -> dict[str, Any]:
    """Least squares with iterative sigma clipping (a stand-in for the LTS fit)."""
    keep = np.ones(zs.size, bool)
    for _ in range(5):
        x, y = zs[keep], zp[keep]
        if x.size < 3 or np.ptp(x) == 0:
            return {"ok": False, "keep": keep}
        (b, a), cov = np.polyfit(x, y, 1, cov=True)
        resid = zp - (a + b * zs)
        s = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
        new = np.abs(resid) <= clip * max(s, 1e-6)
        if np.array_equal(new, keep):
            break
        keep = new
    return {"ok": True, "keep": keep, "a": float(a), "b": float(b),
            "a_err": float(np.sqrt(cov[1, 1])), "b_err": float(np.sqrt(cov[0, 0])),
            "sig_int": float(max(s, 0.0))}


def cell_statistics(galaxies: pd.DataFrame, methods: tuple[str, ...], ncell: int,
                    shape: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (cell, method) statistics of the in-sample galaxies, and the clipped flags.

    Returns
    -------
    cells : DataFrame
        One row per (cell, method) with every column of ``CELL_COLUMNS``.
    clipped : DataFrame
        ``clipped_<method>`` boolean columns aligned with ``galaxies``.
    """
    nx, ny = shape
    rows = []
    clipped = pd.DataFrame({f"clipped_{m}": np.zeros(len(galaxies), bool) for m in methods})
    ins = galaxies["in_sample"].to_numpy()
    cell_arr = galaxies["cell"].to_numpy()
    order = np.argsort(cell_arr, kind="stable")
    offsets = np.searchsorted(cell_arr[order], np.arange(ncell + 1))
    zs_all = galaxies["zspec"].to_numpy(np.float64)
    bt_all = galaxies["bt"].to_numpy(np.float64)
    for cell in range(ncell):
        idx = order[offsets[cell]:offsets[cell + 1]]
        idx = idx[ins[idx]]
        for m in methods:
            zp_all = galaxies[f"zphot_{m}"].to_numpy(np.float64)
            ok = np.isfinite(zp_all[idx])
            sel = idx[ok]
            zs, zp = zs_all[sel], zp_all[sel]
            n = int(sel.size)
            rec: dict[str, Any] = {c: np.nan for c in CELL_COLUMNS}
            rec.update(cell=cell, cell_x=cell // ny, cell_y=cell % ny, method=m, n=n,
                       mean_zspec=float(zs.mean()) if n else np.nan,
                       mean_bt=float(np.nanmean(bt_all[sel])) if n else np.nan,
                       n_clipped=0, status="ok")
            fit = _fit_line(zs, zp) if n >= MIN_N else {"ok": False}
            if n < MIN_N:
                rec["status"] = "too_few"
            elif not fit["ok"]:
                rec["status"] = "degenerate"
            else:
                a, b = fit["a"], fit["b"]
                zfit = a + b * zs
                rec.update(
                    sigma_nmad=metrics.sigma_nmad(zs, zp),
                    outlier_fraction=metrics.outlier_fraction(zs, zp),
                    bias=metrics.bias(zs, zp),
                    sigma_atten=metrics.nmad(zs, zfit),
                    sigma_scatter=metrics.nmad(zfit, zp),
                    slope=b, intercept=a, slope_err=fit["b_err"], intercept_err=fit["a_err"],
                    theta_deg=float(np.degrees(np.arctan(b))),
                    theta_err=float(np.degrees(fit["b_err"] / (1 + b * b))),
                    sig_int=fit["sig_int"], n_clipped=int((~fit["keep"]).sum()),
                )
                clipped.loc[sel[~fit["keep"]], f"clipped_{m}"] = True
            rows.append(rec)
    cells = pd.DataFrame(rows, columns=list(CELL_COLUMNS))
    cells["n"] = cells["n"].astype(np.int64)
    cells["n_clipped"] = cells["n_clipped"].astype(np.int64)
    return cells, clipped


def _u_matrix(weights: np.ndarray) -> np.ndarray:
    nx, ny, _ = weights.shape
    out = np.zeros((nx, ny))
    for i in range(nx):
        for j in range(ny):
            d = [np.linalg.norm(weights[i, j] - weights[a, b])
                 for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
                 if 0 <= a < nx and 0 <= b < ny]
            out[i, j] = np.mean(d)
    return out


def _render(bt: float, z: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """A toy ugriz image: a bulge plus a bluer disk, fainter at higher z."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(xx, yy * 1.3)
    scale = 1.0 / (1 + 8 * z)
    bulge = np.exp(-(r / (2.0 * scale + 0.5)) ** 0.5 * 3)
    disk = np.exp(-r / (5.0 * scale + 1))
    red = np.array([0.2, 0.5, 1.0, 1.2, 1.3])
    blue = np.array([0.6, 0.9, 1.0, 0.9, 0.8])
    img = bt * red[:, None, None] * bulge + (1 - bt) * blue[:, None, None] * disk
    return (img * 10 + rng.normal(0, 0.05, img.shape)).astype(np.float32)


def make_artifacts(out_dir: str | os.PathLike[str], n_galaxies: int = 5000,
                   shape: tuple[int, int] = (6, 8), methods: tuple[str, ...] = ("rf", "cnn"),
                   seed: int = 0, simulated: bool = True, test_fraction: float = 0.3) -> Path:
    """Write a consistent synthetic artifacts folder and return its path.

    Mean z_spec rises with ``cell_x`` and mean B/T with ``cell_y``, as in the paper's SOM;
    classical methods (anything not in ``_DEEP``) have flatter per-cell slopes that get
    steeper with B/T. The last column's first cell is nearly empty (status ``too_few``).
    Simulated sets get ``true_`` columns and a small image cube of representative galaxies.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    nx, ny = shape
    ncell = nx * ny
    w = rng.uniform(0.5, 1.5, ncell)
    w[(nx - 1) * ny] = 0.0002 * ncell  # nearly empty cell -> too_few
    cell = rng.choice(ncell, size=n_galaxies, p=w / w.sum())
    cx, cy = cell // ny, cell % ny
    zspec = np.clip(0.02 + 0.33 * (cx + rng.uniform(0, 1, n_galaxies)) / nx
                    + rng.normal(0, 0.01, n_galaxies), 0.003, 0.4)
    bt = np.clip((cy + rng.uniform(0, 1, n_galaxies)) / ny + rng.normal(0, 0.05, n_galaxies), 0, 1)
    objid = np.int64(1237650000000000000) + rng.choice(10 * n_galaxies, n_galaxies, replace=False)
    split = np.where(rng.uniform(size=n_galaxies) < test_fraction, "test", "train")
    g = pd.DataFrame({
        "objid": objid.astype(np.int64),
        "ra": rng.uniform(120, 240, n_galaxies), "dec": rng.uniform(-5, 60, n_galaxies),
        "zspec": zspec, "split": split, "cell": cell.astype(np.int64),
        "cell_x": cx.astype(np.int64), "cell_y": cy.astype(np.int64), "bt": bt,
        "in_sample": split == "test",
    })
    g["u_r"] = (1.2 + 1.6 * bt + 3 * zspec + rng.normal(0, 0.1, n_galaxies)).astype(np.float32)
    g["g_r"] = (0.4 + 0.4 * bt + 1.5 * zspec + rng.normal(0, 0.05, n_galaxies)).astype(np.float32)
    g["r_i"] = (0.2 + 0.2 * bt + 0.8 * zspec + rng.normal(0, 0.03, n_galaxies)).astype(np.float32)
    g["r_z"] = (0.3 + 0.35 * bt + 1.2 * zspec + rng.normal(0, 0.04, n_galaxies)).astype(np.float32)
    g["r"] = rng.uniform(14, 17.8, n_galaxies).astype(np.float32)
    g["qdist"] = np.abs(rng.normal(0, 0.3, n_galaxies)).astype(np.float32)
    cell_mean_z = pd.Series(zspec).groupby(cell).transform("mean").to_numpy()
    for m in methods:
        deep = m in _DEEP
        b = 0.93 + 0.04 * bt if deep else 0.45 + 0.45 * bt
        s = (0.011 if deep else 0.017) * (1 + zspec)
        zp = cell_mean_z + b * (zspec - cell_mean_z) + rng.normal(0, 1, n_galaxies) * s
        out_mask = rng.uniform(size=n_galaxies) < (0.005 if deep else 0.015)
        zp[out_mask] = rng.uniform(0, 0.5, out_mask.sum())
        zp = np.clip(zp, 0, 0.6).astype(np.float32)
        zp[rng.uniform(size=n_galaxies) < 0.002] = np.nan  # a few not predicted
        g[f"zphot_{m}"] = zp
        g[f"pit_{m}"] = (rng.uniform(size=n_galaxies).astype(np.float32) if deep
                         else np.full(n_galaxies, np.nan, np.float32))
    if simulated:
        g["true_bt"] = np.clip(bt + rng.normal(0, 0.03, n_galaxies), 0, 1)
        g["true_z"] = zspec
    cells, clipped = cell_statistics(g, methods, ncell, shape)
    for m in methods:
        g[f"clipped_{m}"] = clipped[f"clipped_{m}"].to_numpy()
    order = np.argsort(cell, kind="stable").astype(np.int64)
    offsets = np.searchsorted(cell[order], np.arange(ncell + 1)).astype(np.int64)
    reps = []
    for c in range(ncell):
        idx = order[offsets[c]:offsets[c + 1]]
        idx = idx[np.argsort(g["qdist"].to_numpy()[idx], kind="stable")][:N_REPRESENTATIVES]
        reps += [(c, r, int(i), int(objid[i])) for r, i in enumerate(idx)]
    representatives = pd.DataFrame(reps, columns=["cell", "rank", "row", "objid"])
    feats = ["u_r", "g_r", "r_i", "r_z"]
    X = g[feats].to_numpy(np.float64)
    fmean, fstd = X.mean(0), X.std(0)
    weights = np.zeros((nx, ny, 4))
    for c in range(ncell):
        idx = order[offsets[c]:offsets[c + 1]]
        weights[c // ny, c % ny] = ((X[idx] - fmean) / fstd).mean(0) if idx.size else 0
    occ = np.bincount(cell, minlength=ncell).reshape(nx, ny)
    occ_test = np.bincount(cell[split == "test"], minlength=ncell).reshape(nx, ny)
    som = {
        "weights": weights, "shape": np.array([nx, ny]), "feature_names": np.array(feats),
        "feature_mean": fmean, "feature_std": fstd, "u_matrix": _u_matrix(weights),
        "occupancy": occ, "occupancy_train": occ - occ_test, "occupancy_test": occ_test,
        "quantization_error": np.array(0.21), "topographic_error": np.array(0.034),
    }
    ins = g["in_sample"].to_numpy()
    gm: dict[str, Any] = {"sample": "test", "methods": {}}
    for m in methods:
        zs, zp = g.loc[ins, "zspec"].to_numpy(), g.loc[ins, f"zphot_{m}"].to_numpy(np.float64)
        ok = np.isfinite(zp)
        fit = _fit_line(zs[ok], zp[ok])
        zfit = fit["a"] + fit["b"] * zs[ok]
        gm["methods"][m] = {
            "n": int(ok.sum()), "sigma_nmad": metrics.sigma_nmad(zs, zp),
            "outlier_fraction": metrics.outlier_fraction(zs, zp), "bias": metrics.bias(zs, zp),
            "slope": fit["b"], "intercept": fit["a"],
            "theta_deg": float(np.degrees(np.arctan(fit["b"]))),
            "theta_err": float(np.degrees(fit["b_err"] / (1 + fit["b"] ** 2))),
            "sigma_atten": metrics.nmad(zs[ok], zfit), "sigma_scatter": metrics.nmad(zfit, zp[ok]),
        }
    pz: dict[str, dict[str, np.ndarray]] = {}
    edges = np.linspace(0, 0.6, 41)
    for m in methods:
        if m in _DEEP:
            rows = np.flatnonzero(ins)
            centres = 0.5 * (edges[1:] + edges[:-1])
            zp = np.nan_to_num(g[f"zphot_{m}"].to_numpy()[rows], nan=0.2)
            p = np.exp(-0.5 * ((centres[None, :] - zp[:, None]) / 0.02) ** 2)
            pz[m] = {"rows": rows, "pz": (p / p.sum(1, keepdims=True)).astype(np.float16),
                     "edges": edges}
    manifest = {
        "config": {"som": {"shape": f"{nx}x{ny}", "backend": "synthetic"},
                   "lts": {"clip": 3.0, "min_n": MIN_N}, "split": {"test_fraction": test_fraction}},
        "input": {"path": "synthetic", "sha256": "0" * 64, "n_rows": n_galaxies},
        "catalog": {"report": [f"{n_galaxies} galaxies generated (seed {seed})",
                               f"{int((split == 'test').sum())} in the test set"],
                    "cuts": {"petro_r <= 17.8": 0, "zspec <= 0.4": 0}},
        "methods": {m: {"kind": "deep" if m in _DEEP else "classical", "has_pz": m in _DEEP}
                    for m in methods},
        "som": {"quality": {"quantization_error": 0.21, "topographic_error": 0.034}},
        "packages": {"numpy": np.__version__, "pandas": pd.__version__},
        "timings": {"catalog": 0.1, "methods": 1.2, "som": 0.4, "fits": 0.3},
        "source": "simulated" if simulated else "sdss",
        "images": "images" if simulated else None,
        "citation": {"paper": "Moran, Andrews, Newman & Dey 2025, "
                              "Deep Learning Improves Photometric Redshifts in All Regions of Color Space"},
    }
    art = ArtifactSet(galaxies=g, cells=cells, som=som, global_metrics=gm, members_order=order,
                      members_offsets=offsets, representatives=representatives, pz=pz,
                      manifest=manifest)
    path = write(art, out)
    if simulated:
        from compute.imagecube import create_cube, write_ids

        rep_rows = representatives["row"].to_numpy()
        cube = create_cube(path / "images", len(rep_rows), ["u", "g", "r", "i", "z"], IMAGE_SIZE,
                           {"pixscale": 0.396, "source": "synthetic"})
        for k, row in enumerate(rep_rows):
            cube[k] = _render(float(bt[row]), float(zspec[row]), rng, IMAGE_SIZE)
        cube.flush()
        del cube
        write_ids(path / "images", objid[rep_rows])
    return path


class ServerThread:
    """Serve a WSGI app on 127.0.0.1 (free port) in a background thread; use as a context manager."""

    def __init__(self, wsgi_app: Any, threaded: bool = True) -> None:
        import threading

        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, wsgi_app, threaded=threaded)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


# --------------------------------------------------------------------------- pytest helpers

try:
    import pytest
except ImportError:  # the generator is also used by the benchmark, without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def artifacts_dir(tmp_path_factory: Any) -> Path:
        """Small simulated artifacts, built once per test session."""
        return make_artifacts(tmp_path_factory.mktemp("app") / "artifacts", n_galaxies=5000)

    @pytest.fixture(scope="session")
    def real_artifacts_dir(tmp_path_factory: Any) -> Path:
        """Small "real-data" artifacts (source sdss, no image cube), built once per session."""
        return make_artifacts(tmp_path_factory.mktemp("app_real") / "artifacts", n_galaxies=2000,
                              shape=(4, 5), simulated=False, seed=1)

    @pytest.fixture(scope="session")
    def dash_app(artifacts_dir: Path, tmp_path_factory: Any) -> Any:
        """The app on the simulated artifacts, its caches in a temporary folder."""
        from app.factory import create_app

        tmp = tmp_path_factory.mktemp("app_cache")
        return create_app(artifacts_dir, cache_dir=str(tmp / "cache"),
                          cutout_cache_dir=str(tmp / "cutouts"),
                          cutout_base_url=f"http://127.0.0.1:{free_port()}/offline",
                          cutout_timeout=1.0)

    @pytest.fixture()
    def client(dash_app: Any) -> Any:
        """A Flask test client of :func:`dash_app` (the first GET registers the pages router)."""
        c = dash_app.server.test_client()
        c.get("/")
        return c


def render_page(client: Any, path: str, search: str = "", selected: Any = None,
                named: Any = None) -> Any:
    """POST the pages router callback like the browser does; returns the Flask response."""
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "state": [{"id": "selected-cell", "property": "data", "value": selected},
                  {"id": "named-cells", "property": "data", "value": named}],
        "changedPropIds": ["_pages_location.pathname"],
    }
    return client.post("/_dash-update-component", json=body)


def collect_text(node: Any) -> str:
    """All text in a serialised Dash component tree, space separated."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, list):
        return " ".join(collect_text(n) for n in node)
    if isinstance(node, dict):
        props = node.get("props", {})
        return collect_text(props.get("children")) if "props" in node else ""
    return ""


def find_by(node: Any, key: str, value: Any) -> list[dict[str, Any]]:
    """Components in a serialised tree whose prop ``key`` equals ``value``."""
    out: list[dict[str, Any]] = []
    if isinstance(node, list):
        for n in node:
            out += find_by(n, key, value)
    elif isinstance(node, dict) and "props" in node:
        if node["props"].get(key) == value:
            out.append(node)
        for v in node["props"].values():
            if isinstance(v, (list, dict)):
                out += find_by(v, key, value)
    return out
