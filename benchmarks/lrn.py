"""cnnzoo's Local Response Normalization operator beside torch.nn.LocalResponseNorm, in one run.

    python benchmarks/lrn.py --device cpu
    python benchmarks/lrn.py --device cuda --dtype bfloat16

For each shape (by default AlexNet's two LRN inputs at batch 32: 32x96x55x55 and 32x256x27x27) it
checks that both give the same output and gradient, counts the memory each keeps for backward (every
tensor autograd saves, seen through ``torch.autograd.graph.saved_tensors_hooks``, as a multiple of the
input), and times forward alone and forward plus backward. The two implementations alternate call by
call (the order swapping each round), so drift on a shared machine hits both alike; the figures are
medians with the 10th and 90th percentiles. Writes ``--json PATH`` (default
``benchmarks/results/lrn-DEVICE.json``, DEVICE ``cpu`` or the card's name) and prints a table.

The issue's targets are checked and reported in the JSON (``targets``): memory kept for backward at most
1.0x the input; forward plus backward at least 2.5x faster on the CPU for 32x96x55x55 float32 and at
least 4x faster on a CUDA card for both shapes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import cnnzoo
from cnnzoo.layers import LocalResponseNorm

RESULTS = Path(__file__).resolve().parent / "results"
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
# AlexNet's LRN inputs (Krizhevsky et al. 2012): after conv1 (96 maps of 55x55) and conv2 (256 of 27x27)
DEFAULT_SHAPES = "32x96x55x55,32x256x27x27"
TARGETS = {"saved_vs_input_max": 1.0, "cpu_speedup_min": 2.5, "cuda_speedup_min": 4.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, help=f"comma-separated NxCxHxW inputs (default {DEFAULT_SHAPES})")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--channels-last", action="store_true", help="time channels-last inputs")
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.75)
    parser.add_argument("--k", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per implementation")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (Triton compiles here)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible to PyTorch; use --device cpu")
    try:
        args.shape_list = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes.split(",")]
    except ValueError:
        parser.error(f"--shapes: expected NxCxHxW[,NxCxHxW...], got {args.shapes!r}")
    if any(len(shape) < 3 for shape in args.shape_list):
        parser.error("--shapes: each shape needs at least 3 dimensions (N, C, ...)")
    return args


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return platform.processor() or platform.machine()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def saved_bytes(layer: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps from ``layer(x)`` until backward."""
    storages: dict[tuple[int, str], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[(storage.data_ptr(), str(tensor.device))] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        layer(x)
    return sum(storages.values())


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step_peak_bytes(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> int | None:
    """On CUDA, the memory one forward plus backward allocates over what was there before."""
    if x.device.type != "cuda":
        return None
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    layer(x).backward(grad)
    torch.cuda.synchronize()
    x.grad = None
    return torch.cuda.max_memory_allocated() - before


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median_ms": statistics.median(ms), "p10_ms": percentile(ms, 0.1), "p90_ms": percentile(ms, 0.9)}


def bench_shape(args: argparse.Namespace, shape: tuple[int, ...]) -> dict[str, Any]:
    dtype = DTYPES[args.dtype]
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = (torch.randn(shape, generator=generator) * 3).to(device=args.device, dtype=dtype)
    if args.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    grad = torch.randn(shape, generator=generator).to(device=args.device, dtype=dtype)
    layers: dict[str, nn.Module] = {
        "pytorch": nn.LocalResponseNorm(args.size, args.alpha, args.beta, args.k),
        "cnnzoo": LocalResponseNorm(args.size, args.alpha, args.beta, args.k),
    }

    outputs = {}
    for name, layer in layers.items():
        y = layer(x)
        y.backward(grad)
        outputs[name] = (y.detach().float(), x.grad.float())
        x.grad = None
    max_output_diff = (outputs["cnnzoo"][0] - outputs["pytorch"][0]).abs().max().item()
    max_grad_diff = (outputs["cnnzoo"][1] - outputs["pytorch"][1]).abs().max().item()
    del outputs

    input_bytes = x.numel() * x.element_size()
    memory = {name: saved_bytes(layer, x) for name, layer in layers.items()}
    peaks = {name: step_peak_bytes(layer, x, grad) for name, layer in layers.items()}

    def forward(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                layer(x)

        return run

    def training(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            layer(x).backward(grad)
            x.grad = None

        return run

    times: dict[tuple[str, str], list[float]] = {}
    names = list(layers)
    for round_ in range(args.warmup + args.repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for mode, make in (("forward", forward), ("forward_backward", training)):
            for name in order:
                run = make(layers[name])
                synchronize(args.device)
                start = time.perf_counter()
                run()
                synchronize(args.device)
                if round_ >= args.warmup:
                    times.setdefault((name, mode), []).append(time.perf_counter() - start)

    record: dict[str, Any] = {
        "shape": list(shape),
        "dtype": args.dtype,
        "channels_last": bool(args.channels_last and x.dim() == 4),
        "input_bytes": input_bytes,
        "max_abs_output_diff": max_output_diff,
        "max_abs_grad_diff": max_grad_diff,
        "impls": {},
    }
    for name in names:
        record["impls"][name] = {
            "saved_for_backward_bytes": memory[name],
            "saved_vs_input": memory[name] / input_bytes,
            "step_peak_bytes": peaks[name],
            "forward": summary(times[(name, "forward")]),
            "forward_backward": summary(times[(name, "forward_backward")]),
        }
    mine, theirs = record["impls"]["cnnzoo"], record["impls"]["pytorch"]
    record["speedup_forward"] = theirs["forward"]["median_ms"] / mine["forward"]["median_ms"]
    record["speedup_forward_backward"] = theirs["forward_backward"]["median_ms"] / mine["forward_backward"]["median_ms"]
    record["saved_memory_ratio"] = theirs["saved_for_backward_bytes"] / mine["saved_for_backward_bytes"]
    return record


def check_targets(args: argparse.Namespace, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets, each with the figure measured and whether it is met (None: not measured here)."""
    checks: dict[str, Any] = {}
    worst_saved = max(r["impls"]["cnnzoo"]["saved_vs_input"] for r in results)
    checks["saved_vs_input"] = {"target_max": TARGETS["saved_vs_input_max"], "measured": worst_saved,
                                "met": worst_saved <= TARGETS["saved_vs_input_max"]}
    minimum = TARGETS["cpu_speedup_min"] if args.device == "cpu" else TARGETS["cuda_speedup_min"]
    for r in results:
        anchored = args.device == "cuda" or (tuple(r["shape"]) == (32, 96, 55, 55) and r["dtype"] == "float32")
        key = "speedup_forward_backward_" + "x".join(map(str, r["shape"]))
        checks[key] = {"target_min": minimum, "measured": r["speedup_forward_backward"],
                       "met": r["speedup_forward_backward"] >= minimum if anchored else None}
    return checks


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| shape | dtype | impl | saved for backward | forward ms | fwd+bwd ms (p10-p90) | speedup fwd+bwd |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name in ("pytorch", "cnnzoo"):
            impl = r["impls"][name]
            fb = impl["forward_backward"]
            speedup = f"{r['speedup_forward_backward']:.2f}x" if name == "cnnzoo" else ""
            lines.append(
                f"| {'x'.join(map(str, r['shape']))} | {r['dtype']} | {name} | {impl['saved_vs_input']:.2f}x input "
                f"| {impl['forward']['median_ms']:.1f} | {fb['median_ms']:.1f} ({fb['p10_ms']:.1f}-{fb['p90_ms']:.1f}) | {speedup} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    for shape in args.shape_list:
        print(f"LRN {'x'.join(map(str, shape))} {args.dtype} on {args.device} ...", file=sys.stderr, flush=True)
        results.append(bench_shape(args, shape))
    name = device_name(args.device)
    report = {
        "benchmark": "lrn",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": args.device,
        "device_name": name,
        "torch": torch.__version__,
        "cnnzoo": cnnzoo.__version__,
        "threads": torch.get_num_threads(),
        "settings": {key: getattr(args, key) for key in ("dtype", "channels_last", "size", "alpha", "beta", "k", "repeats", "warmup")},
        "results": results,
        "targets": check_targets(args, results),
    }
    path = args.json or RESULTS / f"lrn-{'cpu' if args.device == 'cpu' else slug(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    for key, check in report["targets"].items():
        verdict = {True: "met", False: "NOT met", None: "not a target here"}[check["met"]]
        print(f"{key}: {check['measured']:.2f} ({verdict})")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
