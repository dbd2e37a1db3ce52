"""benchmarks/throughput.py runs on the CPU and writes the JSON, Markdown and chart the README describes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnnzoo

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "throughput.py"
HAS_TIMM = importlib.util.find_spec("timm") is not None
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _load_throughput():
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def throughput():
    return _load_throughput()


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    """One short CPU run: a model only cnnzoo has and one that torchvision and timm have too."""
    output = tmp_path_factory.mktemp("bench") / "throughput.json"
    # one thread: on a shared two-core machine two threads wait on each other at every operator
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--models", "cifar_resnet20,resnet18",
               "--batch-size", "2", "--input-size", "32", "--steps", "2", "--warmup", "1", "--mode", "both",
               "--compare", "torchvision,timm", "--optimize", "--threads", "1", "--json", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return output, result.stdout


@pytest.mark.slow
def test_throughput_json_has_a_record_per_model_mode_and_implementation(cpu_run):
    output, _ = cpu_run
    data = json.loads(output.read_text())
    assert data["benchmark"] == "throughput" and data["torch"] == torch.__version__
    assert data["device"]["type"] == "cpu" and data["device"]["name"] and data["device"]["threads"] == 1
    assert data["settings"]["batch_size"] == 2 and data["settings"]["steps"] == 2 and data["settings"]["amp"] == "none"
    impls = {("cifar_resnet20", "cnnzoo"), ("cifar_resnet20", "cnnzoo+optimize"), ("resnet18", "cnnzoo"),
             ("resnet18", "cnnzoo+optimize"), ("resnet18", "torchvision")}
    if HAS_TIMM:
        impls.add(("resnet18", "timm"))
    expected = {(model, impl, mode) for model, impl in impls for mode in ("infer", "train")}
    assert {(r["model"], r["impl"], r["mode"]) for r in data["results"]} == expected
    for r in data["results"]:
        assert r["batch_size"] == 2 and r["input_size"] == [3, 32, 32] and r["steps"] == len(r["step_ms"]) == 2
        assert r["img_per_s"] > 0 and 0 < r["step_ms_p10"] <= r["step_ms_median"] <= r["step_ms_p90"]
        assert r["img_per_s"] == pytest.approx(2 / (r["step_ms_median"] / 1e3))
        assert r["gflops_per_image"] > 0 and r["achieved_tflops"] > 0 and r["peak_memory_bytes"] > 0
        assert r["peak_fraction"] is None  # no datasheet peak for a CPU
        assert r["weights"] == "cnnzoo"  # torchvision's and timm's ResNet-18 load cnnzoo's state_dict
    records = {(r["model"], r["impl"], r["mode"]): r for r in data["results"]}
    for mode in ("infer", "train"):
        ours = records["resnet18", "cnnzoo", mode]
        assert set(ours["ratio_vs"]) == {impl for model, impl in impls if model == "resnet18"} - {"cnnzoo", "cnnzoo+optimize"}
        assert ours["ratio_vs"]["torchvision"] == pytest.approx(
            ours["img_per_s"] / records["resnet18", "torchvision", mode]["img_per_s"])
        optimized = records["resnet18", "cnnzoo+optimize", mode]
        assert optimized["channels_last"] and optimized["optimize"] == {"channels_last": True, "compile": False}
        assert optimized["ratio_vs"]["cnnzoo"] == pytest.approx(optimized["img_per_s"] / ours["img_per_s"])
        # the same architecture counts the same FLOPs in every implementation
        assert records["resnet18", "torchvision", mode]["gflops_per_image"] == pytest.approx(ours["gflops_per_image"])
    # a training step holds gradients and momentum on top of what inference needs
    assert records["resnet18", "cnnzoo", "train"]["gflops_per_image"] > 2 * records["resnet18", "cnnzoo", "infer"]["gflops_per_image"]
    assert records["resnet18", "cnnzoo", "train"]["peak_memory_bytes"] > records["resnet18", "cnnzoo", "infer"]["peak_memory_bytes"]
    skipped = {(s["model"], s["impl"]) for s in data["skipped"]}
    assert {("cifar_resnet20", "torchvision"), ("cifar_resnet20", "timm")} <= skipped
    assert all(s["reason"] for s in data["skipped"]) and not any(s["impl"] == "all" for s in data["skipped"])


@pytest.mark.slow
def test_throughput_writes_markdown_and_chart_beside_the_json(cpu_run):
    output, stdout = cpu_run
    table = output.with_suffix(".md").read_text()
    assert "| model | mode | impl | img/s" in table and "ratio vs torchvision" in table
    assert "| resnet18 | train | torchvision |" in table
    assert table.strip() in stdout  # the table is printed too
    if HAS_MATPLOTLIB:
        assert output.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_peak_tflops_tells_card_variants_apart(throughput):
    assert throughput.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(989.4)
    assert throughput.peak_tflops("NVIDIA H100 PCIe", "bf16") == pytest.approx(756.0)
    assert throughput.peak_tflops("NVIDIA A100-SXM4-80GB", "tf32") == pytest.approx(156.0)
    assert throughput.peak_tflops("NVIDIA A10", "bf16") == pytest.approx(125.0)
    assert throughput.peak_tflops("Tesla T4", "bf16") is None  # Turing has no bfloat16 tensor cores
    assert throughput.peak_tflops("Some Future GPU", "bf16") is None


def test_expand_models_takes_names_and_wildcards_in_order(throughput):
    assert throughput.expand_models("vgg16, resnet1?,vgg16") == ["vgg16", "resnet18"]
    assert throughput.expand_models("densenet*") == cnnzoo.list_models("densenet*")
    with pytest.raises(cnnzoo.UnknownModelError, match="resnet50"):
        throughput.expand_models("resnet5O")
    with pytest.raises(cnnzoo.UnknownModelError):
        throughput.expand_models("nothing*")


def test_percentile_interpolates_between_ranks(throughput):
    assert throughput.percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert throughput.percentile([1.0, 2.0], 10) == pytest.approx(1.1)
    assert throughput.percentile([7.0], 90) == 7.0
