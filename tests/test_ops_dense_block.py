"""The memory-efficient dense block operator (cnnzoo.ops.dense_block): the plain modules' numbers, its own
float32 accuracy against float64, and its fallback where PyTorch's private functions changed.

Equivalence with the plain modules is checked in float64, where only the order of sums differs. Accuracy is
measured against a float64 reference, for the operator and for the plain modules alike: the operator must be
no further from it than 1.2 times the plain modules' distance.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import cnnzoo
from cnnzoo.ops import dense_block as op
from cnnzoo.ops.dense_block import DenseLayerParts, Tail, dense_block

# the operator may be as far from float64 as the plain modules, times this
ACCURACY_RATIO = 1.2


def make_layers(in_channels: int, growth_rate: int, num_layers: int, drop_rate: float = 0.0,
                dtype: torch.dtype = torch.float64) -> list[DenseLayerParts]:
    """Bottleneck dense layers (4k-wide 1x1) with random BatchNorm affine parameters."""
    layers = []
    for i in range(num_layers):
        channels = in_channels + i * growth_rate
        norm1, norm2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(4 * growth_rate)
        for norm in (norm1, norm2):
            nn.init.uniform_(norm.weight, 0.5, 1.5)
            nn.init.uniform_(norm.bias, -0.5, 0.5)
        conv1 = nn.Conv2d(channels, 4 * growth_rate, 1, bias=False)
        conv2 = nn.Conv2d(4 * growth_rate, growth_rate, 3, padding=1, bias=False)
        layers.append(DenseLayerParts(*(m.to(dtype).train() for m in (norm1, conv1, norm2, conv2)), drop_rate))
    return layers


def make_tail(kind: str, channels: int, dtype: torch.dtype = torch.float64) -> Tail:
    norm = nn.BatchNorm2d(channels).to(dtype)
    if kind == "transition":
        return Tail(norm, nn.Conv2d(channels, channels // 2, 1, bias=False).to(dtype), nn.AvgPool2d(2, 2))
    if kind == "stem":
        return Tail(norm, None, nn.MaxPool2d(3, 2, 1))
    return Tail(norm)


def modules_of(layers, tail) -> list[nn.Module]:
    return [m for layer in layers for m in layer[:4]] + ([m for m in tail if m is not None] if tail else [])


def plain_forward(x: torch.Tensor, layers, tail) -> torch.Tensor:
    """The modules themselves: the concatenation each layer reads, and the tail on the last one."""
    features = [x]
    for layer in layers:
        out = layer.conv1(F.relu(layer.norm1(torch.cat(features, 1))))
        out = layer.conv2(F.relu(layer.norm2(out)))
        features.append(F.dropout(out, layer.drop_rate, training=True) if layer.drop_rate else out)
    out = torch.cat(features, 1)
    if tail is not None:
        out = tail.norm(out)
        if tail.relu:
            out = F.relu(out)
        if tail.conv is not None:
            out = tail.conv(out)
        if tail.pool is not None:
            out = tail.pool(out)
    return out


def step(run, x: torch.Tensor, modules: list[nn.Module], seed: int = 0):
    """Output, input gradient, parameter gradients and buffers after one step of a fixed, non-trivial loss."""
    for module in modules:
        module.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    torch.manual_seed(seed)
    out = run(x)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    params = [p.grad for m in modules for p in m.parameters(recurse=False)]
    buffers = [b.clone() for m in modules for b in m.buffers(recurse=False)]
    return out.detach(), x.grad, params, buffers


def assert_same_step(layers, tail, x, seed=0):
    modules = modules_of(layers, tail)
    state = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
    expected = step(lambda t: plain_forward(t, layers, tail), x, modules, seed)
    for module, saved in zip(modules, state):
        module.load_state_dict(saved)
    got = step(lambda t: dense_block(t, layers, tail, replaces=modules), x, modules, seed)
    for name, a, b in zip(("output", "input gradient"), got[:2], expected[:2]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10 * max(1.0, b.abs().max().item()), msg=name)
    assert [g is None for g in got[2]] == [g is None for g in expected[2]]
    for a, b in zip(got[2] + got[3], expected[2] + expected[3], strict=True):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10 * max(1.0, b.abs().max().item()))


def relative_error(grads: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    got = torch.cat([g.double().flatten() for g in grads])
    want = torch.cat([g.flatten() for g in reference])
    return ((got - want).norm() / want.norm()).item()


def float32_errors(model_f64: nn.Module, efficient_f64: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Relative L2 error of all float32 parameter gradients together, plain and memory-efficient, against the
    float64 gradients, for ``y.square().sum()`` in training mode."""
    state = {k: v.clone() for k, v in model_f64.state_dict().items()}
    model_f64(x.double()).square().sum().backward()
    reference = [p.grad for p in model_f64.parameters()]
    errors = {}
    for name, model in (("plain", model_f64), ("memory_efficient", efficient_f64)):
        model = model.float()
        model.load_state_dict(state)
        model.zero_grad(set_to_none=True)
        model(x.float()).square().sum().backward()
        errors[name] = relative_error([p.grad for p in model.parameters()], reference)
    return errors


