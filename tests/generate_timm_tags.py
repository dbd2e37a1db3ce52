"""Write src/cnnzoo/weights_timm.py: every set of weights timm publishes for an architecture cnnzoo registers.

    .venv/bin/python tests/generate_timm_tags.py            # rewrite the table from the installed timm
    .venv/bin/python tests/generate_timm_tags.py --check    # exit 1, saying what differs, if it is stale

timm is a test dependency, never a run-time one: this script reads timm's pretrained configurations
(``timm.list_pretrained``, ``get_pretrained_cfg``) and writes a plain data module that imports only
:class:`cnnzoo.weights.PretrainedTag`. tests/test_weights.py imports :func:`build` and fails when the written
table and the installed timm disagree, so a timm release that adds, drops or changes weights shows up as a
failing test whose message is the command above.

A tag is taken when timm's model of that name is cnnzoo's architecture: timm's state_dict, passed through
cnnzoo's ``checkpoint_filter``, has exactly cnnzoo's keys and shapes (checked on the meta device, without
weights), and the file is one cnnzoo's loader fetches and loads whole. Every other tag is listed in ``SKIPPED``
with the reason.

timm's package ships no accuracy; its repository publishes its ImageNet-1k validation results. Each tag's top-1 and
top-5 come from tests/data/timm_results_imagenet.csv, the rows of those results for the tags here, copied from
``RESULTS_URL`` (tests/data/README.md); a tag timm does not list there keeps None. A row must be for a tag in the table
and evaluated at the tag's own input (``img_size``, ``crop_pct``, ``interpolation``), or the script stops, saying which.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import sys
from pathlib import Path

import timm
import torch
from timm.models import get_pretrained_cfg

import cnnzoo
from cnnzoo.registry import get_entry
from cnnzoo.weights import PretrainedTag

TARGET = Path(__file__).resolve().parents[1] / "src" / "cnnzoo" / "weights_timm.py"
COMMAND = "python tests/generate_timm_tags.py"
#: The only Hub file cnnzoo's loader fetches (cnnzoo.pretrained.WEIGHTS_NAME); timm's cfgs name none, and timm
#: then also prefers it.
HUB_FILE = "model.safetensors"
#: Who trained the weights, by timm's ``origin_url``; by the tag's prefix where timm gives no origin.
_ORIGINS = (("github.com/pytorch/vision", "torchvision"), ("github.com/facebookresearch/", "facebook"),
            ("cv.gluon.ai", "gluoncv"))
_PREFIXES = (("tv_", "torchvision"), ("tv2_", "torchvision"), ("fb_", "facebook"), ("gluon_", "gluoncv"))
_DEFAULTS = {f.name: f.default for f in PretrainedTag.__dataclass_fields__.values()}
#: timm's results-imagenet.csv, the rows of this table's tags; the commit they were copied from (tests/data/README.md).
RESULTS = Path(__file__).resolve().parent / "data" / "timm_results_imagenet.csv"
RESULTS_COMMIT = "0173a139a2c66db3a41ebfe1d8ac4fb02483642e"
RESULTS_URL = f"https://github.com/huggingface/pytorch-image-models/blob/{RESULTS_COMMIT}/results/results-imagenet.csv"
RESULTS_COLUMNS = ("model", "top1", "top1_err", "top5", "top5_err", "param_count", "img_size", "crop_pct", "interpolation")


def published_results(path: Path = RESULTS) -> dict[str, dict[str, str]]:
    """``{model.tag: row}`` of timm's published ImageNet-1k results (the copied rows), values as written."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != RESULTS_COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames}, not timm's {list(RESULTS_COLUMNS)}")
        rows: dict[str, dict[str, str]] = {}
        for row in reader:
            if row["model"] in rows:
                raise ValueError(f"{path}: {row['model']} is listed twice")
            rows[row["model"]] = row
    return rows


def publisher_of(tag: str, origin_url: str | None) -> str:
    """Who trained and reports the weights: from timm's ``origin_url``, else the tag's prefix, else timm."""
    for marker, publisher in _ORIGINS:
        if origin_url and marker in origin_url:
            return publisher
    return next((publisher for prefix, publisher in _PREFIXES if tag.startswith(prefix)), "timm")


