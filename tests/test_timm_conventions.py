"""timm's conventions on every model: ``num_classes=0``, ``reset_classifier(n, global_pool)``,
``forward_intermediates`` and ``prune_intermediate_layers``, with timm's meaning."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import cnnzoo
from conftest import smallest_of_each_family

ALL_MODELS = cnnzoo.list_models()
FAMILIES = smallest_of_each_family()


def _input(model: nn.Module, batch: int = 2) -> torch.Tensor:
    side = max(model.min_input_size, 32)
    return torch.randn(batch, model.in_chans, side, side)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_num_classes_zero_gives_a_model_whose_forward_returns_the_pooled_features(name):
    kwargs = {"aux_logits": True} if name.startswith("googlenet") else {}
    with torch.device("meta"):
        model = cnnzoo.create(name, num_classes=0, **kwargs)
        size = model.default_cfg["input_size"]
        out = model.eval()(torch.empty(2, *size))
    assert out.shape == (2, model.num_features)
    assert isinstance(model.get_classifier(), nn.Identity)
    assert model.num_classes == 0 and model.default_cfg["num_classes"] == 0
    assert model.classifier_keys() == []


@pytest.mark.parametrize("name", FAMILIES)
def test_num_classes_zero_forward_equals_pre_logits_of_the_same_backbone(name):
    model = cnnzoo.create(name).eval()
    headless = cnnzoo.create(name, num_classes=0).eval()
    missing, unexpected = headless.load_state_dict(model.state_dict(), strict=False)
    assert missing == [] and set(unexpected) == set(model.classifier_keys())
    x = _input(model)
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(x), pre_logits=True)
        torch.testing.assert_close(headless(x), expected)
    headless.train()(x).sum().backward()  # no in-place trouble without a class layer


def test_weights_with_a_classifier_load_into_a_model_without_one(tmp_path):
    source = cnnzoo.create("resnet18", num_classes=7)
    cnnzoo.save_pretrained(source, tmp_path / "r18")
    model = cnnzoo.create("resnet18", num_classes=0)
    report = cnnzoo.load_pretrained(model, tmp_path / "r18" / "model.safetensors")
    assert sorted(report.dropped) == ["fc.bias", "fc.weight"]
    assert torch.equal(model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_a_model_without_classifier_saves_and_reloads(tmp_path):
    model = cnnzoo.create("cifar_resnet20", num_classes=0).eval()
    cnnzoo.save_pretrained(model, tmp_path / "features")
    restored = cnnzoo.create(tmp_path / "features").eval()
    x = torch.randn(2, 3, 32, 32)
    assert restored.num_classes == 0
    assert torch.equal(restored(x), model(x))


def test_reset_classifier_zero_removes_every_head_and_back():
    model = cnnzoo.create("googlenet", aux_logits=True)
    model.replace_head(5, hidden=16, dropout=0.1)
    model.reset_classifier(0)
    assert isinstance(model.fc, nn.Identity) and isinstance(model.aux1.fc2, nn.Identity)
    assert model.head_config is None and model.num_classes == 0
    model.reset_classifier(3, global_pool="avg")
    assert model.fc.out_features == 3 and model.aux2.fc2.out_features == 3


@pytest.mark.parametrize(("call", "match"), [
    (lambda m: m.reset_classifier(5, global_pool="max"), "global_pool"),
    (lambda m: m.reset_classifier(-1), "num_classes"),
    (lambda m: m.reset_classifier("0"), "num_classes"),
    (lambda m: m.replace_head(0, hidden=8), "num_classes=0 removes the classifier"),
    (lambda m: m.replace_head(0, dropout=0.2), "num_classes=0 removes the classifier"),
    (lambda m: m.forward_intermediates(torch.randn(1, 3, 32, 32), output_fmt="NHWC"), "NCHW"),
    (lambda m: m.forward_intermediates(torch.randn(1, 3, 32, 32), indices=6), "last 6 stages"),
    (lambda m: m.forward_intermediates(torch.randn(1, 3, 32, 32), indices=(0, 9)), "out of range"),
    (lambda m: m.forward_intermediates(torch.randn(1, 3, 32, 32), indices=True), "indices"),
    (lambda m: m.prune_intermediate_layers(indices=(7,)), "out of range"),
])
def test_bad_arguments_raise_named_errors_and_leave_the_model_as_it_was(call, match):
    model = cnnzoo.create("resnet18", num_classes=4).eval()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(cnnzoo.CnnzooError, match=match):
        call(model)
    assert model.fc.out_features == 4 and model.num_classes == 4 and len(model.stage_specs) == 5
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", FAMILIES)
def test_forward_intermediates_gives_the_features_only_maps_and_forward_features(name):
    model = cnnzoo.create(name).eval()
    x = _input(model)
    extractor = cnnzoo.transfer.FeatureExtractor(model)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x)
        expected = extractor(x)
        assert torch.equal(final, model.forward_features(x))
    assert len(maps) == len(model.feature_info) == len(expected)
    for got, want, info in zip(maps, expected, model.feature_info):
        assert torch.equal(got, want)
        assert got.shape[1] == info["num_chs"]
    with torch.no_grad():
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        chosen = model.forward_intermediates(x, indices=(0, -1), intermediates_only=True)
    assert all(torch.equal(a, b) for a, b in zip(last_two, maps[-2:]))
    assert torch.equal(chosen[0], maps[0]) and torch.equal(chosen[1], maps[-1])


def test_stop_early_stops_the_forward_pass_at_the_last_stage_asked_for():
    model = cnnzoo.create("resnet18").eval()
    ran = []
    model.layer3.register_forward_hook(lambda *_: ran.append("layer3"))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        early = model.forward_intermediates(x, indices=(1, 2), intermediates_only=True, stop_early=True)
        assert ran == []
        full = model.forward_intermediates(x, indices=(1, 2), intermediates_only=True)
    assert ran == ["layer3"]
    assert all(torch.equal(a, b) for a, b in zip(early, full))


def test_forward_intermediates_equals_timms_for_resnet50_with_the_same_weights():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet50", pretrained=False).eval()
    model = cnnzoo.create("resnet50").eval()
    model.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model.forward_intermediates(x, indices=(1, 2, 3, 4), intermediates_only=True)
        theirs = reference.forward_intermediates(x, indices=(1, 2, 3, 4), intermediates_only=True)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "googlenet", "vgg11", "alexnet_2012"])
def test_prune_intermediate_layers_keeps_what_forward_intermediates_takes(name):
    model = cnnzoo.create(name).eval()
    x = _input(model, batch=1)
    with torch.no_grad():
        before = model.forward_intermediates(x, indices=(0, 2), intermediates_only=True)
    parameters = sum(p.numel() for p in model.parameters())
    assert model.prune_intermediate_layers(indices=(0, 2)) == [0, 2]
    assert len(model.feature_info) == 3 and isinstance(model.get_classifier(), nn.Identity)
    assert sum(p.numel() for p in model.parameters()) < parameters
    with torch.no_grad():
        after = model.forward_intermediates(x, indices=(0, 2), intermediates_only=True)
    assert all(torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "googlenet", "vgg11", "alexnet_2012", "lenet5", "nin"])
@pytest.mark.parametrize("prune_head", [True, False])
def test_a_network_pruned_of_stages_refuses_forward_with_a_named_error(name, prune_head):
    model = cnnzoo.create(name).eval()
    x = _input(model, batch=1)
    model.prune_intermediate_layers(indices=(1,), prune_head=prune_head)
    with pytest.raises(cnnzoo.CnnzooValueError, match="pruned by prune_intermediate_layers.*forward_intermediates"):
        model(x)
    with torch.no_grad():
        last = model.forward_features(x)
        with pytest.raises(cnnzoo.CnnzooValueError, match="pruned"):
            model.forward_head(last)
        assert last.shape[1] == model.feature_info[-1]["num_chs"]
        assert model.forward_intermediates(x, intermediates_only=True)[-1].shape == last.shape


def test_pruning_only_the_head_keeps_forward():
    model = cnnzoo.create("resnet18").eval()
    model.prune_intermediate_layers(indices=(4,))   # the last stage: nothing after it to remove
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 512)


@pytest.mark.parametrize("flags", [{"prune_head": "yes"}, {"prune_norm": 1}])
def test_prune_intermediate_layers_refuses_flags_that_are_not_booleans(flags):
    model = cnnzoo.create("resnet18")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(cnnzoo.CnnzooValueError, match="True or False"):
        model.prune_intermediate_layers(indices=(1,), **flags)
    assert len(model.feature_info) == 5 and not isinstance(model.get_classifier(), nn.Identity)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