def normalisation_matches_aten() -> bool:
    """Whether the operator's BatchNorm arithmetic reproduces ATen's float32 CPU kernel on this machine."""
    x = torch.randn(2, 8, 9, 9) * 3 + 5
    weight, bias = torch.randn(8), torch.randn(8)
    out, mean, invstd = torch.native_batch_norm(x, weight, bias, None, None, True, 0.1, 1e-5)
    return torch.equal(op._normalize(x, mean, invstd, weight, bias), out)


# -- the plain modules' numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("tail_kind", [None, "norm", "transition"])
def test_dense_block_gives_the_plain_modules_outputs_gradients_and_statistics(tail_kind):
    layers = make_layers(6, 4, 3)
    tail = make_tail(tail_kind, 6 + 3 * 4) if tail_kind else None
    assert_same_step(layers, tail, torch.randn(2, 6, 6, 6, dtype=torch.float64))


@pytest.mark.parametrize("kind", ["stem", "transition", "norm"])
def test_a_tail_alone_keeps_only_its_input_and_gives_the_plain_numbers(kind):
    tail = make_tail(kind, 6)
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    assert_same_step([], tail, x)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        dense_block(x.requires_grad_(), [], tail, replaces=modules_of([], tail))
    params = {p.data_ptr() for m in modules_of([], tail) for p in m.parameters()}
    maps = [t for t in saved if t.dim() == 4 and t.data_ptr() not in params]
    assert len(maps) == 1 and maps[0] is x  # no other map-sized tensor


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 3), in_channels=st.integers(1, 6), growth_rate=st.integers(1, 4),
       num_layers=st.integers(1, 3), side=st.integers(2, 6), drop_rate=st.sampled_from([0.0, 0.3]),
       channels_last=st.booleans(), seed=st.integers(0, 2**16))
def test_dense_block_matches_the_plain_modules_for_any_shape(batch, in_channels, growth_rate, num_layers, side,
                                                            drop_rate, channels_last, seed):
    torch.manual_seed(seed)
    layers = make_layers(in_channels, growth_rate, num_layers, drop_rate)
    x = torch.randn(batch, in_channels, side, side, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert_same_step(layers, make_tail("norm", in_channels + num_layers * growth_rate), x, seed)


def test_layers_in_eval_mode_frozen_or_with_their_own_eps_and_cumulative_momentum():
    layers = make_layers(5, 3, 3)
    layers[1].norm1.eval()  # normalises with running statistics inside a training block
    layers[2].norm1.eps = 1e-3  # a different eps than the one the block's statistics were computed with
    layers[0].norm2.momentum = None  # the cumulative average
    for p in layers[2].conv2.parameters():
        p.requires_grad_(False)
    assert_same_step(layers, make_tail("transition", 5 + 3 * 3), torch.randn(3, 5, 6, 6, dtype=torch.float64))


def test_running_statistics_are_updated_once_per_forward_pass():
    layers = make_layers(4, 2, 2)
    tail = make_tail("norm", 8)
    dense_block(torch.randn(2, 4, 5, 5, requires_grad=True, dtype=torch.float64), layers, tail,
                replaces=modules_of(layers, tail)).sum().backward()
    assert all(int(m.num_batches_tracked) == 1 for m in modules_of(layers, tail) if isinstance(m, nn.BatchNorm2d))


def test_float32_on_the_cpu_reproduces_the_plain_modules_bit_for_bit():
    if not normalisation_matches_aten():
        pytest.skip("ATen's BatchNorm arithmetic on this CPU differs from addcmul's (fused multiply-add or not)")
    torch.manual_seed(0)
    layers = make_layers(8, 4, 4, dtype=torch.float32)
    tail = make_tail("transition", 24, dtype=torch.float32)
    modules = modules_of(layers, tail)
    x = torch.randn(2, 8, 12, 12).relu() + 1  # a large mean, where BatchNorm's arithmetic matters most
    state = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
    expected = step(lambda t: plain_forward(t, layers, tail), x, modules)
    for module, saved in zip(modules, state):
        module.load_state_dict(saved)
    got = step(lambda t: dense_block(t, layers, tail, replaces=modules), x, modules)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert all(torch.equal(a, b) for a, b in zip(got[2], expected[2], strict=True))


# -- float32 accuracy against float64 ------------------------------------------------------------------------


def test_float32_gradients_of_a_small_densenet_are_as_close_to_float64_as_the_plain_ones():
    torch.manual_seed(0)
    kwargs = {"growth_rate": 8, "stem_channels": 16, "num_classes": 10}
    plain = cnnzoo.models.DenseNet((3, 4), **kwargs).double().train()
    efficient = cnnzoo.models.DenseNet((3, 4), memory_efficient=True, **kwargs).double().train()
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    errors = float32_errors(plain, efficient, x)
    assert errors["memory_efficient"] <= ACCURACY_RATIO * errors["plain"], errors


@pytest.mark.slow  # DenseNet-121 at 224x224 in float64 and twice in float32: about 20 s on two cores
def test_float32_gradients_of_densenet121_at_224_are_as_close_to_float64_as_the_plain_ones():
    # the measurement of issue 16: batch 2, training mode, loss y.square().sum(), seed 0 before the models and input
    torch.manual_seed(0)
    plain = cnnzoo.create("densenet121").train()
    efficient = cnnzoo.create("densenet121", memory_efficient=True).train()
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 224, 224)
    errors = float32_errors(plain.double(), efficient.double(), x)
    assert errors["memory_efficient"] <= ACCURACY_RATIO * errors["plain"], errors


