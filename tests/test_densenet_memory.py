"""The memory-efficient DenseNet (``memory_efficient=True``): the plain network's numbers, a fraction of its memory.

Equivalence is checked in float64, where the only differences left are the order of floating-point sums:
outputs, every parameter's gradient, the input gradient and the BatchNorm running statistics after one
training step. The memory saving is checked deterministically on the bytes autograd saves for backward,
and once on the resident memory of a real training step in a fresh process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.models.densenet import CifarDenseNet, DenseBlock
from conftest import tiered

DENSENETS = cnnzoo.list_models(["densenet*", "cifar_densenet*"])
# Each costs seconds in float64 on two cores: the fast tier takes the CIFAR network (see conftest.tiered).
# ImageNet networks at 64x64: at 32x32 their last maps are 1x1, BatchNorm normalises two values per channel,
# and rounding differences of 1e-16 grow to 1e-4 through the depth (for either implementation)
SIDE = 64


def pair(name: str, **kwargs) -> tuple[nn.Module, nn.Module]:
    """(plain, memory-efficient) ``name`` in float64 and training mode, with the same weights."""
    torch.manual_seed(0)
    plain = cnnzoo.create(name, **kwargs).double().train()
    efficient = cnnzoo.create(name, memory_efficient=True, **kwargs).double().train()
    efficient.load_state_dict(plain.state_dict())
    return plain, efficient


def small_pair(**kwargs) -> tuple[nn.Module, nn.Module]:
    """(plain, memory-efficient) DenseNet-BC-40 for CIFAR (6 layers per block), float64, training mode."""
    torch.manual_seed(0)
    plain = CifarDenseNet(40, **kwargs).double().train()
    efficient = CifarDenseNet(40, memory_efficient=True, **kwargs).double().train()
    efficient.load_state_dict(plain.state_dict())
    return plain, efficient


def train_step(model: nn.Module, x: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Output, input gradient and parameter gradients of one step with a fixed, non-trivial loss."""
    x = x.detach().clone().requires_grad_()
    torch.manual_seed(seed)
    out = model(x)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    return out.detach(), x.grad, {n: p.grad for n, p in model.named_parameters()}


