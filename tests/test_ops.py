"""The LRN operator: equal to PyTorch's, one op to the compiler, and keeping only its input for backward."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

import cnnzoo
from cnnzoo.layers import LocalResponseNorm
from cnnzoo.ops import local_response_norm

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _lrn_calls(gm: torch.fx.GraphModule) -> int:
    # Dynamo records the op packet, AOT graphs its overload: either is the one fused op
    lrn = (torch.ops.cnnzoo.lrn, torch.ops.cnnzoo.lrn.default)
    return sum(node.op == "call_function" and node.target in lrn for node in gm.graph.nodes)


def _grads(fn, x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.detach().clone().requires_grad_()
    y = fn(leaf)
    y.backward(grad)
    return y.detach(), leaf.grad


def _both(x: torch.Tensor, size: int, alpha: float, beta: float, k: float, grad: torch.Tensor | None = None):
    grad = torch.randn_like(x) if grad is None else grad
    ours = _grads(lambda t: local_response_norm(t, size, alpha, beta, k), x, grad)
    theirs = _grads(lambda t: F.local_response_norm(t, size, alpha, beta, k), x, grad)
    return ours, theirs


# -- equal to torch.nn.functional.local_response_norm -------------------------------------------------

shapes = st.integers(min_value=3, max_value=5).flatmap(
    lambda dims: st.tuples(*[st.integers(1, 3)] + [st.integers(1, 12)] + [st.integers(1, 5)] * (dims - 2))
)


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    size=st.integers(1, 9),
    alpha=st.floats(1e-5, 1.0),
    beta=st.floats(0.05, 2.0),
    k=st.floats(0.5, 3.0),
    channels_last=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_forward_and_gradient_equal_pytorchs_for_any_shape_size_and_parameters(shape, size, alpha, beta, k, channels_last, seed):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 3
    if channels_last and x.dim() == 4:
        x = x.to(memory_format=torch.channels_last)
    (y, dx), (y_ref, dx_ref) = _both(x, size, alpha, beta, k)
    assert_close(y, y_ref)
    assert_close(dx, dx_ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("size", [2, 4, 6])
def test_even_windows_reach_further_back_than_forward_as_pytorchs_do(size):
    # channel c sums c - size // 2 ... c + (size - 1) // 2, so the first and last channels see different counts
    x = torch.ones(1, 8, 1, 1, dtype=torch.float64)
    y = local_response_norm(x, size, alpha=float(size), beta=1.0, k=0.0)
    counts = [min(7, c + (size - 1) // 2) - max(0, c - size // 2) + 1 for c in range(8)]
    assert counts[0] != counts[-1]
    assert_close(y.flatten(), 1.0 / torch.tensor(counts, dtype=torch.float64))
    assert_close(y, F.local_response_norm(x, size, float(size), 1.0, 0.0))


@pytest.mark.parametrize("size", [17, 40])
def test_windows_wider_than_sixteen_take_the_cumulative_sum_path_and_agree(size):
    x = torch.randn(2, 64, 3, 3, dtype=torch.float64)
    (y, dx), (y_ref, dx_ref) = _both(x, size, 1e-2, 0.75, 1.0)
    assert_close(y, y_ref)
    assert_close(dx, dx_ref)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_accumulates_in_float32(dtype, layout):
    x = (torch.randn(2, 16, 6, 6) * 4).to(dtype).contiguous(memory_format=LAYOUTS[layout])
    y = local_response_norm(x, 5, 1e-2, 0.75, 2.0)
    assert y.dtype == dtype and y.is_contiguous(memory_format=LAYOUTS[layout])
    # the float32 answer for the same (rounded) input, rounded once at the end
    expected = F.local_response_norm(x.float(), 5, 1e-2, 0.75, 2.0).to(dtype)
    assert_close(y, expected, atol=0, rtol=0) if dtype == torch.float16 else assert_close(y, expected)
    grad = torch.randn_like(x)
    (_, dx), (_, dx_ref) = _grads(lambda t: local_response_norm(t, 5, 1e-2, 0.75, 2.0), x, grad), _grads(
        lambda t: F.local_response_norm(t.float(), 5, 1e-2, 0.75, 2.0), x.float(), grad.float()
    )
    assert dx.dtype == dtype
    assert_close(dx.float(), dx_ref, atol=2e-2, rtol=2e-2)


def test_channels_last_in_channels_last_out_for_both_directions():
    x = torch.randn(2, 8, 5, 5).to(memory_format=torch.channels_last).requires_grad_()
    y = local_response_norm(x, 3)
    y.backward(torch.randn(2, 8, 5, 5))
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    assert x.grad.is_contiguous(memory_format=torch.channels_last)


def test_paper_scale_follows_krizhevskys_equation_written_out():
    a = torch.rand(2, 10, 4, 4, dtype=torch.float64) * 5
    n, alpha, beta, k = 5, 1e-3, 0.75, 2.0
    expected = torch.empty_like(a)
    channels = a.shape[1]
    for i in range(channels):
        low, high = max(0, i - n // 2), min(channels - 1, i + n // 2)
        expected[:, i] = a[:, i] / (k + alpha * (a[:, low : high + 1] ** 2).sum(1)) ** beta
    assert_close(local_response_norm(a, n, alpha, beta, k, scale="paper"), expected)


def test_empty_batches_pass_through():
    x = torch.randn(0, 4, 3, 3, requires_grad=True)
    y = local_response_norm(x, 3)
    y.sum().backward()
    assert y.shape == x.shape and x.grad.shape == x.shape


# -- the op as torch sees it ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.randn(2, 6, 4, 4, requires_grad=True),
        lambda: torch.randn(2, 6, 4, 4, dtype=torch.float64, requires_grad=True),
        lambda: torch.randn(2, 6, 4, 4).to(memory_format=torch.channels_last).requires_grad_(),
        lambda: torch.randn(3, 5, 7),
    ],
    ids=["float32", "float64", "channels_last", "3d-no-grad"],
)
@pytest.mark.parametrize("size", [3, 4])
def test_opcheck_passes_schema_fake_autograd_and_aot_dispatch(make, size):
    torch.library.opcheck(torch.ops.cnnzoo.lrn.default, (make(), size, 1e-2, 0.75, 2.0))


@pytest.mark.parametrize(("shape", "size"), [((2, 5, 3, 3), 3), ((2, 6, 4), 4), ((1, 4, 2, 2, 3), 2), ((2, 3, 3, 3), 7)])
def test_gradcheck_in_float64(shape, size):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: local_response_norm(t, size, 0.5, 0.75, 1.0), (x,))


def _saved_bytes(fn, x: torch.Tensor) -> int:
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values())


def test_backward_keeps_exactly_the_input_where_pytorch_keeps_four_times_it():
    # x is produced by an op (as in a network), so saving it costs what it would cost there
    x = torch.randn(4, 96, 27, 27, requires_grad=True) * 1
    ours = _saved_bytes(lambda t: local_response_norm(t, 5, 1e-4, 0.75, 2.0), x)
    theirs = _saved_bytes(lambda t: F.local_response_norm(t, 5, 1e-4, 0.75, 2.0), x)
    input_bytes = x.numel() * x.element_size()
    assert ours == input_bytes
    assert theirs >= 4 * input_bytes


def test_torch_compile_sees_one_op_and_no_graph_break():
    graphs = []

    def record(gm: torch.fx.GraphModule, example_inputs):
        graphs.append(gm)
        return gm.forward

    module = torch.nn.Sequential(torch.nn.ReLU(), LocalResponseNorm(5, k=2.0, scale="paper"), torch.nn.MaxPool2d(3, 2))
    compiled = torch.compile(module, backend=record, fullgraph=True)
    x = torch.randn(2, 16, 9, 9)
    assert_close(compiled(x), module(x))
    assert len(graphs) == 1 and _lrn_calls(graphs[0]) == 1


@pytest.mark.slow
def test_torch_compile_with_inductor_on_the_cpu_runs_forward_and_backward():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), LocalResponseNorm(5, k=2.0), torch.nn.ReLU())
    compiled = torch.compile(module, fullgraph=True, dynamic=False)
    x = torch.randn(2, 3, 12, 12)
    y = compiled(x)
    y.sum().backward()
    grads = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    y_eager = module(x)
    y_eager.sum().backward()
    assert_close(y, y_eager)
    for grad, param in zip(grads, module.parameters()):
        assert_close(grad, param.grad)


def test_torch_export_keeps_the_op_in_the_graph():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), LocalResponseNorm(3))
    exported = torch.export.export(module, (torch.randn(2, 3, 10, 10),))
    assert _lrn_calls(exported.graph_module) == 1
    x = torch.randn(2, 3, 10, 10)
    assert_close(exported.module()(x), module(x))


def test_alexnet_2012_runs_the_op():
    model = cnnzoo.create("alexnet_2012", num_classes=3)
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch.compile(model.features, backend=record, fullgraph=True)(torch.randn(1, 3, 67, 67))
    assert len(graphs) == 1 and _lrn_calls(graphs[0]) == 2


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"size": 0}, "size"),
        ({"size": 2.5}, "size"),
        ({"size": True}, "size"),
        ({"size": 3, "alpha": math.nan}, "alpha"),
        ({"size": 3, "beta": math.inf}, "beta"),
        ({"size": 3, "k": -math.inf}, "k"),
        ({"size": 3, "scale": "caffe"}, "scale"),
    ],
)
def test_bad_parameters_raise_value_errors_naming_them(kwargs, named):
    with pytest.raises(ValueError, match=named):
        local_response_norm(torch.randn(1, 4, 3, 3), **kwargs)
    with pytest.raises(ValueError, match=named):
        LocalResponseNorm(**kwargs)


@pytest.mark.parametrize("shape", [(4,), (2, 4)])
def test_inputs_of_fewer_than_three_dimensions_are_refused_with_the_fix(shape):
    with pytest.raises(ValueError, match=r"3 or more dimensions.*unsqueeze"):
        local_response_norm(torch.randn(shape), 3)


def test_integer_inputs_are_refused():
    with pytest.raises(ValueError, match="floating-point"):
        local_response_norm(torch.ones(1, 4, 2, 2, dtype=torch.int64), 3)


def test_the_op_itself_checks_its_arguments():
    with pytest.raises(ValueError, match="size"):
        torch.ops.cnnzoo.lrn(torch.randn(1, 4, 3, 3), 0, 1e-4, 0.75, 1.0)


# -- the CUDA kernels ------------------------------------------------------------------------------------


TRITON_CHECK = textwrap.dedent(
    """
    import torch, torch.nn.functional as F
    from cnnzoo.ops import _lrn_triton as kernels
    from torch.testing import assert_close
    torch.manual_seed(0)
    cases = [((2, 7, 5, 6), torch.contiguous_format, torch.float32, 5), ((2, 6, 3, 4), torch.channels_last, torch.float32, 4),
             ((2, 5, 9), torch.contiguous_format, torch.float16, 3), ((1, 3, 2, 3, 4), torch.channels_last_3d, torch.bfloat16, 2)]
    for shape, fmt, dtype, size in cases:
        x = (torch.randn(shape) * 3).to(dtype).contiguous(memory_format=fmt)
        g = torch.randn(shape).to(dtype)
        leaf = x.float().requires_grad_()
        expected = F.local_response_norm(leaf, size, 0.1, 0.75, 2.0)
        expected.backward(g.float())
        y = kernels.forward(x, size, 0.1, 0.75, 2.0, fmt)
        dx = kernels.backward(g, x, size, 0.1, 0.75, 2.0, fmt)
        assert y.dtype == dtype and dx.dtype == dtype and y.is_contiguous(memory_format=fmt)
        tol = {} if dtype == torch.float32 else {"atol": 2e-2, "rtol": 2e-2}
        assert_close(y.float(), expected.detach(), **tol)
        assert_close(dx.float(), leaf.grad, **tol)
    print("triton kernels ok")
    """
)


@pytest.mark.slow
def test_triton_kernels_agree_with_pytorch_under_the_triton_interpreter():
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-c", TRITON_CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "triton kernels ok" in result.stdout


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("size", [4, 5])
def test_cuda_kernels_equal_pytorchs(dtype, layout, size):
    x = (torch.randn(4, 96, 27, 27, device="cuda") * 3).to(dtype).contiguous(memory_format=LAYOUTS[layout])
    grad = torch.randn_like(x)
    (y, dx) = _grads(lambda t: local_response_norm(t, size, 1e-4, 0.75, 2.0), x, grad)
    (y_ref, dx_ref) = _grads(lambda t: F.local_response_norm(t.float(), size, 1e-4, 0.75, 2.0), x, grad.float()) if dtype in (
        torch.bfloat16,
        torch.float16,
    ) else _grads(lambda t: F.local_response_norm(t, size, 1e-4, 0.75, 2.0), x, grad)
    tol = {"atol": 2e-2, "rtol": 2e-2} if dtype in (torch.bfloat16, torch.float16) else {}
    assert y.dtype == dtype and y.is_contiguous(memory_format=LAYOUTS[layout])
    assert_close(y.float(), y_ref.float(), **tol)
    assert_close(dx.float(), dx_ref.float(), **tol)


@CUDA
@pytest.mark.cuda
def test_cuda_opcheck_and_saved_memory():
    x = torch.randn(2, 16, 8, 8, device="cuda", requires_grad=True)
    torch.library.opcheck(torch.ops.cnnzoo.lrn.default, (x, 5, 1e-4, 0.75, 2.0))
    assert _saved_bytes(lambda t: local_response_norm(t, 5, 1e-4, 0.75, 2.0), x) == x.numel() * 4
