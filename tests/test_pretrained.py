"""Pretrained weights, all offline: files made here from torchvision/timm models with random weights.

The Hugging Face cache is laid out by hand in a temporary folder (``models--ORG--REPO/refs/main``,
``snapshots/<rev>/...`` linking to ``blobs/<sha256>``) with ``HF_HUB_OFFLINE=1``; torch.hub's cache is a
temporary ``TORCH_HOME``; the network is blocked by conftest.py, so nothing is fetched by accident.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
from pathlib import Path

import pytest
import timm
from hypothesis import given, settings
from hypothesis import strategies as st
import torch
import torchvision
from safetensors.torch import save_file
from timm.models import get_pretrained_cfg
from torchvision.models import get_model_weights

import cnnzoo
from cnnzoo import pretrained
from cnnzoo.pretrained import PRETRAINED
from conftest import hub_copy_of_timm, with_real_hash

# -- fixtures ------------------------------------------------------------------------------------------


def safetensors_bytes(state: dict[str, torch.Tensor], tmp_path: Path) -> Path:
    path = tmp_path / f"weights-{len(state)}-{id(state)}.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def same_outputs(ours: torch.nn.Module, reference: torch.nn.Module, size: int = 64, exact: bool = True) -> None:
    x = torch.randn(2, 3, size, size)
    tolerance = {"rtol": 0, "atol": 0} if exact else {}
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference.eval()(x), **tolerance)


# -- the table agrees with the installed packages' metadata --------------------------------------------

TV_TAGS = {"tv_in1k": "IMAGENET1K_V1", "tv2_in1k": "IMAGENET1K_V2"}
TABLE = [entry for tags in PRETRAINED.values() for entry in tags.values()]


@pytest.mark.parametrize("entry", [e for e in TABLE if e.publisher == "torchvision"], ids=lambda e: e.name)
def test_torchvision_tags_match_torchvision_metadata(entry):
    weights = getattr(get_model_weights(entry.model), TV_TAGS[entry.tag])
    assert entry.url == weights.url
    metrics = weights.meta["_metrics"]["ImageNet-1K"]
    assert (entry.top1, entry.top5) == (metrics["acc@1"], metrics["acc@5"])
    transforms = weights.transforms()
    assert (entry.resize, entry.crop) == (transforms.resize_size[0], transforms.crop_size[0])
    assert entry.interpolation == transforms.interpolation.value
    assert (entry.mean, entry.std) == (tuple(transforms.mean), tuple(transforms.std))
    assert entry.sha256_prefix and entry.sha256_prefix in weights.url


@pytest.mark.parametrize("entry", [e for e in TABLE if e.hf_hub_id], ids=lambda e: e.name)
def test_hub_tags_match_timm_pretrained_cfg(entry):
    cfg = get_pretrained_cfg(entry.name)
    assert entry.hf_hub_id == cfg.hf_hub_id
    assert entry.license == cfg.license
    if cfg.url:
        assert entry.url == cfg.url
    if entry.publisher == "timm":
        assert entry.interpolation == cfg.interpolation
        assert (3, entry.crop, entry.crop) == tuple(cfg.test_input_size or cfg.input_size)
        assert entry.cfg()["crop_pct"] == pytest.approx(cfg.test_crop_pct or cfg.crop_pct, abs=0.001)


def test_table_covers_every_torchvision_and_timm_tv_weight_of_our_models():
    for name in cnnzoo.list_models():
        try:
            enum = get_model_weights(name)
        except ValueError:
            enum = None
        for tag, member in TV_TAGS.items():
            if enum is not None and hasattr(enum, member):
                assert tag in PRETRAINED.get(name, {}), f"{name}.{tag} is published by torchvision"
        for published in timm.list_pretrained(f"{name}.tv*"):
            assert published.split(".")[0] != name or published.split(".")[1] in PRETRAINED[name]


def test_without_hub_copy_only_torchvision_urls_remain():
    assert sorted(e.name for e in TABLE if not e.hf_hub_id) == ["alexnet.tv_in1k", "googlenet.tv_in1k"]


def test_list_models_pretrained_lists_name_dot_tag():
    tagged = cnnzoo.list_models(pretrained=True)
    assert "resnet50.tv_in1k" in tagged and "seresnet50.ra2_in1k" in tagged
    assert cnnzoo.list_models("resnet50", pretrained=True)[:3] == ["resnet50.tv_in1k", "resnet50.tv2_in1k", "resnet50.a1_in1k"]
    assert cnnzoo.list_models("*tv2*", pretrained=True, exclude="wide*")[0] == "resnet50.tv2_in1k"
    assert all(cnnzoo.is_model(name) for name in tagged)
    assert not any(name.startswith("lenet5") for name in tagged)


def test_model_info_shows_each_tags_source_license_and_accuracy():
    info = cnnzoo.model_info("resnet50")
    assert info.default_tag == "tv_in1k"
    tags = {t.tag: t for t in info.pretrained_tags}
    assert tags["tv2_in1k"].top1 == 80.858 and tags["tv2_in1k"].license == "bsd-3-clause"
    assert tags["tv_in1k"].source == "hf-hub:timm/resnet50.tv_in1k"
    assert cnnzoo.model_info("lenet5").pretrained_tags == ()


# -- loading through the Hugging Face cache -------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18.tv_in1k", "densenet121.tv_in1k", "seresnet50.ra2_in1k"])
def test_pretrained_true_through_hub_cache_equals_timm_with_the_same_weights(name, hf_cache, tmp_path, monkeypatch):
    reference = hub_copy_of_timm(name, hf_cache, monkeypatch)
    model_name, tag = name.split(".")
    ours = cnnzoo.create(model_name, pretrained=True) if pretrained.DEFAULT_TAGS[model_name] == tag else cnnzoo.create(name)
    same_outputs(ours, reference)
    assert ours.default_cfg["tag"] == tag


@pytest.mark.slow
def test_vgg_from_timm_layout_is_remapped_and_equals_timm(hf_cache, tmp_path, monkeypatch):
    reference = hub_copy_of_timm("vgg11.tv_in1k", hf_cache, monkeypatch)
    ours = cnnzoo.create("vgg11", pretrained="tv_in1k")
    # timm computes fc6 as a 7x7 convolution, we as a matrix product: the same sums in another order,
    # so equal up to float32 rounding (about 5e-7 here) rather than bit for bit
    same_outputs(ours, reference, size=224, exact=False)
    weight = reference.state_dict()["pre_logits.fc1.weight"]
    assert torch.equal(ours.classifier[0].weight, weight.reshape(4096, -1))


def test_named_tag_in_name_and_in_pretrained_load_the_same(hf_cache, tmp_path, monkeypatch):
    hub_copy_of_timm("resnet18.tv_in1k", hf_cache, monkeypatch)
    a = cnnzoo.create("resnet18.tv_in1k")
    b = cnnzoo.create("resnet18", pretrained="tv_in1k")
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    untrained = cnnzoo.create("resnet18.tv_in1k", pretrained=False)
    assert not torch.equal(untrained.conv1.weight, a.conv1.weight)


def test_missing_hub_file_while_offline_says_which_command_downloads_it():
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.create("resnet18", pretrained=True)
    message = str(caught.value)
    assert "hf download timm/resnet18.tv_in1k model.safetensors" in message
    assert "HF_HUB_OFFLINE" in message and "pretrained=PATH" in message


def test_tampered_hub_blob_is_refused(hf_cache, tmp_path, monkeypatch):
    hub_copy_of_timm("resnet18.tv_in1k", hf_cache, monkeypatch)
    from huggingface_hub import constants

    blob = next((Path(constants.HF_HUB_CACHE) / "models--timm--resnet18.tv_in1k" / "blobs").iterdir())
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF  # one weight changes; the safetensors header still parses
    blob.write_bytes(bytes(data))
    with pytest.raises(cnnzoo.WeightsError, match="hash check"):
        cnnzoo.create("resnet18", pretrained=True)


def test_truncated_safetensors_file_is_refused_as_corrupt(hf_cache, tmp_path):
    full = safetensors_bytes(torchvision.models.resnet18().state_dict(), tmp_path).read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(cnnzoo.WeightsError, match="truncated or corrupt"):
        cnnzoo.create("resnet18", pretrained=truncated)


def test_network_is_never_touched_even_when_hub_downloads_are_on(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 1, raising=False)
    with pytest.raises(cnnzoo.WeightsError):
        pretrained._hf_download("timm/resnet18.tv_in1k", "config.json", what="test")


# -- torchvision URLs through torch.hub's cache ---------------------------------------------------------


def test_alexnet_from_torch_hub_cache_equals_torchvision(tmp_path, monkeypatch):
    reference = torchvision.models.alexnet().eval()
    file = tmp_path / "alexnet.pth"
    torch.save(reference.state_dict(), file)
    with_real_hash(PRETRAINED["alexnet"]["tv_in1k"], file, monkeypatch)
    same_outputs(cnnzoo.create("alexnet", pretrained=True), reference, size=96)


def test_googlenet_weights_bring_transform_input_and_drop_untrained_aux_heads(tmp_path, monkeypatch):
    reference = torchvision.models.googlenet(aux_logits=True, transform_input=True, init_weights=True).eval()
    file = tmp_path / "googlenet.pth"
    torch.save(reference.state_dict(), file)
    with_real_hash(PRETRAINED["googlenet"]["tv_in1k"], file, monkeypatch)
    ours = cnnzoo.create("googlenet", pretrained=True)
    assert ours.transform_input and ours.aux1 is None
    same_outputs(ours, reference, size=96)
    with_aux = cnnzoo.create("googlenet", pretrained=True, aux_logits=True)
    assert torch.equal(with_aux.aux1.fc2.weight, reference.aux1.fc2.weight)


def test_torch_hub_file_with_wrong_hash_is_refused_naming_path_and_hashes():
    entry = PRETRAINED["alexnet"]["tv_in1k"]
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
    target.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), target)
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.create("alexnet", pretrained=True)
    message = str(caught.value)
    assert str(target) in message and "7be5be79" in message
    assert hashlib.sha256(target.read_bytes()).hexdigest() in message


def test_missing_torch_hub_file_while_offline_names_where_to_put_it():
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.create("googlenet", pretrained=True)
    message = str(caught.value)
    assert "googlenet-1378be20.pth" in message and str(Path(torch.hub.get_dir())) in message
    assert "download_url_to_file" in message


def test_torch_hub_download_failure_is_a_weights_error(monkeypatch):
    monkeypatch.setenv("CNNZOO_OFFLINE", "0")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(cnnzoo.WeightsError, match="downloading https://download.pytorch.org"):
        cnnzoo.create("alexnet", pretrained=True)


# -- local files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_file_from_torchvision_loads_strictly(suffix, tmp_path):
    reference = torchvision.models.resnet18().eval()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(reference.state_dict(), path)
    else:
        save_file(reference.state_dict(), str(path))
    ours = cnnzoo.create("resnet18", pretrained=str(path))
    same_outputs(ours, reference)


def test_checkpoint_dicts_and_ddp_prefixes_are_unwrapped(tmp_path):
    reference = torchvision.models.resnet18().eval()
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, path)
    same_outputs(cnnzoo.create("resnet18", pretrained=path), reference)


def test_pth_with_arbitrary_objects_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "pickled_model.pth"
    torch.save(torchvision.models.resnet18(), path)  # a whole module: needs unpickling of code
    with pytest.raises(cnnzoo.WeightsError, match="weights_only"):
        cnnzoo.create("resnet18", pretrained=path)


def test_truncated_pth_is_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(cnnzoo.WeightsError, match="truncated"):
        cnnzoo.create("resnet18", pretrained=path)


def test_missing_local_file_is_a_weights_error(tmp_path):
    with pytest.raises(cnnzoo.WeightsError, match="does not exist"):
        cnnzoo.create("resnet18", pretrained=tmp_path / "nothing.pth")


def test_densenet_file_with_torchvision_original_key_names_loads(tmp_path):
    reference = torchvision.models.densenet121().eval()
    old_style = {
        k.replace("norm1.", "norm.1.").replace("conv1.", "conv.1.").replace("norm2.", "norm.2.").replace("conv2.", "conv.2.")
        if "denselayer" in k else k: v
        for k, v in reference.state_dict().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style
    path = tmp_path / "densenet121-old.pth"
    torch.save(old_style, path)
    same_outputs(cnnzoo.create("densenet121", pretrained=path), reference)


def test_checkpoint_of_another_architecture_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    model = cnnzoo.create("resnet50")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.load_pretrained(model, path)
    message = str(caught.value)
    assert "Missing from the checkpoint: " in message and "layer1.0.conv3.weight" in message
    assert "Shape differs: " in message and "layer1.0.conv1.weight (64, 64, 3, 3) vs (64, 64, 1, 1)" in message
    assert "another architecture" in message and "nothing was loaded" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "never a partial load"


def test_unexpected_keys_are_refused_even_without_strict(tmp_path):
    state = torchvision.models.resnet18().state_dict()
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    with pytest.raises(cnnzoo.WeightsError, match="Not in the model: extra.weight"):
        cnnzoo.load_pretrained(cnnzoo.create("resnet18"), path, strict=False)


def test_strict_false_loads_what_exists_and_reports_the_rest_loudly(tmp_path, caplog):
    state = torchvision.models.resnet18().state_dict()
    del state["layer4.1.bn2.running_var"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(cnnzoo.WeightsError, match="layer4.1.bn2.running_var"):
        cnnzoo.load_pretrained(cnnzoo.create("resnet18"), path)
    with caplog.at_level(logging.WARNING, logger="cnnzoo.pretrained"):
        report = cnnzoo.load_pretrained(cnnzoo.create("resnet18"), path, strict=False)
    assert report.missing == ["layer4.1.bn2.running_var"]
    assert "layer4.1.bn2.running_var" in caplog.text


def test_unknown_tag_lists_the_models_tags():
    with pytest.raises(cnnzoo.WeightsError, match="tv_in1k, tv2_in1k"):
        cnnzoo.create("resnet50", pretrained="in21k")
    with pytest.raises(cnnzoo.WeightsError, match="tv_in1k"):
        cnnzoo.create("resnet50.imagenet")


def test_weights_of_another_model_named_by_tag_are_refused():
    with pytest.raises(cnnzoo.WeightsError, match="not for this 'resnet50'"):
        cnnzoo.load_pretrained(cnnzoo.create("resnet50"), "resnet18.tv_in1k")


# -- another class count, another channel count ---------------------------------------------------------


def test_other_num_classes_loads_all_but_the_classifier_and_logs_it(tmp_path, caplog):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = cnnzoo.create("resnet18", num_classes=5)
    fresh_fc = model.fc.weight.clone()
    with caplog.at_level(logging.INFO, logger="cnnzoo.pretrained"):
        report = cnnzoo.load_pretrained(model, path)
    assert report.reinitialized == ["fc.bias", "fc.weight"]
    assert "fc.weight" in caplog.text and "class count" in caplog.text
    assert torch.equal(model.fc.weight, fresh_fc) and model.fc.out_features == 5
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key


def test_one_channel_model_sums_the_rgb_filters_and_sees_grey_as_rgb(tmp_path):
    reference = torchvision.models.resnet18().eval()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    grey = cnnzoo.create("resnet18", in_chans=1, pretrained=path).eval()
    assert torch.equal(grey.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(grey(x), reference(x.repeat(1, 3, 1, 1)), rtol=1e-4, atol=1e-4)


def test_more_channels_repeat_the_rgb_filters_rescaled(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = cnnzoo.create("resnet18", in_chans=5, pretrained=path)
    rgb = reference.conv1.weight
    expected = torch.cat([rgb, rgb[:, :2]], dim=1) * (3 / 5)
    torch.testing.assert_close(model.conv1.weight, expected)


# -- save_pretrained, create(directory), hf-hub:, push_to_hub ----------------------------------------------


def test_save_pretrained_then_create_directory_round_trips(tmp_path):
    model = cnnzoo.create("googlenet", num_classes=7, aux_logits=True).eval()
    directory = cnnzoo.save_pretrained(model, tmp_path / "my-googlenet")
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((directory / "config.json").read_text())
    assert (config["architecture"], config["num_classes"], config["model_args"]["in_chans"]) == ("googlenet", 7, 3)
    assert config["cnnzoo"]["model_args"] == {"aux_logits": True}
    restored = cnnzoo.create(str(directory)).eval()
    assert restored.aux1 is not None and restored.num_classes == 7
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), restored(x))


def test_create_from_saved_directory_accepts_a_new_class_count(tmp_path):
    model = cnnzoo.create("cifar_resnet20")
    directory = cnnzoo.save_pretrained(model, tmp_path / "cifar")
    five = cnnzoo.create(str(directory), num_classes=5)
    assert five.fc.out_features == 5
    assert torch.equal(five.conv1.weight, model.conv1.weight)


def test_create_from_hub_repository_of_a_saved_model(hf_cache, tmp_path):
    model = cnnzoo.create("cifar_resnet20", num_classes=4).eval()
    directory = cnnzoo.save_pretrained(model, tmp_path / "saved")
    hf_cache("someone/flowers-resnet", {name: directory / name for name in ("config.json", "model.safetensors")})
    restored = cnnzoo.create("hf-hub:someone/flowers-resnet").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), restored(x))


def test_create_from_timm_hub_repository_with_its_config(hf_cache, tmp_path):
    reference = timm.create_model("resnet18").eval()
    config = {"architecture": "resnet18", "num_classes": 1000, "pretrained_cfg": {"input_size": [3, 224, 224],
              "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "interpolation": "bilinear", "crop_pct": 0.875}}
    hf_cache("timm/resnet18.tv_in1k", {"config.json": json.dumps(config).encode(),
                                       "model.safetensors": safetensors_bytes(reference.state_dict(), tmp_path)})
    same_outputs(cnnzoo.create("hf-hub:timm/resnet18.tv_in1k"), reference)


def test_pretrained_hf_hub_repository_loads_its_weights(hf_cache, tmp_path):
    reference = timm.create_model("resnet18").eval()
    hf_cache("someone/r18", {"model.safetensors": safetensors_bytes(reference.state_dict(), tmp_path)})
    same_outputs(cnnzoo.create("resnet18", pretrained="hf-hub:someone/r18"), reference)


def test_directory_without_config_and_unregistered_models_cannot_round_trip(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(cnnzoo.WeightsError):
        pretrained.read_config(tmp_path / "empty")
    with pytest.raises(cnnzoo.WeightsError, match="cnnzoo.create"):
        cnnzoo.save_pretrained(torch.nn.Linear(2, 2), tmp_path / "linear")


def test_push_to_hub_uploads_what_save_pretrained_writes(monkeypatch):
    calls: dict[str, object] = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls["repo"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            calls["config"] = json.loads((Path(folder_path) / "config.json").read_text())
            return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = cnnzoo.push_to_hub(cnnzoo.create("lenet5"), "me/lenet", private=True)
    assert url.endswith("me/lenet/commit/abc")
    assert calls["repo"] == ("me/lenet", True, True)
    assert calls["files"] == ["config.json", "model.safetensors"]
    assert calls["config"]["architecture"] == "lenet5"


# -- transforms that match the weights -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet50.tv_in1k", "resnet50.tv2_in1k", "alexnet.tv_in1k"])
def test_transforms_for_a_tag_equal_torchvisions_transforms_for_the_weights(name):
    from PIL import Image

    model_name, tag = name.split(".")
    weights = getattr(get_model_weights(model_name), TV_TAGS[tag])
    pixels = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8)
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    torch.testing.assert_close(cnnzoo.transforms_for(name)(image), weights.transforms()(image), rtol=0, atol=1e-6)
    # on uint8 tensors torchvision's v1 and v2 resize kernels may round one grey level apart
    one_level = 1 / 255 / min(weights.transforms().std) + 1e-6
    torch.testing.assert_close(cnnzoo.transforms_for(name)(pixels), weights.transforms()(pixels), rtol=0, atol=one_level)


def test_transforms_for_a_loaded_model_follow_its_weights(hf_cache, tmp_path, monkeypatch):
    hub_copy_of_timm("seresnet50.ra2_in1k", hf_cache, monkeypatch)
    model = cnnzoo.create("seresnet50", pretrained=True)
    image = torch.randint(0, 256, (3, 400, 500), dtype=torch.uint8)
    assert cnnzoo.transforms_for(model)(image).shape == (3, 288, 288)
    assert "BICUBIC" in str(cnnzoo.transforms_for(model))


def test_training_transforms_follow_each_papers_augmentation():
    image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    assert cnnzoo.transforms_for("cifar_resnet20", train=True)(image).shape == (3, 32, 32)
    assert "padding=[4, 4, 4, 4]" in str(cnnzoo.transforms_for("cifar_resnet20", train=True))
    lenet = cnnzoo.transforms_for("lenet5", train=True)
    assert "Flip" not in str(lenet) and lenet(image).shape == (1, 32, 32)
    assert "RandomResizedCrop" in str(cnnzoo.transforms_for("resnet18", train=True))


def test_a_replaced_mlp_head_survives_save_and_create(tmp_path):
    model = cnnzoo.replace_head(cnnzoo.create("cifar_resnet20"), 3, hidden=16, dropout=0.1).eval()
    directory = cnnzoo.save_pretrained(model, tmp_path / "mlp")
    assert json.loads((directory / "config.json").read_text())["cnnzoo"]["head"] == {"hidden": 16, "dropout": 0.1}
    restored = cnnzoo.create(str(directory)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), restored(x))
    five = cnnzoo.create(str(directory), num_classes=5)
    assert torch.equal(five.fc[0].weight, model.fc[0].weight) and five.fc[-1].out_features == 5


# -- loud or nothing: hostile checkpoints, sources, saves (issue 15) -------------------------------------


def _snapshot(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, bool], dict]:
    """Everything a failed call must leave as it was: tensors, trainable flags, the model's description."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    return state, flags, dict(getattr(model, "default_cfg", {}))


