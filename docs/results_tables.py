"""A Sphinx extension that turns the committed benchmark results (``benchmarks/results/*.json``) into pages.

The documentation quotes measurements only through what this writes, so every number on the site comes
from a results file a benchmark wrote (or, for the memory page's table, from the estimator's code). Each
results file becomes one section with a title a reader understands ("Local Response Normalization on the
CPU, float32"), one paragraph saying where and how it was measured, its tables and, when the benchmark
drew one, its plot. The file's device decides whether it is shown as a CPU or a GPU result; a device
without results says so and gives the command that makes them.

Written into ``docs/_generated/`` (:func:`write_results`):

``benchmarks_results.rst``
    the benchmarks page's results: a section "On the CPU" and one "On a GPU" (``-`` headings), with a
    subsection per results file (``~`` headings).
``lrn_results.rst``, ``densenet_memory_results.rst``
    the results of one benchmark for the LRN and memory pages: a ``~`` section per results file, CPU
    first, and one saying what is missing for a device without results.
``memory_measured_on.rst``
    one sentence for the top of the memory page: where its measured figures come from.
``memory_fits.rst``
    the memory page's table of the largest batch that fits in 2 GiB, computed by the estimator.

The functions take the folders as arguments and return text or write files, so tests run them without
Sphinx.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = DOCS / "_generated"

CPU, GPU = "cpu", "gpu"
DEVICE_SECTIONS = {CPU: "On the CPU", GPU: "On a GPU"}
# the code-block line limit of the docs (79 characters), less the 3 spaces a literal block is indented by
COMMAND_WIDTH = 76

Report = dict[str, Any]


class ResultsFileError(ValueError):
    """A results file the pages cannot show: the benchmark that wrote it changed, or it was edited."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script: the prefix of its results files, its name for a reader and how to run it."""

    kind: str
    name: str
    in_sentence: str
    cpu_command: str
    gpu_command: str


BENCHMARKS = {
    benchmark.kind: benchmark
    for benchmark in (
        Benchmark("throughput", "Training and inference speed", "training and inference speed",
                  "python benchmarks/throughput.py --device cpu --models resnet18,resnet50,densenet121 "
                  "--mode both --compare torchvision,timm --optimize --threads 1",
                  "python benchmarks/throughput.py --device cuda --models resnet50,densenet121,vgg16,alexnet "
                  "--mode train --amp bf16 --channels-last --batch-size 128 --compare torchvision,timm"),
        Benchmark("lrn", "Local Response Normalization", "Local Response Normalization",
                  "python benchmarks/lrn.py --device cpu",
                  "python benchmarks/lrn.py --device cuda"),
        Benchmark("densenet_memory", "DenseNet training memory", "DenseNet training memory",
                  "python benchmarks/densenet_memory.py --device cpu --depths 121,169,201,264 --batch-sizes 2,8",
                  "python benchmarks/densenet_memory.py --device cuda --depths 121,169,201,264 "
                  "--batch-sizes 32,64"),
    )
}
SUITE_COMMAND = "bash benchmarks/cuda_suite.sh"


@dataclass(frozen=True)
class Result:
    """One committed results file, read: its benchmark, its device (CPU or GPU) and its section title."""

    path: Path
    benchmark: Benchmark
    report: Report
    device: str
    title: str


# -- reading -----------------------------------------------------------------------------------------

def device_of(report: Report, path: Path) -> str:
    """``CPU`` or ``GPU``: lrn.py and densenet_memory.py write ``"device": "cpu"``, throughput.py a dict."""
    device = report.get("device")
    if isinstance(device, dict):
        device = device.get("type")
    if device == "cpu":
        return CPU
    if device == "cuda":
        return GPU
    raise ResultsFileError(f"{path.name}: unknown device {device!r}; expected 'cpu' or 'cuda'")


