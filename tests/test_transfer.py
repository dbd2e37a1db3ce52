"""Freezing that holds BatchNorm, unfreezing that restores, stage-wise freezing, new heads, parameter groups."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import cnnzoo
from conftest import registry_restored, smallest_of_each_family


FAMILIES = smallest_of_each_family()


def _batch(model: nn.Module, batch: int = 4) -> torch.Tensor:
    channels, height, width = model.default_cfg["input_size"]
    # GoogLeNet-2014's auxiliary heads, which run in training, need more than the main path
    side = max(model.min_input_size, getattr(model, "min_aux_input_size", None) or 0, min(height, 64))
    return torch.randn(batch, channels, side, side)


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    model.train()
    output = model(_batch(model))
    logits = output[0] if isinstance(output, tuple) else output
    optimizer.zero_grad()
    logits.logsumexp(dim=1).mean().backward()
    optimizer.step()


def _everything(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", FAMILIES)
def test_freeze_backbone_leaves_only_the_classifier_trainable(name):
    model = cnnzoo.freeze_backbone(cnnzoo.create(name, num_classes=3))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{model.classifier_name}.{n}" for n, _ in model.get_classifier().named_parameters()}


@pytest.mark.parametrize("name", FAMILIES)
def test_freeze_backbone_keeps_parameters_and_batchnorm_statistics_through_a_train_step(name):
    model = cnnzoo.create(name, num_classes=3, **({"aux_logits": True} if name.startswith("googlenet") else {}))
    cnnzoo.freeze_backbone(model)
    before = _everything(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=1e-3)
    _train_step(model, optimizer)
    _train_step(model, optimizer)
    after = model.state_dict()
    # freeze_backbone trains the classifier only: GoogLeNet's auxiliary class layers stay frozen
    head = {k for k in model.classifier_keys() if not k.startswith("aux")}
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == head, f"outside the head changed: {sorted(changed - head)[:5]}"


def test_a_requires_grad_loop_lets_batchnorm_statistics_drift():
    # the tutorials' requires_grad freezing, for contrast: parameters stay, running statistics do not
    model = cnnzoo.create("resnet18", num_classes=3)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.fc.weight.requires_grad_(True)
    before = model.bn1.running_mean.clone()
    _train_step(model, torch.optim.SGD([model.fc.weight], lr=0.1))
    assert not torch.equal(before, model.bn1.running_mean)


@pytest.mark.parametrize("name", FAMILIES)
def test_unfreeze_gives_back_a_fully_trainable_model_whose_batchnorm_trains(name):
    model = cnnzoo.unfreeze(cnnzoo.freeze_backbone(cnnzoo.create(name)))
    assert all(p.requires_grad for p in model.parameters())
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if norms:
        before = norms[0].running_mean.clone()
        _train_step(model, torch.optim.SGD(model.parameters(), lr=0.01))
        assert not torch.equal(before, norms[0].running_mean)


def test_freeze_backbone_twice_changes_nothing_and_unfreeze_restores_the_state_before():
    model = cnnzoo.create("resnet18")
    model.conv1.weight.requires_grad_(False)  # the user's own choice before freezing
    cnnzoo.freeze_backbone(model)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    hooks = sum(len(m._forward_pre_hooks) for m in model.modules())
    cnnzoo.freeze_backbone(model)
    assert flags == {n: p.requires_grad for n, p in model.named_parameters()}
    assert hooks == sum(len(m._forward_pre_hooks) for m in model.modules())
    cnnzoo.unfreeze(model)
    assert not model.conv1.weight.requires_grad
    assert all(p.requires_grad for n, p in model.named_parameters() if n != "conv1.weight")
    assert sum(len(m._forward_pre_hooks) for m in model.modules()) == 0


def test_frozen_batchnorm_uses_running_statistics_in_train_mode():
    model = cnnzoo.freeze_backbone(cnnzoo.create("resnet18").eval())
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        expected = model.forward_features(x)
        model.train()
        assert torch.equal(model.forward_features(x), expected)


def test_train_bn_keeps_batchnorm_training():
    model = cnnzoo.freeze_backbone(cnnzoo.create("resnet18", num_classes=3), train_bn=True)
    assert model.bn1.weight.requires_grad and not model.conv1.weight.requires_grad
    before = model.bn1.running_mean.clone()
    _train_step(model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1))
    assert not torch.equal(before, model.bn1.running_mean)


def test_freeze_up_to_a_stage_freezes_that_stage_and_all_before_it():
    model = cnnzoo.freeze(cnnzoo.create("resnet18"), up_to="layer2")
    frozen = {n.split(".")[0] for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert frozen == {"conv1", "bn1", "layer1", "layer2"}
    assert trainable == {"layer3", "layer4", "fc"}
    before = model.layer2[0].bn1.running_var.clone()
    _train_step(model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1))
    assert torch.equal(before, model.layer2[0].bn1.running_var)


@pytest.mark.parametrize("name", FAMILIES)
def test_the_stages_hold_exactly_the_backbone_each_parameter_once(name):
    kwargs = {"aux_logits": True} if name.startswith("googlenet") else {}
    with torch.device("meta"):
        model = cnnzoo.create(name, **kwargs).train()
        size = model.default_cfg["input_size"][1]
        model.forward_features(torch.empty(2, model.in_chans, size, size)).sum().backward()
    seen: list[int] = [id(p) for modules in model.stages.values() for m in modules for p in m.parameters()]
    assert len(seen) == len(set(seen))
    # the backbone is what forward_features uses; the head (classifier, hidden fully connected layers,
    # auxiliary classifiers) lies outside every stage
    backbone = {id(p) for p in model.parameters() if p.grad is not None}
    assert set(seen) == backbone
    head = {n for n, p in model.named_parameters() if id(p) not in backbone}
    assert set(model.classifier_keys()) <= head
    cnnzoo.freeze(model, up_to=list(model.stages)[-1])
    assert {n for n, p in model.named_parameters() if p.requires_grad} == head


def _probed_feature_info(model):
    """What each declared stage's map is, measured: a meta forward at 2048x2048 with a hook on the stage's last
    module (the last map is forward_features' output); reduction = input side / map side, to a power of two."""
    side, shapes = 2048, {}
    handles = [model.get_submodule(info["module"]).register_forward_hook(
        lambda _m, _i, out, index=info["index"]: shapes.__setitem__(index, tuple(out.shape)))
        for info in model.feature_info]
    try:
        with torch.device("meta"):
            last = model.forward_features(torch.empty(2, model.in_chans, side, side))
    finally:
        for handle in handles:
            handle.remove()
    shapes[len(model.feature_info) - 1] = tuple(last.shape)
    return [(shapes[i][1], 2 ** round(math.log2(side / shapes[i][2]))) for i in range(len(model.feature_info))]


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_declared_feature_info_is_what_a_forward_pass_measures(name):
    with torch.device("meta"):
        model = cnnzoo.create(name).eval()
    declared = model.feature_info
    assert [info["stage"] for info in declared] == list(model.stages)
    assert [info["index"] for info in declared] == list(range(len(declared)))
    assert [(info["num_chs"], info["reduction"]) for info in declared] == _probed_feature_info(model)


def test_freeze_unknown_stage_lists_the_stages():
    with pytest.raises(ValueError, match="stem, layer1, layer2, layer3, layer4"):
        cnnzoo.freeze(cnnzoo.create("resnet18"), up_to="layer5")


@pytest.mark.parametrize(("name", "classes", "width"), [("resnet50", 5, 128), ("densenet121", 5, 128),
                                                          ("resnet18", 1000, 512), ("densenet121", 37, 256)])
def test_auto_head_width_follows_the_seed_rule(name, classes, width):
    with torch.device("meta"):
        model = cnnzoo.replace_head(cnnzoo.create(name), classes, hidden="auto")
    assert model.get_classifier()[0].out_features == width
    assert model.get_classifier()[-1].out_features == classes


def test_auto_head_width_is_the_feature_count_when_classes_outnumber_features():
    assert cnnzoo.auto_hidden_width(84, 100) == 84
    assert cnnzoo.auto_hidden_width(2048, 5) == 2 ** (11 - 4)


@pytest.mark.parametrize("name", FAMILIES)
def test_replace_head_gives_a_trainable_head_of_the_new_size(name):
    model = cnnzoo.create(name)
    cnnzoo.freeze_backbone(model)
    cnnzoo.replace_head(model, 7, hidden=32, dropout=0.2)
    model.eval()
    with torch.no_grad():
        out = model(_batch(model, 2))
    assert out.shape == (2, 7) and model.num_classes == 7
    assert all(p.requires_grad for p in model.get_classifier().parameters())
    cnnzoo.replace_head(model, 4)
    with torch.no_grad():
        assert model(_batch(model, 2)).shape == (2, 4)


def test_replace_head_rejects_bad_arguments():
    model = cnnzoo.create("lenet5")
    with pytest.raises(ValueError, match="num_classes"):
        cnnzoo.replace_head(model, -1)
    with pytest.raises(ValueError, match="num_classes=0 removes the classifier"):
        cnnzoo.replace_head(model, 0, hidden=8)
    with pytest.raises(ValueError, match="dropout"):
        cnnzoo.replace_head(model, 3, dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        cnnzoo.replace_head(model, 3, hidden=0)


def test_param_groups_give_the_head_a_larger_learning_rate_and_skip_frozen_parameters():
    model = cnnzoo.create("resnet18", num_classes=5)
    groups = cnnzoo.param_groups(model, lr=1e-3, head_lr_mult=10.0)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[1]["lr"] == pytest.approx(1e-2)
    assert {id(p) for p in groups[1]["params"]} == {id(model.fc.weight), id(model.fc.bias)}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    frozen = cnnzoo.param_groups(cnnzoo.freeze_backbone(copy.deepcopy(model)), lr=1e-3)
    assert [g["name"] for g in frozen] == ["head"]
    torch.optim.SGD(groups, momentum=0.9)


# -- feature extraction -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_features_only_maps_match_feature_info_and_end_with_forward_features(name):
    with torch.device("meta"):
        extractor = cnnzoo.create(name, features_only=True)
        model = extractor.model.eval()
        size = model.default_cfg["input_size"][1]
        x = torch.empty(2, model.in_chans, size, size)
        maps = extractor(x)
        last = model.forward_features(x)
    assert [m.shape[1] for m in maps] == [info["num_chs"] for info in extractor.feature_info]
    assert len(maps) == len(extractor.feature_info) >= 3
    assert maps[-1].shape == last.shape
    reductions = [info["reduction"] for info in extractor.feature_info]
    assert reductions == sorted(reductions) and all(r & (r - 1) == 0 for r in reductions)


def test_features_only_channels_and_reductions_equal_timms_for_resnet50():
    import timm

    with torch.device("meta"):
        ours = cnnzoo.create("resnet50", features_only=True)
    reference = timm.create_model("resnet50", features_only=True, pretrained=False)
    assert [i["num_chs"] for i in ours.feature_info] == reference.feature_info.channels()
    assert [i["reduction"] for i in ours.feature_info] == reference.feature_info.reduction()


def test_features_only_maps_are_the_real_stage_outputs():
    extractor = cnnzoo.create("resnet18", features_only=True, out_indices=(1, -1)).eval()
    model = extractor.model
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        layer1, layer4 = extractor(x)
        expected = model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x)))))
        assert torch.equal(layer1, expected)
        assert torch.equal(layer4, model.forward_features(x))
    assert [i["stage"] for i in extractor.feature_info] == ["layer1", "layer4"]