# -- where it stands aside ----------------------------------------------------------------------------------


def test_dense_block_returns_none_where_it_would_skip_a_hook_or_gradients_are_not_wanted():
    layers = make_layers(4, 2, 2)
    modules = modules_of(layers, None)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        assert dense_block(x, layers, replaces=modules) is None
    handle = layers[1].conv1.register_forward_hook(lambda *_: None)
    assert dense_block(x, layers, replaces=modules) is None
    handle.remove()
    assert dense_block(x, layers, replaces=modules) is not None
    assert dense_block(x, layers, replaces=[*modules, nn.GELU()]) is None  # a module it does not know
    assert dense_block(x[:1, :, :1, :1], layers, replaces=modules) is None  # one value per channel


def test_dense_block_needs_a_layer_or_a_tail():
    with pytest.raises(ValueError, match="at least one layer or a tail"):
        dense_block(torch.randn(2, 3, 4, 4), [], None, replaces=[])


def test_private_pytorch_functions_are_all_there_in_this_pytorch():
    assert op._private_api_problems() == []


def test_a_missing_or_changed_private_function_is_named(monkeypatch):
    signatures = {**op._ATEN_SIGNATURES, "no_such_op.default": ("input",)}
    signatures["native_batch_norm_backward.default"] = ("grad_out", "input")
    monkeypatch.setattr(op, "_ATEN_SIGNATURES", signatures)
    problems = op._private_api_problems()
    assert any("no_such_op.default is missing" in p for p in problems)
    assert any(p.startswith("torch.ops.aten.native_batch_norm_backward.default takes (grad_out, input, weight")
               for p in problems)


@pytest.fixture
def missing_private_function(monkeypatch):
    """PyTorch as if it lacked one of the operator's private functions, detected afresh."""
    monkeypatch.setattr(op, "_private_api_problems",
                        lambda: ["torch.ops.aten.native_batch_norm_backward.default is missing"])
    op.fused_available.cache_clear()
    yield
    op.fused_available.cache_clear()


def test_without_its_private_functions_densenet_checkpoints_with_one_warning_and_the_plain_numbers(
        missing_private_function):
    torch.manual_seed(0)
    kwargs = {"growth_rate": 8, "stem_channels": 16, "num_classes": 10, "drop_rate": 0.2}
    plain = cnnzoo.models.DenseNet((3, 4), **kwargs).double().train()
    efficient = cnnzoo.models.DenseNet((3, 4), memory_efficient=True, **kwargs).double().train()
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [step(model, x, list(model.modules()), seed=3) for model in (plain, efficient, efficient)]
        block = efficient.features.denseblock1
        grad_fn = block(torch.randn(2, 16, 8, 8, dtype=torch.float64, requires_grad=True)).grad_fn
    fallbacks = [w for w in caught if "fall back to gradient checkpointing" in str(w.message)]
    assert len(fallbacks) == 1 and fallbacks[0].category is RuntimeWarning
    assert "native_batch_norm_backward" in str(fallbacks[0].message)
    assert type(grad_fn).__name__ == "CatBackward0"  # the layers ran as themselves, checkpointed
    (out_p, grad_p, params_p, buffers_p), (out_e, grad_e, params_e, buffers_e) = results[0], results[1]
    torch.testing.assert_close(out_e, out_p, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(grad_e, grad_p, rtol=1e-7, atol=1e-9 * grad_p.abs().max().item())
    for a, b in zip(params_e + buffers_e, params_p + buffers_p, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9 * max(1.0, b.abs().max().item()))


def test_without_its_private_functions_densenet_still_saves_less_for_backward(missing_private_function):
    def saved_bytes(model: nn.Module) -> int:
        storages: dict[int, int] = {}

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model(torch.randn(2, 3, 32, 32))
        return sum(storages.values())

    with pytest.warns(RuntimeWarning, match="gradient checkpointing"):
        efficient = saved_bytes(cnnzoo.create("cifar_densenet_bc100", memory_efficient=True).train())
    assert 2 * efficient < saved_bytes(cnnzoo.create("cifar_densenet_bc100").train())
