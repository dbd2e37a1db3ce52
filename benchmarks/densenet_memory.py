"""Training memory and step time of DenseNet: plain, cnnzoo's memory-efficient, torchvision's memory_efficient.

    python benchmarks/densenet_memory.py --device cpu --depths 121 --batch-sizes 8
    python benchmarks/densenet_memory.py --device cpu --depths 121,169,201,264 --batch-sizes 2 --merge
    python benchmarks/densenet_memory.py --device cuda --depths 121,169,201,264 --batch-sizes 32,64

One training step is a forward pass, cross-entropy against random labels and a backward pass, on random
images, with the model in training mode. For each depth, batch size and variant:

- **peak memory**: what the step adds at its peak over what was resident before it (the model, its input,
  and no gradients: they are set to None first, so the step allocates them as a real step does). On the CPU
  each measurement runs in its own process, started with ``MALLOC_MMAP_THRESHOLD_=65536
  MALLOC_ARENA_MAX=1`` so freed memory goes back to the system at once; the process runs one warm-up step,
  reads ``VmRSS``, writes ``5`` to ``/proc/self/clear_refs`` (which resets ``VmHWM``), runs the step and
  reads ``VmHWM``. On a CUDA card: ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` before.
- **step time**: the three variants in one process, their steps interleaved (plain, cnnzoo, torchvision,
  then the order rotates), so drift on a shared machine hits all alike; the medians of each variant's
  times and of its per-round ratio to the plain step are reported, for the wall clock and (CPU only) for
  the process's CPU time, which waiting for a core shared with other jobs does not inflate.

Writes ``--json PATH`` (default ``benchmarks/results/densenet_memory-DEVICE.json``; ``--merge`` adds to the
results already there), the table as Markdown beside it (``.md``, also printed) and a plot (``.png``): peak
memory against depth, quadratic for the plain network and linear for the memory-efficient ones, step time
against depth, and peak memory against batch size.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.memory import MEASUREMENT_ENV, measure_step_peak

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = ("plain", "cnnzoo", "torchvision")
LABELS = {
    "plain": "plain (memory_efficient=False)",
    "cnnzoo": "cnnzoo memory_efficient=True",
    "torchvision": "torchvision memory_efficient=True",
}
# Table 1 of Huang et al. 2017: growth rate 32, 64 stem channels, layers per block
BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}


def build(variant: str, depth: int) -> nn.Module:
    """The DenseNet-``depth`` of ``variant``, seeded, in training mode."""
    torch.manual_seed(0)
    if variant == "torchvision":
        model: nn.Module = torchvision.models.densenet.DenseNet(
            growth_rate=32, block_config=BLOCKS[depth], num_init_features=64, memory_efficient=True)
    else:
        model = cnnzoo.create(f"densenet{depth}", memory_efficient=variant == "cnnzoo")
    return model.train()


def make_step(model: nn.Module, batch: int, size: int, device: torch.device) -> Callable[[], None]:
    x = torch.randn(batch, 3, size, size, device=device)
    labels = torch.randint(0, 1000, (batch,), device=device)

    def step() -> None:
        nn.functional.cross_entropy(model(x), labels).backward()

    return step


def measure_memory(variant: str, depth: int, batch: int, size: int, device: torch.device) -> float:
    """MiB the step adds at its peak over what was resident before it (see the module docstring)."""
    model = build(variant, depth).to(device)
    make_step(model, batch, size, device)()  # warm-up: lazy initialisation, kernel caches
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    # the estimator's own yardstick: VmHWM less VmRSS on the CPU, max_memory_allocated on a card
    return measure_step_peak(model, batch, (3, size, size)) / 2**20


def memory_in_subprocess(variant: str, depth: int, batch: int, size: int, threads: int | None) -> float:
    command = [sys.executable, __file__, "--child-memory", variant, "--depths", str(depth), "--batch-sizes",
               str(batch), "--input-size", str(size), "--device", "cpu"]
    if threads:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, env={**os.environ, **MEASUREMENT_ENV}, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # the child's own error, not only its exit status
        sys.exit(f"measuring DenseNet-{depth} {variant} at batch {batch} failed:\n{result.stderr.strip()[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def measure_times(depth: int, batch: int, size: int, device: torch.device, repeats: int,
                  variants: list[str]) -> dict[str, dict[str, float]]:
    """Median step times of ``variants`` and median per-round ratios to the first one, steps interleaved."""
    steps = {}
    for variant in variants:
        model = build(variant, depth).to(device)
        steps[variant] = (model, make_step(model, batch, size, device))
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}

    def timed(variant: str) -> tuple[float, float]:
        model, step = steps[variant]
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start, time.process_time() - start_cpu

    for variant in variants:
        timed(variant)  # warm-up
    for round_index in range(repeats):
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            seconds, cpu_seconds = timed(variant)
            wall[variant].append(seconds)
            cpu[variant].append(cpu_seconds)
    base = variants[0]
    out = {}
    for variant in variants:
        out[variant] = {
            "time_s": statistics.median(wall[variant]),
            "time_ratio": statistics.median(a / b for a, b in zip(wall[variant], wall[base])),
            "cpu_time_s": statistics.median(cpu[variant]),
            "cpu_time_ratio": statistics.median(a / b for a, b in zip(cpu[variant], cpu[base])),
        }
    return out


def table(rows: list[dict[str, Any]], device: str) -> str:
    cpu = device == "cpu"
    header = ["depth", "batch", "variant", "peak MiB", "memory vs plain", "step s", "time vs plain"]
    if cpu:
        header += ["CPU s", "CPU time vs plain"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(row["depth"]), str(row["batch"]), row["variant"], f"{row['peak_mib']:.0f}",
                 f"{row['memory_ratio']:.2f}x lower" if row["variant"] != "plain" else "",
                 f"{row['time_s']:.3f}", f"{row['time_ratio']:.3f}" if row["variant"] != "plain" else ""]
        if cpu:
            cells += [f"{row['cpu_time_s']:.3f}", f"{row['cpu_time_ratio']:.3f}" if row["variant"] != "plain" else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, title: str, device: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    batches = sorted({r["batch"] for r in rows})
    depths = sorted({r["depth"] for r in rows})
    # against depth: the batch size measured at the most depths (the largest of those); on a shared CPU the
    # process's CPU time, which waiting for a core does not inflate
    sweep_batch = max(batches, key=lambda b: (len({r["depth"] for r in rows if r["batch"] == b}), b))
    clock = "cpu_time_s" if device == "cpu" else "time_s"
    for variant in VARIANTS:
        points = sorted((r["depth"], r["peak_mib"], r[clock]) for r in rows
                        if r["variant"] == variant and r["batch"] == sweep_batch)
        if points:
            axes[0].plot([p[0] for p in points], [p[1] for p in points], "o-", label=LABELS[variant])
            axes[1].plot([p[0] for p in points], [p[2] for p in points], "o-", label=LABELS[variant])
    # against batch size: the depth measured at the most batch sizes
    sweep_depth = max(depths, key=lambda d: (len({r["batch"] for r in rows if r["depth"] == d}), -d))
    for variant in VARIANTS:
        points = sorted((r["batch"], r["peak_mib"]) for r in rows
                        if r["variant"] == variant and r["depth"] == sweep_depth)
        if points:
            axes[2].plot([p[0] for p in points], [p[1] for p in points], "o-", label=LABELS[variant])
    axes[0].set(xlabel="depth (layers)", ylabel="peak memory of a training step (MiB)",
                title=f"memory against depth, batch {sweep_batch}")
    axes[1].set(xlabel="depth (layers)", ylabel=f"step {'CPU ' if device == 'cpu' else ''}time (s, median)",
                title=f"time against depth, batch {sweep_batch}")
    axes[2].set(xlabel="batch size", ylabel="peak memory of a training step (MiB)",
                title=f"memory against batch size, DenseNet-{sweep_depth}")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--depths", default="121", help="comma-separated, from 121,169,201,264")
    parser.add_argument("--batch-sizes", default="8", help="comma-separated")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, plain first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--no-time", action="store_true", help="measure memory only")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--merge", action="store_true", help="add to the results already in --json")
    parser.add_argument("--replot", action="store_true", help="only redraw the table and plot from --json")
    parser.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    depths = [int(d) for d in args.depths.split(",")]
    batches = [int(b) for b in args.batch_sizes.split(",")]
    unknown = [d for d in depths if d not in BLOCKS]
    if unknown:
        parser.error(f"unknown depths {unknown}; choose from {sorted(BLOCKS)}")
    device = torch.device(args.device)
    if args.child_memory:
        print(measure_memory(args.child_memory, depths[0], batches[0], args.input_size, device))
        return
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA device is available")
    variants = args.variants.split(",")
    if variants[0] != "plain" or set(variants) - set(VARIANTS):
        parser.error(f"--variants must start with plain and come from {VARIANTS}")
    path = args.json or RESULTS / f"densenet_memory-{args.device}.json"
    if args.replot:
        saved = json.loads(path.read_text())
        write_reports(saved["results"], path, args.device, saved["hardware"], args.input_size)
        return
    rows: list[dict[str, Any]] = []
    if args.merge and path.exists():
        rows = json.loads(path.read_text())["results"]
    for depth in depths:
        for batch in batches:
            memory = {}
            for variant in variants:
                if device.type == "cpu":
                    memory[variant] = memory_in_subprocess(variant, depth, batch, args.input_size, args.threads)
                else:
                    memory[variant] = measure_memory(variant, depth, batch, args.input_size, device)
                    gc.collect()
                    torch.cuda.empty_cache()
                print(f"DenseNet-{depth} batch {batch} {variant}: {memory[variant]:.0f} MiB", flush=True)
            times = {} if args.no_time else measure_times(depth, batch, args.input_size, device, args.repeats, variants)
            rows = [r for r in rows if (r["depth"], r["batch"], r["input_size"]) != (depth, batch, args.input_size)]
            for variant in variants:
                row = {"depth": depth, "batch": batch, "input_size": args.input_size, "variant": variant,
                       "peak_mib": memory[variant], "memory_ratio": memory["plain"] / memory[variant],
                       "time_s": float("nan"), "time_ratio": float("nan"), "cpu_time_s": float("nan"),
                       "cpu_time_ratio": float("nan"), "repeats": 0 if args.no_time else args.repeats}
                row.update(times.get(variant, {}))
                rows.append(row)
    rows.sort(key=lambda r: (r["input_size"], r["depth"], r["batch"], VARIANTS.index(r["variant"])))
    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        hardware = f"{platform.processor() or platform.machine()}, {threads} thread{'s' if threads > 1 else ''}"
    meta = {
        "device": args.device, "hardware": hardware, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "date": datetime.date.today().isoformat(),
        "step": "forward, cross-entropy, backward; model in training mode; gradients set to None before",
        "memory": ("VmHWM - VmRSS in a fresh process per measurement, MALLOC_MMAP_THRESHOLD_=65536 "
                   "MALLOC_ARENA_MAX=1" if device.type == "cpu" else
                   "torch.cuda.max_memory_allocated - memory_allocated before the step"),
        "time": "median over interleaved steps; *_ratio: median of per-round ratios to plain",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    write_reports(rows, path, args.device, hardware, args.input_size)


def write_reports(rows: list[dict[str, Any]], path: Path, device: str, hardware: str, input_size: int) -> None:
    """The table (printed, and as Markdown beside ``path``) and the plot."""
    markdown = table(rows, device)
    heading = f"# DenseNet training memory and step time ({device}: {hardware})"
    path.with_suffix(".md").write_text(f"{heading}\n\n{markdown}\n")
    print(markdown)
    plot(rows, path.with_suffix(".png"), f"DenseNet training step, {input_size}x{input_size}, {hardware}", device)
    print(f"wrote {path}, {path.with_suffix('.md')} and {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