def test_features_only_hooks_are_registered_once_and_keep_nothing_outside_its_forward():
    extractor = cnnzoo.create("resnet18", features_only=True, out_indices=(0, 2, 4)).eval()
    model = extractor.model
    hooked = {name: len(m._forward_hooks) for name, m in model.named_modules() if m._forward_hooks}
    assert hooked == {"relu": 1, "layer2": 1}, "one hook a tapped map; the last map is forward_features' output"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        first = extractor(x)
        again = extractor(x)
        model(x)  # the model used on its own: the hooks keep nothing
    assert {name: len(m._forward_hooks) for name, m in model.named_modules() if m._forward_hooks} == hooked
    assert extractor._captured is None
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_every_model_describes_its_feature_maps_without_features_only():
    with torch.device("meta"):
        model = cnnzoo.create("densenet121")
    assert [(i["stage"], i["module"], i["num_chs"], i["reduction"]) for i in model.feature_info] == [
        ("stem", "features.pool0", 64, 4), ("denseblock1", "features.transition1", 128, 8),
        ("denseblock2", "features.transition2", 256, 16), ("denseblock3", "features.transition3", 512, 32),
        ("denseblock4", "features.norm5", 1024, 32)]


def test_features_only_refuses_out_of_range_indices_listing_the_stages():
    with pytest.raises(ValueError, match="stem, layer1, layer2, layer3, layer4"):
        cnnzoo.create("resnet18", features_only=True, out_indices=(5,))


