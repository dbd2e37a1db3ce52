"""A Sphinx extension that renders the committed benchmark results (``benchmarks/results/*.json``) as tables.

The documentation quotes measurements only through these generated tables, so every number on the site
comes from a results file a benchmark wrote (or, for the memory page, from the estimator's code).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = Path(__file__).resolve().parent / "_generated"


def _row(cells: list[str]) -> str:
    return "   * - " + "\n     - ".join(cell if cell else " " for cell in cells)


def list_table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    lines = [f".. list-table:: {caption}".rstrip(), "   :header-rows: 1", "", _row(header)]
    lines += [_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def _source(path: Path, report: dict[str, Any]) -> str:
    name = report.get("device_name") or report.get("device", {})
    if isinstance(name, dict):
        name = name.get("name", "")
    return f"``{path.relative_to(ROOT)}`` -- {name}, torch {report.get('torch', '?')}, {report.get('date') or report.get('created', '')}"


def render_lrn(path: Path, report: dict[str, Any]) -> str:
    rows = []
    for result in report["results"]:
        for impl in ("pytorch", "cnnzoo"):
            figures = result["impls"][impl]
            fb = figures["forward_backward"]
            rows.append([
                "x".join(map(str, result["shape"])), result["dtype"], impl,
                f"{figures['saved_vs_input']:.2f}x", f"{figures['forward']['median_ms']:.1f}",
                f"{fb['median_ms']:.1f} ({fb['p10_ms']:.1f}-{fb['p90_ms']:.1f})",
                f"{result['speedup_forward_backward']:.2f}x" if impl == "cnnzoo" else "",
            ])
    header = ["shape", "dtype", "implementation", "kept for backward (x input)", "forward ms",
              "forward+backward ms (p10-p90)", "speedup"]
    targets = ", ".join(
        f"{key}: {check['measured']:.2f} ({'met' if check['met'] else 'not met' if check['met'] is False else 'no target'})"
        for key, check in report["targets"].items()
    )
    return f"{_source(path, report)}\n\n{list_table(header, rows)}\nTargets: {targets}.\n"


def render_throughput(path: Path, report: dict[str, Any]) -> str:
    rows = []
    for r in report["results"]:
        ratios = r.get("ratio_vs") or {}
        rows.append([
            r["model"], r["mode"], r["impl"], str(r["batch_size"]), f"{r['img_per_s']:.1f}",
            f"{r['step_ms_median']:.1f} ({r['step_ms_p10']:.1f}-{r['step_ms_p90']:.1f})",
            *(f"{ratios[other]:.2f}" if other in ratios else "" for other in ("torchvision", "timm")),
            f"{r['peak_fraction']:.1%}" if r.get("peak_fraction") is not None else "",
        ])
    header = ["model", "mode", "implementation", "batch", "img/s", "step ms (p10-p90)", "cnnzoo / torchvision",
              "cnnzoo / timm", "of the card's peak"]
    settings = report.get("settings", {})
    summary = ", ".join(f"{key} {value}" for key, value in settings.items() if not isinstance(value, (list, dict)))
    return f"{_source(path, report)}; {summary}\n\n{list_table(header, rows)}"


def render_densenet_memory(path: Path, report: dict[str, Any]) -> str:
    rows = []
    for r in report["results"]:
        plain = r["variant"] == "plain"
        rows.append([
            str(r["depth"]), str(r["batch"]), r["variant"], f"{r['peak_mib']:.0f}",
            "" if plain else f"{r['memory_ratio']:.2f}x lower", f"{r['time_s']:.3f}",
            "" if plain else f"{r['time_ratio']:.2f}", "" if plain or r.get("cpu_time_ratio") is None else f"{r['cpu_time_ratio']:.2f}",
        ])
    header = ["depth", "batch", "variant", "peak MiB", "memory vs plain", "step s", "time vs plain", "CPU time vs plain"]
    source = f"``{path.relative_to(ROOT)}`` -- {report.get('hardware', report.get('device'))}, torch {report.get('torch')}, {report.get('date')}"
    return f"{source}\n\n{list_table(header, rows)}"


RENDERERS: dict[str, Callable[[Path, dict[str, Any]], str]] = {
    "lrn": render_lrn,
    "throughput": render_throughput,
    "densenet_memory": render_densenet_memory,
}


# (name, create kwargs) of the "what fits on a 2 GB card" table on the memory page
FIT_MODELS: list[tuple[str, dict[str, Any]]] = [
    ("alexnet", {}),
    ("vgg16", {}),
    ("resnet18", {}),
    ("resnet50", {}),
    ("densenet121", {}),
    ("densenet121", {"memory_efficient": True}),
]
FIT_BUDGET = "2GiB"


def write_memory_fits() -> None:
    """The memory page's table, computed by the estimator at build time."""
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
    (GENERATED / "memory_fits.rst").write_text(list_table(header, rows))


def write_result_pages() -> None:
    """One page of tables per kind of benchmark, from the JSON files committed under benchmarks/results/."""
    GENERATED.mkdir(exist_ok=True)
    for kind, render in RENDERERS.items():
        sections = []
        for path in sorted(RESULTS.glob(f"{kind}-*.json")):
            report = json.loads(path.read_text())
            title = path.stem
            sections.append(f"{title}\n{'~' * len(title)}\n\n{render(path, report)}")
        text = "\n".join(sections) or "No results have been committed yet.\n"
        (GENERATED / f"{kind}_results.rst").write_text(text)


def write_results(app: object = None) -> None:
    GENERATED.mkdir(exist_ok=True)
    write_memory_fits()
    write_result_pages()


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", write_results)
    return {"parallel_read_safe": True}
