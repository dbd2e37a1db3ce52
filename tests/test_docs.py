"""The documentation covers the public API, every code block of every page runs, and no code line runs off
the page.

A page's python code blocks run in page order, in one namespace (a fresh ``__main__`` module, as ``python
page.py`` would run them), in a temporary working directory holding ``flower_photos/`` (five class folders
of six small RGB JPEGs), offline. The page steers its run with rst comments, invisible in the built page:

- ``.. no-test: REASON`` skips exactly the next python block (it downloads, needs a GPU, or is a fragment);
- ``.. test-weights: model.tag model.tag`` (anywhere on the page, as often as needed) publishes random-weight
  copies of those tags where cnnzoo's loader looks offline, so ``pretrained=True`` and named tags load;
- ``.. test-slow: REASON`` (anywhere on the page) runs the page in the slow tier only.

Every line of a code block or literal block of a page, and every ``>>>``/``...`` line of a public
docstring, is at most 79 characters: Furo's content column shows about 88 monospace characters.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import logging
import os
import pkgutil
import re
import sys
import textwrap
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

import cnnzoo
from conftest import FLOWER_CLASSES, make_flower_photos, registry_restored

DOCS = Path(__file__).resolve().parents[1] / "docs"
SRC = Path(cnnzoo.__file__).resolve().parents[1]

#: The widest code line a page may show: Furo's content column fits about 88 monospace characters at
#: common window widths, and a block's frame and padding take some of them.
MAX_CODE_WIDTH = 79


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


# -- reading a page ------------------------------------------------------------------------------------------

#: Directives whose content is shown as code, in any language.
CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode"})
#: The languages of the blocks the runner runs.
PYTHON = frozenset({"python", "python3", "py"})

_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. (?P<name>[\w-]+)::(?P<argument>.*)$")
_MARKER = re.compile(r"^ *\.\. (?P<kind>no-test|test-weights|test-slow):(?P<value>.*)$")
_EXPLICIT_MARKUP = re.compile(r"^ *\.\.( |$)")
_OPTION = re.compile(r"^ +:[\w-]+:")
# where a paragraph's text starts on its line: after the indentation and any bullet or enumerator
_TEXT_START = re.compile(r"^ *(?:(?:[-*+\u2022]|\d+[.)]|#[.)]|\(\d+\)) +)*")


class Block(NamedTuple):
    """A python code block: the line of its directive, the line of its first code line (both counted from
    1, as an editor counts), and its code, dedented."""

    line: int
    first: int
    source: str


class _Shown(NamedTuple):
    """What the scanner met: a marker comment, or a block shown as code (``kind`` is "code" or "literal")."""

    kind: str
    index: int
    name: str
    value: str
    first: int
    body: list[str]


@dataclass(frozen=True)
class Page:
    """A page as the runner reads it."""

    path: Path
    blocks: tuple[Block, ...]
    #: (directive line, reason) of each python block a ``no-test`` comment skips
    skipped: tuple[tuple[int, str], ...]
    #: (comment line, ``model.tag``) of each tag a ``test-weights`` comment names
    weights: tuple[tuple[int, str], ...]
    #: the ``test-slow`` comment's reason, or None
    slow: str | None
    #: mistakes in the comments: the page does not run until they are fixed
    problems: tuple[str, ...]


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_after(lines: list[str], start: int, column: int, options: bool) -> tuple[int, int, list[str]]:
    """The block below ``lines[start]``: the lines indented deeper than ``column`` (and blank lines), up to
    the first that is not. Returns the index of its first non-blank line (a directive's options skipped),
    the index after it, and its lines dedented, leading and trailing blank lines dropped."""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indentation(lines[end]) > column):
        end += 1
    first = start + 1
    while options and first < end and _OPTION.match(lines[first]):
        first += 1
    while first < end and not lines[first].strip():
        first += 1
    last = end
    while last > first and not lines[last - 1].strip():
        last -= 1
    return first, end, textwrap.dedent("\n".join(lines[first:last])).splitlines()


def _scan(lines: list[str]) -> Iterator[_Shown]:
    """The marker comments and the code and literal blocks of a page's lines, in page order; the content
    of a block is not searched for more (a code block showing rst holds no markers)."""
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.match(line)
        directive = _DIRECTIVE.match(line)
        if marker:
            yield _Shown("marker", index, marker["kind"], marker["value"].strip(), index, [])
        elif directive and directive["name"] in CODE_DIRECTIVES:
            first, end, body = _block_after(lines, index, len(directive["indent"]), options=True)
            yield _Shown("code", index, directive["name"], directive["argument"].strip(), first, body)
            index = end
            continue
        elif line.rstrip().endswith("::") and not _EXPLICIT_MARKUP.match(line):
            # a paragraph ending in "::" introduces the indented block after it, if one follows a blank line
            column = _TEXT_START.match(line).end()
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following > index + 1 and following < len(lines) and _indentation(lines[following]) > column:
                first, end, body = _block_after(lines, index, column, options=False)
                yield _Shown("literal", index, "", "", first, body)
                index = end
                continue
        index += 1


def read_page(path: Path) -> Page:
    """The python blocks to run, the skipped ones, the tags to publish and the tier of an .rst page."""
    blocks: list[Block] = []
    skipped: list[tuple[int, str]] = []
    weights: list[tuple[int, str]] = []
    problems: list[str] = []
    slow: str | None = None
    waiting: tuple[int, str] | None = None  # a no-test comment, until the python block it skips
    for shown in _scan(path.read_text().splitlines()):
        number = shown.index + 1
        if shown.kind == "marker":
            if shown.name == "test-weights":
                weights += [(number, tag) for tag in shown.value.split()]
                if not shown.value:
                    problems.append(f"line {number}: test-weights names no model.tag")
            elif not shown.value:
                problems.append(f"line {number}: {shown.name} gives no reason (write `.. {shown.name}: REASON`)")
            elif shown.name == "test-slow":
                slow = shown.value
            elif waiting:
                problems.append(f"line {number}: a second no-test before the python block the no-test at line "
                                f"{waiting[0]} skips")
            else:
                waiting = (number, shown.value)
        elif shown.kind == "code" and shown.value in PYTHON:
            if waiting:
                skipped.append((number, waiting[1]))
                waiting = None
            else:
                blocks.append(Block(number, shown.first + 1, "\n".join(shown.body) + "\n"))
    if waiting:
        problems.append(f"line {waiting[0]}: no-test comes after the last python block, so it skips nothing")
    return Page(path, tuple(blocks), tuple(skipped), tuple(weights), slow, tuple(problems))


def code_blocks(page: Path) -> list[Block]:
    """The python code blocks of a page the runner runs (those no ``no-test`` comment skips), in order."""
    return list(read_page(page).blocks)


def shown_code_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, text as shown) of every line of every code block (any language) and literal block."""
    lines = page.read_text().splitlines()
    return [
        (shown.first + offset + 1, text)
        for shown in _scan(lines)
        if shown.kind != "marker"
        for offset, text in enumerate(shown.body)
    ]


# -- running a page ------------------------------------------------------------------------------------------


def page_params(folder: Path) -> list[object]:
    """Every page of ``folder`` with a python code block, as a test parameter: marked slow where the page
    says ``test-slow``."""
    params = []
    for path in sorted(folder.glob("*.rst")):
        page = read_page(path)
        if page.blocks or page.skipped:
            params.append(pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if page.slow else []))
    return params


