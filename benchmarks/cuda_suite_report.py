"""One page for one run of ``cuda_suite.sh``: each step's exit status and time, and issue 19's targets.

    python benchmarks/cuda_suite_report.py --results benchmarks/results --slug nvidia-h200 \\
        --steps benchmarks/results/logs-nvidia-h200/steps.tsv

Reads the steps file the suite writes (one line per step: name, exit status, seconds, time limit, and the
log's path in the results folder) and the results files the steps wrote, named with ``--slug``; writes
``cuda_suite-SLUG.json`` and ``.md`` beside them and prints the Markdown. Each target has the figure
measured, the issue's bound and a verdict: met, NOT met, or null where it was not measured (a step that
failed or was cut short) or is no target on this device (a dry run on the CPU, whose shapes and batches
are tiny: its figures only prove that every file is written and read).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# issue 19's bounds
LRN_SHAPE = [32, 96, 55, 55]
LRN_SPEEDUP_MIN = 4.0
LRN_SAVED_MAX = 1.0
DENSENET_DEPTH, DENSENET_BATCH = 121, 64
DENSENET_MEMORY_MIN, DENSENET_TIME_MAX = 3.0, 1.10
THROUGHPUT_RATIO_MIN = 0.97
STEP_STATUS = {"0": "ok", "124": "timed out", "137": "killed after timing out", "skipped": "skipped: out of time"}


def read_steps(path: Path) -> list[dict[str, Any]]:
    steps = []
    for line in path.read_text().splitlines():
        name, status, seconds, limit, log = line.split("\t")
        steps.append({"step": name, "status": status, "seconds": int(seconds), "limit_s": int(limit), "log": log,
                      "ok": status == "0",
                      "meaning": STEP_STATUS.get(status, f"failed (exit status {status})")})
    return steps


def load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def target(check: str, bound: str, measured: str | None, met: bool | None, source: str) -> dict[str, Any]:
    return {"target": check, "bound": bound, "measured": measured if measured is not None else "not measured",
            "met": met if measured is not None else None, "source": source}


def pytest_target(results: Path, steps: list[dict[str, Any]], cuda: bool) -> Iterator[dict[str, Any]]:
    step = next((s for s in steps if s["step"] == "pytest"), None)
    if step is None:
        return
    # pytest's closing line, e.g. "62 passed, 2 skipped, 1683 deselected in 95.1s"
    counts: dict[str, int] = {}
    try:
        lines = (results / step["log"]).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):
        found = re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", line)
        if found and re.search(r" in [\d.]+s", line):
            counts = {word.rstrip("s") if word.startswith("error") else word: int(n) for n, word in found}
            break
    measured = ", ".join(f"{n} {word}" for word, n in counts.items()) or None
    met = step["ok"] and counts.get("passed", 0) > 0 and not counts.get("skipped") if cuda else None
    yield target("pytest -m cuda: every CUDA-marked test, the Triton LRN kernels included", "all pass, none skipped",
                 measured, met, step["log"])


def lrn_targets(results: Path, slug: str, cuda: bool) -> Iterator[dict[str, Any]]:
    for dtype in ("float32", "bfloat16"):
        path = results / f"lrn-{slug}-{dtype}.json"
        report = load(path)
        records = (report or {}).get("results") or []
        record = next((r for r in records if r["shape"] == LRN_SHAPE), records[0] if records else None)
        if record is None:
            yield target(f"LRN {dtype} forward+backward speedup", f">= {LRN_SPEEDUP_MIN}x", None, None, path.name)
            continue
        shape = "x".join(map(str, record["shape"]))
        speedup = record["speedup_forward_backward"]
        saved = record["impls"]["cnnzoo"]["saved_vs_input"]
        yield target(f"LRN {dtype} forward+backward at {shape}, against nn.LocalResponseNorm", f">= {LRN_SPEEDUP_MIN}x",
                     f"{speedup:.2f}x", speedup >= LRN_SPEEDUP_MIN if cuda else None, path.name)
        yield target(f"LRN {dtype} memory kept for backward at {shape}", f"<= {LRN_SAVED_MAX}x the input",
                     f"{saved:.2f}x", saved <= LRN_SAVED_MAX if cuda else None, path.name)


def densenet_targets(results: Path, slug: str, cuda: bool) -> Iterator[dict[str, Any]]:
    path = results / f"densenet_memory-{slug}.json"
    rows = (load(path) or {}).get("results") or []
    wanted = [r for r in rows if (r["depth"], r["batch"]) == (DENSENET_DEPTH, DENSENET_BATCH)] or rows
    mine = next((r for r in wanted if r["variant"] == "cnnzoo"), None)
    theirs = next((r for r in wanted if r["variant"] == "torchvision"), None)
    beside = (f"; torchvision's memory_efficient: {theirs['memory_ratio']:.2f}x lower, {theirs['time_ratio']:.3f}x "
              "the time" if theirs else "")
    if mine is None:
        yield target("memory-efficient DenseNet-121 at batch 64", f">= {DENSENET_MEMORY_MIN}x lower peak", None, None,
                     path.name)
        return
    where = f"DenseNet-{mine['depth']} at batch {mine['batch']}"
    yield target(f"memory-efficient {where}: peak memory against plain", f">= {DENSENET_MEMORY_MIN}x lower",
                 f"{mine['memory_ratio']:.2f}x lower{beside}",
                 mine["memory_ratio"] >= DENSENET_MEMORY_MIN if cuda else None, path.name)
    yield target(f"memory-efficient {where}: step time against plain", f"<= {DENSENET_TIME_MAX}x",
                 f"{mine['time_ratio']:.3f}x", mine["time_ratio"] <= DENSENET_TIME_MAX if cuda else None, path.name)


def throughput_targets(results: Path, slug: str, cuda: bool) -> Iterator[dict[str, Any]]:
    path = results / f"throughput-{slug}-bf16-train.json"
    report = load(path) or {}
    records = [r for r in report.get("results", []) if r["impl"] == "cnnzoo" and r["mode"] == "train"]
    if not records:
        yield target("training throughput, bf16, channels-last, against torchvision and timm",
                     f">= {THROUGHPUT_RATIO_MIN}x", None, None, path.name)
    for r in records:
        ratios = r.get("ratio_vs") or {}
        figures = ", ".join(f"{ratio:.2f}x {other}" for other, ratio in sorted(ratios.items()))
        fraction = f"; {r['peak_fraction']:.1%} of the card's {r['peak_dtype']} peak" if r.get("peak_fraction") else ""
        yield target(f"{r['model']} training throughput, bf16, channels-last", f">= {THROUGHPUT_RATIO_MIN}x each",
                     f"{r['img_per_s']:.0f} img/s: {figures or 'no other implementation'}{fraction}",
                     all(v >= THROUGHPUT_RATIO_MIN for v in ratios.values()) if cuda and ratios else None, path.name)
    for s in report.get("skipped", []):
        if s["impl"] == "all":
            yield target(f"{s['model']} training throughput, bf16, channels-last", f">= {THROUGHPUT_RATIO_MIN}x",
                         None, None, f"{path.name}: {s['reason']}")


def checks_targets(results: Path, slug: str, cuda: bool) -> Iterator[dict[str, Any]]:
    path = results / f"cuda_checks-{slug}.json"
    report = load(path) or {}
    estimator = report.get("estimator") or []
    if not estimator:
        yield target("estimate_memory against max_memory_allocated", "within 10%", None, None, path.name)
    for r in estimator:
        measured = None if "relative_error" not in r else (
            f"{r['relative_error']:+.1%} ({r['compared_estimate_bytes'] / 2**20:.0f} MiB estimated, "
            f"{r['measured_peak_bytes'] / 2**20:.0f} MiB measured)")
        yield target(f"estimate_memory of {r['model']} at batch {r['batch_size']} against a real step", "within 10%",
                     measured, r.get("within_target"), path.name if measured else f"{path.name}: {r.get('error')}")
    card = report.get("small_card") or {}
    if not card.get("models"):
        yield target("max_batch_size on a 2 GiB card", "fits, one more does not", None, None, path.name)
    for r in card.get("models", []):
        measured = None if "max_batch_size" not in r else (
            f"N = {r['max_batch_size']}: {'ran' if r['at_answer']['ran'] else 'out of memory'}; N + 1: "
            f"{'out of memory' if r['one_more']['out_of_memory'] else 'ran'}")
        yield target(f"max_batch_size of {r['model']} in {card['budget']}", "N fits, N + 1 does not", measured,
                     r.get("met"), path.name if measured else f"{path.name}: {r.get('error')}")


def markdown(summary: dict[str, Any]) -> str:
    verdict = {True: "met", False: "**NOT met**", None: "-"}
    lines = [f"# CUDA suite: {summary['device']} ({summary['date']})", "",
             "| step | result | seconds (limit) | log |", "|---|---|---|---|"]
    lines += [f"| {s['step']} | {s['meaning']} | {s['seconds']} ({s['limit_s']}) | `{s['log']}` |"
              for s in summary["steps"]]
    lines += ["", "| target | bound | measured | verdict | source |", "|---|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['bound']} | {t['measured']} | {verdict[t['met']]} | `{t['source']}` |"
              for t in summary["targets"]]
    if not summary["cuda"]:
        lines += ["", "A dry run on the CPU: the figures come from tiny settings and no target is judged."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="the folder the suite wrote into")
    parser.add_argument("--slug", required=True, help="the device in the file names: the card's slug, or cpu")
    parser.add_argument("--steps", type=Path, required=True, help="the suite's steps file")
    parser.add_argument("--device", default=None, help="the device's name for the heading (default: the slug)")
    args = parser.parse_args(argv)
    cuda = args.slug != "cpu"
    steps = read_steps(args.steps)
    targets = [*pytest_target(args.results, steps, cuda), *lrn_targets(args.results, args.slug, cuda),
               *densenet_targets(args.results, args.slug, cuda), *checks_targets(args.results, args.slug, cuda),
               *throughput_targets(args.results, args.slug, cuda)]
    summary = {
        "benchmark": "cuda_suite", "device": args.device or args.slug, "slug": args.slug, "cuda": cuda,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "steps": steps, "targets": targets,
        "all_steps_ok": all(s["ok"] for s in steps),
        "all_targets_met": all(t["met"] for t in targets) if cuda else None,
    }
    path = args.results / f"cuda_suite-{args.slug}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(summary)
    path.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {path} and {path.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
