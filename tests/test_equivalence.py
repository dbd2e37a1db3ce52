"""Numerical equivalence with the reference implementations, given the same weights.

Every registered model that torchvision also builds (same name) must have torchvision's state_dict
keys in torchvision's order, load torchvision's weights strictly, and compute exactly the same outputs.
DenseNet-264 is compared with torchvision's DenseNet class configured as Table 1 of the paper, and
SE-ResNets with timm's.

Both networks are built on the meta device and given storage afterwards: the initialisation each
constructor would run is overwritten anyway, and for VGG it costs seconds. The reference is filled
with seeded random values, BatchNorm statistics and affine parameters and biases included: left at
their initial values (BatchNorm as identity, timm's zeroed last BatchNorm of each block, zero biases)
they would hide a misplaced normalisation, bias or SE module. Ours then loads the reference's
state_dict strictly, so every one of its parameters and buffers comes from the reference.
"""

from __future__ import annotations

import gc
import inspect
import math
from collections.abc import Callable

import pytest
import timm
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.models import GoogLeNetOutputs
from conftest import FAST_MODELS

# Every torchvision builder the zoo mirrors; a new one found by name is tested automatically.
EXPECTED_TORCHVISION_TWINS = {
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2", "densenet121",
    "densenet161", "densenet169", "densenet201",
}
SE_RESNETS = ["seresnet50", "seresnet101", "seresnet152"]

# Building one of these twice and running both takes several seconds on two cores.
BIG_MODELS = {"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
              "resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2", "resnet152", "seresnet152"}

# Small enough to be cheap; the last feature maps are 2x2 (1x1 for AlexNet).
SIDE = 64


def torchvision_builder(name: str):
    builder = getattr(torchvision.models, name, None)
    return builder if inspect.isfunction(builder) else None


TORCHVISION_TWINS = [name for name in cnnzoo.list_models() if torchvision_builder(name) is not None]


def build_torchvision(name: str, **kwargs) -> nn.Module:
    if name == "googlenet":
        # torchvision's googlenet turns the auxiliary classifiers on (and warns) unless told otherwise
        kwargs = {"aux_logits": False, "init_weights": True, **kwargs}
    return torchvision_builder(name)(weights=None, **kwargs)


