"""Inception CNNs for p(z): the Pasquet et al. (2019) size and a small CPU-friendly variant."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from compute.errors import ZcellsInputError

#: inception widths (1x1, 3x3-reduce, 3x3, 5x5-reduce, 5x5, pool-projection) and a pooling flag
#: (2x2 average pooling after the block)
Block = tuple[int, int, int, int, int, int, bool]

PASQUET_BLOCKS: tuple[Block, ...] = (
    (48, 48, 64, 32, 48, 48, False),
    (64, 64, 92, 32, 64, 64, True),
    (64, 64, 92, 32, 64, 64, False),
    (92, 92, 128, 48, 64, 64, True),
    (92, 92, 128, 48, 64, 64, False),
)
SMALL_BLOCKS: tuple[Block, ...] = (
    (8, 8, 16, 4, 8, 8, True),
    (16, 16, 24, 8, 12, 12, True),
)


@dataclass(frozen=True)
class Architecture:
    """Everything that fixes the network's shape (recorded in checkpoints and checked on load).

    Attributes
    ----------
    variant : str
        ``"pasquet"`` or ``"small"``.
    in_bands : int
        Image channels (bands).
    image_size : int
        Image side in pixels.
    n_bins : int
        Redshift classes.
    n_features : int
        Length of the photometric feature vector (0 = images only).
    """

    variant: str
    in_bands: int
    image_size: int
    n_bins: int = 180
    n_features: int = 0

    def to_dict(self) -> dict[str, int | str]:
        """Return the architecture as a plain dict."""
        return asdict(self)


class Inception(nn.Module):
    """Inception block: parallel 1x1, 1x1-3x3, 1x1-5x5 and pool-1x1 branches, concatenated."""

    def __init__(self, c_in: int, b1: int, r3: int, b3: int, r5: int, b5: int, bp: int) -> None:
        super().__init__()

        def conv(i: int, o: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.PReLU(o))

        self.branch1 = conv(c_in, b1, 1)
        self.branch3 = nn.Sequential(conv(c_in, r3, 1), conv(r3, b3, 3))
        self.branch5 = nn.Sequential(conv(c_in, r5, 1), conv(r5, b5, 5))
        self.branchp = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), conv(c_in, bp, 1))
        self.c_out = b1 + b3 + b5 + bp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the four branches and concatenate along channels."""
        return torch.cat(
            [self.branch1(x), self.branch3(x), self.branch5(x), self.branchp(x)], dim=1
        )


class PhotoZNet(nn.Module):
    """Convolutional stem, inception blocks, dense layers and an ``n_bins``-way classifier.

    ``forward`` returns logits; the p(z) is their softmax.

    Parameters
    ----------
    arch : Architecture
        Variant and input/output sizes.

    Notes
    -----
    ``"pasquet"`` follows the size of Pasquet et al. (2019): a 5x5 convolution with 64 maps and
    2x2 average pooling, five inception blocks (1x1/3x3/5x5 branches and pooling) with pooling
    after the 2nd and 4th, two dense layers of 1024 and a softmax over the redshift bins, PReLU
    activations throughout. Photometric features, when given, are concatenated to the flattened
    maps before the dense layers. ``"small"`` keeps the same structure with a strided 5x5 stem of
    16 maps, two narrow blocks, 4x4 adaptive pooling and one dense layer of 256.
    """

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        if arch.variant not in ("pasquet", "small"):
            raise ZcellsInputError(f"cnn: unknown variant {arch.variant!r} (pasquet or small)")
        if arch.image_size < 8:
            raise ZcellsInputError(
                f"cnn: images of {arch.image_size} pixels are too small (need >= 8)"
            )
        if arch.in_bands < 1:
            raise ZcellsInputError("cnn: images need at least one band")
        self.arch = arch
        pasquet = arch.variant == "pasquet"
        stem_maps = 64 if pasquet else 16
        if pasquet:  # 5x5 convolution at full resolution, then 2x2 average pooling
            layers: list[nn.Module] = [
                nn.Conv2d(arch.in_bands, stem_maps, 5, padding=2),
                nn.PReLU(stem_maps),
                nn.AvgPool2d(2),
            ]
        else:  # the same reduction in one strided 5x5 convolution (cheaper on a CPU)
            layers = [
                nn.Conv2d(arch.in_bands, stem_maps, 5, stride=2, padding=2),
                nn.PReLU(stem_maps),
            ]
        c, side = stem_maps, arch.image_size // 2
        for b1, r3, b3, r5, b5, bp, pool in PASQUET_BLOCKS if pasquet else SMALL_BLOCKS:
            block = Inception(c, b1, r3, b3, r5, b5, bp)
            layers.append(block)
            c = block.c_out
            if pool and side >= 2:
                layers.append(nn.AvgPool2d(2))
                side //= 2
        if not pasquet:
            layers.append(nn.AdaptiveAvgPool2d(min(4, side)))
            side = min(4, side)
        self.features = nn.Sequential(*layers)
        n_flat = c * side * side + arch.n_features
        dense = (1024, 1024) if pasquet else (256,)
        head: list[nn.Module] = []
        for width in dense:
            head += [nn.Linear(n_flat, width), nn.PReLU(width)]
            n_flat = width
        head.append(nn.Linear(n_flat, arch.n_bins))
        self.head = nn.Sequential(*head)

    def forward(self, images: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """Return logits (batch, n_bins) for images (batch, bands, H, W) and optional features."""
        x = torch.flatten(self.features(images), 1)
        if self.arch.n_features:
            if feats is None:
                raise ValueError("this network was built with photometric features; pass them")
            x = torch.cat([x, feats.to(x.dtype)], dim=1)
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
