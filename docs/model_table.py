"""A Sphinx extension that writes the models page from the registry when the site is built.

Nothing on the page is typed by hand: the numbers are :func:`cnnzoo.model_info`'s, the weights are the
registry's, each family's notes are its module's docstring and each model's its builder's. Written into
``docs/_generated/`` (``write_models_page``):

``models_overview.rst``
    the table people choose from: one short row a model.
``models_families.rst``
    a section per family: its papers, its notes, and each model's published weights.
``models_accuracy.png``
    ImageNet top-1 of each model's best published weights against its GFLOPs, dot area by parameters.
``models_stages.png``
    the stages of one network of each family: channels and feature-map size at the model's input.

The functions take plain arguments and return text or write one file, so tests run them without Sphinx.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

import cnnzoo
from cnnzoo import ModelInfo, PretrainedTag
from cnnzoo.registry import get_entry

GENERATED = Path(__file__).resolve().parent / "_generated"
# the figures' resolution: drawn at it (label placement measures in its pixels) and saved at it
DPI = 150


@dataclass(frozen=True)
class Section:
    """One section of the page: the registry families it shows and where its notes come from.

    Attributes:
        anchor: the section's reference label (``family-<anchor>``).
        title: the heading.
        families: the registry families (``ModelInfo.family``) it shows, in this order.
        notes_from: the modules whose docstrings are the section's notes.
        lead: a sentence of the page's own, for a section no module docstring describes alone.
    """

    anchor: str
    title: str
    families: tuple[str, ...]
    notes_from: tuple[str, ...] = ()
    lead: str = ""


SECTIONS: tuple[Section, ...] = (
    Section("lenet", "LeNet-5", ("lenet",), ("cnnzoo.models.lenet",)),
    Section("alexnet", "AlexNet", ("alexnet",), ("cnnzoo.models.alexnet",)),
    Section("vgg", "VGG", ("vgg",), ("cnnzoo.models.vgg",)),
    Section("nin", "Network in Network", ("nin",), ("cnnzoo.models.nin",)),
    Section("googlenet", "GoogLeNet", ("googlenet",), ("cnnzoo.models.googlenet",)),
    Section("resnet", "ResNet, ResNeXt, Wide ResNet and SE-ResNet",
            ("resnet", "resnext", "wide_resnet", "seresnet"), ("cnnzoo.models.resnet",)),
    Section("densenet", "DenseNet", ("densenet",), ("cnnzoo.models.densenet",)),
    Section("cifar", "Networks for 32x32 images (CIFAR)", ("cifar_resnet", "cifar_densenet"),
            lead="The networks the ResNet and DenseNet papers designed for the 32x32 photos of CIFAR-10 "
                 "(section 4.2 and section 4 of the papers): small and fast, to train from scratch on "
                 "small images. For photos of a few hundred pixels, fine-tune an ImageNet network "
                 "above instead."),
)

#: One network of each section for the architecture figure.
FIGURE_MODELS: tuple[str, ...] = (
    "lenet5", "alexnet", "vgg16", "nin", "googlenet", "resnet50", "densenet121", "cifar_resnet20",
)

#: The overview table's header; the page's tests hold it to these columns.
OVERVIEW_HEADER = ["Model", "Parameters", "GFLOPs", "Best ImageNet top-1 %", "Input"]
#: A weights table's header, and its columns' relative widths (the same in every table).
WEIGHTS_HEADER = ["Weights", "ImageNet top-1 %", "Tested at (px)", "Published by", "Licence"]
WEIGHTS_WIDTHS = (30, 16, 14, 16, 24)


# -- what the page says about one model ------------------------------------------------------------


def format_parameters(count: int) -> str:
    """``25.6 M`` (millions) or ``270 k`` (thousands) for a network under a million."""
    return f"{count / 1e6:.1f} M" if count >= 1_000_000 else f"{count / 1e3:.0f} k"


def format_gflops(gflops: float) -> str:
    """Three significant figures at most: ``30.9``, ``8.18``, ``0.58``; two for a tiny network."""
    if gflops >= 10:
        return f"{gflops:.1f}"
    if gflops >= 0.1:
        return f"{gflops:.2f}"
    return f"{gflops:.2g}"


def format_top1(top1: float) -> str:
    """The figure as the publisher (or timm) gives it: ``76.13``, ``80.858``."""
    return f"{top1:g}"


def format_input(input_size: Sequence[int]) -> str:
    """``224x224``, with the channel count where it is not three (``32x32, 1 channel``)."""
    channels, height, width = input_size
    size = f"{height}x{width}"
    if channels != 3:
        size += f", {channels} channel" + ("" if channels == 1 else "s")
    return size


def best_tag(info: ModelInfo) -> PretrainedTag | None:
    """The weights with the highest reported ImageNet top-1 (the first of a tie), or None without any."""
    scored = [tag for tag in info.pretrained_tags if tag.top1 is not None]
    return max(scored, key=lambda tag: tag.top1) if scored else None  # max keeps the first of a tie


def non_commercial(license: str) -> bool:
    """Whether a licence is for non-commercial use only (Creative Commons' NC licences)."""
    return "-nc" in license.lower()


def model_anchor(name: str) -> str:
    return f"model-{name.replace('_', '-')}"


def section_of(info: ModelInfo) -> Section:
    """The section that shows a model: the one listing its family, else a section of its family's own."""
    for section in SECTIONS:
        if info.family in section.families:
            return section
    module = get_entry(info.name).builder.__module__
    return Section(info.family.replace("_", "-"), info.family, (info.family,), (module,))


def grouped(infos: Iterable[ModelInfo]) -> list[tuple[Section, list[ModelInfo]]]:
    """The models by section, sections in page order, models in each in the section's family order and
    then the registry's (natural) order."""
    infos = list(infos)
    sections: list[Section] = []
    for info in infos:
        section = section_of(info)
        if section not in sections:
            sections.append(section)
    sections.sort(key=lambda s: SECTIONS.index(s) if s in SECTIONS else len(SECTIONS))
    return [(s, sorted((i for i in infos if section_of(i) == s), key=lambda i: s.families.index(i.family)))
            for s in sections]


def all_infos() -> list[ModelInfo]:
    """:func:`cnnzoo.model_info` of every registered model (built on the meta device, then cached)."""
    return [cnnzoo.model_info(name) for name in cnnzoo.list_models()]


# -- reStructuredText ------------------------------------------------------------------------------


def _cell(lines: Sequence[str]) -> str:
    """A table cell as a line block, one line each (the same layout whether it has one line or several)."""
    return "\n       ".join(f"| {line}" for line in lines if line) or " "


def list_table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> str:
    def row(cells: Sequence[str]) -> str:
        return "   * - " + "\n     - ".join(cells)

    shares = " ".join(map(str, widths)) if widths else "auto"
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {shares}", "", row(header)]
    lines += [row(cells) for cells in rows]
    return "\n".join(lines) + "\n"


def overview_row(info: ModelInfo) -> list[str]:
    """The overview's cells of one model: name (linking to its entry), parameters, GFLOPs, the best top-1
    with its tag (a star where timm measured it, the test size where it is not the input size, a flag
    where the weights are for non-commercial use only), input size."""
    best = best_tag(info)
    if not info.pretrained_tags:
        accuracy = _cell(["no published weights"])
    elif best is None:
        accuracy = _cell(["accuracy not published", f"``{info.default_tag}``"])
    else:
        figure = format_top1(best.top1) + (r" \*" if best.accuracy_by == "timm" else "")
        if best.crop != info.input_size[-1]:
            figure += f" at {best.crop} px"
        accuracy = _cell([figure, f"``{best.tag}``",
                          "non-commercial use only" if non_commercial(best.license) else ""])
    return [f":ref:`{info.name} <{model_anchor(info.name)}>`", format_parameters(info.parameters),
            format_gflops(info.gflops), accuracy, format_input(info.input_size)]


def overview_table(infos: Iterable[ModelInfo]) -> str:
    """The compact table of every model, in the page's section order."""
    rows = [overview_row(info) for _, members in grouped(infos) for info in members]
    return list_table(OVERVIEW_HEADER, rows)


def weights_row(tag: PretrainedTag) -> list[str]:
    """A weights table's cells of one tag: tag, top-1 (starred where timm measured it), test size, publisher,
    licence (flagged where it is for non-commercial use only)."""
    if tag.top1 is None:
        accuracy = "not published"
    else:
        accuracy = format_top1(tag.top1) + (r" \*" if tag.accuracy_by == "timm" else "")
    licence = f"**non-commercial use only** ({tag.license})" if non_commercial(tag.license) else tag.license
    return [f"``{tag.tag}``", accuracy, str(tag.crop), tag.publisher, licence]


def _docstring(obj: object) -> str:
    """``obj``'s docstring as page text. Outside ``literals``, an ``@`` is escaped: reStructuredText
    would read the paper's layer notation (``48@11x11/4``: 48 maps of 11x11, stride 4) as an email
    address and link it."""
    text = inspect.cleandoc(getattr(obj, "__doc__", None) or "")
    parts = re.split(r"(``.+?``)", text, flags=re.DOTALL)
    return "".join(part if part.startswith("``") else part.replace("@", "\\@") for part in parts)


NO_WEIGHTS = "train {} from scratch, or load your own with ``pretrained=\"path/to/file\"``."


def model_entry(info: ModelInfo, say_without_weights: bool = True) -> str:
    """A model's entry in its family section: its builder's docstring and its weights (or, unless the
    section said it for all its models, that it has none)."""
    lines = [f".. _{model_anchor(info.name)}:", "", f".. rubric:: ``{info.name}``", "",
             _docstring(get_entry(info.name).builder), ""]
    if not info.pretrained_tags:
        if say_without_weights:
            lines += ["No published weights: " + NO_WEIGHTS.format("it"), ""]
    else:
        note = f"``pretrained=True`` loads ``{info.default_tag}``."
        if any(tag.accuracy_by == "timm" for tag in info.pretrained_tags):
            note += r" Figures marked \* are timm's measurements."
        lines += [note, "", list_table(WEIGHTS_HEADER, [weights_row(tag) for tag in info.pretrained_tags],
                                       WEIGHTS_WIDTHS)]
    return "\n".join(lines)


_PAPER = re.compile(r'^(?P<authors>.+?),\s*"(?P<title>[^"]+)",\s*(?P<venue>.+?)\.?\s+(?P<url>https?://\S+)$')


def paper_reference(citation: str) -> str:
    """A citation as ``Authors, "Title" (linked), Venue``, without a final full stop; one the pattern does
    not fit, as it is."""
    match = _PAPER.match(citation.strip())
    if not match:
        return citation.strip().rstrip(".")
    # an anonymous link (``__``): the same paper may be cited in several sections
    return f'{match["authors"]}, `"{match["title"]}" <{match["url"]}>`__, {match["venue"]}'


def papers_list(members: Sequence[ModelInfo]) -> str:
    """Each paper of a section, linked, with the models that follow it."""
    papers: dict[str, list[str]] = {}
    for info in members:
        papers.setdefault(info.paper, []).append(info.name)
    if len(papers) == 1:
        (paper, _), = papers.items()
        return f"Paper: {paper_reference(paper)}.\n"
    items = [f"* {', '.join(f'``{n}``' for n in names)}: {paper_reference(paper)}." for paper, names in papers.items()]
    return "Papers:\n\n" + "\n".join(items) + "\n"


def family_section(section: Section, members: Sequence[ModelInfo]) -> str:
    """A section of the page: heading, papers, notes (lead, then module docstrings) and model entries."""
    parts = [f".. _family-{section.anchor}:", "", section.title, "-" * len(section.title), ""]
    if section.lead:
        parts += [section.lead, ""]
    for module in section.notes_from:
        parts += [_docstring(sys.modules[module]), ""]
    parts += [papers_list(members)]
    none_has_weights = len(members) > 1 and not any(info.pretrained_tags for info in members)
    if none_has_weights:
        parts += ["None of these networks has published weights: " + NO_WEIGHTS.format("them"), ""]
    parts += [model_entry(info, say_without_weights=not none_has_weights) for info in members]
    return "\n".join(parts)


def families_page(infos: Iterable[ModelInfo]) -> str:
    return "\n".join(family_section(section, members) for section, members in grouped(infos))


# -- figures -------------------------------------------------------------------------------------------

# the sections' colours in the figures: matplotlib's colour-blind-friendly "tab10" order
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")


def _colour(section: Section) -> str:
    index = SECTIONS.index(section) if section in SECTIONS else len(SECTIONS)
    return _COLOURS[index % len(_COLOURS)]


def _figure(width: float, height: float) -> object:
    """A matplotlib figure drawn by Agg directly: no pyplot, no global backend for the build to change."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # no "Software" entry (it names matplotlib's version): the same registry gives the same bytes
    figure.savefig(path, dpi=DPI, metadata={"Software": None})


# where a label may go around its dot, in order of preference: above, below, right, left, then between
_LABEL_ANGLES = (90, 270, 0, 180, 45, 135, 315, 225, 65, 115, 295, 245, 20, 160, 340, 200)


def _place_labels(axes: object, points: Sequence[tuple[float, float, float, str]], colours: Sequence[str],
                  obstacles: Sequence[object] = ()) -> None:
    """Label each ``(x, y, dot area, label)`` point at the first spot of a widening ring around its dot
    where the label overlaps no other label, no dot and no obstacle (the legend) and stays inside the
    axes, and nearer its own dot than any other where it can: a deterministic, greedy placement. A label
    away from its dot gets a thin line to it."""
    figure = axes.figure
    renderer = figure.canvas.get_renderer()
    area = axes.get_window_extent(renderer)
    centres = [tuple(axes.transData.transform((x, y))) for x, y, _, _ in points]
    # a dot's area is in points squared; its radius in display pixels
    radii = [math.sqrt(size) / 2 * figure.dpi / 72 for _, _, size, _ in points]
    dots = [(cx - r, cy - r, cx + r, cy + r) for (cx, cy), r in zip(centres, radii)]
    taken = [(b.x0, b.y0, b.x1, b.y1) for b in obstacles]

    def free(box: tuple[float, float, float, float], own: int) -> bool:
        x0, y0, x1, y1 = box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1  # a little air around each label
        if x0 < area.x0 or x1 > area.x1 or y0 < area.y0 or y1 > area.y1:
            return False
        others = taken + [dot for i, dot in enumerate(dots) if i != own]
        return not any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in others)

    def nearest_dot(box: tuple[float, float, float, float]) -> int:
        def gap(i: int) -> float:
            cx, cy = centres[i]
            near = (min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3]))
            return math.dist(centres[i], near) - radii[i]

        return min(range(len(points)), key=gap)

    def neighbours(i: int) -> int:  # points within half the x value and two points of accuracy
        (xi, yi, _, _) = points[i]
        return sum(abs(xj / xi - 1) < 0.5 and abs(yj - yi) < 2 for xj, yj, _, _ in points)

    # the most crowded first: they have the fewest free spots
    for index in sorted(range(len(points)), key=lambda i: (-neighbours(i), i)):
        x, y, _, label = points[index]
        text = axes.annotate(label, (x, y), xytext=(0, 0), textcoords="offset pixels", fontsize=8.5,
                             color="#222222", ha="center", va="center")
        extent = text.get_window_extent(renderer)
        width, height = extent.width, extent.height
        (cx, cy), radius = centres[index], radii[index]
        spots = []
        for ring in range(12):
            gap = radius + 3 + ring * height * 0.8
            for angle in map(math.radians, _LABEL_ANGLES):
                spots.append((math.cos(angle) * (gap + width / 2 * abs(math.cos(angle))),
                              math.sin(angle) * (gap + height / 2 * abs(math.sin(angle)))))
        boxes = [(cx + dx - width / 2, cy + dy - height / 2, cx + dx + width / 2, cy + dy + height / 2)
                 for dx, dy in spots]
        # a free spot nearer its own dot than any other, else any free spot, else right of the dot
        candidates = [i for i, box in enumerate(boxes) if free(box, index)]
        chosen = next((i for i in candidates if nearest_dot(boxes[i]) == index),
                      candidates[0] if candidates else None)
        if chosen is None:
            spots.append((radius + 3 + width / 2, 0.0))
            boxes.append((cx + radius + 3, cy - height / 2, cx + radius + 3 + width, cy + height / 2))
            chosen = len(spots) - 1
        (dx, dy), box = spots[chosen], boxes[chosen]
        text.set_position((dx, dy))
        taken.append(box)
        near = (min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3]))
        if math.dist((cx, cy), near) - radius > 4:
            lx, ly = axes.transData.inverted().transform(near)
            axes.plot([x, lx], [y, ly], color=colours[index], lw=0.7, zorder=2)


def write_accuracy_plot(infos: Iterable[ModelInfo], path: Path) -> list[str]:
    """ImageNet top-1 of each model's best published weights against its GFLOPs (log scale); dot area
    grows with the parameter count, a hollow dot marks a figure measured at a larger image than the
    GFLOPs are counted at. Writes a PNG to ``path``; returns the models plotted."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    plotted = [(info, best_tag(info)) for _, members in grouped(infos) for info in members]
    plotted = [(info, best) for info, best in plotted if best is not None]
    figure = _figure(7.2, 5.6)
    axes = figure.add_subplot()
    axes.set_xscale("log")
    axes.set_xlabel("GFLOPs per image at the model's input size (log scale)")
    axes.set_ylabel("ImageNet top-1 accuracy of its best weights (%)")
    axes.grid(True, which="both", color="#dddddd", lw=0.6)
    axes.set_axisbelow(True)
    largest = max(info.parameters for info, _ in plotted)

    def dot_area(parameters: int) -> float:  # in points squared, as scatter takes it
        return 30 + 470 * parameters / largest

    points, colours, sections = [], [], []
    for info, best in plotted:
        section = section_of(info)
        size = dot_area(info.parameters)
        colour = _colour(section)
        larger = best.crop > info.input_size[-1]
        axes.scatter([info.gflops], [best.top1], s=size, facecolors="white" if larger else colour,
                     edgecolors=colour, linewidths=1.4, alpha=0.85, zorder=3)
        points.append((info.gflops, best.top1, size, info.name))
        colours.append(colour)
        if section not in sections:
            sections.append(section)
    gflops = [p[0] for p in points]
    top1 = [p[1] for p in points]
    axes.set_xlim(min(gflops) / 1.8, max(gflops) * 1.8)
    axes.set_ylim(min(top1) - 2.5, max(top1) + 3.5)
    low, high = axes.get_xlim()
    axes.xaxis.set_major_locator(FixedLocator([t for t in (0.5, 1, 2, 5, 10, 20, 50, 100) if low <= t <= high]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    handles = [Line2D([], [], ls="", marker="o", markersize=7, color=_colour(s), label=s.title) for s in sections]
    handles.append(Line2D([], [], ls="", marker="o", markersize=7, markerfacecolor="white", color="#555555",
                          label="measured at a larger image"))
    for millions in (10, 100):
        handles.append(Line2D([], [], ls="", marker="o", color="#999999",
                              markersize=math.sqrt(dot_area(millions * 1_000_000)),
                              label=f"{millions} M parameters"))
    legend = axes.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.95, labelspacing=0.9,
                         borderpad=0.8)
    figure.tight_layout()
    _place_labels(axes, points, colours, [legend.get_window_extent(figure.canvas.get_renderer())])
    _save(figure, path)
    return [info.name for info, _ in plotted]


def stages_of(name: str) -> list[tuple[str, int, int, int]]:
    """``(stage, channels, map height, map width)`` of each declared stage (``feature_info``), the map
    sizes from a forward pass on the meta device at the model's input size."""
    info = cnnzoo.model_info(name)
    with torch.device("meta"):
        extractor = cnnzoo.create(name, features_only=True).eval()
        with torch.no_grad():
            maps = extractor(torch.empty(1, *info.input_size))
    return [(stage["stage"], int(out.shape[1]), int(out.shape[2]), int(out.shape[3]))
            for stage, out in zip(extractor.feature_info, maps, strict=True)]


def _tint(colour: str, amount: float) -> tuple[float, float, float]:
    """``colour`` mixed with white: ``amount`` 0 is white, 1 the colour itself."""
    from matplotlib.colors import to_rgb

    return tuple(1 - amount * (1 - c) for c in to_rgb(colour))  # type: ignore[return-value]


def write_stages_figure(names: Sequence[str], path: Path) -> dict[str, list[tuple[str, int, int, int]]]:
    """One row a network: its stages left to right, each a box with the stage's name, channels and map
    size; the box is taller where the map is larger (relative to the input, on a square-root scale so a
    7x7 map stays readable) and darker where there are more channels. Written as a PNG to ``path``;
    returns the stages drawn."""
    from matplotlib.patches import FancyBboxPatch

    drawn = {name: stages_of(name) for name in names}
    columns = max(len(stages) for stages in drawn.values())
    row_height, box_width, gap, left = 1.0, 1.6, 0.24, 2.55
    width = left + columns * (box_width + gap) - gap + 0.05
    figure = _figure(7.2, 0.85 * len(names))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, len(names) * row_height)
    axes.axis("off")
    most = max(channels for stages in drawn.values() for _, channels, _, _ in stages)
    for row, name in enumerate(names):
        info = cnnzoo.model_info(name)
        middle = (len(names) - row - 0.5) * row_height
        colour = _colour(section_of(info))
        axes.text(0.05, middle + 0.04, name, fontsize=10, fontweight="bold", va="bottom", color=colour)
        axes.text(0.05, middle - 0.04, f"input {format_input(info.input_size)}", fontsize=8, va="top",
                  color="#333333")
        side = max(info.input_size[1:])
        for column, (stage, channels, height, map_width) in enumerate(drawn[name]):
            tall = 0.62 + 0.3 * math.sqrt(max(height, map_width) / side)
            x = left + column * (box_width + gap)
            axes.add_patch(FancyBboxPatch(
                (x, middle - tall / 2), box_width, tall, boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=_tint(colour, 0.12 + 0.5 * math.log(channels) / math.log(most)), edgecolor=colour,
                lw=1.2))
            for offset, text, weight in ((0.18, stage, "bold"), (0.0, f"{channels} channels", "normal"),
                                         (-0.18, f"{height} x {map_width}", "normal")):
                axes.text(x + box_width / 2, middle + offset, text, ha="center", va="center", fontsize=7.5,
                          color="#111111", fontweight=weight)
            if column:
                axes.annotate("", (x, middle), xytext=(x - gap, middle),
                              arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.9,
                                          "shrinkA": 1, "shrinkB": 1})
    _save(figure, path)
    return drawn


# -- the extension -------------------------------------------------------------------------------------


def write_models_page(app: object = None, target: Path | None = None) -> None:
    """Write the page's generated files into ``target`` (``docs/_generated``)."""
    target = GENERATED if target is None else Path(target)
    target.mkdir(parents=True, exist_ok=True)
    infos = all_infos()
    (target / "models_overview.rst").write_text(overview_table(infos))
    (target / "models_families.rst").write_text(families_page(infos))
    write_accuracy_plot(infos, target / "models_accuracy.png")
    write_stages_figure(FIGURE_MODELS, target / "models_stages.png")


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", write_models_page)
    return {"parallel_read_safe": True}