def assert_same_step(plain: nn.Module, efficient: nn.Module, x: torch.Tensor, seed: int = 0) -> None:
    out_p, grad_p, params_p = train_step(plain, x, seed)
    out_e, grad_e, params_e = train_step(efficient, x, seed)
    torch.testing.assert_close(out_e, out_p, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(grad_e, grad_p, rtol=1e-7, atol=1e-9 * grad_p.abs().max().item())
    assert [n for n, g in params_e.items() if g is None] == [n for n, g in params_p.items() if g is None]
    for name, grad in params_p.items():
        if grad is not None:
            torch.testing.assert_close(params_e[name], grad, rtol=1e-7, atol=1e-9 * grad.abs().max().item(), msg=name)
    buffers_p, buffers_e = dict(plain.named_buffers()), dict(efficient.named_buffers())
    for name, buffer in buffers_p.items():
        # updated exactly once: num_batches_tracked equal, running statistics equal to rounding
        scale = max(1.0, buffer.abs().max().item())
        torch.testing.assert_close(buffers_e[name], buffer, rtol=1e-8, atol=1e-10 * scale, msg=name)


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward, parameters and the input excluded."""
    exclude = {p.untyped_storage().data_ptr() for p in model.parameters()} | {x.untyped_storage().data_ptr()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in exclude:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = model(x)
    del out
    return sum(storages.values())


# -- the same network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", tiered(DENSENETS))
def test_memory_efficient_densenet_gives_the_plain_outputs_gradients_and_statistics(name):
    plain, efficient = pair(name)
    assert list(efficient.state_dict()) == list(plain.state_dict())
    assert sum(p.numel() for p in efficient.parameters()) == sum(p.numel() for p in plain.parameters())
    x = torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64)
    assert_same_step(plain, efficient, x)


def test_memory_efficient_densenet_with_dropout_draws_the_same_masks():
    plain, efficient = small_pair(drop_rate=0.2)
    assert_same_step(plain, efficient, torch.randn(2, 3, 32, 32, dtype=torch.float64), seed=3)


def test_memory_efficient_densenet_updates_cumulative_batchnorm_statistics_once():
    plain, efficient = small_pair()
    for model in (plain, efficient):
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = None  # the cumulative average reads num_batches_tracked
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert_same_step(plain, efficient, x)
    assert_same_step(plain, efficient, x + 1)  # a second step: the average over two batches
    assert int(efficient.features.denseblock2.denselayer4.norm1.num_batches_tracked) == 2
    assert int(efficient.features.transition2.norm.num_batches_tracked) == 2


@pytest.mark.slow  # DenseNet-121 in float64, twice
def test_memory_efficient_densenet_takes_channels_last_input():
    plain, efficient = pair("densenet121")
    plain, efficient = plain.to(memory_format=torch.channels_last), efficient.to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64).to(memory_format=torch.channels_last)
    assert_same_step(plain, efficient, x)


def test_memory_efficient_densenet_with_frozen_backbone_holds_its_batchnorm_statistics():
    plain, efficient = pair("densenet121")
    for model in (plain, efficient):
        cnnzoo.freeze_backbone(model)
    before = {k: v.clone() for k, v in efficient.state_dict().items()}
    assert_same_step(plain, efficient, torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64))
    trained = [n for n, p in efficient.named_parameters() if p.grad is not None]
    assert trained == ["classifier.weight", "classifier.bias"]
    after = efficient.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items() if "classifier" not in k)


def test_memory_efficient_densenet_with_some_layers_frozen_or_in_eval_mode():
    # the fused pass itself, not the plain fallback: no hooks, one BatchNorm in eval mode, one layer frozen
    plain, efficient = pair("densenet121")
    for model in (plain, efficient):
        model.features.denseblock2.denselayer3.norm1.eval()
        model.features.transition1.norm.eval()
        for parameter in model.features.denseblock2.denselayer5.parameters():
            parameter.requires_grad_(False)
        model.features.conv0.weight.requires_grad_(False)
    assert_same_step(plain, efficient, torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64))
    assert efficient.features.denseblock2.denselayer5.conv1.weight.grad is None


def test_memory_efficient_densenet_runs_forward_hooks_inside_a_block():
    plain, efficient = small_pair()
    calls = []
    efficient.features.denseblock2.denselayer5.register_forward_hook(lambda *_: calls.append(1))
    assert_same_step(plain, efficient, torch.randn(2, 3, 32, 32, dtype=torch.float64))
    assert calls == [1]


@pytest.mark.slow  # DenseNet-121 in float64, twice
def test_memory_efficient_densenet_backbone_gives_the_plain_feature_maps_and_gradients():
    # features_only taps the end of each stage with hooks: those modules run as themselves, the rest fused
    maps, grads = [], []
    x = torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64)
    for memory_efficient in (False, True):
        torch.manual_seed(0)
        backbone = cnnzoo.create("densenet121", features_only=True, memory_efficient=memory_efficient).double()
        outputs = backbone.train()(x)
        sum((o * o).sum() for o in outputs).backward()
        maps.append([o.detach() for o in outputs])
        grads.append([p.grad for p in backbone.parameters() if p.grad is not None])
    for efficient, plain in zip(maps[1], maps[0], strict=True):
        torch.testing.assert_close(efficient, plain, rtol=1e-9, atol=1e-10)
    for efficient, plain in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(efficient, plain, rtol=1e-7, atol=1e-9 * plain.abs().max().item())


@pytest.mark.parametrize("mode", ["eval", "no_grad"])
def test_memory_efficient_densenet_runs_the_plain_code_at_inference(mode):
    plain, efficient = pair("densenet121")
    x = torch.randn(2, 3, SIDE, SIDE, dtype=torch.float64)
    if mode == "eval":
        plain.eval(), efficient.eval()
    with torch.no_grad():
        # bitwise equal: the same kernels in the same order (in no_grad, batch statistics and all)
        assert torch.equal(efficient(x), plain(x))
    assert all(torch.equal(a, b) for a, b in zip(efficient.buffers(), plain.buffers()))


def test_memory_efficient_block_output_comes_from_the_fused_function_only_when_training_with_gradients():
    block = CifarDenseNet(40, memory_efficient=True).train().features.denseblock1
    x = torch.randn(2, 24, 8, 8, requires_grad=True)
    assert type(block(x).grad_fn).__name__ == "_DenseBlockFunctionBackward"
    with torch.no_grad():
        assert block(x).grad_fn is None
    assert type(block.eval()(x).grad_fn).__name__ == "CatBackward0"


def test_set_grad_checkpointing_switches_densenet_to_the_memory_efficient_path():
    model = cnnzoo.create("cifar_densenet_bc100").train()
    x = torch.randn(2, 3, 32, 32)
    blocks = [m for m in model.modules() if isinstance(m, DenseBlock)]
    model.set_grad_checkpointing()
    assert model.grad_checkpointing and all(block.memory_efficient for block in blocks)
    assert saved_bytes(model, x) * 3 < saved_bytes(cnnzoo.create("cifar_densenet_bc100").train(), x)
    model.set_grad_checkpointing(False)
    assert not any(block.memory_efficient for block in blocks)
    # built memory-efficient, it stays so
    built = cnnzoo.create("cifar_densenet_bc100", memory_efficient=True)
    built.set_grad_checkpointing(False)
    assert all(m.memory_efficient for m in built.modules() if isinstance(m, DenseBlock))


def test_memory_efficient_densenet_under_cpu_autocast_is_as_close_to_float64_as_the_plain_one():
    plain, efficient = small_pair()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    _, reference, _ = train_step(plain, x)
    plain.float(), efficient.float()
    errors = {}
    for name, model in (("plain", plain), ("efficient", efficient)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, grad, params = train_step(model, x.float())
        assert out.dtype == torch.bfloat16
        assert all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in params.values())
        errors[name] = ((grad.double() - reference).norm() / reference.norm()).item()
    assert errors["efficient"] < 2 * errors["plain"] + 0.05, errors


# -- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DENSENETS)
def test_memory_efficient_reaches_every_densenet_builder_and_is_recorded(name):
    with torch.device("meta"):
        model = cnnzoo.create(name, memory_efficient=True)
    assert model.memory_efficient
    assert all(m.memory_efficient for m in model.modules() if isinstance(m, DenseBlock))
    assert model.model_args == {"memory_efficient": True}


def test_saved_memory_efficient_densenet_is_rebuilt_memory_efficient(tmp_path):
    model = cnnzoo.create("cifar_densenet_bc100", memory_efficient=True)
    cnnzoo.save_pretrained(model, tmp_path / "saved")
    rebuilt = cnnzoo.create(tmp_path / "saved")
    assert rebuilt.memory_efficient
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), model.state_dict().values()))


# -- memory ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,side", [("densenet121", 64), ("cifar_densenet_bc100", 32)])
def test_memory_efficient_densenet_saves_a_third_or_less_of_the_bytes_for_backward(name, side):
    torch.manual_seed(0)
    x = torch.randn(2, 3, side, side)
    plain = saved_bytes(cnnzoo.create(name).train(), x)
    efficient = saved_bytes(cnnzoo.create(name, memory_efficient=True).train(), x)
    assert plain >= 3 * efficient, (plain, efficient)


def test_saved_bytes_grow_quadratically_with_depth_when_plain_and_linearly_when_memory_efficient():
    # DenseNet-BC for CIFAR with 8 and 16 layers per block: twice the layers
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    growth = {}
    for efficient in (False, True):
        shallow, deep = (saved_bytes(CifarDenseNet(depth, memory_efficient=efficient).train(), x)
                         for depth in (52, 100))
        growth[efficient] = deep / shallow
    assert growth[False] > 2.8  # toward 4: the concatenations grow with depth and there are twice as many
    assert growth[True] < 2.2  # toward 2: each layer keeps a constant amount


_RSS_SCRIPT = textwrap.dedent("""
    import gc, json, sys, torch, cnnzoo
    torch.set_num_threads(1)
    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
    model = cnnzoo.create("cifar_densenet_bc100", memory_efficient=sys.argv[1] == "1").train()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    def step():
        torch.nn.functional.cross_entropy(model(x), y).backward()
    step()
    model.zero_grad(set_to_none=True)
    gc.collect()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    print(json.dumps((status("VmHWM") - before) / 2**20))
""")


@pytest.mark.slow  # two fresh processes, each importing torch
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
def test_memory_efficient_densenet_training_step_peaks_at_a_third_of_the_resident_memory():
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}
    peaks = [json.loads(subprocess.run([sys.executable, "-c", _RSS_SCRIPT, flag], env=env, capture_output=True,
                                       text=True, check=True).stdout) for flag in ("0", "1")]
    assert peaks[0] >= 3 * peaks[1], peaks


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_memory_efficient_densenet_on_cuda_matches_plain_at_a_third_of_the_peak_memory():
    device = torch.device("cuda")
    torch.manual_seed(0)
    plain = cnnzoo.create("densenet121").to(device).train()
    efficient = cnnzoo.create("densenet121", memory_efficient=True).to(device).train()
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(16, 3, 224, 224, device=device)
    peaks, results = [], []
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # the two would round differently
    try:
        _cuda_steps(plain, efficient, x, peaks, results)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    assert peaks[0] >= 3 * peaks[1], peaks
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-3, atol=1e-4 * results[0][1].abs().max().item())


def _cuda_steps(plain: nn.Module, efficient: nn.Module, x: torch.Tensor, peaks: list, results: list) -> None:
    for model in (plain, efficient):
        model(x).sum().backward()  # warm-up
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = model(x)
        out.sum().backward()
        torch.cuda.synchronize()
        peaks.append(torch.cuda.max_memory_allocated() - before)
        results.append((out.detach(), model.features.conv0.weight.grad.clone()))


@pytest.mark.slow  # three processes importing torch, and the timed steps: about 20 s on two cores
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
def test_benchmark_script_writes_results_table_and_plot(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "densenet_memory.py"
    output = tmp_path / "densenet_memory.json"
    subprocess.run([sys.executable, str(script), "--device", "cpu", "--depths", "121", "--batch-sizes", "2",
                    "--input-size", "32", "--repeats", "1", "--threads", "1", "--json", str(output)],
                   check=True, capture_output=True, text=True)
    results = json.loads(output.read_text())["results"]
    assert [r["variant"] for r in results] == ["plain", "cnnzoo", "torchvision"]
    assert all(r["peak_mib"] > 0 and r["time_s"] > 0 for r in results)
    assert results[0]["memory_ratio"] == 1.0
    assert "| 121 | 2 | cnnzoo |" in output.with_suffix(".md").read_text()
    if importlib.util.find_spec("matplotlib") is not None:
        assert output.with_suffix(".png").stat().st_size > 0
