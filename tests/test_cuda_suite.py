"""benchmarks/cuda_suite.sh and the scripts it adds run here, so that the one run on a card cannot fail on a typo.

The whole suite's dry run (``bash benchmarks/cuda_suite.sh --dry-run``) takes minutes on two cores, too long
for the test suite; these tests check its parts: the shell script's syntax and options, cuda_checks.py end
to end on the CPU, and the report's verdicts on results files written as the scripts write them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "cuda_suite.sh"
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="needs bash")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cuda_checks():
    return _load("cuda_checks")


@pytest.fixture(scope="module")
def report_script():
    return _load("cuda_suite_report")


# -- the shell script -----------------------------------------------------------------------------------

@needs_bash
def test_suite_script_is_valid_bash():
    result = subprocess.run([BASH, "-n", str(SUITE)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@needs_bash
def test_suite_help_names_the_dry_run_and_an_unknown_option_is_refused():
    shown = subprocess.run([BASH, str(SUITE), "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "--dry-run" in shown.stdout and "--archive" in shown.stdout
    refused = subprocess.run([BASH, str(SUITE), "--no-such-option"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "unknown option --no-such-option" in refused.stderr


def test_suite_runs_every_script_it_names_with_options_the_script_takes():
    text = SUITE.read_text()
    for script in ("lrn.py", "densenet_memory.py", "cuda_checks.py", "throughput.py", "cuda_suite_report.py"):
        assert f"benchmarks/{script}" in text and (ROOT / "benchmarks" / script).exists()
    assert "-m pytest -m cuda" in text


# -- cuda_checks.py on the CPU ---------------------------------------------------------------------------

def _run_checks(cuda_checks, tmp_path, *options: str) -> tuple[int, dict]:
    output = tmp_path / "cuda_checks.json"
    threads = torch.get_num_threads()
    try:  # one thread: on a busy two-core machine two wait on each other at every operator
        status = cuda_checks.main(["--device", "cpu", "--batch-size", "2", "--card-models", "cifar_resnet20",
                                   "--threads", "1", "--json", str(output), *options])
    finally:
        torch.set_num_threads(threads)
    return status, json.loads(output.read_text())


@pytest.mark.slow  # six traces on the meta device and eight real steps: 13 s on two busy cores
def test_cuda_checks_on_the_cpu_writes_every_figure_and_judges_nothing(cuda_checks, tmp_path, capsys):
    status, report = _run_checks(cuda_checks, tmp_path, "--models", "cifar_resnet20", "--card-budget", "40MiB")
    assert status == 0
    assert report["benchmark"] == "cuda_checks" and report["torch"] == torch.__version__
    assert report["device"]["type"] == "cpu" and report["settings"]["optimizer"] == "adam"
    (estimate,) = report["estimator"]
    assert estimate["model"] == "cifar_resnet20" and estimate["batch_size"] == 2
    assert estimate["measured_peak_bytes"] > estimate["measured_resident_bytes"] > 0
    # real tensors on the CPU, counted by the estimator's own tracker: what the meta-device trace predicts (but
    # for Adam's step counters, four bytes a parameter, which the estimate leaves out)
    assert estimate["measured_resident_bytes"] == pytest.approx(estimate["estimated_resident_bytes"], rel=1e-3)
    assert abs(estimate["relative_error"]) < 0.10 and estimate["within_target"] is None
    card = report["small_card"]
    assert card["emulated"] is False and card["budget_bytes"] == 40 * 2**20
    (model,) = card["models"]
    assert model["estimated_bytes"] <= card["budget_bytes"] < model["estimated_bytes_one_more"]
    assert model["at_answer"]["ran"] and model["at_answer"]["batch_size"] == model["max_batch_size"]
    assert model["one_more"]["ran"] and model["one_more"]["batch_size"] == model["max_batch_size"] + 1
    assert model["met"] is None  # no cap on the CPU
    assert all(check["met"] is None for check in report["targets"].values())
    out = capsys.readouterr().out
    assert "| cifar_resnet20 | 2 |" in out and "no target here" in out


def test_cuda_checks_reports_a_budget_below_one_image_without_a_traceback(cuda_checks, tmp_path, capsys):
    status, report = _run_checks(cuda_checks, tmp_path, "--models", "none", "--card-budget", "1MiB")
    assert status == 1  # a check could not be made
    (model,) = report["small_card"]["models"]
    assert model["error"].startswith("CnnzooValueError") and "needs" in model["error"]
    assert "max_batch_size" not in model and report["estimator"] == []
    assert "Traceback" not in capsys.readouterr().err


def test_cuda_checks_refuses_an_unknown_model(cuda_checks):
    with pytest.raises(SystemExit) as exit_info:
        cuda_checks.parse_args(["--device", "cpu", "--models", "resnet5O"])
    assert exit_info.value.code == 2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_checks_on_a_card_measure_with_the_allocator(cuda_checks, tmp_path):
    output = tmp_path / "cuda_checks.json"
    cuda_checks.main(["--device", "cuda", "--models", "resnet18", "--batch-size", "8", "--card-models", "none",
                      "--json", str(output)])
    report = json.loads(output.read_text())
    (estimate,) = report["estimator"]
    assert "max_memory_allocated" in estimate["method"] and estimate["measured_peak_bytes"] > 0
    assert isinstance(estimate["within_target"], bool) and estimate["relative_error"] > -1


# -- the report ------------------------------------------------------------------------------------------

def _write_card_results(folder: Path, slug: str) -> Path:
    """Results files as the suite's steps write them on a card, one target of each kind missed."""
    logs = folder / f"logs-{slug}"
    logs.mkdir()
    (logs / "pytest.log").write_text("....\n65 passed, 1683 deselected in 95.10s\n")
    steps = logs / "steps.tsv"
    steps.write_text("".join(f"{name}\t{status}\t{seconds}\t{limit}\tlogs-{slug}/{name}.log\n"
                             for name, status, seconds, limit in [("pytest", 0, 95, 150), ("lrn-float32", 0, 12, 45),
                                                                  ("lrn-bfloat16", 1, 9, 45),
                                                                  ("throughput", 124, 120, 120)]))
    lrn = {"results": [{"shape": [32, 96, 55, 55], "speedup_forward_backward": 5.5,
                        "impls": {"cnnzoo": {"saved_vs_input": 1.0}}}]}
    (folder / f"lrn-{slug}-float32.json").write_text(json.dumps(lrn))
    rows = [{"depth": 121, "batch": 64, "variant": variant, "memory_ratio": memory, "time_ratio": time}
            for variant, memory, time in [("plain", 1.0, 1.0), ("cnnzoo", 3.4, 1.14), ("torchvision", 3.1, 1.2)]]
    (folder / f"densenet_memory-{slug}.json").write_text(json.dumps({"results": rows}))
    checks = {"estimator": [{"model": "resnet50", "batch_size": 32, "relative_error": 0.04, "within_target": True,
                             "compared_estimate_bytes": 2**30, "measured_peak_bytes": 2**30}],
              "small_card": {"budget": "2.00 GiB", "models": [
                  {"model": "alexnet", "max_batch_size": 300, "at_answer": {"ran": True},
                   "one_more": {"out_of_memory": False}, "met": False}]}}
    (folder / f"cuda_checks-{slug}.json").write_text(json.dumps(checks))
    throughput = {"results": [{"model": "resnet50", "impl": "cnnzoo", "mode": "train", "img_per_s": 3000.0,
                               "ratio_vs": {"torchvision": 1.01, "timm": 0.99}, "peak_fraction": 0.21,
                               "peak_dtype": "bf16"}],
                  "skipped": [{"model": "vgg16", "impl": "all", "reason": "OutOfMemoryError: ..."}]}
    (folder / f"throughput-{slug}-bf16-train.json").write_text(json.dumps(throughput))
    return steps


