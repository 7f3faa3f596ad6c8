"""Training loop of the CNN: early stopping, fingerprinted checkpoints with resume, JSON-lines log."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from compute.atomic import write_atomic
from compute.errors import ZcellsInputError
from compute.metrics import sigma_nmad

from .data import ImageStore, augment
from .options import CNNOptions
from .predict import predict_pz, summarise

CHECKPOINT_FORMAT = "zcells-cnn-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
WEIGHTS_FILE = "weights.pt"
LOG_FILE = "log.jsonl"


@dataclass
class Runtime:
    """Where and how the network runs.

    Attributes
    ----------
    device : torch.device
        Compute device.
    amp : bool
        bf16 autocast.
    compile : bool
        Try ``torch.compile`` (falls back to eager on failure).
    """

    device: torch.device
    amp: bool
    compile: bool

    @classmethod
    def resolve(cls, options: CNNOptions, context_device: str = "auto") -> Runtime:
        """Pick the device (option, else the pipeline's, else CUDA when available) and switches.

        Raises
        ------
        ZcellsInputError
            If CUDA is asked for but not available.
        """
        name = options.device if options.device != "auto" else context_device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "cuda" and not torch.cuda.is_available():
            raise ZcellsInputError(
                "cnn: device 'cuda' requested but CUDA is not available; use device=cpu"
            )
        device = torch.device(name)
        cuda = device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        amp = options.amp == "on" or (options.amp == "auto" and cuda)
        comp = options.compile == "on" or (options.compile == "auto" and cuda)
        return cls(device=device, amp=amp, compile=comp)


class GuardedForward:
    """Call a model through ``torch.compile`` when asked, falling back to eager on failure.

    Compilation happens lazily at the first call (and the first backward), so the caller
    runs its first step through :meth:`first_step_guard` semantics: on an exception while
    the compiled path is unverified, :meth:`fallback` switches to eager and the step is redone.
    """

    def __init__(self, model: nn.Module, compile: bool) -> None:
        self.model = model
        self.compiled: Any = None
        self.verified = False
        self.inference_verified = False
        self.error: str | None = None
        if compile:
            try:
                self.compiled = torch.compile(model, dynamic=False)
            except Exception as exc:  # noqa: BLE001 - any compile failure means eager
                self.fallback(exc)

    @property
    def is_compiled(self) -> bool:
        """Whether calls currently go through the compiled module."""
        return self.compiled is not None

    def fallback(self, exc: BaseException) -> None:
        """Give up on the compiled module and remember why."""
        self.compiled = None
        self.error = f"{type(exc).__name__}: {exc}"[:500]
        warnings.warn(
            f"cnn: torch.compile failed, running eager ({self.error})", RuntimeWarning, stacklevel=2
        )

    def __call__(self, images: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        if self.compiled is None:
            return self.model(images, feats)  # type: ignore[no-any-return]
        if torch.is_grad_enabled() or self.inference_verified:
            return self.compiled(images, feats)  # type: ignore[no-any-return]
        try:  # first inference call compiles a no-grad graph: guard it too
            out = self.compiled(images, feats)
        except Exception as exc:  # noqa: BLE001 - any compile failure means eager
            self.fallback(exc)
            return self.model(images, feats)  # type: ignore[no-any-return]
        self.inference_verified = True
        return out  # type: ignore[no-any-return]


def make_optimiser(
    model: nn.Module, options: CNNOptions, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW (fused on CUDA)."""
    kw: dict[str, Any] = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay, **kw
    )


