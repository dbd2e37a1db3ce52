"""The ResNet/DenseNet fine-tuning tutorials' builders, made correct: strict weights, a frozen backbone that holds, loud phases."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

import cnnzoo
from cnnzoo.compat import PHASES, build_dense121, build_res50

BUILDERS = {"resnet50": build_res50, "densenet121": build_dense121}


def _publish_torchvision_weights(name: str, hf_cache, tmp_path: Path) -> torch.nn.Module:
    """torchvision's network with random weights, laid out as timm publishes ``NAME.tv_in1k``."""
    reference = torchvision.models.get_model(name).eval()
    file = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(file))
    hf_cache(f"timm/{name}.tv_in1k", {"model.safetensors": file})
    return reference


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_pretrained_builder_loads_the_first_imagenet_weights_strictly_and_freezes_the_backbone(name, hf_cache, tmp_path):
    reference = _publish_torchvision_weights(name, hf_cache, tmp_path)
    model = BUILDERS[name]("train", num_classes=5, pretrained=True)
    assert model.training
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model.eval()
        # every backbone weight came from the file: the pooled features equal torchvision's
        expected = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(_torchvision_features(reference, x), 1), 1)
        assert torch.equal(model.forward_head(model.forward_features(x), pre_logits=True), expected)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    head = {f"{model.classifier_name}.{n}" for n, _ in model.get_classifier().named_parameters()}
    assert trainable == head


def _torchvision_features(reference: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(reference, torchvision.models.DenseNet):
        return torch.relu(reference.features(x))
    body = torch.nn.Sequential(*list(reference.children())[:-2])
    return body(x)


@pytest.mark.parametrize(("name", "features"), [("resnet50", 2048), ("densenet121", 1024)])
def test_builders_put_the_seed_mlp_head_on_top(name, features):
    model = BUILDERS[name]("train", num_classes=5, pretrained=False)
    first, _, _, last = model.get_classifier()
    assert (first.in_features, first.out_features) == (features, 128)
    assert last.out_features == 5
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)


def test_without_pretrained_weights_nothing_is_frozen():
    model = build_res50("train", num_classes=3, pretrained=False)
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_backbone_batchnorm_statistics_hold_through_a_train_step(hf_cache, tmp_path):
    _publish_torchvision_weights("resnet50", hf_cache, tmp_path)
    model = build_res50("train", num_classes=5, pretrained=True)
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(model.classifier_name)}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_phase_sets_training_mode(phase):
    assert build_dense121(phase, num_classes=2, pretrained=False).training is PHASES[phase]


@pytest.mark.parametrize("builder", [build_res50, build_dense121])
def test_unknown_phase_is_a_value_error_naming_the_phases(builder):
    with pytest.raises(ValueError, match=r"Unknown phase 'training'.*\['test', 'train', 'val'\]"):
        builder("training", num_classes=5, pretrained=False)


def test_a_checkpoint_of_another_architecture_is_refused_not_loaded_partially(tmp_path):
    file = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), file)
    with pytest.raises(cnnzoo.WeightsError, match="Missing from the checkpoint.*nothing was loaded"):
        build_res50("train", num_classes=5, pretrained=str(file))


def test_missing_weights_while_offline_raise_instead_of_training_from_scratch():
    with pytest.raises(cnnzoo.WeightsError):
        build_dense121("train", num_classes=5, pretrained=True)