def test_features_only_checks_its_input_like_the_model():
    with pytest.raises(cnnzoo.InputShapeError, match="63x63"):
        cnnzoo.create("alexnet", features_only=True)(torch.randn(1, 3, 32, 32))


def test_extract_features_gives_the_classifiers_input_for_every_image_in_order():
    model = cnnzoo.create("cifar_resnet20", num_classes=3).train()
    images, labels = torch.randn(10, 3, 32, 32), torch.arange(10) % 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=4)
    dataset = cnnzoo.extract_features(model, loader)
    features, kept = dataset.tensors
    assert features.shape == (10, model.num_features) and torch.equal(kept, labels)
    assert model.training, "the model's mode is restored"
    model.eval()
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(images), pre_logits=True)
    torch.testing.assert_close(features, expected)
    # a head trained on them is the model's own classifier shape
    assert model.get_classifier()(features).shape == (10, 3)


# -- every verb completes or leaves the model as it was (issue 15) -------------------------------------------


def _whole_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, bool], list, object, int]:
    """State, trainable flags, the modules' identities, the head's description and class count."""
    return (_everything(model), {n: p.requires_grad for n, p in model.named_parameters()},
            [id(m) for m in model.modules()], copy.deepcopy(getattr(model, "head_config", None)),
            getattr(model, "num_classes", None))


