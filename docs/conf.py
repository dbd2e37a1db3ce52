"""Sphinx configuration for cnnzoo's documentation (build: sphinx-build -W -b html docs docs/_build/html)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

project = "cnnzoo"
author = "cnnzoo developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the built site: the pages render offline
    "model_table",
    "results_tables",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# generated pages are included by the pages that show them, never built on their own
exclude_patterns = ["_build", "_generated"]
# furo: a maintained theme with a readable sidebar on phones, light and dark modes, and no JavaScript
# framework -- the PyData projects our users know (pip, attrs, urllib3) read the same way
html_theme = "furo"
html_title = "cnnzoo"
nitpicky = False
