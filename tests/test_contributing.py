"""The contributors' page (docs/contributing.rst): its worked example registers a family that then has the
whole interface, exactly as the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import cnnzoo
from conftest import registry_restored

PAGE = Path(__file__).resolve().parents[1] / "docs" / "contributing.rst"


def _family_example() -> str:
    """The python code block that follows "A complete family:" on the page, dedented."""
    text = PAGE.read_text()
    after = text[text.index("A complete family:"):]
    match = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", after)
    assert match, "the page's worked example is a python code block"
    return "\n".join(line[3:] for line in match.group(1).splitlines())


@pytest.fixture
def tinynet():
    with registry_restored():
        namespace: dict[str, object] = {"__name__": "tinynet_family"}
        exec(compile(_family_example(), str(PAGE), "exec"), namespace)  # noqa: S102 - our own documentation
        yield namespace


def test_the_worked_example_registers_a_family_with_the_parameter_count_its_docstring_gives(tinynet):
    model = cnnzoo.create("tinynet")
    assert sum(p.numel() for p in model.parameters()) == 5_418
    assert "5,418 parameters" in tinynet["tinynet"].__doc__
    assert cnnzoo.registry.get_entry("tinynet").family == "tinynet"
    info = cnnzoo.model_info("tinynet")
    assert info.input_size == (3, 32, 32) and info.num_classes == 10


def test_the_worked_example_has_the_whole_interface(tinynet, tmp_path):
    model = cnnzoo.create("tinynet", num_classes=5).eval()
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 5)
    assert torch.equal(model(x), model.forward_head(model.forward_features(x)))
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 32)
    assert model.get_classifier() is model.fc
    with pytest.raises(cnnzoo.InputShapeError, match="in_chans=1"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(cnnzoo.InputShapeError, match="at least 4x4"):
        model(torch.randn(2, 3, 3, 3))

    extractor = cnnzoo.create("tinynet", features_only=True).eval()
    maps = extractor(x)
    assert [m.shape[1:] for m in maps] == [(16, 16, 16), (32, 8, 8)]
    assert [(i["stage"], i["num_chs"], i["reduction"]) for i in extractor.feature_info] == [
        ("conv1", 16, 2), ("conv2", 32, 4)]

    cnnzoo.freeze(model, up_to="conv1")
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == {"conv1.0.weight", "conv1.0.bias"}
    cnnzoo.unfreeze(model)
    model.replace_head(3, hidden=8, dropout=0.1)
    cnnzoo.save_pretrained(model, tmp_path / "tiny")
    restored = cnnzoo.create(tmp_path / "tiny").eval()
    model.eval()
    assert torch.equal(restored(x), model(x))



def test_the_worked_examples_first_conv_is_adapted_when_weights_for_rgb_load_into_grey(tinynet, tmp_path):
    rgb = cnnzoo.create("tinynet")
    cnnzoo.save_pretrained(rgb, tmp_path / "rgb")
    grey = cnnzoo.create("tinynet", in_chans=1, num_classes=4, pretrained=str(tmp_path / "rgb" / "model.safetensors"))
    assert torch.allclose(grey.conv1[0].weight, rgb.conv1[0].weight.sum(1, keepdim=True))
    assert torch.equal(grey.conv2[0].weight, rgb.conv2[0].weight)
    assert grey.fc.out_features == 4