def cnnzoo_architectures() -> list[str]:
    """The names cnnzoo's own families register (not a user's registrations)."""
    return [n for n in cnnzoo.list_models() if get_entry(n).builder.__module__.startswith("cnnzoo.models.")]


@functools.lru_cache(maxsize=None)  # once per architecture and class count, however many tags share them
def layout_difference(model_name: str, num_classes: int) -> str | None:
    """Why timm's ``model_name`` (with ``num_classes`` outputs) is not cnnzoo's architecture, or None if it is.

    Built on the meta device: keys and shapes only. As cnnzoo's loader allows, a class layer may differ in its
    class dimension alone (it is then freshly initialised).
    """
    with torch.device("meta"):
        reference = timm.create_model(model_name, pretrained=False, num_classes=num_classes)
        ours = cnnzoo.create(model_name)
    theirs = ours.checkpoint_filter(dict(reference.state_dict()))
    own = ours.state_dict()
    classifier = set(ours.classifier_keys())
    missing, unexpected = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    shapes = sorted(k for k in set(own) & set(theirs) if own[k].shape != theirs[k].shape
                    and not (k in classifier and own[k].shape[1:] == theirs[k].shape[1:]))
    if not (missing or unexpected or shapes):
        return None
    parts = [f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
             for what, keys in (("not in timm's", missing), ("only in timm's", unexpected), ("other shapes", shapes))
             if keys]
    return f"timm's {model_name} is another architecture than cnnzoo's ({'; '.join(parts)})"


def tag_of(name: str, result: dict[str, str] | None = None) -> PretrainedTag | str:
    """The table entry of timm's ``name`` (``model.tag``), or why it is left out.

    ``result``: the tag's row of timm's published results, giving its accuracy and the input it was measured at.
    """
    model_name, tag = name.split(".", 1)
    cfg = get_pretrained_cfg(name)
    if not cfg.hf_hub_id:
        return "not on the Hugging Face Hub (cnnzoo fetches timm's weights from there)"
    if cfg.hf_hub_filename not in (None, HUB_FILE):
        return f"its Hub file is {cfg.hf_hub_filename}; cnnzoo's loader fetches {HUB_FILE}"
    if cfg.custom_load:
        return "needs timm's own loader (custom_load)"
    if not cfg.num_classes:
        return ("a backbone without a classifier (num_classes=0): cnnzoo loads a tag into create(NAME.TAG)'s "
                "classifier model, which these weights do not fill")
    if not cfg.license:
        return "timm states no license for it"
    if cfg.crop_mode != "center":
        return f"evaluated with a {cfg.crop_mode!r} crop; cnnzoo's transforms take a centre crop"
    different = layout_difference(model_name, cfg.num_classes)
    if different:
        return different
    crop = (cfg.test_input_size or cfg.input_size)[-1]
    crop_pct = cfg.test_crop_pct or cfg.crop_pct
    if result is not None:
        # the accuracy holds for the input it was measured at: that must be the input this entry describes
        measured = (int(result["img_size"]), float(result["crop_pct"]), result["interpolation"])
        if measured != (crop, crop_pct, cfg.interpolation):
            raise ValueError(f"{RESULTS.name}: {name} was evaluated at (img_size, crop_pct, interpolation) = {measured}, "
                             f"timm's pretrained cfg gives {(crop, crop_pct, cfg.interpolation)}; copy the row "
                             f"of the current results-imagenet.csv")
    return PretrainedTag(
        tag=tag,
        hf_hub_id=cfg.hf_hub_id,
        url=cfg.url or None,
        publisher=publisher_of(tag, cfg.origin_url),
        license=cfg.license,
        top1=float(result["top1"]) if result else None,
        top5=float(result["top5"]) if result else None,
        accuracy_by="timm" if result else None,
        resize=math.floor(crop / crop_pct),  # timm's transforms_factory: scale_size = floor(img_size / crop_pct)
        crop=crop,
        crop_pct=crop_pct,
        train_size=cfg.input_size[-1] if cfg.test_input_size and cfg.input_size[-1] != crop else None,
        interpolation=cfg.interpolation,
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        num_classes=cfg.num_classes,
    )


