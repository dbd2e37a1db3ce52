"""torch.fx and torchvision's FX feature extraction on every family: graphs in eval and train mode give the eager
outputs, a declared stage's node gives the stage module's output, and the eager input checks stay in force
(they are skipped only while torch.fx traces).

Each test takes the smallest network of each family (conftest.py) at a cheap valid input size, so the module
runs in seconds; the model, its node names and one extractor are built once per family and shared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from conftest import smallest_of_each_family, tiered
from torch import fx
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import cnnzoo
from cnnzoo.models import GoogLeNetOutputs, ZooModel

FAMILIES = smallest_of_each_family()


def small_input(model: ZooModel, batch: int = 2) -> torch.Tensor:
    """A batch at 32x32 (the designed size of the 32x32 networks), or at the model's smallest input if larger."""
    designed = model.default_cfg["input_size"][1]
    side = max(model.min_input_size, min(designed, 32), getattr(model, "min_aux_input_size", None) or 0)
    return torch.randn(batch, model.in_chans, side, side)


@contextlib.contextmanager
def training(model: ZooModel) -> Iterator[None]:
    """The model in training mode, its BatchNorm running statistics restored afterwards: the model is shared."""
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.train()
    try:
        yield
    finally:
        model.eval()
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])


def seeded(function, *args):
    """``function(*args)`` with the random state reset first: dropout draws the same masks in eager and graph."""
    torch.manual_seed(1)
    return function(*args)


@dataclass
class Traced:
    name: str
    model: ZooModel
    x: torch.Tensor
    #: the eager eval-mode output for ``x``
    expected: torch.Tensor
    train_nodes: list[str]
    eval_nodes: list[str]
    #: return nodes ``{"out": the last node}`` in both modes
    extractor: fx.GraphModule


@pytest.fixture(scope="module", params=tiered(FAMILIES))
def traced(request) -> Iterator[Traced]:
    """The family's network in eval mode, its eager output, its node names and an extractor of its last node
    in either mode."""
    torch.manual_seed(0)
    model = cnnzoo.create(request.param).eval()
    x = small_input(model)
    with torch.no_grad():
        expected = model(x)
    train_nodes, eval_nodes = get_graph_node_names(model)
    extractor = create_feature_extractor(model, train_return_nodes={train_nodes[-1]: "out"},
                                         eval_return_nodes={eval_nodes[-1]: "out"})
    yield Traced(request.param, model, x, expected, train_nodes, eval_nodes, extractor)


def test_feature_extractor_of_the_last_node_gives_the_eager_output(traced):
    with torch.no_grad():
        torch.testing.assert_close(traced.extractor.eval()(traced.x)["out"], traced.expected)


def test_feature_extractor_of_a_declared_stage_gives_that_module_output(traced):
    model = traced.model
    stage = model.feature_info[len(model.feature_info) // 2]["module"]
    extractor = create_feature_extractor(model, return_nodes={stage: "stage"}).eval()
    captured = []
    # a clone: a later in-place op (DenseNet's final ReLU) must not change what the hook saw
    handle = model.get_submodule(stage).register_forward_hook(lambda m, i, out: captured.append(out.clone()))
    try:
        with torch.no_grad():
            model(traced.x)
    finally:
        handle.remove()  # before the extractor runs: it calls the same module
    assert len(captured) == 1, f"{stage} should run once per forward"
    with torch.no_grad():
        got = extractor(traced.x)["stage"]
    torch.testing.assert_close(got, captured[0])


def test_symbolic_trace_gives_a_graph_module_with_the_eager_output(traced):
    graph_module = fx.symbolic_trace(traced.model)
    assert isinstance(graph_module, fx.GraphModule)
    with torch.no_grad():
        torch.testing.assert_close(graph_module(traced.x), traced.expected)


def test_feature_extractor_train_graph_gives_the_eager_training_output(traced):
    model = traced.model
    with training(model):
        expected = seeded(model, traced.x)
        got = seeded(traced.extractor.train(), traced.x)["out"]
    torch.testing.assert_close(got, expected)
    assert got.requires_grad


def test_eager_input_checks_still_raise_once_the_model_was_traced(traced):
    model = traced.model
    fx.symbolic_trace(model)
    x = traced.x
    with pytest.raises(cnnzoo.InputShapeError, match="channel"):
        model(torch.randn(2, model.in_chans + 1, *x.shape[2:]))
    with pytest.raises(cnnzoo.InputShapeError, match="unsqueeze"):
        model(x[0])
    if model.min_input_size > 1:
        side = model.min_input_size - 1
        with pytest.raises(cnnzoo.InputShapeError, match="at least"):
            model(torch.randn(2, model.in_chans, side, side))


@pytest.mark.parametrize("name", ["googlenet", "googlenet_2014"])
def test_googlenet_with_auxiliary_classifiers_traces_in_train_and_eval_mode(name):
    torch.manual_seed(0)
    model = cnnzoo.create(name, aux_logits=True)
    x = small_input(model)
    extractor = create_feature_extractor(model, train_return_nodes={"fc": "logits", "aux1.fc2": "aux1", "aux2.fc2": "aux2"},
                                         eval_return_nodes={"fc": "logits"})
    model.train()
    expected = seeded(model, x)
    assert isinstance(expected, GoogLeNetOutputs)
    got = seeded(extractor.train(), x)
    torch.testing.assert_close((got["logits"], got["aux2"], got["aux1"]), tuple(expected))
    graph_output = seeded(fx.symbolic_trace(model), x)
    assert isinstance(graph_output, GoogLeNetOutputs)
    torch.testing.assert_close(tuple(graph_output), tuple(expected))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(extractor.eval()(x)["logits"], model(x))


def test_googlenet_2014_still_checks_the_auxiliary_minimum_in_eager_training_after_tracing():
    model = cnnzoo.create("googlenet_2014", aux_logits=True).train()
    fx.symbolic_trace(model)
    side = model.min_aux_input_size - 1
    with pytest.raises(cnnzoo.InputShapeError, match="auxiliary"):
        model(torch.randn(2, 3, side, side))


def test_memory_efficient_densenet_traces_the_plain_path_with_the_same_training_output():
    torch.manual_seed(0)
    model = cnnzoo.create("cifar_densenet_bc100", memory_efficient=True)
    x = small_input(model)
    graph_module = fx.symbolic_trace(model.train())
    assert not any(node.op == "call_function" and "dense_block" in str(node.target) for node in graph_module.graph.nodes)
    torch.testing.assert_close(seeded(graph_module, x), seeded(model, x))
