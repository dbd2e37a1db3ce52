"""README.md stays true: its model table matches the registry, its set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cnnzoo

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TABLE_ROW = re.compile(r"^\| `(?P<name>[a-z0-9_]+)` \| (?P<family>[a-z_]+) \| .+? \| (?P<input>[0-9x]+) \| (?P<params>[0-9,]+) \| (?P<gflops>[0-9.]+) \|$", re.MULTILINE)


def test_readme_model_table_lists_every_registered_model_once():
    names = [m["name"] for m in TABLE_ROW.finditer(README)]
    assert names == cnnzoo.list_models()


@pytest.mark.parametrize("row", list(TABLE_ROW.finditer(README)), ids=lambda m: m["name"])
def test_readme_model_table_figures_match_the_registry(row):
    info = cnnzoo.model_info(row["name"])
    assert row["family"] == info.family
    assert row["input"] == "x".join(map(str, info.input_size))
    assert int(row["params"].replace(",", "")) == info.parameters
    assert float(row["gflops"]) == pytest.approx(info.gflops, abs=0.006)


def test_readme_has_exactly_two_setup_commands_that_ci_runs():
    blocks = re.findall(r"<!-- setup:(\w+) -->\n```\n(.+?)\n```\n<!-- /setup:\1 -->", README)
    assert [name for name, _ in blocks] == ["install", "test"]
    install, test = (command for _, command in blocks)
    assert 'pip install -e ".[test]"' in install and "cnnzoo info" in install
    assert "pytest" in test
    assert "readme_command install" in (ROOT / ".ci" / "run").read_text()
