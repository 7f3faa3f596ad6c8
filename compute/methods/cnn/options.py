"""Options of the image CNN photo-z method: the CNNOptions dataclass and its validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from compute.errors import ZcellsInputError

VARIANTS: tuple[str, ...] = ("pasquet", "small")
POINT_ESTIMATES: tuple[str, ...] = ("mean", "median", "mode")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
SWITCHES: tuple[str, ...] = ("auto", "on", "off")
MONITORS: tuple[str, ...] = ("loss", "sigma_nmad")

#: options that change what is trained (they go into the checkpoint fingerprint); the rest
#: (device, speed switches, epochs budget, inference choices) do not.
TRAINING_KEYS: tuple[str, ...] = (
    "variant",
    "batch_size",
    "lr",
    "weight_decay",
    "patience",
    "val_fraction",
    "use_features",
    "augment",
    "n_bins",
    "z_max",
    "monitor",
)


@dataclass
class CNNOptions:
    """Options of the ``cnn`` method.

    Attributes
    ----------
    variant : str
        ``"pasquet"`` (the size of Pasquet et al. 2019) or ``"small"`` (trains in minutes on a CPU).
    epochs : int
        Maximum number of epochs (early stopping may end sooner). Raising it and running again
        resumes a finished run from its checkpoint.
    batch_size : int
        Images per optimiser step.
    lr, weight_decay : float
        AdamW learning rate and weight decay.
    patience : int
        Epochs without a better validation score (see ``monitor``) before training stops.
    monitor : str
        Validation score for early stopping and for picking the kept model: ``"loss"`` (mean
        negative log p(z) at the true bin, a proper score of the whole p(z)) or ``"sigma_nmad"``
        (of the point estimate).
    val_fraction : float
        Fraction of the training rows held out for early stopping.
    point_estimate : str
        Which p(z) summary becomes ``zphot``: ``"mean"``, ``"median"`` or ``"mode"``.
    device : str
        ``"auto"`` (the pipeline's device, else CUDA when available), ``"cpu"`` or ``"cuda"``.
    num_workers : int
        Threads that read and normalise the image cube into memory (0 = the calling thread).
    use_features : bool
        Concatenate photometric features (u-g, g-r, r-i, i-z, r) before the dense layers.
    compile : str
        ``"auto"`` (torch.compile on CUDA only), ``"on"`` or ``"off"``; falls back to eager on failure.
    amp : str
        ``"auto"`` (bf16 autocast on CUDA only), ``"on"`` or ``"off"``.
    augment : bool
        Random flips and 90-degree rotations of training batches.
    oof_folds : int
        With ``per_cell_sample == "all"``: number of folds for out-of-fold predictions of the
        training rows (0 = none; those rows are then left NaN).
    weights : str or None
        Path to a checkpoint to use for inference without training.
    n_bins : int
        Number of redshift classes (Pasquet et al. 2019: 180).
    z_max : float
        Upper edge of the redshift range (lower edge 0).
    """

    variant: str = "pasquet"
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    monitor: str = "loss"
    val_fraction: float = 0.1
    point_estimate: str = "mean"
    device: str = "auto"
    num_workers: int = 0
    use_features: bool = False
    compile: str = "auto"
    amp: str = "auto"
    augment: bool = True
    oof_folds: int = 0
    weights: str | None = None
    n_bins: int = 180
    z_max: float = 0.4

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> CNNOptions:
        """Build options from a plain dict, refusing unknown keys and bad values.

        Raises
        ------
        ZcellsInputError
            On an unknown key, a value of the wrong type or a value out of range.

        Examples
        --------
        >>> CNNOptions.from_dict({"variant": "small", "epochs": 2}).epochs
        2
        """
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ZcellsInputError(
                f"cnn options: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        opts = cls(**d)
        opts.validate()
        return opts

    def to_dict(self) -> dict[str, Any]:
        """Return the options as a JSON-serialisable dict."""
        return asdict(self)

    def training_dict(self) -> dict[str, Any]:
        """Return the options that define what is trained (for fingerprints)."""
        full = self.to_dict()
        return {k: full[k] for k in TRAINING_KEYS}

    def validate(self) -> None:
        """Check types and ranges.

        Raises
        ------
        ZcellsInputError
            Naming the option and the allowed values.
        """

        def choice(name: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if value not in allowed:
                raise ZcellsInputError(
                    f"cnn option {name}={value!r}: must be one of {', '.join(allowed)}"
                )

        def integer(name: str, lo: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ZcellsInputError(f"cnn option {name}={value!r}: must be an integer >= {lo}")

        def number(name: str, lo: float, hi: float) -> None:
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not lo < float(value) < hi:
                raise ZcellsInputError(
                    f"cnn option {name}={value!r}: must be a number in ({lo}, {hi})"
                )
            setattr(self, name, float(value))

        def boolean(name: str) -> None:
            if not isinstance(getattr(self, name), bool):
                raise ZcellsInputError(
                    f"cnn option {name}={getattr(self, name)!r}: must be true or false"
                )

        choice("variant", VARIANTS)
        choice("point_estimate", POINT_ESTIMATES)
        choice("monitor", MONITORS)
        choice("device", DEVICES)
        choice("compile", SWITCHES)
        choice("amp", SWITCHES)
        integer("epochs", 1)
        integer("batch_size", 1)
        integer("patience", 1)
        integer("num_workers", 0)
        integer("n_bins", 2)
        integer("oof_folds", 0)
        if self.oof_folds == 1:
            raise ZcellsInputError(
                "cnn option oof_folds=1: use 0 (no out-of-fold predictions) or >= 2"
            )
        number("lr", 0.0, 10.0)
        number("weight_decay", -1e-12, 10.0)
        number("val_fraction", 0.0, 0.9)
        number("z_max", 0.0, 20.0)
        boolean("use_features")
        boolean("augment")
        if self.weights is not None and not isinstance(self.weights, str):
            raise ZcellsInputError(f"cnn option weights={self.weights!r}: must be a file path")
