"""The weights table: every tag timm publishes for a cnnzoo architecture, generated, current, and loadable.

src/cnnzoo/weights_timm.py is written by tests/generate_timm_tags.py from timm's pretrained configurations.
These tests fail when it is stale (a timm release added, dropped or changed weights), check each entry
against timm's configuration field by field without the generator's help, and load new tags end to end from
a Hugging Face cache laid out by hand (conftest.py's ``hf_cache``; nothing is downloaded). Accuracy comes from
tests/data/timm_results_imagenet.csv, timm's published results for these tags; the table must agree with it.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import importlib.util
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models import get_pretrained_cfg

import cnnzoo
from cnnzoo import pretrained, registry, weights_timm
from cnnzoo.weights import PretrainedTag
from cnnzoo.weights_timm import SKIPPED, TIMM_TAGS

GENERATOR_PATH = Path(__file__).resolve().parent / "generate_timm_tags.py"


def _import_generator():
    spec = importlib.util.spec_from_file_location("generate_timm_tags", GENERATOR_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _import_generator()
GENERATED = [(model, entry) for model, entries in TIMM_TAGS.items() for entry in entries]
_ARCHITECTURES = set(generator.cnnzoo_architectures())
TIMM_NAMES = [name for name in timm.list_pretrained() if name.split(".")[0] in _ARCHITECTURES]
RESULTS_PATH = GENERATOR_PATH.parent / "data" / "timm_results_imagenet.csv"
PUBLISHED_COLUMNS = ["model", "top1", "top1_err", "top5", "top5_err", "param_count", "img_size", "crop_pct", "interpolation"]


def _read_results(path: Path = RESULTS_PATH) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


RESULTS = {row["model"]: row for row in _read_results()[1]}


# -- the table is timm's, and current ------------------------------------------------------------------


def test_generated_table_is_what_the_installed_timm_gives():
    tags, skipped = generator.build()
    fix = f"src/cnnzoo/weights_timm.py is stale: run `{generator.COMMAND}`"
    assert skipped == SKIPPED, fix
    assert {m: [t.tag for t in e] for m, e in tags.items()} == {m: [t.tag for t in e] for m, e in TIMM_TAGS.items()}, fix
    for model, entries in tags.items():
        for fresh, written in zip(entries, TIMM_TAGS[model]):
            assert fresh == written, f"{model}.{written.tag}: {fix}"


def test_every_timm_tag_of_a_cnnzoo_architecture_is_offered_or_skipped_with_a_reason():
    offered = {f"{model}.{entry.tag}" for model, entry in GENERATED}
    assert offered | set(SKIPPED) == set(TIMM_NAMES)
    assert not offered & set(SKIPPED)
    assert all(reason.strip() for reason in SKIPPED.values())
    assert all(cnnzoo.is_model(name) for name in offered)


@pytest.mark.parametrize(("model", "entry"), GENERATED, ids=[f"{m}.{e.tag}" for m, e in GENERATED])
def test_each_generated_tag_matches_timms_pretrained_cfg(model, entry):
    cfg = get_pretrained_cfg(f"{model}.{entry.tag}")
    assert entry.hf_hub_id == cfg.hf_hub_id
    assert cfg.hf_hub_filename in (None, pretrained.WEIGHTS_NAME)  # the file cnnzoo fetches
    assert entry.url == (cfg.url or None)
    assert entry.license == cfg.license
    assert entry.crop == (cfg.test_input_size or cfg.input_size)[-1]
    assert entry.crop_pct == (cfg.test_crop_pct or cfg.crop_pct)
    assert entry.resize == math.floor(entry.crop / entry.crop_pct)  # as timm's transforms_factory computes it
    assert entry.train_size in (None, cfg.input_size[-1])
    assert (entry.train_size is not None) == (cfg.test_input_size is not None and cfg.input_size[-1] != entry.crop)
    assert entry.interpolation == cfg.interpolation
    assert (entry.mean, entry.std) == (tuple(cfg.mean), tuple(cfg.std))
    assert entry.num_classes == cfg.num_classes
    result = RESULTS.get(f"{model}.{entry.tag}")  # timm's published results, read here without the generator
    if result is None:
        assert entry.top1 is None and entry.top5 is None  # no published figure: none is invented
    else:
        assert (entry.top1, entry.top5) == (float(result["top1"]), float(result["top5"]))
        assert (entry.crop, entry.crop_pct, entry.interpolation) == (
            int(result["img_size"]), float(result["crop_pct"]), result["interpolation"])  # measured at this input
    assert entry.sha256 is None and entry.model == ""


@pytest.mark.parametrize("model", sorted(TIMM_TAGS))
def test_timms_checkpoint_layout_is_cnnzoos_architecture(model):
    assert generator.layout_difference(model, 1000) is None  # meta device: keys and shapes only


# -- accuracy: timm's published results, recorded with their source ----------------------------------------


def test_results_file_holds_the_tables_tags_as_timm_publishes_them():
    columns, rows = _read_results()
    assert columns == PUBLISHED_COLUMNS
    names = [row["model"] for row in rows]
    assert len(names) == len(set(names))
    assert set(names) <= {f"{model}.{entry.tag}" for model, entry in GENERATED}
    for row in rows:  # the published error columns are 100 minus the accuracy: a check on every copied figure
        assert math.isclose(float(row["top1"]) + float(row["top1_err"]), 100, abs_tol=1e-9), row["model"]
        assert math.isclose(float(row["top5"]) + float(row["top5_err"]), 100, abs_tol=1e-9), row["model"]


def test_results_file_names_its_source_commit():
    readme = (RESULTS_PATH.parent / "README.md").read_text()
    assert len(generator.RESULTS_COMMIT) == 40
    assert generator.RESULTS_URL in readme and f"commit: `{generator.RESULTS_COMMIT}`" in readme
    assert "huggingface/pytorch-image-models" in readme and "results/results-imagenet.csv" in readme
    assert generator.RESULTS_COMMIT in Path(weights_timm.__file__).read_text()


def test_only_tags_timm_lists_no_result_for_lack_accuracy():
    without = {f"{model}.{entry.tag}" for model, entry in GENERATED if entry.top1 is None}
    assert without == {f"{model}.{entry.tag}" for model, entry in GENERATED} - set(RESULTS)
    assert without == {"resnet34.ra4_e3600_r224_in1k", "resnet34.tv_in1k"}  # absent from timm's results file
    assert registry.get_tag("resnet34", "tv_in1k").top1 == 73.314  # torchvision's own figure, declared by the family
    assert registry.get_tag("resnet50", "a1_in1k").top1 == 81.214


def _corrupted_results(tmp_path: Path, change: Callable[[list[dict[str, str]]], None]) -> Path:
    columns, rows = _read_results()
    change(rows)
    path = tmp_path / RESULTS_PATH.name
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row_of(rows: list[dict[str, str]], name: str) -> dict[str, str]:
    return next(row for row in rows if row["model"] == name)


def test_table_is_stale_when_the_results_file_changes(tmp_path):
    path = _corrupted_results(tmp_path, lambda rows: _row_of(rows, "resnet50.a1_in1k").update(top1="81.215"))
    tags, _ = generator.build(path)
    assert tags != TIMM_TAGS  # test_generated_table_is_what_the_installed_timm_gives then fails
    assert next(t for t in tags["resnet50"] if t.tag == "a1_in1k").top1 == 81.215
    dropped = _corrupted_results(tmp_path, lambda rows: rows.remove(_row_of(rows, "vgg11.tv_in1k")))
    assert generator.build(dropped)[0]["vgg11"][0].top1 is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: rows.append(dict(rows[0], model="resnet50.bamboo")), "does not offer"),
    (lambda rows: rows.append(dict(rows[0], model="resnet26d.bt_in1k")), "does not offer"),
    (lambda rows: rows.append(dict(rows[0])), "listed twice"),
    (lambda rows: _row_of(rows, "resnet50.a1_in1k").update(img_size="224"), "evaluated at"),
    (lambda rows: _row_of(rows, "resnet18.tv_in1k").update(interpolation="bicubic"), "evaluated at"),
], ids=["skipped-tag", "other-architecture", "duplicate", "other-size", "other-interpolation"])
def test_generator_refuses_a_results_file_that_disagrees_with_the_table(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        generator.build(_corrupted_results(tmp_path, change))


def test_generator_refuses_a_results_file_with_other_columns(tmp_path):
    path = tmp_path / RESULTS_PATH.name
    path.write_text(RESULTS_PATH.read_text().replace("top5_err", "top5_error", 1))
    with pytest.raises(ValueError, match="columns"):
        generator.build(path)


def test_skipped_tags_say_why():
    assert "num_classes=0" in SKIPPED["resnet50.bamboo"]


def test_publishers_are_named_by_timms_origin_or_tag():
    publishers = {f"{m}.{e.tag}": e.publisher for m, e in GENERATED}
    assert publishers["resnext101_32x8d.fb_wsl_ig1b_ft_in1k"] == "facebook"
    assert publishers["resnet50.gluon_in1k"] == "gluoncv"
    assert publishers["resnet50.a1_in1k"] == "timm"
    assert publishers["densenet121.tv_in1k"] == "torchvision"  # no origin_url in timm: from the tag


def test_generated_module_imports_only_cnnzoo_and_cnnzoo_does_not_import_timm():
    tree = ast.parse(Path(weights_timm.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"cnnzoo.weights"}
    probe = "import sys, cnnzoo; cnnzoo.list_models(pretrained=True); print(sorted(m for m in sys.modules if m.startswith('timm')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "[]"


def test_generator_render_is_the_written_module_up_to_timms_version():
    written = Path(weights_timm.__file__).read_text().splitlines()
    rendered = generator.render(TIMM_TAGS, SKIPPED).splitlines()
    version_line = next(i for i, line in enumerate(rendered) if "timm " in line and "Written by" in line)
    assert written[:version_line] + written[version_line + 1:] == rendered[:version_line] + rendered[version_line + 1:]


# -- PretrainedTag's input configuration ----------------------------------------------------------------


def test_crop_pct_is_the_publishers_when_given_else_crop_over_resize():
    assert PretrainedTag("x", resize=303, crop=288, crop_pct=0.95).cfg()["crop_pct"] == 0.95
    assert PretrainedTag("x", resize=256, crop=224).cfg()["crop_pct"] == 0.875
    a1 = registry.get_tag("resnet50", "a1_in1k")
    assert (a1.resize, a1.crop, a1.train_size, a1.cfg()["input_size"]) == (288, 288, 224, (3, 288, 288))


# -- the registry's merge: timm's tags added, the families' own declarations kept -----------------------


def test_registry_offers_every_generated_tag_and_keeps_the_families_own():
    for model, entry in GENERATED:
        merged = registry.get_tag(model, entry.tag)
        assert merged.model == model
        if merged != dataclasses.replace(entry, model=model):
            assert merged.top1 is not None  # a family's own declaration, with its publisher's accuracy
    own = registry.get_tag("resnet50", "tv_in1k")
    assert (own.top1, own.publisher, own.url) == (76.13, "torchvision", "https://download.pytorch.org/models/resnet50-0676ba61.pth")
    assert registry.get_tag("densenet121", "tv_in1k").interpolation == "bilinear"  # torchvision's, not timm's bicubic


def test_default_tags_stay_the_families_choice():
    for model in TIMM_TAGS:
        assert registry.DEFAULT_TAGS[model] == ("ra2_in1k" if model == "seresnet50" else "tv_in1k")


def test_list_models_pretrained_is_the_families_tags_and_timms():
    tagged = set(cnnzoo.list_models(pretrained=True))
    generated = {f"{model}.{entry.tag}" for model, entry in GENERATED}
    assert generated <= tagged
    assert tagged - generated == {"alexnet.tv_in1k", "googlenet.tv_in1k"}  # torchvision's, not on the Hub
    assert len(tagged) > 32  # the families declared 32 before the generated table


# -- loading new tags offline, end to end ----------------------------------------------------------------


def _publish_timm_copy(name: str, hf_cache: Callable[..., Path], tmp_path: Path) -> torch.nn.Module:
    """A timm model with random weights, put in the fake Hub cache as timm publishes ``name``."""
    reference = timm.create_model(name.split(".")[0], pretrained=False).eval()
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    hf_cache(f"timm/{name}", {pretrained.WEIGHTS_NAME: path})
    return reference


def _same_outputs(ours: torch.nn.Module, reference: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 32, 32)  # the smallest input both take: the same weights give the same outputs, bit for bit
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference(x), rtol=0, atol=0)


@pytest.mark.parametrize(("name", "expected"), [
    ("resnet50.a1_in1k", {"input_size": (3, 288, 288), "crop_pct": 1.0, "interpolation": "bicubic",
                          "license": "apache-2.0"}),
    ("densenet121.ra_in1k", {"input_size": (3, 288, 288), "crop_pct": 0.95, "resize": 303, "interpolation": "bicubic",
                             "license": "apache-2.0"}),
])
def test_new_tag_loads_from_the_hub_cache_and_equals_timm(name, expected, hf_cache, tmp_path):
    reference = _publish_timm_copy(name, hf_cache, tmp_path)
    ours = cnnzoo.create(name)
    _same_outputs(ours, reference)
    assert ours.default_cfg["tag"] == name.split(".")[1]
    assert ours.default_cfg["source"] == f"hf-hub:timm/{name}"
    for key, value in expected.items():
        assert ours.default_cfg[key] == value, key


def test_non_commercial_facebook_tag_loads_with_a_new_head_and_carries_its_license(hf_cache, tmp_path):
    # resnet18's: the smallest of the fb_* weights, fetched and loaded as resnext101_32x8d's are
    reference = _publish_timm_copy("resnet18.fb_swsl_ig1b_ft_in1k", hf_cache, tmp_path)
    model = cnnzoo.create("resnet18.fb_swsl_ig1b_ft_in1k", num_classes=5)
    assert torch.equal(model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert model.fc.out_features == 5
    assert model.default_cfg["license"] == "cc-by-nc-4.0"


def test_instagram_resnext_tag_resolves_to_its_hub_file(hf_cache):
    # 88.8M parameters: its layout is checked on the meta device above; here, that the name reaches the right file
    entry = registry.get_tag("resnext101_32x8d", "fb_wsl_ig1b_ft_in1k")
    assert (entry.source, entry.license, entry.publisher) == (
        "hf-hub:timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k", "cc-by-nc-4.0", "facebook")
    with pytest.raises(cnnzoo.WeightsError, match=r"hf download timm/resnext101_32x8d\.fb_wsl_ig1b_ft_in1k model\.safetensors"):
        with torch.device("meta"):
            cnnzoo.create("resnext101_32x8d.fb_wsl_ig1b_ft_in1k")