def assert_unchanged(model: torch.nn.Module, before: tuple) -> None:
    state, flags, cfg = before
    after = model.state_dict()
    assert list(after) == list(state)
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert dict(getattr(model, "default_cfg", {})) == cfg


def test_a_classifier_of_another_input_width_is_refused_not_half_loaded(tmp_path):
    # the tutorial's strict=False failure: fc.weight (10, 128) where the model has (10, 64)
    state = cnnzoo.create("cifar_resnet20").state_dict()
    state["fc.weight"] = torch.randn(10, 128)
    torch.save(state, tmp_path / "wide.pth")
    model = cnnzoo.create("cifar_resnet20")
    before = _snapshot(model)
    with pytest.raises(cnnzoo.WeightsError, match=r"fc.weight \(10, 128\) vs \(10, 64\)"):
        cnnzoo.load_pretrained(model, tmp_path / "wide.pth")
    assert_unchanged(model, before)


def test_an_mlp_heads_hidden_layer_must_match_only_its_class_layer_may_differ(tmp_path):
    source = cnnzoo.replace_head(cnnzoo.create("cifar_resnet20"), 3, hidden=16)
    torch.save(source.state_dict(), tmp_path / "mlp.pth")
    other_classes = cnnzoo.replace_head(cnnzoo.create("cifar_resnet20"), 7, hidden=16)
    report = cnnzoo.load_pretrained(other_classes, tmp_path / "mlp.pth")
    assert report.reinitialized == ["fc.3.bias", "fc.3.weight"]
    assert torch.equal(other_classes.fc[0].weight, source.fc[0].weight)
    other_width = cnnzoo.replace_head(cnnzoo.create("cifar_resnet20"), 3, hidden=32)
    before = _snapshot(other_width)
    with pytest.raises(cnnzoo.WeightsError, match="fc.0.weight"):
        cnnzoo.load_pretrained(other_width, tmp_path / "mlp.pth")
    assert_unchanged(other_width, before)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt", ".tar"])
