"""Training throughput of the Pasquet-size photo-z CNN: eager vs compiled, fp32 vs bf16.

Runs the real training hot path of ``compute.methods.cnn`` (images held on the device as
float16, batches gathered by index, flips/rotations on the device, AdamW step) on a random
image tensor, and reports images/s after warm-up, the implied epoch time for a training set
of 460,000 images and the peak GPU memory.

Examples
--------
GPU (H100/H200)::

    python benchmarks/bench_cnn.py --device cuda

CPU smoke run::

    python benchmarks/bench_cnn.py --device cpu --n 256
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from compute.methods.cnn.data import ImageStore, augment
from compute.methods.cnn.model import Architecture, PhotoZNet, count_parameters
from compute.methods.cnn.options import CNNOptions
from compute.methods.cnn.train import GuardedForward, make_optimiser, train_step

ALL_MODES = ("eager-fp32", "eager-bf16", "compiled-fp32", "compiled-bf16")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (sizes default to the GPU run; CPU gets smaller defaults)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--variant", default="pasquet", choices=("pasquet", "small"))
    p.add_argument(
        "--n", type=int, default=None, help="images in the synthetic tensor (cuda 32768, cpu 256)"
    )
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--bands", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=None, help="cuda 512, cpu 16")
    p.add_argument(
        "--warmup", type=int, default=None, help="untimed steps per mode (cuda 30, cpu 1)"
    )
    p.add_argument("--steps", type=int, default=None, help="timed steps per mode (cuda 200, cpu 3)")
    p.add_argument(
        "--modes", default=",".join(ALL_MODES), help=f"comma list of {', '.join(ALL_MODES)}"
    )
    p.add_argument(
        "--no-channels-last", action="store_true", help="keep NCHW (default: channels_last)"
    )
    p.add_argument("--epoch-images", type=int, default=460_000)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = args.device == "cuda"
    for name, gpu, cpu in (
        ("n", 32768, 256),
        ("batch_size", 512, 16),
        ("warmup", 30, 1),
        ("steps", 200, 3),
    ):
        if getattr(args, name) is None:
            setattr(args, name, gpu if cuda else cpu)
    bad = [m for m in args.modes.split(",") if m not in ALL_MODES]
    if bad:
        p.error(f"unknown mode(s) {bad}; choose from {ALL_MODES}")
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda but CUDA is not available")
    return args


def run_mode(
    mode: str, args: argparse.Namespace, store: ImageStore, labels: torch.Tensor
) -> dict[str, Any]:
    """Time one mode; returns images/s, epoch time, peak memory and compile status."""
    device = store.device
    compiled, bf16 = mode.startswith("compiled"), mode.endswith("bf16")
    torch.manual_seed(0)
    arch = Architecture(args.variant, args.bands, args.size)
    model = PhotoZNet(arch).to(device)
    if not args.no_channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    opts = CNNOptions(lr=1e-3, weight_decay=1e-4)
    optimiser = make_optimiser(model, opts, device)
    forward = GuardedForward(model, compiled)
    gen = torch.Generator(device=device).manual_seed(0)
    n, bs = len(store), args.batch_size

    def step() -> torch.Tensor:
        idx = torch.randint(0, n, (bs,), device=store.images.device, generator=None)
        x, f = store.batch(idx)
        x = augment(x, gen)
        y = labels.index_select(0, idx)
        return train_step(forward, optimiser, x, f, y, bf16)

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(args.warmup):
            loss = step()
    loss.item()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    loss.item()  # synchronises
    elapsed = time.perf_counter() - t0
    ips = args.steps * bs / elapsed
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {
        "mode": mode,
        "images_per_s": round(ips, 1),
        "epoch_s": round(args.epoch_images / ips, 1),
        "peak_gpu_gib": round(peak, 2),
        "warmup_s": round(warm_s, 1),
        "compiled": forward.is_compiled,
        "compile_error": forward.error,
        "params": count_parameters(model),
        "final_loss": round(float(loss), 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the selected modes and print a markdown table."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    images = torch.randn(args.n, args.bands, args.size, args.size, device=device).to(torch.float16)
    labels = torch.randint(0, 180, (args.n,), device=device)
    store = ImageStore(images, device)
    store.channels_last = not args.no_channels_last
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu"
    )
    header = {
        "device": f"{args.device} ({name})",
        "torch": str(torch.__version__),
        "variant": args.variant,
        "image": f"{args.bands}x{args.size}x{args.size}",
        "n": args.n,
        "batch_size": args.batch_size,
        "warmup": args.warmup,
        "steps": args.steps,
        "channels_last": store.channels_last,
        "threads": torch.get_num_threads(),
    }
    print(" ".join(f"{k}={v}" for k, v in header.items()), flush=True)
    print(
        f"| mode | images/s | epoch of {args.epoch_images:,} (s) | peak GPU (GiB) | warm-up (s) | compiled |"
    )
    print("|---|---:|---:|---:|---:|---|")
    results = []
    for mode in args.modes.split(","):
        r = run_mode(mode, args, store, labels)
        results.append(r)
        note = (
            "yes"
            if r["compiled"]
            else ("no (fell back: " + r["compile_error"][:80] + ")" if r["compile_error"] else "no")
        )
        print(
            f"| {mode} | {r['images_per_s']:,.1f} | {r['epoch_s']:,.1f} | {r['peak_gpu_gib']} | {r['warmup_s']} | {note} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"setup": header, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