def hardware(result: Result) -> tuple[str, str]:
    """The device, in a title ("the CPU", "NVIDIA H200") and in a sentence ("the CPU (AMD EPYC, 1 thread)")."""
    report = result.report
    if result.benchmark.kind == "throughput":
        device = report["device"]
        name, threads = device["name"], device.get("threads")
    elif result.benchmark.kind == "lrn":
        name, threads = report["device_name"], report.get("threads")
    else:  # densenet_memory.py writes the threads into its "hardware" text on the CPU
        name, threads = report["hardware"], None
    if result.device == GPU:
        return name, f"a GPU ({name})"
    detail = name if threads is None else f"{name}, {plural(threads, 'thread')}"
    return "the CPU", f"the CPU ({detail})"


def read_results(results_dir: Path) -> list[Result]:
    """Every results file of a known benchmark in ``results_dir``, in benchmark then file-name order."""
    results = []
    for kind, benchmark in BENCHMARKS.items():
        # by stem, so that "throughput-cpu" (float32) comes before "throughput-cpu-bf16"
        for path in sorted(results_dir.glob(f"{kind}-*.json"), key=lambda path: path.stem):
            report = json.loads(path.read_text())
            result = Result(path, benchmark, report, device_of(report, path), "")
            results.append(Result(path, benchmark, report, result.device, TITLES[kind](result)))
    return _distinct_titles(results)


def _distinct_titles(results: list[Result]) -> list[Result]:
    """Two files with one title (the same benchmark and settings on two days) get their dates added."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.title] = counts.get(result.title, 0) + 1
    out = []
    for result in results:
        title = result.title
        if counts[title] > 1:
            title = f"{title}, {measured_on(result.report)}"
        out.append(Result(result.path, result.benchmark, result.report, result.device, title))
    titles = [result.title for result in out]
    duplicates = sorted({title for title in titles if titles.count(title) > 1})
    if duplicates:
        raise ResultsFileError(f"results files with the same settings and date: {duplicates}; keep one of each")
    return out


# -- words and numbers -----------------------------------------------------------------------------

def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def join_words(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def measured_on(report: Report) -> str:
    """The day a report was written, "23 November 2026" (lrn.py writes ``date``, throughput.py ``created``)."""
    stamp = report.get("date") or report.get("created")
    day = datetime.date.fromisoformat(str(stamp)[:10])
    return f"{day.day} {day.strftime('%B %Y')}"


def version(text: str) -> str:
    """A library's version without its build tag: "2.14.1+cu130" -> "2.14.1"."""
    return text.split("+", 1)[0]


def figure(value: float | None) -> str:
    """A measured value with three or four significant digits, "" when there is none."""
    if value is None or math.isnan(value):
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def spread(median: float, low: float, high: float, scale: float = 1.0) -> str:
    """A median with the range the middle 80% of runs fell in, "521 (495-573)", each divided by ``scale``.

    The range's dash is a non-breaking hyphen, so a narrow cell wraps only before the bracket.
    """
    return f"{figure(median / scale)} ({figure(low / scale)}\u2011{figure(high / scale)})"


def time_unit(milliseconds: Iterable[float]) -> tuple[str, float]:
    """Seconds when a table's times reach a second, else milliseconds: short figures keep columns narrow."""
    return ("s", 1000.0) if max(milliseconds) >= 1000 else ("ms", 1.0)


def ratio(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.2f}x"


def verdict(met: bool) -> str:
    return "met" if met else "not met"


def side(size: Iterable[int]) -> str:
    """An input size without its channels: [3, 224, 224] -> "224x224"."""
    return "x".join(str(v) for v in list(size)[-2:])


def literal(text: str) -> str:
    """``text`` as inline code, whatever it holds (an error message may hold rst markup)."""
    return "``" + " ".join(text.replace("`", "'").split()) + "``"


def source(result: Result) -> str:
    return f"The figures are in ``benchmarks/results/{result.path.name}``."