def test_every_torch_save_suffix_reads_as_a_checkpoint_with_lightning_and_compile_wrappers(suffix, tmp_path, monkeypatch):
    reference = torchvision.models.resnet18().eval()
    lightning = {"epoch": 7, "global_step": 100, "state_dict": {f"model._orig_mod.{k}": v for k, v in reference.state_dict().items()}}
    torch.save(lightning, tmp_path / f"last{suffix}")
    monkeypatch.chdir(tmp_path)  # a bare file name with a checkpoint suffix is a path
    same_outputs(cnnzoo.create("resnet18", pretrained=f"last{suffix}"), reference)
    torch.save({f"module._orig_mod.{k}": v for k, v in reference.state_dict().items()}, tmp_path / f"ddp{suffix}")
    same_outputs(cnnzoo.create("resnet18", pretrained=tmp_path / f"ddp{suffix}"), reference)


@pytest.mark.parametrize("content", [b"hello, world\n", b"", b"\x00" * 64, b"PK\x03\x04 not a zip"],
                         ids=["text", "empty", "zeros", "fake-zip"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors", ".ckpt"])
def test_a_text_or_foreign_file_is_a_weights_error_naming_the_file(content, suffix, tmp_path):
    path = tmp_path / f"notes{suffix}"
    path.write_bytes(content)
    model = cnnzoo.create("lenet5")
    before = _snapshot(model)
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.load_pretrained(model, path)
    assert str(path) in str(caught.value)
    assert_unchanged(model, before)


def test_a_pickled_list_or_a_mapping_of_non_tensors_holds_no_state_dict(tmp_path):
    for i, thing in enumerate([[1, 2, 3], {"weights": [1.0]}, {}, {"fc.weight": 3}]):
        torch.save(thing, tmp_path / f"thing{i}.pth")
        with pytest.raises(cnnzoo.WeightsError, match="no state_dict"):
            cnnzoo.create("lenet5", pretrained=tmp_path / f"thing{i}.pth")


CORRUPTIONS = ["drop", "rename", "reshape", "retype", "truncate", "bad_header"]


def _corrupt(state: dict[str, torch.Tensor], how: str, pick: int, classifier: set[str],
             first_conv: str) -> dict[str, torch.Tensor]:
    state = dict(state)
    keys = sorted(state)
    key = keys[pick % len(keys)]
    if how == "drop":
        del state[key]
    elif how == "rename":
        state[key + "_renamed"] = state.pop(key)
    elif how == "reshape":
        # any dimension but a class layer's first, which may legitimately differ (another class count)
        candidates = [k for k in keys if state[k].dim() >= 1 and not (k in classifier and state[k].dim() == 1)]
        key = candidates[pick % len(candidates)]
        tensor = state[key]
        # the first convolution's input channels may differ too (the weights are adapted to in_chans, and
        # the report says so): its output channels may not
        dim = 1 if tensor.dim() >= 2 and key != first_conv else 0
        shape = list(tensor.shape)
        shape[dim] += 1
        state[key] = torch.zeros(shape, dtype=tensor.dtype)
    elif how == "retype":
        floats = [k for k in keys if state[k].is_floating_point()]
        key = floats[pick % len(floats)]
        state[key] = state[key].to(torch.int64)
    return state


@settings(max_examples=40, deadline=None)
@given(how=st.sampled_from(CORRUPTIONS), pick=st.integers(0, 10_000), fmt=st.sampled_from([".pth", ".safetensors"]),
       cut=st.floats(0.0, 0.99))
def test_property_a_corrupted_checkpoint_raises_and_leaves_the_model_as_it_was(how, pick, fmt, cut):
    import tempfile

    source = cnnzoo.create("lenet5", num_classes=10)
    target = cnnzoo.create("lenet5", num_classes=10)
    cnnzoo.freeze(target, up_to="c3")  # trainable flags that must survive too
    before = _snapshot(target)
    state = _corrupt(source.state_dict(), how, pick, set(target.classifier_keys()),
                     target.default_cfg["first_conv"] + ".weight")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"weights{fmt}"
        if fmt == ".pth":
            torch.save(state, path)
        else:
            save_file({k: v.contiguous() for k, v in state.items()}, str(path))
        data = path.read_bytes()
        if how == "truncate":
            path.write_bytes(data[: int(len(data) * cut)])
        elif how == "bad_header":
            path.write_bytes(bytes(b ^ 0xA5 for b in data[:16]) + data[16:])
        with pytest.raises(cnnzoo.WeightsError):
            cnnzoo.load_pretrained(target, path)
    assert_unchanged(target, before)


def test_a_bare_word_is_a_tag_never_a_folder_in_the_working_directory(tmp_path, monkeypatch, hf_cache):
    hub_copy_of_timm("resnet18.tv_in1k", hf_cache, monkeypatch)
    monkeypatch.chdir(tmp_path)
    decoy = cnnzoo.save_pretrained(cnnzoo.create("resnet18", num_classes=3), "tv_in1k")
    ours = cnnzoo.create("resnet18", pretrained="tv_in1k")
    assert ours.fc.out_features == 1000 and ours.default_cfg["tag"] == "tv_in1k"
    assert cnnzoo.create("resnet18", pretrained="./tv_in1k", num_classes=3).fc.out_features == 3
    (tmp_path / "flowers").mkdir()
    with pytest.raises(cnnzoo.WeightsError, match=r"'\./flowers'"):
        cnnzoo.create("resnet18", pretrained="flowers")
    assert decoy.is_dir()


def test_the_two_routes_of_tampering_with_the_hub_cache_are_refused(hf_cache, tmp_path, monkeypatch):
    # route 1: the snapshot's link replaced by a plain file (of the same bytes, or any others)
    reference = timm.create_model("resnet18").eval()
    genuine = safetensors_bytes(reference.state_dict(), tmp_path)
    snapshot = hf_cache("timm/resnet18.tv_in1k", {"model.safetensors": genuine})
    link = snapshot / "model.safetensors"
    link.unlink()
    link.write_bytes(genuine.read_bytes())
    with pytest.raises(cnnzoo.WeightsError, match="plain file"):
        cnnzoo.create("resnet18", pretrained=True)

    # route 2: a foreign file stored as a blob named by its own SHA-256, and the snapshot relinked to it
    link.unlink()
    foreign = safetensors_bytes(torchvision.models.resnet18().state_dict(), tmp_path).read_bytes()
    blob = link.parent.parent.parent / "blobs" / hashlib.sha256(foreign).hexdigest()
    blob.write_bytes(foreign)
    link.symlink_to(Path("../../blobs") / blob.name)
    entry = PRETRAINED["resnet18"]["tv_in1k"]
    pinned = dataclasses.replace(entry, sha256=hashlib.sha256(genuine.read_bytes()).hexdigest())
    monkeypatch.setitem(PRETRAINED["resnet18"], "tv_in1k", pinned)
    with pytest.raises(cnnzoo.WeightsError, match="not the published file"):
        cnnzoo.create("resnet18", pretrained=True)
    # the genuine blob, relinked, loads: the pinned digest is the published one
    (blob.parent / hashlib.sha256(genuine.read_bytes()).hexdigest()).write_bytes(genuine.read_bytes())
    link.unlink()
    link.symlink_to(Path("../../blobs") / hashlib.sha256(genuine.read_bytes()).hexdigest())
    same_outputs(cnnzoo.create("resnet18", pretrained=True), reference)


def test_a_link_out_of_the_cache_or_to_an_unhashed_name_is_refused(hf_cache, tmp_path):
    genuine = safetensors_bytes(timm.create_model("resnet18").state_dict(), tmp_path)
    snapshot = hf_cache("timm/resnet18.tv_in1k", {"model.safetensors": genuine})
    link = snapshot / "model.safetensors"
    link.unlink()
    link.symlink_to(genuine)  # a file elsewhere on disk
    with pytest.raises(cnnzoo.WeightsError, match="outside the cache"):
        cnnzoo.create("resnet18", pretrained=True)
    renamed = link.parent.parent.parent / "blobs" / "weights"
    renamed.write_bytes(genuine.read_bytes())
    link.unlink()
    link.symlink_to(Path("../../blobs/weights"))
    with pytest.raises(cnnzoo.WeightsError, match="not named by its hash"):
        cnnzoo.create("resnet18", pretrained=True)


def test_save_pretrained_refuses_a_folder_holding_another_model_unless_overwrite(tmp_path):
    folder = cnnzoo.save_pretrained(cnnzoo.create("lenet5"), tmp_path / "saved")
    other = cnnzoo.create("cifar_resnet20")
    with pytest.raises(cnnzoo.WeightsError, match="another model.*architecture 'lenet5'.*overwrite=True"):
        cnnzoo.save_pretrained(other, folder)
    assert pretrained.read_config(folder)[0]["architecture"] == "lenet5"
    cnnzoo.save_pretrained(other, folder, overwrite=True)
    assert pretrained.read_config(folder)[0]["architecture"] == "cifar_resnet20"
    cnnzoo.save_pretrained(other, folder)  # the same model again: an update, allowed
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(cnnzoo.WeightsError, match="is a file"):
        cnnzoo.save_pretrained(other, tmp_path / "file")


def test_a_save_that_fails_half_way_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    model = cnnzoo.create("lenet5")
    folder = cnnzoo.save_pretrained(model, tmp_path / "saved")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    import safetensors.torch

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with torch.no_grad():
        model.f6.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        cnnzoo.save_pretrained(model, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no partial file left either


def test_replace_head_then_reset_classifier_then_save_reloads(tmp_path):
    model = cnnzoo.create("cifar_resnet20")
    cnnzoo.replace_head(model, 4, hidden=8)
    model.reset_classifier(3)
    folder = cnnzoo.save_pretrained(model, tmp_path / "saved")
    restored = cnnzoo.create(folder).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(restored(x), model.eval()(x))
    assert restored.head_config == model.head_config == {"hidden": 8, "dropout": 0.0}


def test_create_from_a_saved_folder_honours_features_only_and_out_indices(tmp_path):
    folder = cnnzoo.save_pretrained(cnnzoo.create("cifar_resnet20"), tmp_path / "saved")
    backbone = cnnzoo.create(folder, features_only=True, out_indices=(1, 2))
    assert [info["index"] for info in backbone.feature_info] == [1, 2]
    assert len(backbone(torch.randn(1, 3, 32, 32))) == 2


@pytest.mark.parametrize("config, field", [
    ({"architecture": None}, "architecture"),
    ({"architecture": 3}, "architecture"),
    ({"architecture": "no_such_net"}, "not registered"),
    ({"architecture": "lenet5", "num_classes": "10"}, "num_classes"),
    ({"architecture": "lenet5", "num_classes": 10**12}, "num_classes"),
    ({"architecture": "lenet5", "in_chans": -1}, "in_chans"),
    ({"architecture": "lenet5", "model_args": [1]}, "model_args"),
    ({"architecture": "lenet5", "head": {"width": 3}}, "head"),
    ([1, 2], "not a JSON object"),
])
def test_a_config_json_that_describes_no_model_is_a_weights_error_naming_the_field(config, field, tmp_path):
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "config.json").write_text(json.dumps(config))
    with pytest.raises(cnnzoo.WeightsError, match=field):
        cnnzoo.create(tmp_path / "saved")


@pytest.mark.parametrize("config, field", [
    ({"architecture": "lenet5", "cnnzoo": [1]}, "cnnzoo must be a JSON object"),
    ({"architecture": "lenet5", "model_args": [1], "cnnzoo": {}}, "model_args must be a JSON object"),
    ({"architecture": "lenet5", "model_args": {"in_chans": 0}, "cnnzoo": {}}, "model_args.in_chans must be"),
    ({"architecture": "lenet5", "cnnzoo": {"model_args": "x"}}, "cnnzoo.model_args must be"),
    ({"architecture": "lenet5", "cnnzoo": {"head": {"width": 3}}}, "cnnzoo.head must be"),
    ({"architecture": "lenet5", "cnnzoo": {"pretrained_cfg": 3}}, "cnnzoo.pretrained_cfg must be"),
])
def test_a_config_json_in_the_timm_layout_names_the_bad_field_where_it_is_in_the_file(config, field, tmp_path):
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "config.json").write_text(json.dumps(config))
    with pytest.raises(cnnzoo.WeightsError, match=field):
        pretrained.read_config(tmp_path / "saved")


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from([("model_args",), ("model_args", "in_chans"), ("cnnzoo",), ("cnnzoo", "model_args"),
                             ("cnnzoo", "head"), ("cnnzoo", "pretrained_cfg"), ("pretrained_cfg",)]),
       value=JSON_VALUES)