def build(results: Path = RESULTS) -> tuple[dict[str, tuple[PretrainedTag, ...]], dict[str, str]]:
    """``(TIMM_TAGS, SKIPPED)`` as the installed timm and its published ``results`` give them, in timm's
    (alphabetical) order."""
    ours = set(cnnzoo_architectures())
    measured = published_results(results)
    tags: dict[str, list[PretrainedTag]] = {}
    skipped: dict[str, str] = {}
    for name in timm.list_pretrained():
        model_name = name.split(".", 1)[0]
        if model_name not in ours:
            continue
        entry = tag_of(name, measured.get(name))
        if isinstance(entry, str):
            skipped[name] = entry
        else:
            tags.setdefault(model_name, []).append(entry)
    stray = sorted(set(measured) - {f"{model}.{entry.tag}" for model, entries in tags.items() for entry in entries})
    if stray:
        raise ValueError(f"{results.name} lists {', '.join(stray)}, which the table does not offer: remove those rows")
    return {model: tuple(entries) for model, entries in tags.items()}, skipped


def _literal(value: object) -> str:
    """Python source for a table value, strings in double quotes as the rest of cnnzoo writes them."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return f"({', '.join(_literal(v) for v in value)}{',' if len(value) == 1 else ''})"
    return repr(value)


def _row(entry: PretrainedTag) -> str:
    fields = [_literal(entry.tag)]
    for name in ("hf_hub_id", "url", "publisher", "license", "top1", "top5", "accuracy_by", "resize", "crop", "crop_pct", "train_size",
                 "interpolation", "mean", "std", "num_classes"):
        value = getattr(entry, name)
        if name in ("publisher", "license") or value != _DEFAULTS[name]:
            fields.append(f"{name}={_literal(value)}")
    return f"        PretrainedTag({', '.join(fields)}),"


def render(tags: dict[str, tuple[PretrainedTag, ...]], skipped: dict[str, str]) -> str:
    """The text of src/cnnzoo/weights_timm.py for this table."""
    count = sum(len(entries) for entries in tags.values())
    lines = [
        '"""Every set of weights timm publishes for an architecture cnnzoo registers: GENERATED, do not edit.',
        "",
        f"Written by ``{COMMAND}`` from the pretrained configurations of timm {timm.__version__}:",
        f"{count} tags of {len(tags)} architectures. tests/test_weights.py fails when the installed timm disagrees;",
        "run the command again then. timm is not imported here (it is a test dependency, not a run-time one).",
        "",
        "The registry adds these tags to cnnzoo's own architectures; a tag a family declares itself beside its",
        "builder (torchvision's, with their reported accuracy) wins. ``top1``/``top5`` are timm's ImageNet-1k",
        "validation results (tests/data/timm_results_imagenet.csv, copied from results/results-imagenet.csv of",
        f"huggingface/pytorch-image-models at {RESULTS_COMMIT}), measured at ``crop``; None where",
        "timm lists none. ``crop``/``crop_pct`` are timm's test-time input (``test_input_size``/``test_crop_pct``",
        "where given), ``train_size`` its ``input_size`` when smaller.",
        '"""',
        "",
        "from cnnzoo.weights import PretrainedTag",
        "",
        '__all__ = ["SKIPPED", "TIMM_TAGS"]',
        "",
        "#: ``{model: (PretrainedTag, ...)}``: timm's weights for each cnnzoo architecture, by timm's tag names.",
        "TIMM_TAGS: dict[str, tuple[PretrainedTag, ...]] = {",
    ]
    for model, entries in tags.items():
        lines.append(f"    {_literal(model)}: (")
        lines.extend(_row(entry) for entry in entries)
        lines.append("    ),")
    lines += ["}", "", "#: timm's tags of these architectures that are left out, and why.", "SKIPPED: dict[str, str] = {"]
    lines.extend(f"    {_literal(name)}: {_literal(reason)}," for name, reason in skipped.items())
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the table is stale")
    args = parser.parse_args(argv)
    table = build()
    if args.check:
        from cnnzoo import weights_timm

        stale = (weights_timm.TIMM_TAGS, weights_timm.SKIPPED) != table
        print(f"{TARGET} is {'stale: run ' + COMMAND if stale else 'up to date'}", file=sys.stderr if stale else sys.stdout)
        return int(stale)
    TARGET.write_text(render(*table))
    print(f"Wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