SPREAD_WORDS = ("Times are medians, with the range the middle 80% of runs fell in (the 10th to the 90th "
                "percentile) in brackets.")


# -- tables and blocks -------------------------------------------------------------------------------

def _row(cells: list[str]) -> str:
    return "   * - " + "\n     - ".join(cell if cell else " " for cell in cells)


def list_table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    """An rst list-table; a column that is empty in every row is left out."""
    keep = [i for i in range(len(header)) if any(row[i] for row in rows)]
    header = [header[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    lines = [f".. list-table:: {caption}".rstrip(), "   :header-rows: 1", "   :widths: auto", "", _row(header)]
    lines += [_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def wrap_command(command: str, width: int = COMMAND_WIDTH) -> list[str]:
    """A shell command over lines of at most ``width`` characters, each option kept with its value."""
    groups: list[str] = []
    for word in command.split():
        if groups and not word.startswith("-"):
            groups[-1] += " " + word
        else:
            groups.append(word)
    lines = [groups[0]]
    for group in groups[1:]:
        if len(lines[-1]) + 1 + len(group) + 2 <= width:
            lines[-1] += " " + group
        else:
            lines[-1] += " \\"
            lines.append("    " + group)
    return lines


def command_block(*commands: str) -> str:
    lines = [line for command in commands for line in wrap_command(command)]
    return ".. code-block:: text\n\n" + "\n".join(f"   {line}" for line in lines) + "\n"


def figure_block(result: Result, alt: str, caption: str) -> str:
    """The plot the benchmark drew beside its JSON, when there is one."""
    png = result.path.with_suffix(".png")
    if not png.exists():
        return ""
    # a path from the docs folder, as Sphinx reads a leading "/": the same from every page that includes it
    target = "/" + Path(os.path.relpath(png, DOCS)).as_posix()
    return f".. figure:: {target}\n   :alt: {alt}\n   :width: 100%\n\n   {caption}\n"


def section(title: str, underline: str, *parts: str) -> str:
    body = "\n".join(part for part in parts if part)
    return f"{title}\n{underline * len(title)}\n\n{body}"


# -- throughput.py ---------------------------------------------------------------------------------

MODES = {"infer": "inference", "train": "training"}
PRECISIONS = {"none": "float32", "bf16": "bfloat16", "fp16": "float16"}
OPTIMIZE_OPTIONS = {"channels_last": "channels-last memory format", "compile": "torch.compile"}
RATIO_COLUMNS = ("cnnzoo", "torchvision", "timm")


def _impl_name(impl: str) -> str:
    return "cnnzoo + optimize" if impl == "cnnzoo+optimize" else impl


def title_throughput(result: Result) -> str:
    settings = result.report["settings"]
    modes = [MODES[mode] for mode in settings["modes"]]
    what = join_words(modes).capitalize() + " speed"
    extras = [PRECISIONS[settings["amp"]]]
    extras += ["channels-last"] if settings["channels_last"] else []
    extras += ["compiled"] if settings["compile"] else []
    return f"{what} on {hardware(result)[0]}, {', '.join(extras)}"


def render_throughput(result: Result) -> str:
    report, settings = result.report, result.report["settings"]
    precision = PRECISIONS[settings["amp"]]
    if settings["amp"] != "none":
        precision += " autocast"
    libraries = [f"PyTorch {version(report['torch'])}", f"torchvision {version(report['torchvision'])}"]
    libraries += [f"timm {version(report['timm'])}"] if report.get("timm") else []
    sizes = sorted({side(r["input_size"]) for r in report["results"]})
    layout = []
    layout += ["every model in channels-last memory format"] if settings["channels_last"] else []
    layout += ["every model compiled with torch.compile"] if settings["compile"] else []
    intro = (
        f"Measured on {hardware(result)[1]} on {measured_on(report)} with {join_words(libraries)}: batches "
        f"of {settings['batch_size']} images of {join_words(sizes)} pixels, {precision}"
        f"{''.join(', ' + item for item in layout)}. Each implementation ran "
        f"{plural(settings['steps'], 'timed step')} after {plural(settings['warmup'], 'warm-up step')}, its "
        "steps taking turns with the others'."
    )
    steps = {"infer": "inference is a forward pass in evaluation mode",
             "train": "training a forward pass, cross-entropy loss, backward pass and "
                      f"``{settings['optimizer']}`` step"}
    said = "; ".join(steps[mode] for mode in settings["modes"])
    intro += f" {said[0].upper()}{said[1:]}."
    if settings.get("optimize"):
        options = [OPTIMIZE_OPTIONS[key] for key, on in settings["optimize"].items() if on]
        intro += (f" *cnnzoo + optimize* is cnnzoo's model after ``cnnzoo.optimize(model)``"
                  f"{' (' + join_words(options) + ')' if options else ''}.")
    reading = (f"{SPREAD_WORDS} In the speed columns, 1.03x means cnnzoo's model handled 3% more images a "
               "second than the other; below 1, fewer.")
    rows_by_model: dict[str, list[Report]] = {}
    for record in report["results"]:
        rows_by_model.setdefault(record["model"], []).append(record)
    peak_dtypes = sorted({r["peak_dtype"] for r in report["results"] if r.get("peak_fraction") is not None})
    peak_words = f"the card's {join_words(peak_dtypes)} peak" if peak_dtypes else ""
    if peak_dtypes:
        reading += (f" The share of {peak_words} is the arithmetic the model did a second over the peak "
                    "on the card's datasheet.")
    tables = []
    for model, records in rows_by_model.items():
        unit, scale = time_unit(r["step_ms_median"] for r in records)
        header = ["task", "built by", "images a second", f"step time, {unit}", "speed vs plain cnnzoo",
                  "speed vs torchvision", "speed vs timm", f"share of {peak_words}"]
        rows = []
        for r in records:
            ratios = r.get("ratio_vs") or {}
            rows.append([
                MODES[r["mode"]], _impl_name(r["impl"]), figure(r["img_per_s"]),
                spread(r["step_ms_median"], r["step_ms_p10"], r["step_ms_p90"], scale),
                *(ratio(ratios.get(other)) for other in RATIO_COLUMNS),
                "" if r.get("peak_fraction") is None else f"{r['peak_fraction']:.1%}",
            ])
        sizes = sorted({side(r["input_size"]) for r in records})
        tables.append(list_table(header, rows, caption=f"``{model}`` at {join_words(sizes)}"))
    skipped = [f"``{s['model']}`` ({'every implementation' if s['impl'] == 'all' else s['impl']}): "
               f"{literal(s['reason'])}" for s in report.get("skipped") or []]
    not_run = f"Not measured: {'; '.join(skipped)}.\n" if skipped else ""
    models = join_words(rows_by_model)
    impls = join_words(dict.fromkeys(_impl_name(r["impl"]) for r in report["results"]))
    plot = figure_block(result, alt=f"Bar charts of images a second for {models}, as {impls} build them.",
                        caption="Images a second, higher is better; the tables below give each figure "
                                "with its spread.")
    again = "The command that made them, to measure again:\n\n" + command_block(report["command"])
    return "\n".join([intro + "\n", plot, summary_throughput(report), reading + "\n", *tables, not_run,
                      source(result) + " " + again])


def summary_throughput(report: Report) -> str:
    """One sentence: the range of cnnzoo's speed against each other implementation, per kind of cnnzoo model."""
    parts = []
    labels = (("cnnzoo", "plain cnnzoo models ran at"), ("cnnzoo+optimize", "after ``cnnzoo.optimize``, at"))
    for impl, label in labels:
        ranges = []
        for other in RATIO_COLUMNS:
            values = [r["ratio_vs"][other] for r in report["results"]
                      if r["impl"] == impl and other in (r.get("ratio_vs") or {})]
            if values:
                low, high = ratio(min(values)), ratio(max(values))
                name = "the plain cnnzoo model's" if other == "cnnzoo" else f"{other}'s"
                ranges.append(f"{low if low == high else f'{low} to {high}'} {name}")
        if ranges:
            ranges[0] += " speed"
            parts.append(f"{label} {join_words(ranges)}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + ".\n"


# -- lrn.py ----------------------------------------------------------------------------------------

def title_lrn(result: Result) -> str:
    settings = result.report["settings"]
    extras = [settings["dtype"]] + (["channels-last"] if settings.get("channels_last") else [])
    return f"{result.benchmark.name} on {hardware(result)[0]}, {', '.join(extras)}"


def _shape(record: Report) -> str:
    return "x".join(str(v) for v in record["shape"])


def render_lrn(result: Result) -> str:
    report, settings = result.report, result.report["settings"]
    records = report["results"]
    intro = (
        f"Measured on {hardware(result)[1]} on {measured_on(report)} with PyTorch {version(report['torch'])} "
        f"and cnnzoo {report['cnnzoo']}, in {settings['dtype']}"
        f"{', channels-last' if settings.get('channels_last') else ''}, with size {settings['size']}, "
        f"alpha {settings['alpha']:g}, beta {settings['beta']:g} and k {settings['k']:g}. Each time is over "
        f"{plural(settings['repeats'], 'run')} after {plural(settings['warmup'], 'warm-up run')}, the two "
        f"implementations taking turns. {SPREAD_WORDS}"
    )
    agree = (
        "Both give the same output and gradient: the largest differences between them are "
        f"{max(r['max_abs_output_diff'] for r in records):.1e} and "
        f"{max(r['max_abs_grad_diff'] for r in records):.1e}."
    )
    unit, scale = time_unit(r["impls"][impl]["forward_backward"]["median_ms"] for r in records
                            for impl in ("pytorch", "cnnzoo"))
    header = ["input", "implementation", "memory kept for backward", f"forward, {unit}",
              f"forward and backward, {unit}", "peak of a step, MiB"]
    rows = []
    for record in records:
        for impl, name in (("pytorch", "PyTorch"), ("cnnzoo", "cnnzoo")):
            figures = record["impls"][impl]
            forward, both = figures["forward"], figures["forward_backward"]
            peak = figures.get("step_peak_bytes")
            rows.append([
                _shape(record), name, f"{figures['saved_vs_input']:.2f}x the input",
                spread(forward["median_ms"], forward["p10_ms"], forward["p90_ms"], scale),
                spread(both["median_ms"], both["p10_ms"], both["p90_ms"], scale),
                "" if peak is None else figure(peak / 2**20),
            ])
    return "\n".join([intro + "\n", list_table(header, rows), agree + "\n",
                      targets_lrn(result) + "\n", source(result) + " " + command_lrn(result)])


def targets_lrn(result: Result) -> str:
    """The speedups and the issue's targets, as a list of sentences."""
    report = result.report
    targets = dict(report["targets"])
    items = []
    unmarked = []
    for record in report["results"]:
        shape = _shape(record)
        sentence = (f"On {shape} inputs cnnzoo's LRN is {record['speedup_forward_backward']:.2f}x faster than "
                    f"PyTorch's in forward and backward together ({record['speedup_forward']:.2f}x in forward "
                    "alone).")
        check = targets.pop(f"speedup_forward_backward_{shape}", None)
        if check is not None and check["met"] is not None:
            sentence += f" The target is at least {check['target_min']:g}x: {verdict(check['met'])}."
        else:
            unmarked.append(len(items))
        items.append(sentence)
    if unmarked and len(unmarked) < len(items):
        marked = [_shape(r) for i, r in enumerate(report["results"]) if i not in unmarked]
        items[unmarked[0]] += f" On {hardware(result)[0]} the speed target is set for {join_words(marked)} only."
    saved = targets.pop("saved_vs_input", None)
    if saved is not None:
        theirs = max(r["impls"]["pytorch"]["saved_vs_input"] for r in report["results"])
        items.append(
            f"For backward, cnnzoo keeps at most {saved['measured']:.2f}x the input's size and PyTorch up to "
            f"{theirs:.2f}x. The target is at most {saved['target_max']:g}x: {verdict(saved['met'])}.")
    if targets:
        raise ResultsFileError(f"{result.path.name}: targets the pages do not know how to word: {sorted(targets)}")
    return "\n".join(f"- {item}" for item in items) + "\n"


def command_lrn(result: Result) -> str:
    """The command that makes the same measurement: lrn.py takes every setting it records as an option."""
    report, settings = result.report, result.report["settings"]
    device = "cpu" if result.device == CPU else "cuda"
    command = (f"python benchmarks/lrn.py --device {device} --dtype {settings['dtype']} --shapes "
               f"{','.join(_shape(r) for r in report['results'])} --size {settings['size']} --alpha "
               f"{settings['alpha']:g} --beta {settings['beta']:g} --k {settings['k']:g} --repeats "
               f"{settings['repeats']} --warmup {settings['warmup']}")
    if settings.get("channels_last"):
        command += " --channels-last"
    return "To measure again:\n\n" + command_block(command)


# -- densenet_memory.py ----------------------------------------------------------------------------

VARIANTS = {"plain": "plain", "cnnzoo": "cnnzoo, memory-efficient", "torchvision": "torchvision, memory-efficient"}


def title_densenet_memory(result: Result) -> str:
    return f"{result.benchmark.name} on {hardware(result)[0]}"


def render_densenet_memory(result: Result) -> str:
    report = result.report
    records = report["results"]
    cpu = result.device == CPU
    sizes = sorted({r["input_size"] for r in records})
    timed = [r for r in records if r.get("repeats")]
    intro = (
        f"Measured on {hardware(result)[1]} on {measured_on(report)} with PyTorch {version(report['torch'])} "
        f"and torchvision {version(report['torchvision'])}, on {join_words(f'{s}x{s}' for s in sizes)} images. "
        "A step is a forward pass, cross-entropy loss and backward pass in training mode. "
    )
    intro += ("Peak memory is what the step adds to the process's memory at its peak, each network measured "
              "alone in a fresh process. " if cpu else
              "Peak memory is the most the step allocates on the card beyond what it held before the step. ")
    if timed:
        repeats = sorted({r["repeats"] for r in timed})
        count = plural(repeats[0], "step") if len(repeats) == 1 else "several steps"
        intro += (f"Step time is the median of {count}, the networks' steps taking turns; the ratios are "
                  "medians of each round's ratio to the plain network.")
        if cpu:
            intro += (" CPU time counts only the time the process ran, which waiting for a core shared "
                      "with other programs does not inflate.")
    header = ["batch", "network", "peak memory, MiB", "memory vs plain", "step time, s", "step time vs plain",
              "CPU time vs plain"]
    groups: dict[tuple[int, int], list[Report]] = {}
    for record in records:
        groups.setdefault((record["input_size"], record["depth"]), []).append(record)
    tables = []
    for (size, depth), rows_of in groups.items():
        rows = []
        for r in rows_of:
            plain = r["variant"] == "plain"
            rows.append([
                str(r["batch"]), VARIANTS[r["variant"]], figure(r["peak_mib"]),
                "" if plain else f"{r['memory_ratio']:.2f}x less", figure(r.get("time_s")),
                "" if plain else ratio(r.get("time_ratio")),
                "" if plain or not cpu else ratio(r.get("cpu_time_ratio")),
            ])
        caption = f"DenseNet-{depth}" + (f" at {size}x{size}" if len(sizes) > 1 else "")
        tables.append(list_table(header, rows, caption=caption))
    plot = figure_block(
        result,
        alt="Three plots: peak memory against depth, step time against depth, and peak memory against "
            "batch size, for the plain DenseNet, cnnzoo's memory-efficient one and torchvision's.",
        caption="Left to right: peak memory of a training step against depth, its step time against depth, "
                "and peak memory against batch size.")
    return "\n".join([intro + "\n", plot, summary_densenet_memory(result), *tables,
                      source(result) + " ``benchmarks/densenet_memory.py`` made them.\n"])


def summary_densenet_memory(result: Result) -> str:
    """One sentence on the largest case measured: the plain network's biggest peak."""
    records = result.report["results"]
    plain = max((r for r in records if r["variant"] == "plain"), key=lambda r: r["peak_mib"], default=None)
    ours = next((r for r in records if r["variant"] == "cnnzoo" and plain is not None
                 and (r["depth"], r["batch"], r["input_size"]) == (plain["depth"], plain["batch"],
                                                                   plain["input_size"])), None)
    if plain is None or ours is None:
        return ""
    sentence = (f"In the largest case measured, DenseNet-{plain['depth']} at batch {plain['batch']}, cnnzoo's "
                f"memory-efficient network peaks at {figure(ours['peak_mib'])} MiB against the plain "
                f"network's {figure(plain['peak_mib'])} MiB ({ours['memory_ratio']:.2f}x less)")
    clock = "cpu_time_ratio" if result.device == CPU else "time_ratio"
    if ratio(ours.get(clock)):
        what = "CPU time" if result.device == CPU else "time"
        sentence += f", and its step takes {ratio(ours[clock])} the plain step's {what}"
    return sentence + ".\n"


TITLES: dict[str, Callable[[Result], str]] = {
    "throughput": title_throughput,
    "lrn": title_lrn,
    "densenet_memory": title_densenet_memory,
}
RENDERERS: dict[str, Callable[[Result], str]] = {
    "throughput": render_throughput,
    "lrn": render_lrn,
    "densenet_memory": render_densenet_memory,
}


# -- pages -----------------------------------------------------------------------------------------

def render_result(result: Result, underline: str = "~") -> str:
    return section(result.title, underline, RENDERERS[result.benchmark.kind](result))


def missing_words(device: str, benchmarks: list[Benchmark]) -> str:
    """What to run to make the results of ``benchmarks`` that ``device`` has none of."""
    where = "the CPU" if device == CPU else "a GPU"
    if len(benchmarks) == len(BENCHMARKS):
        text = f"No results measured on {where} are committed yet. "
    else:
        names = join_words(b.in_sentence for b in benchmarks)
        text = f"No results of {names} measured on {where} are committed yet. "
    commands = [b.cpu_command if device == CPU else b.gpu_command for b in benchmarks]
    each = "these commands run one benchmark each" if len(commands) > 1 else "this command runs this one alone"
    if device == GPU:
        text += (f"On a machine with a CUDA card, ``{SUITE_COMMAND}`` runs every benchmark and check that "
                 "needs a card and writes the results into ``benchmarks/results/``, named after the card "
                 f"(``benchmarks/README.md`` says what it checks); {each}:")
    else:
        text += f"On any machine, {each}:"
    they = "they write" if len(commands) > 1 else "it writes"
    return (f"{text}\n\n{command_block(*commands)}\nCommit the files {they}: this page shows them when it is "
            "next built.\n")


def benchmarks_page(results: list[Result]) -> str:
    """The benchmarks page's results: a section per device, a subsection per results file."""
    sections = []
    for device, heading in DEVICE_SECTIONS.items():
        mine = [result for result in results if result.device == device]
        missing = [b for b in BENCHMARKS.values() if not any(r.benchmark is b for r in mine)]
        parts = [missing_words(device, missing)] if missing else []
        parts += [render_result(result, "~") for result in mine]
        sections.append(section(heading, "-", *parts))
    return "\n".join(sections)


def benchmark_page(kind: str, results: list[Result]) -> str:
    """One benchmark's results for its own page: a section per results file, CPU first."""
    benchmark = BENCHMARKS[kind]
    sections = []
    for device in DEVICE_SECTIONS:
        mine = [r for r in results if r.benchmark is benchmark and r.device == device]
        if mine:
            sections += [render_result(result, "~") for result in mine]
        else:
            where = "the CPU" if device == CPU else "a GPU"
            sections.append(section(f"{benchmark.name} on {where}", "~", missing_words(device, [benchmark])))
    return "\n".join(sections)


def measured_on_sentence(results: list[Result], kind: str) -> str:
    """Where the measured figures of ``kind`` come from, in one sentence."""
    mine = [r for r in results if r.benchmark.kind == kind]
    cpus = list(dict.fromkeys(hardware(r)[1] for r in mine if r.device == CPU))
    gpus = list(dict.fromkeys(hardware(r)[1] for r in mine if r.device == GPU))
    if not cpus and not gpus:
        return "No measurements are committed yet: every figure on this page is computed.\n"
    where = join_words(cpus + gpus)
    text = f"The measured figures on this page come from {where}"
    text += "; none from a GPU are committed yet." if not gpus else "; each section names its device."
    return text + "\n"


FIT_MODELS: list[tuple[str, dict[str, Any]]] = [
    ("alexnet", {}),
    ("vgg16", {}),
    ("resnet18", {}),
    ("resnet50", {}),
    ("densenet121", {}),
    ("densenet121", {"memory_efficient": True}),
]
FIT_BUDGET = "2GiB"


def memory_fits() -> str:
    """The memory page's table of the largest training batch within ``FIT_BUDGET``, from the estimator."""
    import cnnzoo
    from cnnzoo.memory import estimate_memory, format_bytes, max_batch_size, parse_bytes

    def largest(model_or_name: Any, **kwargs: Any) -> str:
        one = estimate_memory(model_or_name, 1, optimizer="adam", **kwargs)
        if one.total > parse_bytes(FIT_BUDGET):
            return f"does not fit (batch 1 needs {format_bytes(one.total)})"
        return str(max_batch_size(model_or_name, FIT_BUDGET, optimizer="adam", **kwargs))

    rows = []
    for name, kwargs in FIT_MODELS:
        frozen = cnnzoo.create(name, num_classes=5, **kwargs)
        cnnzoo.freeze_backbone(frozen)
        label = f"``{name}``" + "".join(f" ``{key}={value}``" for key, value in kwargs.items())
        rows.append([label, largest(name, num_classes=5, **kwargs), largest(frozen)])
    header = ["model", "full fine-tuning (Adam)", "frozen backbone, new 5-way head (Adam)"]
    return list_table(header, rows)


def write_result_pages(results_dir: Path | None = None, generated: Path | None = None) -> list[Result]:
    """Write every page part made from results files; return the results read."""
    results_dir = RESULTS if results_dir is None else results_dir
    generated = GENERATED if generated is None else generated
    generated.mkdir(parents=True, exist_ok=True)
    results = read_results(results_dir)
    (generated / "benchmarks_results.rst").write_text(benchmarks_page(results))
    for kind in ("lrn", "densenet_memory"):
        (generated / f"{kind}_results.rst").write_text(benchmark_page(kind, results))
    (generated / "memory_measured_on.rst").write_text(measured_on_sentence(results, "densenet_memory"))
    return results


def write_results(app: object = None) -> None:
    GENERATED.mkdir(exist_ok=True)
    (GENERATED / "memory_fits.rst").write_text(memory_fits())
    write_result_pages()


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", write_results)
    return {"parallel_read_safe": True}