def test_any_value_in_any_field_of_a_saved_config_is_read_as_a_model_or_a_weights_error(path, value, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    config = {"architecture": "lenet5", "num_classes": 10, "model_args": {"in_chans": 1}, "pretrained_cfg": {},
              "cnnzoo": {"model_args": {}, "head": None, "pretrained_cfg": {}}}
    parent = config if len(path) == 1 else config[path[0]]
    parent[path[-1]] = value
    (folder / "config.json").write_text(json.dumps(config))
    try:
        read, _ = pretrained.read_config(folder)
    except cnnzoo.WeightsError:
        return
    assert read["in_chans"] is None or isinstance(read["in_chans"], int)
    assert all(read[key] is None or isinstance(read[key], dict) for key in ("model_args", "head", "pretrained_cfg"))


def test_weights_input_configuration_follows_the_models_channels(hf_cache, tmp_path, monkeypatch):
    hub_copy_of_timm("resnet18.tv_in1k", hf_cache, monkeypatch)
    grey = cnnzoo.create("resnet18", in_chans=1, pretrained=True)
    cfg = grey.pretrained_cfg
    assert cfg["input_size"] == (1, 224, 224) and cfg["tag"] == "tv_in1k"
    assert len(cfg["mean"]) == len(cfg["std"]) == 1
    assert cfg["mean"][0] == pytest.approx(sum(pretrained.get_tag("resnet18").mean) / 3)
    image = torch.randint(0, 256, (1, 40, 48), dtype=torch.uint8)
    assert cnnzoo.transforms_for(grey)(image).shape == (1, 224, 224)
    folder = cnnzoo.save_pretrained(grey, tmp_path / "grey")
    four = cnnzoo.create(folder, in_chans=4, pretrained=False)
    assert four.default_cfg["input_size"][0] == 4
    reloaded = cnnzoo.create(folder)
    assert reloaded.default_cfg["mean"] == cfg["mean"] and reloaded.default_cfg["tag"] == "tv_in1k"


def test_a_hub_model_built_without_weights_fetches_only_its_config(hf_cache, tmp_path):
    directory = cnnzoo.save_pretrained(cnnzoo.create("cifar_resnet20", num_classes=4), tmp_path / "saved")
    hf_cache("someone/config-only", {"config.json": directory / "config.json"})  # no weights in the cache
    model = cnnzoo.create("hf-hub:someone/config-only", pretrained=False)
    assert model.num_classes == 4
    with pytest.raises(cnnzoo.WeightsError, match="model.safetensors"):
        cnnzoo.create("hf-hub:someone/config-only")


@pytest.mark.parametrize("name", ["x" * 300, "~no_such_user_here/model", "a" * 300 + ".tv_in1k"])
def test_names_no_file_system_can_look_up_are_named_errors(name):
    with pytest.raises(cnnzoo.CnnzooError):
        cnnzoo.create(name)


def test_save_push_and_transforms_refuse_arguments_of_the_wrong_kind():
    model = cnnzoo.create("lenet5")
    with pytest.raises(cnnzoo.WeightsError, match="folder path"):
        cnnzoo.save_pretrained(model, 123)
    with pytest.raises(cnnzoo.WeightsError, match="ORG/NAME"):
        cnnzoo.push_to_hub(model, 3)
    with pytest.raises(cnnzoo.CnnzooValueError, match="model name"):
        cnnzoo.transforms_for(3)
    assert cnnzoo.is_model(None) is False


# -- what torch.hub and huggingface_hub do for us, behind cnnzoo's errors -------------------------------


def _downloads_on(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("CNNZOO_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def _served(entry: pretrained.PretrainedTag, file: Path, prefix: str, monkeypatch) -> Path:
    """Serve ``file`` at a ``file://`` URL whose name carries ``prefix``, as the table's only source of ``entry``."""
    served = file.with_name(f"{entry.model}-{prefix}.pth")
    file.rename(served)
    monkeypatch.setitem(PRETRAINED[entry.model], entry.tag, dataclasses.replace(entry, url=served.as_uri(), hf_hub_id=None))
    return Path(torch.hub.get_dir()) / "checkpoints" / served.name


def test_sha256_prefix_is_read_from_the_url_as_torch_hub_reads_it():
    for entry in (e for e in TABLE if e.url):
        assert entry.sha256_prefix == torch.hub.HASH_REGEX.search(Path(entry.url).name).group(1)
    assert dataclasses.replace(TABLE[0], url="https://example.com/weights.pth").sha256_prefix is None


def test_a_download_with_its_name_prefix_lands_in_torch_hubs_cache_and_loads(tmp_path, monkeypatch):
    _downloads_on(monkeypatch)
    reference = torchvision.models.resnet18().eval()
    file = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), file)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    target = _served(PRETRAINED["resnet18"]["tv_in1k"], file, digest[:8], monkeypatch)
    assert target.parent == Path(torch.hub.get_dir()) / "checkpoints"
    same_outputs(cnnzoo.create("resnet18", pretrained=True), reference)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial file left beside it
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest


def test_a_download_whose_sha256_misses_its_name_prefix_is_refused_and_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    _downloads_on(monkeypatch)
    file = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), file)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    wrong = f"{int(digest[:8], 16) ^ 0xFFFFFFFF:08x}"
    target = _served(PRETRAINED["resnet18"]["tv_in1k"], file, wrong, monkeypatch)
    model = cnnzoo.create("resnet18")
    before = _snapshot(model)
    with pytest.raises(cnnzoo.WeightsError) as caught:
        cnnzoo.load_pretrained(model, True)
    message = str(caught.value)
    assert target.name in message and wrong in message and digest in message
    assert "nothing was kept" in message
    assert_unchanged(model, before)
    assert not target.parent.exists() or not any(target.parent.iterdir())


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod.", "_orig_mod.module.",
                                    "module.module._orig_mod."])