def _assert_as_before(model: nn.Module, before: tuple) -> None:
    state, flags, modules, head, classes = before
    after = _everything(model)
    assert list(after) == list(state) and all(torch.equal(after[k], v) for k, v in state.items())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert [id(m) for m in model.modules()] == modules
    assert getattr(model, "head_config", None) == head and getattr(model, "num_classes", None) == classes


class _NoClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_a_freeze_backbone_that_raises_leaves_every_parameter_trainable_and_no_hook():
    model = _NoClassifier()
    with pytest.raises(cnnzoo.CnnzooValueError, match="get_classifier"):
        cnnzoo.freeze_backbone(model)
    assert all(p.requires_grad for p in model.parameters())
    assert not model.body[1]._forward_pre_hooks
    assert not hasattr(model, "_cnnzoo_frozen")


@pytest.mark.parametrize("call", [
    lambda m: m.replace_head(-1), lambda m: m.replace_head(0, hidden=4), lambda m: m.replace_head(3, hidden=0), lambda m: m.replace_head(3, hidden="wide"),
    lambda m: m.replace_head(3, dropout=1.0), lambda m: m.replace_head(3, dropout=float("nan")),
    lambda m: m.reset_classifier(-2), lambda m: m.reset_classifier(2.5),
    lambda m: cnnzoo.freeze(m, up_to="no_such_stage"), lambda m: cnnzoo.replace_head(m, None),
], ids=["classes-negative", "classes-0-with-hidden", "hidden-0", "hidden-word", "dropout-1", "dropout-nan", "reset-negative", "reset-float",
        "freeze-unknown-stage", "function-none"])
@pytest.mark.parametrize("name", ["cifar_resnet20", "googlenet_2014"])
def test_a_verb_that_raises_leaves_the_model_exactly_as_it_was(name, call):
    model = cnnzoo.create(name, **({"aux_logits": True} if name.startswith("googlenet") else {}))
    cnnzoo.replace_head(model, 4, hidden=8)
    cnnzoo.freeze(model, up_to=next(iter(model.stages)))
    before = _whole_state(model)
    with pytest.raises(cnnzoo.CnnzooError):
        call(model)
    _assert_as_before(model, before)


