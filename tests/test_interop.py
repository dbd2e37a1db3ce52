"""Interop both ways: a folder cnnzoo.save_pretrained writes loads in timm, and cnnzoo's weights in torchvision.

timm: ``timm.create_model("local-dir:DIR", pretrained=True)`` rebuilds every family timm has under the same
name (ResNet, ResNeXt, Wide ResNet, SE-ResNet, DenseNet, VGG through timm's own filter of torchvision's
layout) with the saved class count and equal outputs. torchvision: the saved ``model.safetensors`` loads
strictly into torchvision's builder of the same name and computes the same outputs. And cnnzoo still reads
the config.json its earlier version wrote.

Each model gets seeded random values in every parameter and buffer, BatchNorm statistics included (fresh
ones would hide a misplaced normalisation), built on the meta device so no initialisation is paid for.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import timm
import torch
import torchvision
from safetensors.torch import load_file
from torch import nn

import cnnzoo
from cnnzoo import pretrained

SIDE = 64  # small inputs; VGG's (and timm's fc6-as-convolution) equal up to 224
CLASSES = 5  # not ImageNet's, so the saved head is the one that is loaded


def random_model(name: str, **kwargs) -> nn.Module:
    """cnnzoo's ``name`` built on the meta device, every tensor given seeded random values, in eval mode."""
    with torch.device("meta"):
        model = cnnzoo.create(name, num_classes=CLASSES, **kwargs)
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                tensor.zero_()  # num_batches_tracked
            elif key.endswith("running_var") or (tensor.ndim == 1 and key.endswith("weight")):
                tensor.uniform_(0.5, 1.5, generator=generator)  # variances; BatchNorm scales
            elif tensor.ndim > 1:
                bound = math.sqrt(6.0 / tensor[0].numel())  # He scale keeps activations in range
                tensor.uniform_(-bound, bound, generator=generator)
            else:
                tensor.uniform_(-0.2, 0.2, generator=generator)  # biases, BatchNorm shifts and means
    return model.eval()


