"""benchmarks/lrn.py runs on the CPU and writes the figures the issue's targets are read from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "lrn.py"


def test_lrn_benchmark_writes_both_implementations_side_by_side(tmp_path):
    out = tmp_path / "lrn.json"
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--shapes", "2x16x9x9,2x8x5", "--repeats", "2",
               "--warmup", "1", "--json", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["torch"]
    assert [r["shape"] for r in report["results"]] == [[2, 16, 9, 9], [2, 8, 5]]
    for record in report["results"]:
        assert set(record["impls"]) == {"pytorch", "cnnzoo"}
        assert record["max_abs_output_diff"] < 1e-5 and record["max_abs_grad_diff"] < 1e-5
        assert record["impls"]["cnnzoo"]["saved_vs_input"] == 1.0
        assert record["impls"]["pytorch"]["saved_vs_input"] >= 4.0
        for impl in record["impls"].values():
            timing = impl["forward_backward"]
            assert 0 < timing["p10_ms"] <= timing["median_ms"] <= timing["p90_ms"]
    assert report["targets"]["saved_vs_input"]["met"] is True
    assert "| cnnzoo |" in result.stdout


def test_lrn_benchmark_refuses_a_malformed_shape(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--shapes", "2x16", "--json", str(tmp_path / "x.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "at least 3 dimensions" in result.stderr