@contextlib.contextmanager
def _state_restored() -> Iterator[None]:
    """Put back what a page may change for the rest of the process: logging, environment variables,
    warning filters, torch's threads and default dtype, open matplotlib figures, registered models."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    environment = dict(os.environ)
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    try:
        with warnings.catch_warnings(), registry_restored():
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        if dict(os.environ) != environment:
            os.environ.clear()
            os.environ.update(environment)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def run_page(page: Page, workdir: Path, publish: Callable[..., object], monkeypatch: pytest.MonkeyPatch
             ) -> dict[str, object]:
    """Run a page's python blocks as a reader would, in ``workdir``; returns the page's namespace.

    The page's comments are checked first (an unknown tag fails naming its line), its tags published with
    ``publish`` (conftest.py's publish_weights), flower_photos/ made; a failing block's traceback shows the
    page's own lines, and a note names the block.
    """
    name = page.path.name
    if page.problems:
        pytest.fail(f"{name}: " + "; ".join(page.problems), pytrace=False)
    published = set(cnnzoo.list_models(pretrained=True))
    unknown = [f"{tag!r} (line {line})" for line, tag in page.weights if tag not in published]
    if unknown:
        pytest.fail(f"{name}: test-weights names {', '.join(unknown)}, which cnnzoo does not publish: "
                    "cnnzoo.list_models(pretrained=True) lists the tags, as model.tag", pytrace=False)
    if not page.blocks:
        pytest.skip(f"{name}: every python block is marked no-test ({'; '.join(r for _, r in page.skipped)})")
    publish(tag for _, tag in page.weights)
    make_flower_photos(workdir / "flower_photos")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    with _state_restored():
        for block in page.blocks:
            try:
                # blank lines in front, so the traceback's line numbers are the page's own
                code = compile("\n" * (block.first - 1) + block.source, str(page.path), "exec")
                exec(code, main.__dict__)  # noqa: S102 - our own documentation
            except Exception as error:
                error.add_note(f"in the python code block at {name} line {block.line}")
                raise
    return main.__dict__


@pytest.mark.parametrize("path", page_params(DOCS))
def test_every_code_block_of_the_page_runs(path, tmp_path, monkeypatch, publish_weights):
    run_page(read_page(path), tmp_path, publish_weights, monkeypatch)


# -- the runner itself ---------------------------------------------------------------------------------------


def _page(tmp_path: Path, text: str, name: str = "page.rst") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_code_blocks_skip_only_what_is_marked(tmp_path):
    page = _page(tmp_path, """
        Title
        =====

        .. code-block:: python

           x = 1

           y = x + 1

        text

        .. no-test: downloads

        .. code-block:: bash

           pip install cnnzoo

        .. code-block:: python

           download()

        .. code-block:: python
           :caption: an option is not code

           z = y

        .. note::

           .. code-block:: python

              w = z
    """)
    assert code_blocks(page) == [(4, 6, "x = 1\n\ny = x + 1\n"), (22, 25, "z = y\n"), (29, 31, "w = z\n")]
    assert read_page(page).skipped == ((18, "downloads"),)


def test_weights_and_slow_comments_are_read_anywhere_on_the_page(tmp_path):
    page = read_page(_page(tmp_path, """
        .. test-weights: resnet18.tv_in1k

        .. code-block:: python

           import cnnzoo

        .. test-slow: trains for a minute

        Text.

        .. test-weights: alexnet.tv_in1k  googlenet.tv_in1k
    """))
    assert page.weights == ((1, "resnet18.tv_in1k"), (11, "alexnet.tv_in1k"), (11, "googlenet.tv_in1k"))
    assert page.slow == "trains for a minute" and not page.problems


def test_markers_shown_as_code_are_not_read(tmp_path):
    page = read_page(_page(tmp_path, """
        A page explaining the markers::

           .. test-slow: shown, not meant

        .. code-block:: rst

           .. no-test: shown, not meant

        .. code-block:: python

           x = 1
    """))
    assert page.slow is None and not page.skipped and [b.source for b in page.blocks] == ["x = 1\n"]


def test_misplaced_or_unexplained_comments_are_problems(tmp_path, monkeypatch):
    page = read_page(_page(tmp_path, """
        .. test-slow:

        .. no-test: first

        .. no-test: second

        .. code-block:: python

           x = 1

        .. test-weights:

        .. no-test: nothing follows
    """))
    assert [problem.split(":")[0] for problem in page.problems] == ["line 1", "line 5", "line 11", "line 13"]
    with pytest.raises(pytest.fail.Exception, match="page.rst: line 1: test-slow gives no reason"):
        run_page(page, tmp_path, lambda tags: None, monkeypatch)


def test_only_pages_with_python_blocks_are_run_and_slow_pages_are_marked(tmp_path):
    _page(tmp_path, ".. code-block:: python\n\n   x = 1\n", "fast.rst")
    _page(tmp_path, ".. test-slow: trains\n\n.. code-block:: python\n\n   x = 1\n", "slow.rst")
    _page(tmp_path, ".. no-test: downloads\n\n.. code-block:: python\n\n   x = 1\n", "skipped.rst")
    _page(tmp_path, "Only words, and a shell line::\n\n   cnnzoo list\n", "words.rst")
    params = page_params(tmp_path)
    assert [p.id for p in params] == ["fast", "skipped", "slow"]
    assert [[m.name for m in p.marks] for p in params] == [[], [], ["slow"]]


def test_an_unknown_tag_fails_the_page_naming_tag_and_line_before_any_block_runs(tmp_path, monkeypatch):
    page = read_page(_page(tmp_path, """
        .. code-block:: python

           open("ran", "w").close()

        .. test-weights: resnet18.tv_in1k resnet18.tv9_in1k
    """))
    published = []
    with pytest.raises(pytest.fail.Exception, match=r"'resnet18.tv9_in1k' \(line 5\)"):
        run_page(page, tmp_path, published.extend, monkeypatch)
    assert not published and not (tmp_path / "ran").exists()


def test_publishing_an_unknown_tag_fails_suggesting_the_close_ones(publish_weights):
    with pytest.raises(pytest.fail.Exception, match="did you mean resnet18.tv_in1k"):
        publish_weights(["resnet18.tv_in1k", "resnet18.tv_in1"])


@pytest.mark.parametrize("name", [
    "resnet18.tv_in1k",
    "alexnet.tv_in1k",
    "googlenet.tv_in1k",
    pytest.param("vgg11.tv_in1k", marks=pytest.mark.slow),  # timm's layout, remapped on loading
])
def test_published_weights_are_what_pretrained_true_loads(name, publish_weights):
    reference = publish_weights([name])[name]
    model, tag = name.split(".")
    assert cnnzoo.pretrained.DEFAULT_TAGS[model] == tag
    ours = cnnzoo.create(model, pretrained=True).eval()
    assert ours.default_cfg["tag"] == tag
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        # VGG's fc6 is a 7x7 convolution in timm, a matrix product here: equal up to float32 rounding
        exact = {} if model == "vgg11" else {"rtol": 0, "atol": 0}
        torch.testing.assert_close(ours(x), reference(x), **exact)


def test_a_pinned_digest_is_pinned_to_the_published_copy(publish_weights, monkeypatch):
    import dataclasses

    from cnnzoo.pretrained import PRETRAINED

    entry = PRETRAINED["resnet18"]["tv_in1k"]
    monkeypatch.setitem(PRETRAINED["resnet18"], "tv_in1k", dataclasses.replace(entry, sha256="0" * 64))
    reference = publish_weights(["resnet18.tv_in1k"])["resnet18.tv_in1k"]
    assert PRETRAINED["resnet18"]["tv_in1k"].sha256 != "0" * 64
    loaded = cnnzoo.create("resnet18", pretrained=True).state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in reference.state_dict().items())


def test_a_page_runs_in_a_folder_with_flower_photos_as_a_script(tmp_path, monkeypatch, publish_weights, capsys):
    page = read_page(_page(tmp_path, """
        .. test-weights: resnet18.tv_in1k

        .. code-block:: python

           import os

           from torchvision.datasets import ImageFolder

           photos = ImageFolder("flower_photos")
           first_image = photos[0][0]
           folder = os.getcwd()
           name = __name__
           print(f"{len(photos)} images")

        .. code-block:: python

           import matplotlib.pyplot as plt

           import cnnzoo

           backend = plt.get_backend()
           model = cnnzoo.create("resnet18", pretrained=True)
    """))
    workdir = tmp_path / "work"
    workdir.mkdir()
    namespace = run_page(page, workdir, publish_weights, monkeypatch)
    assert namespace["folder"] == str(workdir) and namespace["name"] == "__main__"
    assert namespace["photos"].classes == list(FLOWER_CLASSES) and len(namespace["photos"]) == 30
    assert namespace["first_image"].mode == "RGB" and namespace["first_image"].size == (80, 60)
    assert namespace["backend"].lower() == "agg"
    assert namespace["model"].default_cfg["tag"] == "tv_in1k"
    assert capsys.readouterr().out == "30 images\n"


def test_pages_share_nothing_and_leave_nothing_behind(tmp_path, monkeypatch):
    first = read_page(_page(tmp_path, """
        .. code-block:: python

           import logging
           import os

           import torch
           import cnnzoo

           logging.getLogger().addHandler(logging.StreamHandler())
           os.environ["CNNZOO_DOCS_PAGE"] = "first"
           torch.set_default_dtype(torch.float64)
           x = 1

           @cnnzoo.register_model(family="pagenet")
           def pagenet(**kwargs):
               return torch.nn.Linear(4, 2)
    """, "first.rst"))
    second = read_page(_page(tmp_path, """
        .. code-block:: python

           assert "x" not in globals()
    """, "second.rst"))
    handlers = logging.getLogger().handlers[:]
    for page, folder in ((first, "one"), (second, "two")):
        (tmp_path / folder).mkdir()
        run_page(page, tmp_path / folder, lambda tags: None, monkeypatch)
    assert logging.getLogger().handlers == handlers and "CNNZOO_DOCS_PAGE" not in os.environ
    assert torch.get_default_dtype() == torch.float32 and not cnnzoo.is_model("pagenet")


def test_a_failing_block_names_the_page_and_its_line(tmp_path, monkeypatch):
    path = _page(tmp_path, """
        .. code-block:: python

           x = 1

        Text.

        .. code-block:: python

           y = x
           z = y / 0
    """)
    with pytest.raises(ZeroDivisionError) as caught:
        run_page(read_page(path), tmp_path, lambda tags: None, monkeypatch)
    assert "in the python code block at page.rst line 7" in caught.value.__notes__
    frames = traceback.extract_tb(caught.tb)
    assert (frames[-1].filename, frames[-1].lineno, frames[-1].line) == (str(path), 10, "z = y / 0")


# -- the width of code lines ---------------------------------------------------------------------------------


def test_shown_code_lines_are_those_of_code_and_literal_blocks(tmp_path):
    page = _page(tmp_path, """
        A literal block follows::

           cnnzoo list

        * - a table cell::
          - its neighbour, not a literal block

        .. code-block:: text
           :caption: not shown as code

           plain
              indented

        .. list-table::

           * - words
    """)
    assert shown_code_lines(page) == [(3, "cnnzoo list"), (11, "plain"), (12, "   indented")]


@pytest.mark.parametrize("page", [p for p in sorted(DOCS.glob("*.rst")) if shown_code_lines(p)], ids=lambda p: p.stem)
def test_no_code_line_of_the_page_is_wider_than_the_column(page):
    wide = [f"docs/{page.name}:{number} ({len(text)} characters): {text}"
            for number, text in shown_code_lines(page) if len(text) > MAX_CODE_WIDTH]
    assert not wide, (f"code lines wider than {MAX_CODE_WIDTH} characters run off the page; put a comment on "
                      "its own line above the code, wrap a call:\n" + "\n".join(wide))


def _public_docstrings() -> Iterator[tuple[str, int, doctest.DocTest]]:
    """(file, line of the docstring's first line, DocTest) for the docstring of every public function,
    class and public method of cnnzoo (everything ``cnnzoo.__all__`` names, and what the API reference
    documents beside it) and of the modules the API reference shows, found with doctest's DocTestFinder in
    every module of the package."""
    shown_modules = set(re.findall(r"^\.\. automodule:: ([\w.]+)", (DOCS / "api.rst").read_text(), re.MULTILINE))
    finder = doctest.DocTestFinder(exclude_empty=False)
    modules = [cnnzoo] + [importlib.import_module(m.name) for m in pkgutil.walk_packages(cnnzoo.__path__, "cnnzoo.")
                          if not m.name.endswith("__main__")]
    for module in modules:
        for test in finder.find(module):
            inner = test.name[len(module.__name__):].split(".")[1:]
            public = all(not part.startswith("_") for part in inner) and (inner or module.__name__ in shown_modules)
            if not test.docstring or not public:
                continue
            yield str(Path(test.filename).resolve().relative_to(SRC.parent)), test.lineno or 0, test


def public_docstring_examples() -> list[tuple[str, int, str]]:
    """(file, line, text) of every ``>>>``/``...`` line of a public docstring."""
    found = []
    for file, start, test in _public_docstrings():
        lines = test.docstring.splitlines()
        for example in test.examples:
            for offset in range(example.source.count("\n")):
                index = example.lineno + offset
                found.append((file, start + index + 1, lines[index].strip()))
    return found


def public_docstring_blocks() -> list[tuple[str, int, str]]:
    """(file, line, text as shown) of every line of a literal block (``::``) or code block of a public
    docstring."""
    return [
        (file, start + shown.first + offset + 1, text)
        for file, start, test in _public_docstrings()
        for shown in _scan(test.docstring.splitlines())
        if shown.kind != "marker"
        for offset, text in enumerate(shown.body)
    ]


def test_public_docstring_examples_and_blocks_are_found():
    examples = public_docstring_examples()
    assert {"src/cnnzoo/registry.py", "src/cnnzoo/transfer.py", "src/cnnzoo/models/_base.py"} <= {
        file for file, _, _ in examples}
    assert all(text.startswith((">>>", "...")) for _, _, text in examples)
    blocks = public_docstring_blocks()
    assert "src/cnnzoo/ops/lrn.py" in {file for file, _, _ in blocks}
    source = {file: (SRC.parent / file).read_text().splitlines() for file, _, _ in blocks}
    assert all(text.strip() and text.strip() in source[file][line - 1] for file, line, text in blocks if text)


def test_no_docstring_example_line_is_wider_than_the_column():
    wide = [f"{file}:{line} ({len(text)} characters): {text}"
            for file, line, text in public_docstring_examples() if len(text) > MAX_CODE_WIDTH]
    assert not wide, (f"docstring example lines wider than {MAX_CODE_WIDTH} characters run off the API page; "
                      "put a comment on its own line above the code, wrap a call:\n" + "\n".join(wide))


def test_no_line_of_a_docstrings_literal_block_is_wider_than_the_column():
    wide = [f"{file}:{line} ({len(text)} characters): {text}"
            for file, line, text in public_docstring_blocks() if len(text) > MAX_CODE_WIDTH]
    assert not wide, (f"lines of docstring literal blocks wider than {MAX_CODE_WIDTH} characters run off the API "
                      "page; wrap them:\n" + "\n".join(wide))

def test_a_page_may_load_images_in_worker_processes_yet_reaches_no_network(tmp_path, monkeypatch):
    page = read_page(_page(tmp_path, """
        .. code-block:: python

           import socket

           import torch
           from torch.utils.data import DataLoader
           from torchvision import transforms
           from torchvision.datasets import ImageFolder

           data = ImageFolder("flower_photos", transforms.ToTensor())
           loader = DataLoader(data, batch_size=10, num_workers=2)
           sizes = [len(labels) for _, labels in loader]

           try:
               socket.socket().connect(("pypi.org", 443))
           except Exception as error:
               refused = type(error).__name__
    """))
    namespace = run_page(page, tmp_path, lambda tags: None, monkeypatch)
    assert namespace["sizes"] == [10, 10, 10] and namespace["refused"] == "NetworkAccessError"
