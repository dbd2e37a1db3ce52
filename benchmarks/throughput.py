"""Training and inference throughput of cnnzoo's networks against torchvision's and timm's, on a card or the CPU.

    python benchmarks/throughput.py --device cuda --models resnet50,densenet121,vgg16,alexnet \\
        --batch-size 128 --mode train --amp bf16 --channels-last --compare torchvision,timm
    python benchmarks/throughput.py --device cpu --models "resnet*" --batch-size 8 --steps 5 --optimize

Every implementation of a model runs the same batch with the same settings, and their steps interleave
(cnnzoo, torchvision, timm, cnnzoo, ...; the order rotates each step), so drift on a shared machine -- another
job, a clock change -- hits all of them alike. Writes ``--json PATH`` (default
``benchmarks/results/throughput-DEVICE.json``), the same table as Markdown beside it (``.md``, also printed)
and a bar chart (``.png``, when matplotlib is installed). ``benchmarks/README.md`` says how to read them.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import gc
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnzoo
from cnnzoo._meta import count_flops, meta_state
from cnnzoo.memory import LiveBytes, storage_bytes
from cnnzoo.optimize import optimize

RESULTS = Path(__file__).resolve().parent / "results"
IMPLS = ("torchvision", "timm")
MODES = ("infer", "train")
OPTIMIZE_OPTIONS = ("channels_last", "compile")
AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_BATCH = {"cuda": 64, "cpu": 8}

# Dense (no 2:4 sparsity) peak TFLOP/s from NVIDIA's datasheets, by a substring of
# torch.cuda.get_device_name(); the first match wins, so variants precede the plain name. "tf32" is the
# tensor-core figure fp32 convolutions reach when cuDNN may use TF32 (PyTorch's default); "fp32" the
# CUDA-core figure. bf16/fp16 are tensor-core figures with fp32 accumulation, as autocast runs them.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("B200", {"fp32": 75.0, "tf32": 1100.0, "bf16": 2250.0, "fp16": 2250.0}),  # HGX B200, per GPU
    ("GH200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("H200 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}),
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),  # H200 SXM
    ("H100 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}),
    ("H100 PCIe", {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),  # H100 SXM5 ("H100 80GB HBM3")
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),  # SXM4 and PCIe alike
    ("L40S", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.05, "fp16": 362.05}),
    ("L40", {"fp32": 90.5, "tf32": 90.5, "bf16": 181.05, "fp16": 181.05}),
    ("L4", {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0}),
    ("A10", {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0, "fp16": 125.0}),  # after A100: "A100" contains "A10"
    ("RTX 4090", {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2}),
    ("RTX 3090", {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0, "fp16": 71.0}),
    ("V100-SXM2", {"fp32": 15.7, "fp16": 125.0}),
    ("V100", {"fp32": 14.0, "fp16": 112.0}),  # PCIe
    ("T4", {"fp32": 8.1, "fp16": 65.0}),
)


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """The datasheet's dense peak TFLOP/s of the card named ``device_name`` in ``dtype``, or None if unknown."""
    for substring, peaks in PEAK_TFLOPS:
        if substring.lower() in device_name.lower():
            return peaks.get(dtype)
    return None


# -- arguments ---------------------------------------------------------------------------------------