def test_replace_head_resizes_googlenets_auxiliary_heads_too():
    for name in ("googlenet", "googlenet_2014"):
        model = cnnzoo.create(name, aux_logits=True)
        cnnzoo.replace_head(model, 5, hidden=16)
        assert model.aux1.fc2.out_features == model.aux2.fc2.out_features == 5
        assert model.get_classifier()[-1].out_features == 5
        side = max(model.min_input_size, getattr(model, "min_aux_input_size", None) or 0, 96)
        outputs = model.train()(torch.randn(2, 3, side, side))
        assert [o.shape for o in outputs] == [(2, 5)] * 3


def test_reset_classifier_keeps_a_replaced_heads_shape_and_classifier_keys_name_its_class_layer():
    model = cnnzoo.create("cifar_resnet20")
    cnnzoo.replace_head(model, 4, hidden=8, dropout=0.1)
    hidden = model.fc[0]
    model.reset_classifier(3)
    assert model.head_config == {"hidden": 8, "dropout": 0.1} and model.num_classes == 3
    assert model.fc[0] is not hidden and model.fc[0].out_features == 8 and model.fc[3].out_features == 3
    assert model.classifier_keys() == ["fc.3.weight", "fc.3.bias"]
    cnnzoo.replace_head(model, 2)
    assert model.head_config is None and isinstance(model.fc, nn.Linear)


@pytest.mark.parametrize("kwargs", [{"lr": 0}, {"lr": -1e-3}, {"lr": float("nan")}, {"lr": float("inf")}, {"lr": "0.1"},
                                    {"lr": 1e-3, "head_lr_mult": -1}, {"lr": 1e-3, "head_lr_mult": 0},
                                    {"lr": 1e-3, "head_lr_mult": float("nan")}, {"lr": 1e-3, "weight_decay": -1},
                                    {"lr": 1e-3, "weight_decay": float("inf")}])
def test_param_groups_refuse_learning_rates_and_multipliers_that_cannot_train(kwargs):
    model = cnnzoo.create("lenet5")
    name = next(k for k, v in kwargs.items() if not (k == "lr" and v == 1e-3))
    with pytest.raises(cnnzoo.CnnzooValueError, match=name):
        cnnzoo.param_groups(model, **kwargs)


def test_param_groups_accept_numpy_numbers():
    np = pytest.importorskip("numpy")
    groups = cnnzoo.param_groups(cnnzoo.create("lenet5"), lr=np.float32(0.01), head_lr_mult=np.int64(5))
    assert groups[-1]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize("images, hint", [
    (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "ToTensor"),
    (torch.zeros(2, 1, 32, 32), "in_chans=1"),
])
def test_extract_features_and_forward_features_check_their_input_like_forward(images, hint):
    model = cnnzoo.create("cifar_resnet20")
    loader = [(images, torch.zeros(2, dtype=torch.long))]
    with pytest.raises(cnnzoo.InputShapeError, match=hint):
        cnnzoo.extract_features(model, loader)
    with pytest.raises(cnnzoo.InputShapeError, match=hint):
        model.forward_features(images)
    assert model.training, "the mode of before comes back"


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3), st.just(object()))


@settings(max_examples=60, deadline=None)
@given(verb=st.sampled_from(["replace_head", "reset_classifier", "freeze", "freeze_backbone", "param_groups",
                             "load_pretrained", "unfreeze"]),
       first=_JUNK, second=_JUNK, third=_JUNK)
