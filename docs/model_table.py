"""A Sphinx extension that writes the model zoo table from the registry, so the docs cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

import cnnzoo


def _row(cells: list[str]) -> str:
    return "   * - " + "\n     - ".join(cells)


def write_table(app: object) -> None:
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        _row(["Model", "Family", "Paper", "Input", "Parameters", "GFLOPs", "Pretrained tags (ImageNet top-1)"]),
    ]
    for name in cnnzoo.list_models():
        info = cnnzoo.model_info(name)
        tags = ", ".join(f"``{t.tag}``" + (f" ({t.top1}%)" if t.top1 is not None else "")
                         for t in info.pretrained_tags) or "--"
        size = "x".join(str(s) for s in info.input_size)
        lines.append(_row([f"``{name}``", info.family, info.paper, size, f"{info.parameters:,}", f"{info.gflops:.2f}", tags]))
    target = Path(__file__).resolve().parent / "_generated"
    target.mkdir(exist_ok=True)
    (target / "model_table.rst").write_text("\n".join(lines) + "\n")


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", write_table)
    return {"parallel_read_safe": True}