def expand_models(spec: str) -> list[str]:
    """Registered names for a comma-separated list of names and wildcards, in the order given.

    Raises:
        cnnzoo.UnknownModelError: for a name that is not registered or a wildcard that matches none.
    """
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if any(c in part for c in "*?["):
            matched = cnnzoo.list_models(part)
            if not matched:
                raise cnnzoo.UnknownModelError(f"No model matches {part!r}; `cnnzoo list` shows them all.")
        else:
            cnnzoo.registry.get_entry(part)  # raises with the closest names
            matched = [part]
        names += [n for n in matched if n not in names]
    if not names:
        raise cnnzoo.UnknownModelError("--models names no model; give names or wildcards such as 'resnet*'.")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="resnet50,densenet121,vgg16,alexnet",
                        help="comma-separated names or wildcards ('resnet*,vgg16'); default %(default)s")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"images per step (default {DEFAULT_BATCH['cuda']} on cuda, {DEFAULT_BATCH['cpu']} on cpu)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="height and width of the input (default: each model's own, 224 for ImageNet networks)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per implementation (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default %(default)s)")
    parser.add_argument("--mode", choices=("infer", "train", "both"), default="both")
    parser.add_argument("--amp", choices=tuple(AMP_DTYPES), default="none",
                        help="autocast to bfloat16 or float16 (fp16 training uses a GradScaler)")
    parser.add_argument("--channels-last", action="store_true", help="channels-last model and input for every implementation")
    parser.add_argument("--compile", action="store_true", help="torch.compile every implementation (model.compile())")
    parser.add_argument("--optimize", nargs="?", const="channels_last", default=None, metavar="OPTIONS",
                        help="also run cnnzoo.optimize(model, ...) as implementation 'cnnzoo+optimize'; OPTIONS is a "
                             "comma-separated subset of channels_last,compile (default channels_last)")
    parser.add_argument("--compare", default="torchvision,timm",
                        help="other implementations to run: torchvision, timm, both (default) or none")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on the CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None,
                        help="output path (default benchmarks/results/throughput-DEVICE.json); .md and .png go beside it")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "input_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if (args.compile or (args.optimize and "compile" in args.optimize)) and args.warmup < 1:
        parser.error("--compile needs --warmup 1 or more: the first step compiles")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here; use --device cpu")
    compare = [c.strip() for c in args.compare.split(",") if c.strip() and c.strip() != "none"]
    unknown = sorted(set(compare) - set(IMPLS))
    if unknown:
        parser.error(f"--compare takes torchvision, timm or none; got {unknown}")
    args.compare = [c for c in IMPLS if c in compare]
    if args.optimize is not None:
        options = [o.strip() for o in args.optimize.split(",") if o.strip()]
        unknown = sorted(set(options) - set(OPTIMIZE_OPTIONS))
        if unknown or not options:
            parser.error(f"--optimize takes a comma-separated subset of {','.join(OPTIMIZE_OPTIONS)}; got {args.optimize!r}")
        args.optimize = {o: o in options for o in OPTIMIZE_OPTIONS}
    try:
        args.models = expand_models(args.models)
    except cnnzoo.CnnzooError as error:
        parser.error(str(error))
    args.batch_size = args.batch_size or DEFAULT_BATCH[args.device]
    args.modes = list(MODES) if args.mode == "both" else [args.mode]
    args.json = args.json or RESULTS / f"throughput-{args.device}.json"
    return args


# -- measuring ---------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolating linearly between ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def logits_of(output: Any) -> torch.Tensor:
    """The class scores of a forward pass (GoogLeNet with auxiliary classifiers returns a tuple)."""
    return output if isinstance(output, torch.Tensor) else output[0]


def step_flops(model: nn.Module, input_shape: Sequence[int], train: bool) -> int:
    """FLOPs of one step on a batch of ``input_shape``, counted by torch.utils.flop_counter on the meta device.

    Inference counts the forward pass; training the forward and backward passes (no gradient for the
    input image), which is about three times as much. The optimiser's elementwise update is not counted.
    """
    if not train:
        return count_flops(model.eval(), input_shape)
    state = meta_state(model)
    x = torch.empty(tuple(input_shape), device="meta")
    model.train()
    counter = FlopCounterMode(display=False)
    with counter:
        output = torch.func.functional_call(model, state, (x,), tie_weights=False, strict=False)
        logits_of(output).float().sum().backward()
    return int(counter.get_total_flops())


@dataclass
class Impl:
    """One implementation of one model, ready to run."""

    name: str
    model: nn.Module
    weights: str
    channels_last: bool
    compiled: bool
    optimize: dict[str, bool] | None = None
    gflops: dict[str, float | None] = field(default_factory=dict)