def test_report_judges_each_target_and_says_what_was_not_measured(report_script, tmp_path, capsys):
    steps = _write_card_results(tmp_path, "nvidia-h200")
    assert report_script.main(["--results", str(tmp_path), "--slug", "nvidia-h200", "--steps", str(steps)]) == 0
    summary = json.loads((tmp_path / "cuda_suite-nvidia-h200.json").read_text())
    assert [s["ok"] for s in summary["steps"]] == [True, True, False, False]
    assert summary["steps"][3]["meaning"] == "timed out" and not summary["all_steps_ok"]
    verdicts = {t["target"]: t["met"] for t in summary["targets"]}
    assert verdicts["pytest -m cuda: every CUDA-marked test, the Triton LRN kernels included"] is True
    assert verdicts["LRN float32 forward+backward at 32x96x55x55, against nn.LocalResponseNorm"] is True
    assert verdicts["LRN bfloat16 forward+backward speedup"] is None  # its step failed: no file
    assert verdicts["memory-efficient DenseNet-121 at batch 64: peak memory against plain"] is True
    assert verdicts["memory-efficient DenseNet-121 at batch 64: step time against plain"] is False
    assert verdicts["estimate_memory of resnet50 at batch 32 against a real step"] is True
    assert verdicts["max_batch_size of alexnet in 2.00 GiB"] is False
    assert verdicts["resnet50 training throughput, bf16, channels-last"] is True
    assert verdicts["vgg16 training throughput, bf16, channels-last"] is None
    assert summary["all_targets_met"] is False
    page = (tmp_path / "cuda_suite-nvidia-h200.md").read_text()
    assert "| throughput | timed out | 120 (120) |" in page and "**NOT met**" in page
    assert "21.0% of the card's bf16 peak" in page
    assert page in capsys.readouterr().out
