"""The models page (docs/model_table.py): every registered model once, with model_info's numbers, its
weights and its family's paper; an overview narrow enough for the content column; the figures written.

The generator runs here without Sphinx, into a temporary folder; the site build (CI's sphinx-build -W)
checks that the page renders.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import registry_restored

import cnnzoo

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
model_table = pytest.importorskip("model_table")
pytest.importorskip("matplotlib")

#: The longest line a cell of the overview may show (its rst markup removed): the five columns then fit
#: Furo's content column at 1280 px with room to spare, as the headless-browser check of the built page
#: showed (the longest, a timm tag such as ``fb_ssl_yfcc100m_ft_in1k``, is 23).
MAX_CELL_LINE = 24
MAX_COLUMNS = 6

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def infos() -> list[cnnzoo.ModelInfo]:
    return model_table.all_infos()


@pytest.fixture(scope="module")
def page(infos, tmp_path_factory) -> Path:
    """The generated files, written once for the module."""
    target = tmp_path_factory.mktemp("generated")
    model_table.write_models_page(target=target)
    return target


def table_rows(text: str) -> list[list[str]]:
    """The rows of the first list-table in ``text``, each a list of cells (their rst source, lines joined
    with newlines, without the list markers and line-block bars)."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("   * - "):
            rows.append([line[len("   * - "):]])
        elif line.startswith("     - "):
            rows[-1].append(line[len("     - "):])
        elif line.startswith("       ") and rows:
            rows[-1][-1] += "\n" + line.strip()
    return [[re.sub(r"^\| ", "", cell, flags=re.MULTILINE) for cell in row] for row in rows]


def shown(cell: str) -> str:
    """A cell as the reader sees it: line-block bars, roles, literals, emphasis and escapes removed."""
    cell = "\n".join(re.sub(r"^\| ", "", line.strip()) for line in cell.splitlines())
    cell = re.sub(r":ref:`([^<`]+?)\s*<[^>]+>`", r"\1", cell)
    return cell.replace("``", "").replace("**", "").replace("\\*", "*")


def overview(page: Path) -> dict[str, list[str]]:
    """The overview's rows by model name (header left out)."""
    rows = table_rows((page / "models_overview.rst").read_text())[1:]
    return {shown(row[0]): row for row in rows}


def entries(page: Path) -> dict[str, str]:
    """Each model's entry in the families page (from its anchor to the next), by model name."""
    text = (page / "models_families.rst").read_text()
    parts = re.split(r"^\.\. _model-[\w-]+:$", text, flags=re.MULTILINE)[1:]
    named = {}
    for part in parts:
        name = re.search(r"^\.\. rubric:: ``(\w+)``", part, flags=re.MULTILINE)[1]
        named[name] = re.split(r"^\.\. _family-", part, flags=re.MULTILINE)[0]
    return named


