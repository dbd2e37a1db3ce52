"""The benchmark pages are written from the committed results files, in words a reader can use.

``docs/results_tables.py`` turns each ``benchmarks/results/*.json`` into a section: a title, a sentence
saying where and how it was measured, tables and sentences. These tests read what it writes for the
committed files and for synthetic GPU files shaped as the benchmark scripts write them.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COMMITTED = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(DOCS))

results_tables = pytest.importorskip("results_tables")

PAGES = ("benchmarks_results.rst", "lrn_results.rst", "densenet_memory_results.rst", "memory_measured_on.rst")


def write_pages(results_dir: Path, generated: Path) -> dict[str, str]:
    results_tables.write_result_pages(results_dir, generated)
    return {name: (generated / name).read_text() for name in PAGES}


@pytest.fixture(scope="module")
def committed_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_pages(COMMITTED, tmp_path_factory.mktemp("generated"))


def committed_reports() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, json.loads(path.read_text())) for path in sorted(COMMITTED.glob("*.json"))
            if path.name.split("-")[0] in results_tables.BENCHMARKS]


def raw_device(report: dict[str, Any]) -> str:
    """The device as the scripts write it: lrn.py and densenet_memory.py a string, throughput.py a dict."""
    device = report["device"]
    return device["type"] if isinstance(device, dict) else device


def sections(text: str, underline: str) -> dict[str, str]:
    """The sections of ``text`` whose titles are underlined with ``underline``, by title."""
    lines = text.splitlines()
    starts = [i for i in range(len(lines) - 1)
              if lines[i].strip() and re.fullmatch(re.escape(underline) + "+", lines[i + 1])]
    return {lines[start]: "\n".join(lines[start:end])
            for start, end in zip(starts, [*starts[1:], len(lines)])}


def headings(text: str) -> list[str]:
    lines = text.splitlines()
    return [lines[i] for i in range(len(lines) - 1)
            if lines[i].strip() and re.fullmatch(r"([-~=^])\1+", lines[i + 1])]


def list_tables(text: str) -> list[list[list[str]]]:
    """Every ``list-table`` in ``text``, as rows of cells, the header first."""
    tables = []
    rows: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith(".. list-table::"):
            rows = []
            tables.append(rows)
        elif rows is not None and line.startswith("   * - "):
            rows.append([line[len("   * - "):].strip()])
        elif rows is not None and line.startswith("     - "):
            rows[-1].append(line[len("     - "):].strip())
        elif rows is not None and line and not line.startswith("   "):
            rows = None
    return tables


def code_lines(text: str) -> list[str]:
    """The lines inside the code blocks and literal blocks of rst ``text``, without their indentation."""
    out = []
    inside = False
    for line in text.splitlines():
        if line.startswith(".. code-block::") or (line.rstrip().endswith("::") and not line.startswith("..")):
            inside = True
        elif inside and line.strip() and not line.startswith("   "):
            inside = False
        elif inside and line.strip():
            out.append(line[3:])
    return out


def json_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in json_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in json_keys(item)}
    return set()


# -- synthetic GPU results, shaped as benchmarks/throughput.py, lrn.py and densenet_memory.py write them

def gpu_throughput() -> dict[str, Any]:
    def record(impl: str, img_per_s: float, ratios: dict[str, float] | None) -> dict[str, Any]:
        step = 128 / img_per_s * 1000
        row = {
            "model": "resnet50", "impl": impl, "mode": "train", "batch_size": 128, "input_size": [3, 224, 224],
            "img_per_s": img_per_s, "step_ms_median": step, "step_ms_p10": step * 0.98,
            "step_ms_p90": step * 1.03, "steps": 50, "step_ms": [round(step, 3)] * 50,
            "peak_memory_bytes": 21_000_000_000, "peak_memory_note": None, "gflops_per_image": 24.6,
            "achieved_tflops": 24.6 * img_per_s / 1e3, "peak_fraction": 24.6 * img_per_s / 1e3 / 989.4,
            "peak_dtype": "bf16", "channels_last": True, "compile": False, "optimize": None, "weights": "cnnzoo",
        }
        if ratios is not None:
            row["ratio_vs"] = ratios
        return row

    return {
        "benchmark": "throughput",
        "created": "2026-12-01T10:00:00Z",
        "command": "python benchmarks/throughput.py --device cuda --mode train --amp bf16 --channels-last "
                   "--compare torchvision,timm --models resnet50 --batch-size 128 --steps 50 --warmup 10 "
                   "--json benchmarks/results/throughput-nvidia-h200-bf16-train.json",
        "git": {"commit": "0" * 40, "src_modified": []},
        "device": {"type": "cuda", "name": "NVIDIA H200", "capability": [9, 0], "memory_bytes": 150_000_000_000,
                   "peak_tflops": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}},
        "load_average": {"before": [0.5, 0.4, 0.3], "after": [1.0, 0.6, 0.4]},
        "torch": "2.14.1+cu130", "torchvision": "0.29.1+cu130", "timm": "1.0.31", "cnnzoo": "0.1.0.dev0",
        "python": "3.11.7",
        "settings": {
            "models": ["resnet50"], "modes": ["train"], "batch_size": 128, "input_size": None, "steps": 50,
            "warmup": 10, "amp": "bf16", "channels_last": True, "compile": False, "optimize": None,
            "compare": ["torchvision", "timm"], "seed": 0, "cudnn_benchmark": True, "flush_denormal": False,
            "optimizer": "SGD(lr=1e-3, momentum=0.9)", "loss": "cross_entropy",
        },
        "memory_method": "peak_memory_bytes = bytes held between steps ...",
        "results": [
            record("cnnzoo", 2950.0, {"torchvision": 2950.0 / 2900.0, "timm": 2950.0 / 2875.0}),
            record("torchvision", 2900.0, None),
            record("timm", 2875.0, None),
        ],
        # an error message with rst markup in it: `name`, *args, trailing_
        "skipped": [{"model": "vgg16", "impl": "all",
                     "reason": "OutOfMemoryError: CUDA out of memory in `conv2d` (*args): tried_ 2.00 GiB"}],
    }


def gpu_lrn() -> dict[str, Any]:
    def impl(median: float, saved: float) -> dict[str, Any]:
        return {"saved_for_backward_bytes": int(37171200 * saved), "saved_vs_input": saved,
                "step_peak_bytes": int(37171200 * (saved + 2)),
                "forward": {"median_ms": median / 3, "p10_ms": median / 3.1, "p90_ms": median / 2.9},
                "forward_backward": {"median_ms": median, "p10_ms": median * 0.97, "p90_ms": median * 1.04}}

    results = []
    for shape, theirs, mine in (([32, 96, 55, 55], 2.0, 0.4), ([32, 256, 27, 27], 1.2, 0.35)):
        results.append({
            "shape": shape, "dtype": "bfloat16", "channels_last": False, "input_bytes": 37171200,
            "max_abs_output_diff": 0.0078125, "max_abs_grad_diff": 0.00390625,
            "impls": {"pytorch": impl(theirs, 4.04), "cnnzoo": impl(mine, 1.0)},
            "speedup_forward": theirs / mine, "speedup_forward_backward": theirs / mine,
            "saved_memory_ratio": 4.04,
        })
    return {
        "benchmark": "lrn", "date": "2026-12-01T10:05:00+00:00", "device": "cuda", "device_name": "NVIDIA H200",
        "torch": "2.14.1+cu130", "cnnzoo": "0.1.0.dev0", "threads": 16,
        "settings": {"dtype": "bfloat16", "channels_last": False, "size": 5, "alpha": 0.0001, "beta": 0.75,
                     "k": 2.0, "repeats": 50, "warmup": 5},
        "results": results,
        "targets": {
            "saved_vs_input": {"target_max": 1.0, "measured": 1.0, "met": True},
            "speedup_forward_backward_32x96x55x55": {"target_min": 4.0, "measured": 5.0, "met": True},
            "speedup_forward_backward_32x256x27x27": {"target_min": 4.0, "measured": 1.2 / 0.35, "met": False},
        },
    }


def gpu_densenet_memory() -> dict[str, Any]:
    rows = []
    for variant, peak, time_s in (("plain", 9000.0, 0.210), ("cnnzoo", 2500.0, 0.228),
                                  ("torchvision", 4100.0, 0.260)):
        rows.append({"depth": 121, "batch": 64, "input_size": 224, "variant": variant, "peak_mib": peak,
                     "memory_ratio": 9000.0 / peak, "time_s": time_s, "time_ratio": time_s / 0.210,
                     "cpu_time_s": 0.2, "cpu_time_ratio": 1.0, "repeats": 20})
    return {
        "device": "cuda", "hardware": "NVIDIA H200", "torch": "2.14.1+cu130", "torchvision": "0.29.1+cu130",
        "date": "2026-12-01",
        "step": "forward, cross-entropy, backward; model in training mode; gradients set to None before",
        "memory": "torch.cuda.max_memory_allocated - memory_allocated before the step",
        "time": "median over interleaved steps; *_ratio: median of per-round ratios to plain",
        "results": rows,
    }


GPU_FILES = {
    "throughput-nvidia-h200-bf16-train.json": gpu_throughput,
    "lrn-nvidia-h200-bfloat16.json": gpu_lrn,
    "densenet_memory-nvidia-h200.json": gpu_densenet_memory,
}


def results_with_gpu(tmp_path: Path, files: dict[str, Any]) -> Path:
    """A results folder with the committed files and the synthetic GPU ones named in ``files``."""
    folder = tmp_path / "results"
    folder.mkdir()
    for path, report in committed_reports():
        (folder / path.name).write_text(json.dumps(report))
    for name, make in files.items():
        (folder / name).write_text(json.dumps(make()))
    return folder


# -- the committed results -----------------------------------------------------------------------------

def test_every_committed_lrn_speedup_appears_in_the_rendered_text(committed_pages):
    reports = [report for path, report in committed_reports() if path.name.startswith("lrn-")]
    assert reports, "no committed LRN results"
    for page in ("benchmarks_results.rst", "lrn_results.rst"):
        for report in reports:
            for result in report["results"]:
                assert f"{result['speedup_forward_backward']:.2f}x faster" in committed_pages[page]


def test_every_committed_results_file_is_under_the_section_of_its_device(committed_pages):
    by_device = sections(committed_pages["benchmarks_results.rst"], "-")
    assert set(by_device) == {"On the CPU", "On a GPU"}
    results = {result.path.name: result for result in results_tables.read_results(COMMITTED)}
    reports = committed_reports()
    assert reports and set(results) == {path.name for path, _ in reports}
    for path, report in reports:
        mine, other = ("On the CPU", "On a GPU") if raw_device(report) == "cpu" else ("On a GPU", "On the CPU")
        title = results[path.name].title
        assert title in sections(by_device[mine], "~"), f"{path.name} is not under {mine!r}"
        assert f"benchmarks/results/{path.name}" in sections(by_device[mine], "~")[title]
        assert path.name not in by_device[other]
        kind = path.name.split("-")[0]
        if kind != "throughput":
            assert title in sections(committed_pages[f"{kind}_results.rst"], "~")


def test_rendered_pages_hold_no_internal_strings(committed_pages):
    text = "\n".join(committed_pages.values())
    stems = {path.stem for path, _ in committed_reports()}
    assert not stems & set(headings(text)), "a results file's name is a heading"
    for word in ("None", "nan", "no target", "null", "True", "False"):
        assert not re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE if word != "None" else 0), word
    # every key the scripts write that is spelled like a variable (peak_fraction, input_size, ...)
    keys = {key for _, report in committed_reports() for key in json_keys(report) if "_" in key}
    assert keys
    leaked = sorted(key for key in keys if key in text)
    assert not leaked, f"internal field names on the pages: {leaked}"


def test_no_rendered_table_has_an_empty_column(committed_pages):
    tables = [table for page in committed_pages.values() for table in list_tables(page)]
    assert tables
    for table in tables:
        header, *rows = table
        assert rows and all(len(row) == len(header) for row in rows)
        for column, name in enumerate(header):
            assert any(row[column] for row in rows), f"column {name!r} is empty"


def test_cpu_results_show_no_gpu_command_and_the_gpu_section_says_none_are_committed(committed_pages):
    by_device = sections(committed_pages["benchmarks_results.rst"], "-")
    assert "--device cuda" not in by_device["On the CPU"]
    if not any(raw_device(report) == "cuda" for _, report in committed_reports()):
        gpu = by_device["On a GPU"]
        assert "No results measured on a GPU are committed yet" in gpu
        assert results_tables.SUITE_COMMAND in gpu
        for benchmark in results_tables.BENCHMARKS.values():
            assert benchmark.gpu_command.split(" --")[0] in gpu
        assert "none from a GPU" in committed_pages["memory_measured_on.rst"]
        assert "the CPU" in committed_pages["memory_measured_on.rst"]


def test_lrn_targets_are_sentences_with_their_verdict(committed_pages):
    text = committed_pages["lrn_results.rst"]
    for path, report in committed_reports():
        if not path.name.startswith("lrn-"):
            continue
        for check in report["targets"].values():
            if check["met"] is None:
                continue
            bound = check.get("target_min", check.get("target_max"))
            assert f"The target is at {'least' if 'target_min' in check else 'most'} {bound:g}x: " \
                   f"{'met' if check['met'] else 'not met'}." in text


def test_every_code_line_fits_the_content_column(committed_pages, tmp_path):
    pages = dict(committed_pages)
    pages.update(write_pages(results_with_gpu(tmp_path, GPU_FILES), tmp_path / "generated"))
    lines = [line for page in pages.values() for line in code_lines(page)]
    assert any(line.startswith("python benchmarks/") for line in lines)
    too_long = [line for line in lines if len(line) > 79]
    assert not too_long


# -- synthetic GPU results -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GPU_FILES))
def test_synthetic_gpu_files_have_the_fields_of_the_committed_ones(name):
    kind = name.split("-")[0]
    committed = [report for path, report in committed_reports() if path.name.startswith(f"{kind}-")]
    if not committed:
        pytest.skip(f"no committed {kind} results to compare with")
    synthetic = GPU_FILES[name]()
    assert set(synthetic) == set(committed[0])
    # a CPU record of throughput.py lacks nothing a GPU one has: the same keys, different values
    first, theirs = synthetic["results"][0], committed[0]["results"][0]
    assert set(first) == set(theirs)


def test_a_gpu_results_file_is_rendered_under_the_gpu_section(tmp_path):
    pages = write_pages(results_with_gpu(tmp_path, GPU_FILES), tmp_path / "generated")
    by_device = sections(pages["benchmarks_results.rst"], "-")
    gpu = sections(by_device["On a GPU"], "~")
    assert set(gpu) == {
        "Training speed on NVIDIA H200, bfloat16, channels-last",
        "Local Response Normalization on NVIDIA H200, bfloat16",
        "DenseNet training memory on NVIDIA H200",
    }
    assert "NVIDIA H200" not in by_device["On the CPU"]
    assert "committed yet" not in by_device["On a GPU"]
    assert "Measured on a GPU (NVIDIA H200) on 1 December 2026" in gpu["DenseNet training memory on NVIDIA H200"]
    # the card's peak: a column only the GPU's table has
    speed = gpu["Training speed on NVIDIA H200, bfloat16, channels-last"]
    assert "share of the card's bf16 peak" in speed
    assert "share of the card" not in by_device["On the CPU"]
    assert "Not measured: ``vgg16`` (every implementation): ``OutOfMemoryError: CUDA out of memory in " in speed
    # a target missed is said so, and the memory kept on a card is a column
    lrn = gpu["Local Response Normalization on NVIDIA H200, bfloat16"]
    assert "The target is at least 4x: not met." in lrn
    assert "The target is at least 4x: met." in lrn
    assert "peak of a step, MiB" in lrn
    assert "the speed target is set for" not in lrn
    # CPU time is the CPU's measure: not on a card's table
    assert "CPU time" not in gpu["DenseNet training memory on NVIDIA H200"]
    # the benchmark's own pages
    assert "Local Response Normalization on NVIDIA H200, bfloat16" in sections(pages["lrn_results.rst"], "~")
    assert "DenseNet training memory on a GPU" not in pages["densenet_memory_results.rst"]
    assert "a GPU (NVIDIA H200)" in pages["memory_measured_on.rst"]
    for word in ("None", "no target"):
        assert word not in "\n".join(pages.values())


def test_a_benchmark_without_gpu_results_gets_its_command_beside_those_with(tmp_path):
    pages = write_pages(results_with_gpu(tmp_path, {"lrn-nvidia-h200-bfloat16.json": gpu_lrn}),
                        tmp_path / "generated")
    gpu = sections(pages["benchmarks_results.rst"], "-")["On a GPU"]
    intro = gpu.split("Local Response Normalization on NVIDIA H200")[0]
    assert "No results of training and inference speed and DenseNet training memory measured on a GPU" in intro
    assert "benchmarks/throughput.py --device cuda" in intro
    assert "benchmarks/densenet_memory.py --device cuda" in intro
    assert "benchmarks/lrn.py --device cuda" not in intro
    assert "DenseNet training memory on a GPU" in sections(pages["densenet_memory_results.rst"], "~")


def test_a_column_without_any_value_is_left_out(tmp_path):
    memory_only = gpu_densenet_memory()
    for row in memory_only["results"]:  # densenet_memory.py --no-time
        row.update(time_s=float("nan"), time_ratio=float("nan"), cpu_time_s=float("nan"),
                   cpu_time_ratio=float("nan"), repeats=0)
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "densenet_memory-nvidia-h200.json").write_text(json.dumps(memory_only))
    pages = write_pages(folder, tmp_path / "generated")
    page = sections(pages["densenet_memory_results.rst"], "~")
    [table] = list_tables(page["DenseNet training memory on NVIDIA H200"])
    assert table[0] == ["batch", "network", "peak memory, MiB", "memory vs plain"]
    assert "Step time" not in pages["densenet_memory_results.rst"]


def test_two_files_with_the_same_settings_are_told_apart_by_their_dates(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    later = gpu_lrn()
    later["date"] = "2026-12-02T09:00:00+00:00"
    (folder / "lrn-nvidia-h200-bfloat16.json").write_text(json.dumps(gpu_lrn()))
    (folder / "lrn-nvidia-h200-again.json").write_text(json.dumps(later))
    titles = [result.title for result in results_tables.read_results(folder)]
    assert sorted(titles) == ["Local Response Normalization on NVIDIA H200, bfloat16, 1 December 2026",
                              "Local Response Normalization on NVIDIA H200, bfloat16, 2 December 2026"]


@pytest.mark.parametrize("change, words", [
    (lambda report: report.update(device="tpu"), "unknown device 'tpu'"),
    (lambda report: report["targets"].update(new_target={"target_min": 1.0, "measured": 2.0, "met": True}),
     "new_target"),
])
def test_a_results_file_the_pages_cannot_word_stops_the_build(tmp_path, change, words):
    folder = tmp_path / "results"
    folder.mkdir()
    report = copy.deepcopy(gpu_lrn())
    change(report)
    (folder / "lrn-odd.json").write_text(json.dumps(report))
    with pytest.raises(results_tables.ResultsFileError, match=words):
        results_tables.write_result_pages(folder, tmp_path / "generated")