class Runner:
    """Runs steps of one implementation in one mode, and keeps what they measured."""

    def __init__(self, impl: Impl, mode: str, images: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 amp: str) -> None:
        self.impl, self.mode, self.device = impl, mode, device
        self.images = images.to(device)
        if impl.channels_last:
            self.images = self.images.contiguous(memory_format=torch.channels_last)
        self.labels = labels.to(device)
        self.autocast_dtype = AMP_DTYPES[amp]
        impl.model.train(mode == "train")
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler: torch.amp.GradScaler | None = None
        if mode == "train":
            # what a classification recipe steps with; lr small enough that random labels do not blow weights up
            self.optimizer = torch.optim.SGD(impl.model.parameters(), lr=1e-3, momentum=0.9)
            if amp == "fp16":
                self.scaler = torch.amp.GradScaler(device.type)
        self.times_ms: list[float] = []
        self.transient_bytes: int | None = None
        self.memory_note: str | None = None

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def step(self) -> None:
        model = self.impl.model
        if self.mode == "infer":
            with torch.inference_mode(), self._autocast():
                model(self.images)
            return
        assert self.optimizer is not None
        with self._autocast():
            loss = F.cross_entropy(logits_of(model(self.images)), self.labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        # gradients freed at the end, so between steps only weights, buffers and optimiser state are held
        self.optimizer.zero_grad(set_to_none=True)

    def timed_step(self) -> None:
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.device)
            before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        self.step()
        if cuda:
            torch.cuda.synchronize(self.device)
        self.times_ms.append((time.perf_counter() - start) * 1e3)
        if cuda:
            transient = torch.cuda.max_memory_allocated(self.device) - before
            self.transient_bytes = max(self.transient_bytes or 0, transient)

    def measure_cpu_memory(self) -> None:
        """One more (untimed) step counting the bytes of the tensors it creates."""
        if self.impl.compiled:
            self.memory_note = "not measured for compiled models on the CPU"
            return
        gc.collect()
        # the estimator's tracker (cnnzoo.memory), on real tensors: the bytes of the storages the step
        # creates, from birth to death; kernel scratch space (oneDNN's workspaces) is not a tensor
        tracker = LiveBytes(self.resident_tensors())
        try:
            with tracker:
                self.step()
        finally:
            tracker.close()
        self.transient_bytes = tracker.peak

    def resident_tensors(self) -> list[torch.Tensor]:
        """The tensors held between steps: weights, buffers, optimiser state, the batch."""
        tensors: list[torch.Tensor] = [*self.impl.model.parameters(), *self.impl.model.buffers(), self.images, self.labels]
        if self.optimizer is not None:
            tensors += [v for state in self.optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor)]
        return tensors

    def resident_bytes(self) -> int:
        """Bytes held between steps."""
        return storage_bytes(self.resident_tensors())


# -- building the implementations --------------------------------------------------------------------

def twin_builder(impl: str, name: str, num_classes: int) -> tuple[Callable[[], nn.Module] | None, str | None]:
    """A function building ``impl``'s model of the same name, or None and the reason there is none."""
    if impl == "torchvision":
        if name not in torchvision.models.list_models(module=torchvision.models):
            return None, f"torchvision has no builder named {name!r}"
        kwargs: dict[str, Any] = {"num_classes": num_classes}
        if name == "googlenet":
            # cnnzoo's GoogLeNet leaves out the auxiliary classifiers unless asked; torchvision's adds them
            kwargs.update(aux_logits=False, init_weights=False)
        return lambda: torchvision.models.get_model(name, weights=None, **kwargs), None
    try:
        timm = importlib.import_module("timm")
    except ImportError:
        return None, "timm is not installed (pip install -e '.[bench]')"
    if not timm.is_model(name):
        return None, f"timm has no model named {name!r}"
    return lambda: timm.create_model(name, pretrained=False, num_classes=num_classes), None


def build_twin(build: Callable[[], nn.Module], reference: nn.Module, seed: int) -> tuple[nn.Module, str]:
    """Build a twin with ``reference``'s weights when its state_dict fits, else with its own initialisation.

    Weights do not change the speed of dense kernels (denormals aside, which the CPU flushes here), so a
    twin whose keys differ (timm's VGG) runs with its own random weights; the record says which.
    """
    try:
        with torch.device("meta"):
            model = build()
        model = model.to_empty(device="cpu")
        model.load_state_dict(reference.state_dict())
        return model, "cnnzoo"
    except Exception:  # noqa: BLE001 -- any layout mismatch: fall back to the twin's own initialisation
        torch.manual_seed(seed)
        return build(), "own random init"