def outputs(model: nn.Module, in_chans: int = 3, side: int = SIDE) -> torch.Tensor:
    x = torch.randn(1, in_chans, side, side, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return model.eval()(x)


def slow(name: str):
    return pytest.param(name, marks=pytest.mark.slow)


# -- timm reads a folder cnnzoo saved ------------------------------------------------------------------


def test_config_json_puts_in_pretrained_cfg_only_fields_timm_has():
    fields = {f.name for f in dataclasses.fields(timm.models.PretrainedCfg)}
    assert pretrained.TIMM_CFG_KEYS <= fields
    assert not {"url", "file", "hf_hub_id", "source"} & pretrained.TIMM_CFG_KEYS  # timm sets them from the folder


def test_config_json_has_timms_fields_at_the_top_and_cnnzoos_own_under_cnnzoo(tmp_path):
    model = cnnzoo.create("resnet18", num_classes=CLASSES)
    config = json.loads((cnnzoo.save_pretrained(model, tmp_path / "r18") / "config.json").read_text())
    assert set(config) == {"architecture", "num_classes", "model_args", "pretrained_cfg", "cnnzoo"}
    assert (config["architecture"], config["num_classes"], config["model_args"]) == ("resnet18", CLASSES, {"in_chans": 3})
    assert config["pretrained_cfg"]["num_classes"] == CLASSES and config["pretrained_cfg"]["classifier"] == "fc"
    assert config["cnnzoo"] == {"model_args": {}, "head": None, "pretrained_cfg": {"train_augment": "random_resized_crop"}}


#: The smallest network of each family timm has under the same name.
TIMM_SHARED = ["resnet18", "resnext50_32x4d", slow("wide_resnet50_2"), "seresnet50", "densenet121", slow("vgg11")]


@pytest.mark.parametrize("name", TIMM_SHARED)
def test_timm_loads_a_cnnzoo_saved_model_with_its_class_count_and_equal_outputs(name, tmp_path):
    ours = random_model(name)
    folder = cnnzoo.save_pretrained(ours, tmp_path / name)
    theirs = timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert type(theirs).__module__.startswith("timm.") and theirs.num_classes == CLASSES
    assert theirs.pretrained_cfg["input_size"] == tuple(ours.default_cfg["input_size"])
    torch.testing.assert_close(outputs(theirs), outputs(ours), rtol=1e-5, atol=1e-5)


def test_timm_builds_a_saved_one_channel_model_with_one_channel(tmp_path):
    ours = random_model("resnet18", in_chans=1)
    theirs = timm.create_model(f"local-dir:{cnnzoo.save_pretrained(ours, tmp_path / 'grey')}", pretrained=True)
    assert theirs.conv1.in_channels == 1 and tuple(theirs.pretrained_cfg["mean"]) == ours.default_cfg["mean"]
    torch.testing.assert_close(outputs(theirs, in_chans=1), outputs(ours, in_chans=1), rtol=1e-5, atol=1e-5)


def test_timm_gives_a_saved_model_a_fresh_classifier_for_another_class_count(tmp_path):
    ours = random_model("resnet18")
    theirs = timm.create_model(f"local-dir:{cnnzoo.save_pretrained(ours, tmp_path / 'r18')}", pretrained=True,
                               num_classes=10)
    assert theirs.fc.out_features == 10
    x = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        torch.testing.assert_close(theirs.eval().forward_features(x), ours.forward_features(x), rtol=1e-5, atol=1e-5)


def test_models_timm_cannot_build_fail_loudly_there_and_round_trip_in_cnnzoo(tmp_path):
    mlp_head = cnnzoo.replace_head(random_model("resnet18"), CLASSES, hidden=16).eval()
    lenet = random_model("lenet5")
    for name, model, in_chans, side, refusal in (("mlp", mlp_head, 3, SIDE, "Unexpected key"),
                                                 ("lenet", lenet, 1, 32, "Unknown model")):
        folder = cnnzoo.save_pretrained(model, tmp_path / name)
        with pytest.raises(RuntimeError, match=refusal):
            timm.create_model(f"local-dir:{folder}", pretrained=True)
        restored = cnnzoo.create(folder)
        assert restored.default_cfg == model.default_cfg and restored.head_config == model.head_config
        assert torch.equal(outputs(restored, in_chans, side), outputs(model, in_chans, side))


def test_cnnzoo_reads_back_every_field_it_wrote(tmp_path):
    model = random_model("googlenet", aux_logits=True, in_chans=2)
    model.default_cfg = {**model.default_cfg, "tag": "mine", "resize": 256, "source": "/data/run-3"}
    config, _ = pretrained.read_config(cnnzoo.save_pretrained(model, tmp_path / "g"))
    assert (config["in_chans"], config["model_args"], config["head"]) == (2, {"aux_logits": True}, None)
    restored = cnnzoo.create(tmp_path / "g")
    assert restored.aux1 is not None and restored.default_cfg == model.default_cfg
    assert torch.equal(outputs(restored, in_chans=2), outputs(model, in_chans=2))


# -- cnnzoo reads the config.json its earlier version wrote ----------------------------------------------

#: What cnnzoo 0.x's save_pretrained wrote for replace_head(cnnzoo.create("cifar_resnet20", in_chans=1), 3,
#: hidden=8, dropout=0.1): cnnzoo's fields at the top, the whole default_cfg (train_augment too) in pretrained_cfg.
EARLIER_CONFIG = """{
  "architecture": "cifar_resnet20",
  "num_classes": 3,
  "in_chans": 1,
  "model_args": {},
  "head": {"hidden": 8, "dropout": 0.1},
  "pretrained_cfg": {
    "architecture": "cifar_resnet20", "input_size": [1, 32, 32], "min_input_size": [1, 1, 1], "num_classes": 3,
    "mean": [0.4734], "std": [0.2516], "interpolation": "bilinear", "crop_pct": 1.0, "train_augment": "pad_crop",
    "classifier": "fc", "first_conv": "conv1", "tag": "mine"
  }
}
"""


def test_a_folder_saved_by_the_earlier_version_still_loads(tmp_path):
    model = cnnzoo.replace_head(random_model("cifar_resnet20", in_chans=1), 3, hidden=8, dropout=0.1).eval()
    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / "config.json").write_text(EARLIER_CONFIG)
    (folder / "model.safetensors").write_bytes((cnnzoo.save_pretrained(model, tmp_path / "now") / "model.safetensors").read_bytes())
    config, _ = pretrained.read_config(folder)
    assert (config["num_classes"], config["in_chans"], config["head"]) == (3, 1, {"hidden": 8, "dropout": 0.1})
    restored = cnnzoo.create(folder)
    assert restored.head_config == {"hidden": 8, "dropout": 0.1}
    assert restored.default_cfg["train_augment"] == "pad_crop" and restored.default_cfg["tag"] == "mine"
    assert torch.equal(outputs(restored, in_chans=1), outputs(model, in_chans=1))
    cnnzoo.save_pretrained(restored, folder)  # the same model: an update in place, not another model
    assert "cnnzoo" in json.loads((folder / "config.json").read_text())


# -- torchvision loads cnnzoo's weights ----------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", [
    ("alexnet", {}), pytest.param("vgg11", {}, marks=pytest.mark.slow), ("googlenet", {}),
    ("googlenet", {"aux_logits": True}), ("resnet18", {}), pytest.param("resnext50_32x4d", {}, marks=pytest.mark.slow),
    pytest.param("wide_resnet50_2", {}, marks=pytest.mark.slow), ("densenet121", {}),
])
def test_a_cnnzoo_saved_state_dict_loads_strictly_into_torchvision_with_equal_outputs(name, kwargs, tmp_path):
    ours = random_model(name, **kwargs)
    state = load_file(str(cnnzoo.save_pretrained(ours, tmp_path / name) / "model.safetensors"))
    extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)(weights=None, num_classes=CLASSES, **{**extra, **kwargs})
    theirs.to_empty(device="cpu").load_state_dict(state, strict=True)
    assert torch.equal(outputs(theirs), outputs(ours))


def test_the_timm_tests_cover_every_family_timm_shares_with_cnnzoo():
    family = {name: cnnzoo.registry.get_entry(name).family for name in cnnzoo.list_models()}
    shared = {family[name] for name in cnnzoo.list_models() if timm.is_model(name)}
    assert shared == {family[getattr(name, "values", [name])[0]] for name in TIMM_SHARED}
