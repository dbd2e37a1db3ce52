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