def test_ddp_and_compile_prefixes_are_removed_however_they_nest(prefix, tmp_path):
    state = cnnzoo.create("lenet5").state_dict()
    torch.save({prefix + k: v for k, v in state.items()}, tmp_path / "wrapped.pth")
    assert list(pretrained.read_state_dict(tmp_path / "wrapped.pth")) == list(state)


def test_a_prefix_only_some_keys_carry_is_kept_and_refused_by_name(tmp_path):
    model = cnnzoo.create("lenet5")
    state = model.state_dict()
    first = next(iter(state))
    torch.save({("module." + k if k == first else k): v for k, v in state.items()}, tmp_path / "half.pth")
    assert first not in pretrained.read_state_dict(tmp_path / "half.pth")
    with pytest.raises(cnnzoo.WeightsError, match=f"module.{first}"):
        cnnzoo.load_pretrained(model, tmp_path / "half.pth")


def test_lightning_model_prefix_is_removed_only_when_the_model_has_no_such_keys(tmp_path):
    model = cnnzoo.create("lenet5")
    state = {f"model.module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "lightning.ckpt")
    assert sorted(pretrained.read_state_dict(tmp_path / "lightning.ckpt")) == sorted(state)  # model. is the model's call
    report = cnnzoo.load_pretrained(cnnzoo.create("lenet5"), tmp_path / "lightning.ckpt")
    assert report.loaded == sorted(model.state_dict())


def test_a_small_hub_file_is_checked_against_its_git_blob_name(hf_cache, tmp_path):
    directory = cnnzoo.save_pretrained(cnnzoo.create("cifar_resnet20", num_classes=4), tmp_path / "saved")
    snapshot = hf_cache("someone/small-blob", {"config.json": directory / "config.json"})
    link = snapshot / "config.json"
    data = link.read_bytes()
    # the cache names files stored in git (not LFS) by their git blob SHA-1, as `git hash-object` computes it
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    (link.parent.parent.parent / "blobs" / git_sha1).write_bytes(data)
    link.unlink()
    link.symlink_to(Path("../../blobs") / git_sha1)
    assert cnnzoo.create("hf-hub:someone/small-blob", pretrained=False).num_classes == 4
    (link.parent.parent.parent / "blobs" / git_sha1).write_bytes(data.replace(b"4", b"5"))
    with pytest.raises(cnnzoo.WeightsError, match=f"named {git_sha1} but hashes to"):
        cnnzoo.create("hf-hub:someone/small-blob", pretrained=False)


@pytest.mark.parametrize("has_git_hash", [True, False], ids=["huggingface_hub's git_hash", "older hub"])
def test_git_blob_sha1_is_git_hash_object_with_or_without_huggingface_hubs_git_hash(has_git_hash, monkeypatch):
    import types

    if not has_git_hash:  # huggingface_hub before 0.24 has no git_hash
        monkeypatch.setitem(sys.modules, "huggingface_hub.utils.sha", types.ModuleType("huggingface_hub.utils.sha"))
    for data in (b"", b"hello", bytes(range(256)) * 7):
        assert pretrained._git_blob_sha1(data) == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_is_saved_directory_reads_a_source_as_create_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cnnzoo.save_pretrained(cnnzoo.create("lenet5"), tmp_path / "saved")
    (tmp_path / "empty").mkdir()
    assert pretrained.is_saved_directory("./saved") and pretrained.is_saved_directory(tmp_path / "saved")
    assert not pretrained.is_saved_directory("saved")  # a bare word names a registered model
    assert not pretrained.is_saved_directory("./empty") and not pretrained.is_saved_directory("./absent")
    with pytest.raises(OSError):
        pretrained.is_saved_directory("./" + "x" * 300)


@pytest.mark.parametrize("repo_id", ["me/bad name", "me/a--b", "me/model.git", "me/" + "a" * 100, "me/-dash"])
def test_push_to_hub_refuses_a_name_the_hub_refuses_before_saving_or_connecting(repo_id, monkeypatch):
    import huggingface_hub

    def no_api(*args, **kwargs):
        raise AssertionError("push_to_hub reached the Hub with a name it should have refused")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_api)
    monkeypatch.setattr(pretrained, "save_pretrained", no_api)
    with pytest.raises(cnnzoo.WeightsError, match="ORG/NAME"):
        cnnzoo.push_to_hub(cnnzoo.create("lenet5"), repo_id)
