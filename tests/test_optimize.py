"""cnnzoo.optimize: the same model, computing the same outputs, in the fast layout."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.models import CifarDenseNet
from cnnzoo.optimize import optimize

# Small enough to run twice in a test, with each kind of layer: LeNet's pools, residual additions, dense
# concatenations (a 22-layer DenseNet-BC: DenseNet-BC-100's blocks, shorter).
SMALL_MODELS = {
    "lenet5": lambda: cnnzoo.create("lenet5"),
    "cifar_resnet20": lambda: cnnzoo.create("cifar_resnet20"),
    "cifar_densenet_bc22": lambda: CifarDenseNet(22),
}


def _batch(model: nn.Module, n: int = 2) -> torch.Tensor:
    return torch.randn(n, *model.default_cfg["input_size"])


def _four_d_parameters(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() == 4]


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_optimize_converts_weights_to_channels_last_and_keeps_outputs(name):
    model = SMALL_MODELS[name]().eval()
    reference = copy.deepcopy(model)
    x = _batch(model)
    assert optimize(model) is model
    assert _four_d_parameters(model) and all(
        p.is_contiguous(memory_format=torch.channels_last) for p in _four_d_parameters(model))
    with torch.no_grad():
        expected = reference(x)
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), expected, rtol=1e-4, atol=1e-5)


def test_optimize_keeps_the_model_interface_and_state_dict_keys():
    model = cnnzoo.create("cifar_resnet20", num_classes=5)
    keys = list(model.state_dict())
    optimize(model)
    assert type(model).__name__ == "CifarResNet" and list(model.state_dict()) == keys
    assert model.get_classifier().out_features == 5
    model.reset_classifier(3)
    assert model(_batch(model)).shape == (2, 3)
    cnnzoo.freeze_backbone(model)
    assert all(p.requires_grad for p in model.get_classifier().parameters())


def test_optimize_without_channels_last_leaves_the_layout_alone():
    model = optimize(cnnzoo.create("lenet5"), channels_last=False)
    assert all(p.is_contiguous() for p in _four_d_parameters(model))


def test_optimize_compiles_in_place_keeping_methods_and_keys():
    # backend="eager" traces with TorchDynamo but generates no code: the path optimize() owns, in seconds
    model = cnnzoo.create("lenet5").eval()
    reference = copy.deepcopy(model)
    keys = list(model.state_dict())
    assert optimize(model, compile=True, backend="eager") is model
    assert list(model.state_dict()) == keys  # no "_orig_mod." prefix, as torch.compile's wrapper would add
    assert model.get_classifier() is model.get_submodule(model.classifier_name)
    x = _batch(model)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)


def test_optimize_rejects_what_is_not_a_module():
    with pytest.raises(cnnzoo.CnnzooError, match="nn.Module"):
        optimize("resnet50")  # type: ignore[arg-type]


def test_optimize_rejects_compile_options_without_compile():
    with pytest.raises(ValueError, match="compile=True"):
        optimize(cnnzoo.create("lenet5"), mode="max-autotune")