def test_property_junk_arguments_raise_a_cnnzoo_error_or_work_and_a_failure_changes_nothing(verb, first, second, third):
    model = cnnzoo.create("lenet5", num_classes=3)
    cnnzoo.freeze(model, up_to="c1")
    before = _whole_state(model)
    calls = {
        "replace_head": lambda: cnnzoo.replace_head(model, first, hidden=second, dropout=third),
        "reset_classifier": lambda: model.reset_classifier(first),
        "freeze": lambda: cnnzoo.freeze(model, up_to=first, train_bn=bool(second)),
        "freeze_backbone": lambda: cnnzoo.freeze_backbone(model, train_bn=bool(first)),
        "param_groups": lambda: cnnzoo.param_groups(model, lr=first, head_lr_mult=second, weight_decay=third),
        "load_pretrained": lambda: cnnzoo.load_pretrained(model, first),
        "unfreeze": lambda: cnnzoo.unfreeze(model),
    }
    try:
        calls[verb]()
    except cnnzoo.CnnzooError:
        _assert_as_before(model, before)
        return
    # it worked: the model still runs and has what the call asked for
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 1, 32, 32))
    assert out.shape == (1, model.num_classes or model.num_features)  # num_classes=0: the pooled features


@pytest.mark.parametrize("loader", [3, [1, 2], ["ab"], [(torch.zeros(1, 1, 32, 32),)]])
def test_extract_features_refuses_a_loader_that_yields_no_image_label_batches(loader):
    with pytest.raises(cnnzoo.CnnzooValueError, match="loader|batches"):
        cnnzoo.extract_features(cnnzoo.create("lenet5"), loader)


def test_feature_extractor_and_auto_hidden_width_refuse_what_they_cannot_use():
    with pytest.raises(cnnzoo.CnnzooValueError, match=r"cnnzoo\.models\.ZooModel"):
        cnnzoo.FeatureExtractor(nn.Linear(2, 2))
    with pytest.raises(cnnzoo.CnnzooValueError, match="num_features"):
        cnnzoo.auto_hidden_width(0, 5)


# -- a registered plain module: what the helpers need, said (the docs writer's report) -----------------------


@pytest.fixture
def registered_plain_module() -> nn.Module:
    """``cnnzoo.create`` of a registered builder that returns a plain ``nn.Sequential``, not a ZooModel."""
    with registry_restored():
        @cnnzoo.register_model(input_size=(3, 32, 32))
        def plain_net(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
            return nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(4, num_classes))

        yield cnnzoo.create("plain_net", num_classes=3)


_ONE_BATCH = [(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))]


@pytest.mark.parametrize(("helper", "call", "needs"), [
    ("freeze_backbone", lambda m: cnnzoo.freeze_backbone(m), "get_classifier()"),
    ("freeze", lambda m: cnnzoo.freeze(m, up_to="block1"), "model.stages"),
    ("replace_head", lambda m: cnnzoo.replace_head(m, 5, hidden=8), "replace_head() and get_classifier()"),
    ("param_groups", lambda m: cnnzoo.param_groups(m, lr=0.1), "get_classifier()"),
    ("FeatureExtractor", lambda m: cnnzoo.FeatureExtractor(m), "forward_features()"),
    ("features_only=True", lambda m: cnnzoo.create("plain_net", features_only=True), "feature_info"),
    ("extract_features", lambda m: cnnzoo.extract_features(m, _ONE_BATCH), "forward_head(pre_logits=True)"),
], ids=["freeze_backbone", "freeze", "replace_head", "param_groups", "FeatureExtractor", "features_only",
        "extract_features"])
def test_a_helper_given_a_registered_plain_module_says_it_needs_a_zoo_model(registered_plain_module, helper, call,
                                                                            needs):
    # cnnzoo.create built the model, so "build it with cnnzoo.create" was no fix: name what is missing instead
    model = registered_plain_module
    before = _whole_state(model)
    with pytest.raises(cnnzoo.CnnzooValueError) as caught:
        call(model)
    message = str(caught.value)
    assert helper in message and needs in message, message
    assert "cnnzoo.models.ZooModel" in message and "'Adding your own network'" in message, message
    assert "build it with cnnzoo.create" not in message.lower(), message
    _assert_as_before(model, before)
    assert model.training and not any(m._forward_pre_hooks for m in model.modules())


def test_transforms_for_a_module_without_default_cfg_says_what_it_lacks():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(cnnzoo.CnnzooValueError) as caught:
        cnnzoo.transforms_for(model)
    message = str(caught.value)
    assert "Sequential has no default_cfg" in message and "register_model" in message, message
    assert "build it with cnnzoo.create" not in message.lower(), message