def train_step(
    forward: GuardedForward,
    optimiser: torch.optim.Optimizer,
    images: torch.Tensor,
    feats: torch.Tensor | None,
    labels: torch.Tensor,
    amp: bool,
) -> torch.Tensor:
    """One optimiser step of cross-entropy over the redshift classes; returns the detached loss.

    Guards the compiled path: the first failing step with an unverified compiled module
    falls back to eager and is redone.
    """

    def step() -> torch.Tensor:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = forward(images, feats)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        return loss

    if forward.is_compiled and not forward.verified:
        try:
            loss = step()
        except Exception as exc:  # noqa: BLE001 - compile/runtime failure of inductor
            forward.fallback(exc)
            loss = step()
        forward.verified = True
    else:
        loss = step()
    optimiser.step()
    return loss.detach()


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of a JSON-serialisable description of the configuration and the data."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, then rename over ``path``."""
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path: Path, expected_fingerprint: str | None = None) -> dict[str, Any]:
    """Load a checkpoint or weights file and check it is ours and (optionally) current.

    Raises
    ------
    ZcellsInputError
        If the file is unreadable, not a zcells CNN checkpoint, of another format version, or
        was made for another configuration/data set (fingerprint mismatch).
    """
    path = Path(path)
    if not path.is_file():
        raise ZcellsInputError(f"cnn: checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means corrupt
        raise ZcellsInputError(
            f"cnn: checkpoint {path} is unreadable or corrupt ({type(exc).__name__}); delete it to retrain"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ZcellsInputError(f"cnn: {path} is not a zcells CNN checkpoint")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise ZcellsInputError(
            f"cnn: checkpoint {path} has format version {ckpt.get('version')}, expected {CHECKPOINT_VERSION}"
        )
    if expected_fingerprint is not None and ckpt.get("fingerprint") != expected_fingerprint:
        raise ZcellsInputError(
            f"cnn: checkpoint {path} is stale: it was made for another configuration or data set "
            f"(fingerprint {str(ckpt.get('fingerprint'))[:12]} vs {expected_fingerprint[:12]}); "
            "delete it to retrain"
        )
    return ckpt  # type: ignore[no-any-return]


@dataclass
class FitData:
    """Positions in an :class:`ImageStore` and labels for training and validation.

    Attributes
    ----------
    store : ImageStore
        Normalised images (and features) of every row in use.
    labels : torch.Tensor
        int64 class per store position (-1 where unused), on the compute device.
    train_pos, val_pos : numpy.ndarray
        Store positions used for gradient steps and for early stopping.
    val_zspec : numpy.ndarray
        Spectroscopic redshifts of ``val_pos``.
    edges : numpy.ndarray
        Redshift bin edges.
    """

    store: ImageStore
    labels: torch.Tensor
    train_pos: np.ndarray
    val_pos: np.ndarray
    val_zspec: np.ndarray
    edges: np.ndarray


@dataclass
class FitResult:
    """Outcome of :func:`fit` (the best model is loaded into the model passed in)."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    best_val_sigma_nmad: float
    stop_reason: str
    resumed_from_epoch: int
    checkpoint_path: str
    weights_path: str
    log_path: str
    compiled: bool
    compile_error: str | None
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    forward: GuardedForward, data: FitData, options: CNNOptions, runtime: Runtime
) -> tuple[float, float]:
    """Validation loss (mean negative log p(z) at the true class) and sigma_NMAD."""
    pz = predict_pz(
        forward, data.store.batch, data.val_pos, options.batch_size, runtime.device, runtime.amp
    )
    labels = data.labels[torch.as_tensor(data.val_pos, device=data.labels.device)].cpu().numpy()
    p_true = pz[np.arange(len(labels)), labels].astype(np.float64)
    loss = float(np.mean(-np.log(np.maximum(p_true, 1e-12))))
    z = summarise(pz, data.edges).get(options.point_estimate)
    return loss, sigma_nmad(data.val_zspec, z)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def fit(
    model: nn.Module,
    data: FitData,
    options: CNNOptions,
    runtime: Runtime,
    run_dir: Path,
    fp: str,
    meta: dict[str, Any],
    seed: int = 0,
    progress: bool = False,
) -> FitResult:
    """Train ``model`` with early stopping, resuming from ``run_dir/checkpoint.pt`` when present.

    Parameters
    ----------
    model : nn.Module
        Freshly initialised network on ``runtime.device``; on return it holds the best weights.
    data : FitData
        Store, labels and train/validation positions.
    options : CNNOptions
        Epochs, batch size, optimiser settings, patience, augmentation.
    runtime : Runtime
        Device, autocast and compile switches.
    run_dir : Path
        Folder for ``checkpoint.pt`` (full state, every epoch), ``weights.pt`` (best model for
        inference, with provenance) and ``log.jsonl`` (one JSON object per epoch).
    fp : str
        Fingerprint of configuration and data; a checkpoint with another one is refused.
    meta : dict
        Saved into checkpoints: ``arch``, ``normaliser``, ``feature_scaler``, ``bands``,
        ``provenance``.
    seed : int
        Seeds the shuffling and augmentation streams.
    progress : bool
        Show a tqdm bar per epoch.
    """
    from tqdm.auto import tqdm

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, weights_path, log_path = (
        run_dir / CHECKPOINT_FILE,
        run_dir / WEIGHTS_FILE,
        run_dir / LOG_FILE,
    )
    device = runtime.device
    optimiser = make_optimiser(model, options, device)
    shuffle_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1)
    epoch, bad_epochs, resumed = 0, 0, 0
    best: dict[str, Any] = {
        "epoch": 0,
        "score": float("inf"),
        "val_loss": float("nan"),
        "val_sigma_nmad": float("nan"),
    }
    best_state = _state(model)
    history: list[dict[str, Any]] = []
    stop_reason = ""
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, fp)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        shuffle_gen.set_state(ckpt["rng"]["shuffle"])
        if ckpt["rng"].get("device") == device.type:
            aug_gen.set_state(ckpt["rng"]["augment"])
        else:  # resumed on another kind of device: a fresh (still seeded) augmentation stream
            aug_gen.manual_seed(seed + 1 + int(ckpt["epoch"]))
            warnings.warn(
                "cnn: resuming on another device type; augmentation stream reseeded",
                RuntimeWarning,
                stacklevel=2,
            )
        epoch, bad_epochs, best = int(ckpt["epoch"]), int(ckpt["bad_epochs"]), dict(ckpt["best"])
        best_state, history = ckpt["best_model"], list(ckpt["history"])
        stop_reason = str(ckpt.get("stop_reason", ""))
        resumed = epoch
    elif log_path.exists():
        log_path.unlink()  # a log without its checkpoint belongs to an abandoned run

    forward = GuardedForward(model, runtime.compile)
    train_pos = torch.as_tensor(np.asarray(data.train_pos, np.int64))
    n = len(train_pos)
    bs = min(options.batch_size, n)
    n_batches = max(1, n // bs)  # drop the ragged last batch: fixed shapes for compile
    t_start = time.perf_counter()

    while epoch < options.epochs and stop_reason != "early_stopping":
        t0 = time.perf_counter()
        model.train()
        perm = train_pos[torch.randperm(n, generator=shuffle_gen)]
        loss_sum = torch.zeros((), device=device)
        bar = tqdm(
            range(n_batches),
            desc=f"cnn epoch {epoch + 1}/{options.epochs}",
            disable=not progress,
            leave=False,
        )
        for b in bar:
            idx = perm[b * bs : (b + 1) * bs]
            images, feats = data.store.batch(idx)
            if options.augment:
                images = augment(images, aug_gen)
            labels = data.labels.index_select(0, idx.to(data.labels.device)).to(
                device, non_blocking=True
            )
            loss_sum += train_step(forward, optimiser, images, feats, labels, runtime.amp)
        train_loss = float(loss_sum.item()) / n_batches  # one device sync per epoch
        train_seconds = time.perf_counter() - t0
        model.eval()
        val_loss, val_nmad = evaluate(forward, data, options, runtime)
        epoch += 1
        seconds = time.perf_counter() - t0
        score = val_loss if options.monitor == "loss" else val_nmad
        improved = bool(np.isfinite(score)) and score < best["score"] - 1e-7
        if improved:
            best = {
                "epoch": epoch,
                "score": score,
                "val_loss": val_loss,
                "val_sigma_nmad": val_nmad,
            }
            best_state = _state(model)
            bad_epochs = 0
        else:
            bad_epochs += 1
        if bad_epochs >= options.patience:
            stop_reason = "early_stopping"
        elif epoch >= options.epochs:
            stop_reason = "max_epochs"
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_sigma_nmad": val_nmad,
            "best": improved,
            "seconds": round(seconds, 3),
            "train_images_per_s": round(n_batches * bs / train_seconds, 1),
            "device": str(device),
            "compiled": forward.is_compiled,
        }
        history.append(record)
        with log_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        save_atomic(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "fingerprint": fp,
                **meta,
                "epoch": epoch,
                "bad_epochs": bad_epochs,
                "best": best,
                "stop_reason": stop_reason,
                "history": history,
                "model": _state(model),
                "best_model": best_state,
                "optimiser": optimiser.state_dict(),
                "rng": {
                    "shuffle": shuffle_gen.get_state(),
                    "augment": aug_gen.get_state().cpu(),
                    "device": device.type,
                },
            },
            ckpt_path,
        )

    model.load_state_dict(best_state)
    save_atomic(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "fingerprint": fp,
            **meta,
            "epoch": epoch,
            "best": best,
            "stop_reason": stop_reason,
            "best_model": best_state,
        },
        weights_path,
    )
    return FitResult(
        epochs_run=epoch,
        best_epoch=int(best["epoch"]),
        best_val_loss=float(best["val_loss"]),
        best_val_sigma_nmad=float(best["val_sigma_nmad"]),
        stop_reason=stop_reason,
        resumed_from_epoch=resumed,
        checkpoint_path=str(ckpt_path),
        weights_path=str(weights_path),
        log_path=str(log_path),
        compiled=forward.is_compiled,
        compile_error=forward.error,
        train_seconds=time.perf_counter() - t_start,
        history=history,
    )