def build_impls(name: str, args: argparse.Namespace, input_shape: tuple[int, ...], skipped: list[dict[str, str]]) -> list[Impl]:
    torch.manual_seed(args.seed)
    reference = cnnzoo.create(name)
    impls = [Impl("cnnzoo", reference, "cnnzoo", args.channels_last, args.compile)]
    if args.optimize:
        impls.append(Impl("cnnzoo+optimize", copy.deepcopy(reference), "cnnzoo", args.optimize["channels_last"],
                          args.optimize["compile"], optimize=dict(args.optimize)))
    for impl in args.compare:
        build, reason = twin_builder(impl, name, reference.num_classes)
        if build is None:
            skipped.append({"model": name, "impl": impl, "reason": reason or ""})
            continue
        model, weights = build_twin(build, reference, args.seed)
        impls.append(Impl(impl, model, weights, args.channels_last, args.compile))
    for impl in impls:
        for mode in args.modes:
            try:
                impl.gflops[mode] = step_flops(impl.model, input_shape, mode == "train") / input_shape[0] / 1e9
            except Exception as error:  # noqa: BLE001 -- an operator without a meta kernel: report, keep timing
                print(f"warning: could not count FLOPs of {impl.name} {name}: {error}", file=sys.stderr)
                impl.gflops[mode] = None
        if impl.optimize is not None:
            optimize(impl.model, channels_last=impl.optimize["channels_last"], compile=impl.optimize["compile"])
        else:
            if impl.channels_last:
                impl.model.to(memory_format=torch.channels_last)
            if impl.compiled:
                impl.model.compile()
    return impls


# -- the run -----------------------------------------------------------------------------------------