def section_bodies(page: Path) -> dict[str, str]:
    """Each family section's text (from its anchor to the next), by its anchor."""
    text = (page / "models_families.rst").read_text()
    found = re.findall(r"^\.\. _family-([\w-]+):\n(.*?)(?=^\.\. _family-|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    return dict(found)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def best_by_hand(info: cnnzoo.ModelInfo) -> cnnzoo.PretrainedTag | None:
    scored = [t for t in info.pretrained_tags if t.top1 is not None]
    top = max((t.top1 for t in scored), default=None)
    return next((t for t in scored if t.top1 == top), None)


# -- the overview -------------------------------------------------------------------------------------


def test_overview_lists_every_registered_model_exactly_once(page):
    rows = table_rows((page / "models_overview.rst").read_text())[1:]
    assert Counter(shown(row[0]) for row in rows) == Counter(cnnzoo.list_models())


def test_overview_parameters_and_gflops_are_model_infos_rounded(page, infos):
    rows = overview(page)
    for info in infos:
        parameters, gflops = rows[info.name][1], rows[info.name][2]
        number, unit = parameters.split()
        scale = {"M": 1e6, "k": 1e3}[unit]
        # "25.6 M" is the count to a tenth of a million, "270 k" to a thousand
        step = scale / 10 if unit == "M" else scale
        assert abs(float(number) * scale - info.parameters) <= step / 2, info.name
        decimals = len(gflops.partition(".")[2])
        assert abs(float(gflops) - info.gflops) <= 0.5 * 10 ** -decimals + 1e-12, info.name
        assert float(gflops) > 0 and len(gflops.replace(".", "").lstrip("0")) >= 2, info.name
        assert rows[info.name][4].startswith(f"{info.input_size[1]}x{info.input_size[2]}")


def test_overview_gives_the_best_top1_with_its_tag_size_measurer_and_licence(page, infos):
    rows = overview(page)
    checked = 0
    for info in infos:
        best = best_by_hand(info)
        cell = shown(rows[info.name][3])
        if best is None:
            continue
        lines = cell.splitlines()
        figure = lines[0].split()
        assert float(figure[0]) == best.top1, info.name
        assert lines[1] == best.tag, info.name
        assert ("*" in figure) == (best.accuracy_by == "timm"), info.name
        assert (f"at {best.crop} px" in lines[0]) == (best.crop != info.input_size[-1]), info.name
        assert ("non-commercial use only" in cell) == best.license.startswith("cc-by-nc"), info.name
        checked += 1
    assert checked == sum(bool(info.pretrained_tags) for info in infos)


def test_models_without_weights_are_shown_as_such(page, infos):
    rows, named, bodies = overview(page), entries(page), section_bodies(page)
    for info in infos:
        says_none = shown(rows[info.name][3]) == "no published weights"
        assert says_none == (not info.pretrained_tags), info.name
    for section, members in model_table.grouped(infos):
        said_once = "None of these networks has published weights" in bodies[section.anchor]
        assert said_once == (len(members) > 1 and not any(info.pretrained_tags for info in members))
        for info in members:
            assert ("No published weights" in named[info.name]) == (not info.pretrained_tags and not said_once)
            assert (".. list-table::" in named[info.name]) == bool(info.pretrained_tags)


def test_weights_without_a_published_accuracy_are_not_shown_as_no_weights(infos):
    info = next(i for i in infos if i.name == "resnet50")
    unscored = dataclasses.replace(info, pretrained_tags=tuple(
        dataclasses.replace(tag, top1=None) for tag in info.pretrained_tags))
    cell = shown(model_table.overview_row(unscored)[3])
    assert cell.splitlines() == ["accuracy not published", info.default_tag]


def test_overview_is_narrow_enough_for_the_content_column(page):
    rows = table_rows((page / "models_overview.rst").read_text())
    assert len(rows[0]) <= MAX_COLUMNS
    assert all(len(row) == len(rows[0]) for row in rows)
    too_long = [(row[0], line) for row in rows for cell in row for line in shown(cell).splitlines()
                if len(line) > MAX_CELL_LINE]
    assert too_long == []


def test_overview_links_each_model_to_its_entry(page):
    text = (page / "models_overview.rst").read_text()
    families = (page / "models_families.rst").read_text()
    targets = re.findall(r":ref:`[^<`]+<([\w-]+)>`", text)
    assert len(targets) == len(cnnzoo.list_models())
    assert [t for t in targets if f".. _{t}:" not in families] == []


# -- the family sections ------------------------------------------------------------------------------


def test_every_registered_family_has_a_named_section():
    families = {cnnzoo.model_info(name).family for name in cnnzoo.list_models()}
    named = {family for section in model_table.SECTIONS for family in section.families}
    assert families <= named, f"add a Section for {sorted(families - named)} to docs/model_table.py"


def test_every_family_section_names_and_links_each_of_its_models_papers(page, infos):
    sections = section_bodies(page)
    for section, members in model_table.grouped(infos):
        body = sections[section.anchor]
        assert body.split("\n")[1].startswith(section.title)
        for info in members:
            title, url = re.search(r'"([^"]+)"', info.paper)[1], re.search(r"https?://\S+", info.paper)[0]
            assert f'`"{title}" <{url}>`__' in body, (section.title, info.name)


def test_each_section_shows_its_modules_notes(page):
    text = (page / "models_families.rst").read_text()
    for section in model_table.SECTIONS:
        for module in section.notes_from:
            first_line = sys.modules[module].__doc__.strip().splitlines()[0]
            assert first_line in text, module


def test_each_entry_lists_every_tag_with_its_top1_size_publisher_and_licence(page, infos):
    named = entries(page)
    assert sorted(named) == sorted(cnnzoo.list_models())
    for info in infos:
        entry = named[info.name]
        rows = table_rows(entry)[1:] if info.pretrained_tags else []
        assert [shown(row[0]) for row in rows] == [t.tag for t in info.pretrained_tags], info.name
        for row, tag in zip(rows, info.pretrained_tags):
            top1, size, publisher, licence = (shown(cell) for cell in row[1:])
            if tag.top1 is None:
                assert top1 == "not published"
            else:
                assert float(top1.split()[0]) == tag.top1 and top1.endswith("*") == (tag.accuracy_by == "timm")
            assert (int(size), publisher) == (tag.crop, tag.publisher)
            assert tag.license in licence
            assert ("non-commercial use only" in licence) == tag.license.startswith("cc-by-nc")
        if info.pretrained_tags:
            assert f"``pretrained=True`` loads ``{info.default_tag}``." in entry, info.name
        starred = any(tag.accuracy_by == "timm" for tag in info.pretrained_tags)
        assert ("Figures marked \\* are timm's measurements." in entry) == starred, info.name


def test_layer_notation_in_docstrings_is_not_turned_into_email_links(page):
    # docutils renders "48@11x11/4" (kernels@size/stride) as a mailto: link unless the @ is escaped
    text = re.sub(r"``.+?``", "", (page / "models_families.rst").read_text(), flags=re.DOTALL)
    assert re.findall(r"(?<!\\)@", text) == []
    with registry_restored():
        @cnnzoo.register_model(family="mine", paper='Me, "My Net", nowhere 2026. https://example.org/mynet')
        def my_net(num_classes: int = 1000, in_chans: int = 3):
            """Convolutions of 48@11x11/4."""
            return cnnzoo.create("lenet5", num_classes=num_classes, in_chans=in_chans)

        mine = model_table.families_page([cnnzoo.model_info("my_net")])
    assert "48\\@11x11/4" in mine and re.findall(r"(?<!\\)@", mine) == []


def test_a_family_no_section_names_gets_a_section_of_its_own():
    with registry_restored():
        @cnnzoo.register_model(family="mine", paper='Me, "My Net", nowhere 2026. https://example.org/mynet')
        def my_net(num_classes: int = 1000, in_chans: int = 3):
            """My own network."""
            return cnnzoo.create("lenet5", num_classes=num_classes, in_chans=in_chans)

        info = cnnzoo.model_info("my_net")
        text = model_table.families_page([info])
        assert "mine\n----" in text and "My own network." in text
        assert '`"My Net" <https://example.org/mynet>`__' in text
        assert model_table.overview_table([info]).count("my_net <model-my-net>") == 1


def test_a_citation_without_the_usual_shape_is_shown_as_it_is():
    assert model_table.paper_reference("Someone's notes, 2026.") == "Someone's notes, 2026"


# -- the figures -------------------------------------------------------------------------------------


def test_accuracy_plot_is_a_png_of_every_model_with_published_accuracy(page, infos, tmp_path):
    width, height = png_size(page / "models_accuracy.png")
    assert width > 800 and height > 500
    plotted = model_table.write_accuracy_plot(infos, tmp_path / "plot.png")
    assert sorted(plotted) == sorted(info.name for info in infos if best_by_hand(info) is not None)


def test_stages_figure_draws_one_network_of_each_section_with_its_declared_stages(page, infos):
    png_size(page / "models_stages.png")
    sections = [model_table.section_of(cnnzoo.model_info(name)) for name in model_table.FIGURE_MODELS]
    assert sections == list(model_table.SECTIONS)
    name = "resnet50"
    info = cnnzoo.model_info(name)
    side = info.input_size[-1]
    stages = model_table.stages_of(name)
    declared = cnnzoo.create(name, features_only=True).feature_info
    assert [(s, c) for s, c, _, _ in stages] == [(f["stage"], f["num_chs"]) for f in declared]
    assert [h for _, _, h, _ in stages] == [side // f["reduction"] for f in declared]


def test_the_page_shows_both_figures_with_alt_text_and_includes_the_tables():
    text = (DOCS / "models.rst").read_text()
    for figure in ("models_accuracy.png", "models_stages.png"):
        directive = re.search(rf"^\.\. figure:: _generated/{figure}\n((?:   .*\n)+)", text, flags=re.MULTILINE)
        assert directive and ":alt:" in directive[1], figure
    for generated in ("models_overview.rst", "models_families.rst"):
        assert f".. include:: _generated/{generated}" in text


def test_the_generated_files_are_the_same_bytes_every_build(page, tmp_path):
    model_table.write_models_page(target=tmp_path)
    for path in sorted(page.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


# -- formatting --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "text"), [(25_557_032, "25.6 M"), (1_727_962, "1.7 M"), (769_162, "769 k"),
                                            (61_706, "62 k")])
def test_parameters_read_in_millions_or_thousands(count, text):
    assert model_table.format_parameters(count) == text


@pytest.mark.parametrize(("gflops", "text"), [(30.94, "30.9"), (8.1815, "8.18"), (0.5779, "0.58"),
                                             (0.000834, "0.00083")])
def test_gflops_keep_about_three_significant_figures(gflops, text):
    assert model_table.format_gflops(gflops) == text