def random_reference(build: Callable[[], nn.Module], seed: int = 1) -> nn.Module:
    """``build()`` made on the meta device, then given storage filled with seeded random values.

    Weights are uniform at He scale, which keeps train-mode activations in range through 150 layers
    (in eval mode the random running statistics let deep networks' logits grow to ~1e11, still finite,
    which assert_same_outputs checks). BatchNorm weights, biases and running statistics and every bias
    get values no initialiser would give.
    """
    with torch.device("meta"):
        model = build()
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    filled: set[int] = set()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.uniform_(-0.2, 0.2, generator=generator)
                module.running_mean.uniform_(-0.2, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.num_batches_tracked.zero_()
                filled |= {id(t) for t in (module.weight, module.bias, module.running_mean, module.running_var,
                                           module.num_batches_tracked)}
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                bound = math.sqrt(6.0 / module.weight[0].numel())
                module.weight.uniform_(-bound, bound, generator=generator)
                filled.add(id(module.weight))
                if module.bias is not None:
                    module.bias.uniform_(-0.02, 0.02, generator=generator)
                    filled.add(id(module.bias))
    unfilled = [k for k, v in model.state_dict(keep_vars=True).items() if id(v) not in filled]
    assert unfilled == [], f"random_reference does not know how to fill {unfilled}"
    return model


def unloaded(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` made on the meta device and given uninitialised storage, ready for a strict load."""
    with torch.device("meta"):
        model = build()
    return model.to_empty(device="cpu")


def assert_same_state_dict_layout(ours: nn.Module, reference: nn.Module) -> None:
    ours_sd, ref_sd = ours.state_dict(), reference.state_dict()
    assert list(ours_sd) == list(ref_sd), "state_dict keys differ in name or order"
    shapes = {k: (tuple(v.shape), tuple(ref_sd[k].shape)) for k, v in ours_sd.items()}
    assert {k: s for k, s in shapes.items() if s[0] != s[1]} == {}


def assert_same_outputs(ours: nn.Module, reference: nn.Module) -> None:
    """Equal outputs in eval mode, and in train mode (batch statistics, dropout) under the same seed."""
    x = torch.randn(2, 3, SIDE, SIDE)
    ours.eval(), reference.eval()
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert torch.isfinite(expected).all()
    assert torch.equal(actual, expected)
    ours.train(), reference.train()
    with torch.no_grad():
        torch.manual_seed(123)
        expected = reference(x)
        torch.manual_seed(123)
        actual = ours(x)
    assert torch.equal(actual, expected)


def pair_param(name: str):
    # the fast tier: the cheap networks, and one of each other block (bottleneck, grouped, dense, VGG's)
    fast = FAST_MODELS | {"alexnet", "resnet50", "densenet121", "vgg11_bn"}
    return name if name in fast and name not in BIG_MODELS else pytest.param(name, marks=pytest.mark.slow)


# -- torchvision ----------------------------------------------------------------------------------


def test_torchvision_twins_are_found_by_name():
    # Guards the name lookup: if it broke, the parametrized tests below would silently test nothing.
    assert set(TORCHVISION_TWINS) == EXPECTED_TORCHVISION_TWINS


@pytest.fixture(scope="module", params=[pair_param(n) for n in TORCHVISION_TWINS])
def torchvision_pair(request):
    """(ours, torchvision's) for one name, built once for the tests below and freed afterwards.

    Ours is not loaded yet: the first test compares the layouts, the second loads and compares outputs.
    """
    name = request.param
    reference = random_reference(lambda: build_torchvision(name))
    ours = unloaded(lambda: cnnzoo.create(name))
    yield ours, reference
    del ours, reference
    gc.collect()


def test_state_dict_keys_order_and_shapes_match_torchvision(torchvision_pair):
    ours, reference = torchvision_pair
    assert_same_state_dict_layout(ours, reference)


def test_outputs_equal_torchvision_bitwise_with_its_weights_loaded(torchvision_pair):
    ours, reference = torchvision_pair
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert_same_outputs(ours, reference)


def test_model_built_normally_has_the_same_layout_as_torchvision_built_normally():
    # The tests above build both networks on the meta device; building for real must not differ.
    reference = build_torchvision("densenet121")
    ours = cnnzoo.create("densenet121")
    assert_same_state_dict_layout(ours, reference)
    ours.load_state_dict(reference.state_dict(), strict=True)


@pytest.mark.parametrize("name", ["alexnet", "googlenet", "resnet18", "resnext50_32x4d", "densenet121"])
def test_ten_class_torchvision_checkpoint_loads_strictly_into_ten_class_model(name):
    reference = random_reference(lambda: build_torchvision(name, num_classes=10))
    ours = unloaded(lambda: cnnzoo.create(name, num_classes=10))
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert ours.get_classifier().weight.shape[0] == 10
    assert_same_outputs(ours, reference)


def test_torchvision_checkpoint_does_not_load_into_a_model_with_another_class_count():
    # the counterpart of the test above: a strict load does check the classifier's shape
    reference = build_torchvision("resnet18", num_classes=10)
    ours = cnnzoo.create("resnet18", num_classes=5)
    with pytest.raises(RuntimeError, match="size mismatch"):
        ours.load_state_dict(reference.state_dict(), strict=True)


def test_googlenet_with_aux_classifiers_matches_torchvision_in_train_and_eval():
    reference = random_reference(
        lambda: torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    )
    ours = unloaded(lambda: cnnzoo.create("googlenet", aux_logits=True))
    assert_same_state_dict_layout(ours, reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, SIDE, SIDE)
    reference.train(), ours.train()
    with torch.no_grad():
        torch.manual_seed(7)  # the same dropout masks: both draw them in the same order
        expected = reference(x)
        torch.manual_seed(7)
        actual = ours(x)
    if tuple(int(part) for part in torchvision.__version__.split(".")[:2]) < (0, 21):
        # torchvision before 0.21 returns the two auxiliary outputs swapped (pytorch/vision#8736)
        expected = expected._replace(aux_logits2=expected.aux_logits1, aux_logits1=expected.aux_logits2)
    assert isinstance(actual, GoogLeNetOutputs)
    assert len(actual) == len(expected) == 3
    for field, ours_out, ref_out in zip(actual._fields, actual, expected):
        assert torch.equal(ours_out, ref_out), field
    reference.eval(), ours.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_googlenet_transform_input_matches_torchvision():
    reference = random_reference(lambda: build_torchvision("googlenet", transform_input=True))
    ours = unloaded(lambda: cnnzoo.create("googlenet", transform_input=True))
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert_same_outputs(ours, reference)


def test_densenet264_matches_torchvision_densenet_class_with_table_1_configuration():
    reference = random_reference(
        lambda: torchvision.models.densenet.DenseNet(growth_rate=32, block_config=(6, 12, 64, 48), num_init_features=64)
    )
    ours = unloaded(lambda: cnnzoo.create("densenet264"))
    assert_same_state_dict_layout(ours, reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert_same_outputs(ours, reference)


# -- timm -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [pair_param(n) for n in SE_RESNETS])
def test_se_resnet_matches_timm_bitwise_with_its_weights_loaded(name):
    # timm zero-initialises the last BatchNorm of each block, which would make every SE module's
    # output irrelevant; random_reference overwrites it.
    reference = random_reference(lambda: timm.create_model(name, pretrained=False))
    ours = unloaded(lambda: cnnzoo.create(name))
    assert_same_state_dict_layout(ours, reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert_same_outputs(ours, reference)