class Progress:
    """tqdm's bar when tqdm is installed, else nothing."""

    def __init__(self, total: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def device_info(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return {"type": "cuda", "name": name, "capability": list(torch.cuda.get_device_capability(device)),
                "memory_bytes": torch.cuda.get_device_properties(device).total_memory,
                "peak_tflops": next((dict(p) for s, p in PEAK_TFLOPS if s.lower() in name.lower()), None)}
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return {"type": "cpu", "name": name, "threads": torch.get_num_threads(), "peak_tflops": None}


def compute_dtype(device: torch.device, amp: str) -> str:
    """The dtype whose peak bounds the convolutions: the autocast dtype, else TF32 when cuDNN may use it."""
    if amp != "none":
        return amp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf32 = device.type == "cuda" and bool(torch.backends.cudnn.allow_tf32)
    return "tf32" if tf32 else "fp32"


def measure(name: str, args: argparse.Namespace, device: torch.device, progress: Progress,
            skipped: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Run every implementation of one model in each mode, interleaved step by step; one record each."""
    cfg_shape = cnnzoo.model_info(name).input_size
    side = args.input_size
    input_shape = (args.batch_size, cfg_shape[0], side or cfg_shape[1], side or cfg_shape[2])
    impls = build_impls(name, args, input_shape, skipped)
    for impl in impls:
        impl.model.to(device)
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randn(input_shape, generator=generator)
    labels = torch.randint(0, impls[0].model.num_classes, (args.batch_size,), generator=generator)
    records = []
    peak_dtype = compute_dtype(device, args.amp)
    device_name = device_info(device)["name"]
    for mode in args.modes:
        progress.describe(f"{name} {mode}")
        runners = [Runner(impl, mode, images, labels, device, args.amp) for impl in impls]
        for _ in range(args.warmup):
            for runner in runners:
                runner.step()
                progress.update()
        gc.collect()
        gc.disable()  # a collection in one implementation's step would be charged to it alone
        try:
            for i in range(args.steps):
                shift = i % len(runners)
                for runner in runners[shift:] + runners[:shift]:
                    runner.timed_step()
                    progress.update()
        finally:
            gc.enable()
        if device.type == "cpu":
            for runner in runners:
                runner.measure_cpu_memory()
        for runner in runners:
            impl = runner.impl
            median = statistics.median(runner.times_ms)
            img_per_s = args.batch_size / (median / 1e3)
            gflops = impl.gflops.get(mode)
            achieved = gflops * img_per_s / 1e3 if gflops is not None else None
            peak = peak_tflops(device_name, peak_dtype) if device.type == "cuda" else None
            memory = None if runner.transient_bytes is None else runner.resident_bytes() + runner.transient_bytes
            records.append({
                "model": name, "impl": impl.name, "mode": mode, "batch_size": args.batch_size,
                "input_size": list(input_shape[1:]), "img_per_s": img_per_s,
                "step_ms_median": median, "step_ms_p10": percentile(runner.times_ms, 10),
                "step_ms_p90": percentile(runner.times_ms, 90), "steps": len(runner.times_ms),
                # every step in the order run: step i of each implementation ran within the same round
                "step_ms": [round(t, 3) for t in runner.times_ms],
                "peak_memory_bytes": memory, "peak_memory_note": runner.memory_note,
                "gflops_per_image": gflops, "achieved_tflops": achieved,
                "peak_fraction": achieved / peak if achieved is not None and peak else None,
                "peak_dtype": peak_dtype if device.type == "cuda" else None,
                "channels_last": impl.channels_last, "compile": impl.compiled, "optimize": impl.optimize,
                "weights": impl.weights,
            })
        del runners
    for record in records:
        if record["impl"].startswith("cnnzoo"):
            others = {r["impl"]: r["img_per_s"] for r in records
                      if r["mode"] == record["mode"] and r["impl"] != record["impl"] and r["impl"] != "cnnzoo+optimize"}
            record["ratio_vs"] = {other: record["img_per_s"] / speed for other, speed in others.items()}
    del impls
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return records


# -- reporting ---------------------------------------------------------------------------------------

def _settings_line(result: dict[str, Any]) -> str:
    s, d = result["settings"], result["device"]
    where = f"{d['name']}, {d['threads']} thread{'s' if d['threads'] != 1 else ''}" if d["type"] == "cpu" else d["name"]
    optimize_text = f", optimize {'+'.join(k for k, v in s['optimize'].items() if v)}" if s["optimize"] else ""
    return (f"{d['type']} ({where}); torch {result['torch']}; batch {s['batch_size']}; amp {s['amp']}; "
            f"channels_last {'on' if s['channels_last'] else 'off'}; compile {'on' if s['compile'] else 'off'}"
            f"{optimize_text}; {s['steps']} timed steps after {s['warmup']} warm-up; {result['created']}")


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown table, one row per model, mode and implementation."""
    compare = [c for c in ("cnnzoo", *IMPLS) if any(r["impl"] == c for r in result["results"])]
    cuda = result["device"]["type"] == "cuda"
    header = ["model", "mode", "impl", "img/s", "step ms median (p10-p90)", "peak MiB", "GFLOPs/img", "TFLOP/s"]
    header += ["% of peak"] if cuda else []
    header += [f"ratio vs {c}" for c in compare]

    def number(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    rows = []
    for r in result["results"]:
        row = [r["model"], r["mode"], r["impl"], number(r["img_per_s"]),
               f"{r['step_ms_median']:.1f} ({r['step_ms_p10']:.1f}-{r['step_ms_p90']:.1f})",
               number(None if r["peak_memory_bytes"] is None else r["peak_memory_bytes"] / 2**20, 0),
               number(r["gflops_per_image"], 2), number(r["achieved_tflops"], 3)]
        row += [number(None if r["peak_fraction"] is None else 100 * r["peak_fraction"], 1)] if cuda else []
        ratios = r.get("ratio_vs", {})
        row += [number(ratios.get(c), 2) if c != r["impl"] else "" for c in compare]
        rows.append(row)
    lines = [f"Throughput: {_settings_line(result)}", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if result["skipped"]:
        lines += ["", "Not run: " + "; ".join(f"{s['impl']} {s['model']} ({s['reason']})" for s in result["skipped"]) + "."]
    return "\n".join(lines) + "\n"


def bar_chart(result: dict[str, Any], path: Path) -> bool:
    """A bar chart of images per second, one panel per mode; False when matplotlib is missing or nothing ran."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    records = result["results"]
    if not records:  # every model skipped (out of memory, say): nothing to draw
        return False
    modes = [m for m in MODES if any(r["mode"] == m for r in records)]
    models = list(dict.fromkeys(r["model"] for r in records))
    impls = list(dict.fromkeys(r["impl"] for r in records))
    figure, axes = plt.subplots(1, len(modes), figsize=(max(5.0, 1.2 * len(models) * len(modes) + 2), 4.2), squeeze=False)
    width = 0.8 / len(impls)
    for axis, mode in zip(axes[0], modes):
        speeds = {(r["model"], r["impl"]): r["img_per_s"] for r in records if r["mode"] == mode}
        for k, impl in enumerate(impls):
            xs = [i + (k - (len(impls) - 1) / 2) * width for i in range(len(models))]
            axis.bar(xs, [speeds.get((m, impl), 0.0) for m in models], width, label=impl)
        axis.set_xticks(range(len(models)), models, rotation=30, ha="right")
        axis.set_title(mode)
        axis.set_ylabel("images / s")
        values = [v for v in speeds.values() if v > 0]
        if values and max(values) / min(values) > 30:
            axis.set_yscale("log")
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize="small")
    figure.suptitle(_settings_line(result), fontsize=7, wrap=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on Windows
        return None


def _git_state() -> dict[str, Any] | None:
    """The commit measured, and whether the package's sources differed from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout
        changed = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit.strip(), "src_modified": sorted(line[3:] for line in changed.splitlines())}


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cpu":
        torch.set_flush_denormal(True)  # denormal weights or activations would slow some steps by 10x or more
    else:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels, for all alike
    skipped: list[dict[str, str]] = []
    records: list[dict[str, Any]] = []
    result = {
        "benchmark": "throughput",
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python", "benchmarks/throughput.py", *(argv if argv is not None else sys.argv[1:])]),
        "git": _git_state(),
        "device": device_info(device),
        # how busy a shared machine was; steps interleave so that this hits every implementation alike
        "load_average": {"before": _load_average(), "after": None},
        "torch": torch.__version__, "torchvision": torchvision.__version__, "timm": _version("timm"),
        "cnnzoo": cnnzoo.__version__, "python": platform.python_version(),
        "settings": {
            "models": args.models, "modes": args.modes, "batch_size": args.batch_size, "input_size": args.input_size,
            "steps": args.steps, "warmup": args.warmup, "amp": args.amp, "channels_last": args.channels_last,
            "compile": args.compile, "optimize": args.optimize, "compare": args.compare, "seed": args.seed,
            "cudnn_benchmark": device.type == "cuda", "flush_denormal": device.type == "cpu",
            "optimizer": "SGD(lr=1e-3, momentum=0.9)", "loss": "cross_entropy",
        },
        "memory_method": (
            "peak_memory_bytes = bytes held between steps (weights, buffers, optimizer state, batch) + the most "
            "a step adds on top: torch.cuda.max_memory_allocated over each timed step on CUDA; on the CPU the live "
            "bytes of the tensors one extra step creates, counted by a dispatch mode (kernel scratch space excluded)."
        ),
        "results": records,
        "skipped": skipped,
    }
    path = args.json
    path.parent.mkdir(parents=True, exist_ok=True)
    impl_count = sum(1 + bool(args.optimize) + sum(twin_builder(impl, name, 1)[0] is not None for impl in args.compare)
                     for name in args.models)
    progress = Progress(impl_count * (args.warmup + args.steps) * len(args.modes))
    try:
        for name in args.models:
            try:
                records += measure(name, args, device, progress, skipped)
            except Exception as error:  # noqa: BLE001 -- out of memory at this batch size, say: keep the other models
                traceback.print_exc(file=sys.stderr)
                skipped.append({"model": name, "impl": "all", "reason": f"{type(error).__name__}: {str(error)[:300]}"})
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            result["load_average"]["after"] = _load_average()
            # written after every model, so a long run that is stopped keeps what it measured
            path.write_text(json.dumps(result, indent=2) + "\n")
            path.with_suffix(".md").write_text(markdown(result))
    finally:
        progress.close()
    table = path.with_suffix(".md").read_text()
    print(table)
    print(f"wrote {path} and {path.with_suffix('.md').name}", end="")
    if bar_chart(result, path.with_suffix(".png")):
        print(f" and {path.with_suffix('.png').name}")
    elif not records:
        print("; no bar chart: no model ran")
    else:
        print("; no bar chart: matplotlib is not installed (pip install -e '.[bench]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
