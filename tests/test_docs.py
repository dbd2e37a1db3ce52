"""The documentation covers the public API, and its generated tables come from code and results files."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import cnnzoo

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))


def test_every_public_name_has_an_api_reference_entry():
    text = (DOCS / "api.rst").read_text()
    documented = set(re.findall(r"^\.\. auto\w+:: cnnzoo\.(\w+)", text, flags=re.MULTILINE))
    missing = sorted(set(cnnzoo.__all__) - documented - {"__version__"})
    assert not missing, f"add these to docs/api.rst: {missing}"


def test_every_page_in_the_docs_folder_is_in_a_toctree():
    index = (DOCS / "index.rst").read_text()
    pages = {p.stem for p in DOCS.glob("*.rst")} - {"index"}
    listed = set(re.findall(r"^   (\w+)$", index, flags=re.MULTILINE))
    assert pages <= listed, f"pages missing from the toctree: {sorted(pages - listed)}"


def test_results_tables_render_every_committed_lrn_result(tmp_path, monkeypatch):
    results_tables = pytest.importorskip("results_tables")
    monkeypatch.setattr(results_tables, "GENERATED", tmp_path)
    results_tables.write_result_pages()  # the memory-fits table is the estimator's, tested in test_memory.py
    text = (tmp_path / "lrn_results.rst").read_text()
    for path in sorted(results_tables.RESULTS.glob("lrn-*.json")):
        report = json.loads(path.read_text())
        for result in report["results"]:
            assert f"{result['speedup_forward_backward']:.2f}x" in text


def code_blocks(page: Path) -> list[tuple[int, str]]:
    """The ``.. code-block:: python`` blocks of a page that run without a download, with their line numbers.

    A block preceded by the comment ``.. no-test: REASON`` (invisible in the built page) is left out: it
    downloads weights or a repository.
    """
    lines = page.read_text().splitlines()
    blocks = []
    skip = False
    for number, line in enumerate(lines):
        if line.startswith(".. no-test:"):
            skip = True
        elif line.strip() == ".. code-block:: python":
            body = []
            for following in lines[number + 1:]:
                if following.strip() and not following.startswith("   "):
                    break
                body.append(following[3:])
            if not skip:
                blocks.append((number + 1, "\n".join(body).strip("\n") + "\n"))
            skip = False
    return blocks


# pages whose every code block runs offline, in order, in one namespace, as a reader would run them
RUNNABLE_PAGES = ["coming_from"]


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_every_code_block_of_the_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = code_blocks(DOCS / f"{page}.rst")
    assert blocks, f"{page}.rst has no code block to run"
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for line, source in blocks:
        exec(compile(source, f"{page}.rst, block at line {line}", "exec"), namespace)


def test_code_blocks_skip_only_what_is_marked(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text("Title\n=====\n\n.. code-block:: python\n\n   x = 1\n\n   y = x + 1\n\ntext\n\n"
                    ".. no-test: downloads\n\n.. code-block:: python\n\n   download()\n\n"
                    ".. code-block:: python\n\n   z = y\n")
    assert code_blocks(page) == [(4, "x = 1\n\ny = x + 1\n"), (18, "z = y\n")]
