"""cnnzoo networks run unchanged on PyTorch's engines (issue 9): DistributedDataParallel and FSDP2 over
gloo, ``torch.export``, ``torch.compile``, channels-last memory and autocast, and a batch of one.

Everything here runs on this machine's CPUs; the CUDA variants are marked ``cuda`` and skipped without a
GPU. The distributed tests start two processes with ``torch.multiprocessing.spawn`` that meet through a
file in ``tmp_path`` and talk over gloo on the loopback interface only (the test process itself never
opens a socket: conftest.py forbids it, and spawned children start without that patch). Each family is
represented by its smallest registered network, as in test_transfer.py.
"""

from __future__ import annotations

import copy
import datetime
import functools
import itertools
import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

import cnnzoo
from cnnzoo.layers import LocalResponseNorm
from conftest import FAST_MODELS, make_flower_photos, smallest_of_each_family, tiered


FAMILIES = smallest_of_each_family()  # alexnet_2012 and googlenet_2014 among them: the LRN op is in every family test
ALL_MODELS = cnnzoo.list_models()
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _side(model: nn.Module) -> int:
    """A cheap valid side: the designed size of the 32x32 networks, else >= 32 (as test_models.py)."""
    designed = model.default_cfg["input_size"][1]
    return designed if designed <= 64 else max(model.min_input_size, 32)


def _images(model: nn.Module, batch: int = 2, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    side = _side(model)
    return torch.randn(batch, model.in_chans, side, side, dtype=dtype)


def _relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """||actual - expected|| / ||expected||: scale-free, as untrained logits range from 1e-11 (GoogLeNet) to 1e1."""
    return ((actual.float() - expected.float()).norm() / expected.float().norm()).item()


def _assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-4) -> None:
    """Equal up to float32 reordering: tolerance relative to the largest entry, whatever the scale."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * scale)


# -- DistributedDataParallel and FSDP2 over gloo ---------------------------------------------------
#
# Two processes each take half of a batch of eight; DDP averages their gradients, which is the gradient
# of the mean loss over all eight -- provided no image's loss depends on another image. BatchNorm in
# training mode breaks that: each process normalises its half with that half's statistics
# (SyncBatchNorm would share them, but it runs only on GPUs). So the exact comparisons are
#   - eval mode (BatchNorm uses its running statistics): one process, the whole batch in one forward;
#   - train mode: one process running each half as its own forward, the two losses averaged.
# cifar_resnet20 has BatchNorm after every convolution; float64 makes the comparison all but exact.

DISTRIBUTED_MODEL = "cifar_resnet20"
WORLD_SIZE = 2


def _distributed_worker(rank: int, world_size: int, folder: str) -> None:
    """One rank: the case's model under DDP (eval, then train mode) and under FSDP2; saves its gradients."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback only, whatever the host name resolves to
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=120))
    try:
        case = torch.load(f"{folder}/case.pt")
        images, labels = case["images"].chunk(world_size)[rank], case["labels"].chunk(world_size)[rank]
        model = cnnzoo.create(DISTRIBUTED_MODEL, num_classes=3).double()
        model.load_state_dict(case["state"])
        ddp = nn.parallel.DistributedDataParallel(model)
        result: dict[str, object] = {}
        for mode in ("eval", "train"):  # eval first: a train forward would move the running statistics
            ddp.train(mode == "train")
            ddp.zero_grad()
            F.cross_entropy(ddp(images), labels).backward()
            result[f"ddp_{mode}"] = {n: p.grad.clone() for n, p in model.named_parameters()}
        try:
            from torch.distributed.fsdp import fully_shard

            sharded = cnnzoo.create(DISTRIBUTED_MODEL, num_classes=3).double()
            sharded.load_state_dict(case["state"])
            for modules in sharded.stages.values():  # one FSDP unit per stage, then the rest at the root
                for module in modules:
                    fully_shard(module)
            fully_shard(sharded)
            F.cross_entropy(sharded.train()(images), labels).backward()
            # each rank holds a shard of every gradient (a DTensor); full_tensor() gathers it
            result["fsdp_train"] = {n: p.grad.full_tensor() for n, p in sharded.named_parameters()}
            result["fsdp_sharded"] = all(type(p).__name__ == "DTensor" for p in sharded.parameters())
        except (ImportError, NotImplementedError) as error:
            result["fsdp_unsupported"] = f"{type(error).__name__}: {error}"
        except RuntimeError as error:
            if not any(word in str(error).lower() for word in ("gloo", "cpu", "not supported")):
                raise
            result["fsdp_unsupported"] = "".join(traceback.format_exception_only(error)).strip()
        torch.save(result, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both ranks' results and the one-process reference gradients for the same model and batch."""
    folder = tmp_path_factory.mktemp("distributed")
    torch.manual_seed(0)
    model = cnnzoo.create(DISTRIBUTED_MODEL, num_classes=3).double()
    images = torch.randn(8, 3, 32, 32, dtype=torch.float64)
    labels = torch.randint(0, 3, (8,))
    torch.save({"state": model.state_dict(), "images": images, "labels": labels}, folder / "case.pt")
    mp.spawn(_distributed_worker, args=(WORLD_SIZE, str(folder)), nprocs=WORLD_SIZE, join=True)

    reference = {}
    model.eval().zero_grad()
    F.cross_entropy(model(images), labels).backward()
    reference["eval"] = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.train().zero_grad()
    halves = zip(images.chunk(WORLD_SIZE), labels.chunk(WORLD_SIZE))
    (sum(F.cross_entropy(model(x), y) for x, y in halves) / WORLD_SIZE).backward()
    reference["train"] = {n: p.grad.clone() for n, p in model.named_parameters()}
    ranks = [torch.load(folder / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    return {"reference": reference, "ranks": ranks}


def _assert_same_gradients(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-9, atol=1e-12, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.slow  # two fresh processes importing torch: 10-20 s for the three tests together
@pytest.mark.parametrize("rank", range(WORLD_SIZE))
def test_ddp_on_two_processes_gives_the_gradients_of_one_process_on_the_whole_batch(distributed, rank):
    _assert_same_gradients(distributed["ranks"][rank]["ddp_eval"], distributed["reference"]["eval"])


@pytest.mark.slow
@pytest.mark.parametrize("rank", range(WORLD_SIZE))
def test_ddp_in_train_mode_gives_the_gradients_of_one_process_running_each_half_alone(distributed, rank):
    ranks, reference = distributed["ranks"], distributed["reference"]
    _assert_same_gradients(ranks[rank]["ddp_train"], reference["train"])
    # and the halves' BatchNorm statistics matter: without them the reference would be the eval one
    assert not torch.allclose(reference["train"]["conv1.weight"], reference["eval"]["conv1.weight"])


@pytest.mark.slow
@pytest.mark.parametrize("rank", range(WORLD_SIZE))
def test_fsdp2_fully_shard_gives_the_gradients_of_one_process(distributed, rank):
    result = distributed["ranks"][rank]
    if "fsdp_unsupported" in result:
        pytest.skip(f"FSDP2 (fully_shard) does not run on the CPU with gloo in torch {torch.__version__}: "
                    f"{result['fsdp_unsupported']}")
    assert result["fsdp_sharded"], "fully_shard should have turned every parameter into a DTensor shard"
    _assert_same_gradients(result["fsdp_train"], distributed["reference"]["train"])


# -- the page's torchrun script, run as the page says ---------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _torchrun_script(page: Path) -> str:
    """The python code block of ``page`` that joins a process group: the one a ``.. no-test:`` comment naming
    torchrun keeps from the docs tests, dedented."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if line.strip() != ".. code-block:: python":
            continue
        body = list(itertools.takewhile(lambda text: not text or text.startswith(" "), lines[index + 1:]))
        before = next((text for text in reversed(lines[:index]) if text.strip()), "")
        blocks.append((textwrap.dedent("\n".join(body)).strip() + "\n", before))
    scripts = [(code, before) for code, before in blocks if "init_process_group" in code]
    assert len(scripts) == 1, f"{page.name} should hold one script that joins a process group, has {len(scripts)}"
    code, before = scripts[0]
    assert before.startswith(".. no-test:") and "torchrun" in before, f"the comment before the script: {before!r}"
    return code


@pytest.mark.slow  # two processes fine-tuning ResNet-50's head on the processor: about a minute on two cores
def test_the_distributed_page_s_train_ddp_script_trains_on_two_processes_and_saves_the_model(
        tmp_path, publish_weights):
    script = _torchrun_script(DOCS / "distributed.rst")
    # the page's script takes no arguments: it reads ./flower_photos and loads resnet50's default weights,
    # with batches of 32 per process and the last incomplete one dropped; 13 images of each of the five
    # classes make one batch a process per epoch
    assert '"flower_photos"' in script and '"resnet50"' in script and "batch_size=32" in script
    (tmp_path / "train_ddp.py").write_text(script, encoding="utf-8")
    make_flower_photos(tmp_path / "flower_photos", images_per_class=13)
    publish_weights([f"resnet50.{cnnzoo.model_info('resnet50').default_tag}"])  # offline, in conftest's caches
    # the caches and offline switches conftest.py set in this process's environment, passed on explicitly;
    # on the processor even where a GPU is (one GPU cannot take two NCCL ranks)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "CNNZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.update({key: os.environ[key] for key in ("TORCH_HOME", "HF_HOME", "HF_HUB_OFFLINE")})
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the processes talk over loopback only
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", "train_ddp.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    # the first process alone prints each epoch and saves the network
    assert [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("epoch ")] == [
        f"epoch {n}" for n in range(1, 6)], result.stdout
    saved = tmp_path / "flowers-resnet50"
    assert {path.name for path in saved.iterdir()} >= {"config.json", "model.safetensors"}
    model = cnnzoo.create(saved).eval()
    assert model.num_classes == 5 and model.default_cfg["architecture"] == "resnet50"
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 5)


# -- torch.export ------------------------------------------------------------------------------------

# DenseNet-121 stands for its family as the memory-efficient variant: its eval forward is the plain code
EXPORT_CASES = [
    # the fast tier exports the cheap networks and the memory-efficient DenseNet (its own operator)
    case if case[0] in FAST_MODELS | {"densenet121"} else pytest.param(case, marks=pytest.mark.slow)
    for case in ((name, {"memory_efficient": True} if name == "densenet121" else {}) for name in FAMILIES)
]


def _case_id(case: tuple[str, dict]) -> str:
    name, kwargs = case
    return name + "".join(f"-{key}" for key in kwargs)


@pytest.mark.parametrize("case", EXPORT_CASES, ids=_case_id)
def test_export_captures_the_eval_forward_and_gives_the_eager_outputs(case, tmp_path):
    name, kwargs = case
    model = cnnzoo.create(name, **kwargs).eval()
    x = _images(model)
    program = torch.export.export(model, (x,))
    other = torch.randn_like(x)  # a second input: the program is a function, not a recording of x
    with torch.no_grad():
        _assert_close_to_scale(program.module()(x), model(x), rtol=1e-5)
        _assert_close_to_scale(program.module()(other), model(other), rtol=1e-5)
    if any(isinstance(module, LocalResponseNorm) for module in model.modules()):
        targets = [node.target for node in program.graph.nodes if node.op == "call_function"]
        assert torch.ops.cnnzoo.lrn.default in targets, "LRN should be captured as the one cnnzoo::lrn op"
        # and the op survives a round trip through a file (loading needs cnnzoo imported, as here)
        torch.export.save(program, tmp_path / "program.pt2")
        with torch.no_grad():
            _assert_close_to_scale(torch.export.load(tmp_path / "program.pt2").module()(x), model(x), rtol=1e-5)


@functools.cache
def _exported_batchnorm_trains() -> bool:
    """Whether a torch.export program of a BatchNorm in training mode runs backward (torch 2.4's does not)."""
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)).train()
    x = torch.randn(2, 1, 2, 2)
    try:
        torch.export.export(model, (x,)).module()(x).sum().backward()
    except RuntimeError:
        return False
    return True


def test_export_of_a_memory_efficient_densenet_in_training_gives_the_eager_outputs_and_gradients():
    if not _exported_batchnorm_trains():
        pytest.skip(f"torch {torch.__version__}'s torch.export makes programs of BatchNorm in training mode whose "
                    "backward fails (an in-place update of what the gradient needs)")
    # a small DenseNet (two blocks, a transition, the ImageNet stem) runs the code of DenseNet-121 in
    # seconds: tracing costs per operation, and DenseNet-121's training graph takes half a minute
    torch.manual_seed(0)
    model = cnnzoo.models.DenseNet((2, 3), growth_rate=8, stem_channels=16, memory_efficient=True,
                                   num_classes=5).train()
    eager = copy.deepcopy(model)
    x = torch.randn(2, 3, 32, 32)
    exported = torch.export.export(model, (x,)).module()
    out, expected = exported(x), eager(x)
    torch.testing.assert_close(out, expected)
    out.logsumexp(1).sum().backward()
    expected.logsumexp(1).sum().backward()
    grads = dict(exported.named_parameters())
    for name, parameter in eager.named_parameters():
        torch.testing.assert_close(grads[name].grad, parameter.grad, rtol=1e-4, atol=1e-6, msg=name)


# -- torch.compile -----------------------------------------------------------------------------------

# Inductor (the default backend) generates C++ for every graph and builds it with the system compiler;
# from a cold cache on two cores that takes 4-80 s a model (LeNet-5 4 s, AlexNet 15 s, VGG-11 20 s, CIFAR
# ResNet-20 25 s, SE-ResNet-50 38 s, GoogLeNet 68 s, CIFAR DenseNet-BC-100 70 s, DenseNet-121 79 s), over
# eight minutes for every family. So Inductor compiles the seed architectures -- LeNet-5, both AlexNets
# (the paper's with the cnnzoo::lrn op), NiN, VGG, both GoogLeNets (the paper's with LRN and bias-ReLU
# convolutions), ResNet (the basic block with its zero-padded shortcut; the bottleneck with SE and a
# projection shortcut) and DenseNet (dense blocks, transitions) --
# and every block class of the package runs through it (test_inductor_families_run_every_block_class).
# The other networks (ResNet-18, ResNeXt, Wide ResNet, DenseNet-121: the same blocks in other widths and
# depths) compile with the "eager" backend: Dynamo still captures the whole forward as one graph
# (fullgraph=True fails on any graph break) and runs it.
INDUCTOR_MODELS = {"lenet5", "alexnet", "alexnet_2012", "nin", "vgg11", "googlenet", "googlenet_2014", "cifar_resnet20",
                   "seresnet50", "cifar_densenet_bc100"}
COMPILED = sorted(set(FAMILIES) | INDUCTOR_MODELS)


def _block_types(name: str) -> set[type]:
    """The cnnzoo classes a network is built of, below the network itself."""
    with torch.device("meta"):
        model = cnnzoo.create(name)
    return {type(module) for module in model.modules()
            if module is not model and type(module).__module__.startswith("cnnzoo.")}


def test_inductor_models_run_every_block_class():
    everything = set().union(*(_block_types(name) for name in ALL_MODELS))
    compiled = set().union(*(_block_types(name) for name in INDUCTOR_MODELS))
    assert everything - compiled == set(), "no Inductor-compiled model contains these: add one to INDUCTOR_MODELS"


@pytest.fixture(scope="module")
def inductor_cache(tmp_path_factory: pytest.TempPathFactory):
    """A cold Inductor cache of the test's own, as on a fresh CI machine, instead of the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
        yield


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPILED)
def test_torch_compile_captures_the_whole_forward_and_gives_the_eager_outputs(name, inductor_cache):
    """One model per family and the Inductor models under ``torch.compile(fullgraph=True)`` on the CPU, in eval mode.

    Timings on two cores: Inductor 4-80 s a model (INDUCTOR_MODELS), Dynamo alone 2-7 s.
    """
    torch._dynamo.reset()  # the families share ZooModel.forward's code object: start with no cached graphs
    model = cnnzoo.create(name).eval()
    x = _images(model)
    backend = "inductor" if name in INDUCTOR_MODELS else "eager"
    compiled = torch.compile(model, backend=backend, fullgraph=True)
    with torch.no_grad():
        expected = model(x)
        _assert_close_to_scale(compiled(x), expected)
        other = torch.randn_like(x)
        _assert_close_to_scale(compiled(other), model(other))  # a second input through the same graph


# -- channels_last, autocast and a batch of one --------------------------------------------------------


@pytest.mark.parametrize("name", tiered(ALL_MODELS))
def test_channels_last_gives_the_contiguous_outputs_on_a_batch_of_one_in_eval_mode(name):
    # every registered model, one image each: test_models.py runs a batch of one at the smallest input in
    # the default layout; this adds channels-last weights and input (ops that assume contiguous memory)
    model = cnnzoo.create(name).eval()
    x = _images(model, batch=1)
    with torch.no_grad():
        out = model(x)
        model.to(memory_format=torch.channels_last)
        out_channels_last = model(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == out_channels_last.shape == (1, model.num_classes)
    assert torch.isfinite(out).all()
    _assert_close_to_scale(out_channels_last, out)


def test_training_in_channels_last_gives_the_contiguous_gradients():
    # BatchNorm with batch statistics, residual sums and zero-padded shortcuts, in training mode. Networks
    # with max-pooling are left out: two nearly equal maxima (AlexNet-2012's bias of 1 makes its conv2 maps
    # all about 0.6) swap places under float32 rounding and send the gradient to the other one -- both are
    # right. The LRN op's channels-last gradient is checked on its own in test_ops.py; the DenseNets'
    # channels-last backward takes half a minute on two cores.
    model = cnnzoo.create("cifar_resnet20", num_classes=5).train()
    x = _images(model)
    model(x).logsumexp(1).sum().backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.to(memory_format=torch.channels_last)
    assert any(p.dim() == 4 and not p.is_contiguous() for p in model.parameters()), "weights now channels-last"
    model(x.contiguous(memory_format=torch.channels_last)).logsumexp(1).sum().backward()
    for n, p in model.named_parameters():
        _assert_close_to_scale(p.grad, expected[n], rtol=1e-3)


# bfloat16 keeps 8 significant bits (relative rounding 2**-9, about 0.2% an operation); through these
# networks the logits move by 0.3-1% (measured: 1.03% at most, GoogLeNet). 3% leaves room for other
# kernels while still catching a layer that computes in bfloat16 what must accumulate in float32.
BF16_TOLERANCE = 3e-2


@pytest.mark.parametrize("name", tiered(FAMILIES))
def test_bfloat16_autocast_on_the_cpu_stays_close_to_float32(name):
    model = cnnzoo.create(name).eval()
    x = _images(model)
    with torch.no_grad():
        expected = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
    assert out.dtype == torch.bfloat16, "autocast should have run the classifier in bfloat16"
    assert torch.isfinite(out).all()
    assert _relative_error(out, expected) < BF16_TOLERANCE


# -- CUDA ----------------------------------------------------------------------------------------------


def _calibrate_batchnorm(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's running statistics to those of ``x``'s activations, as training leaves them.

    An untrained network normalises with mean 0 and variance 1, so nothing keeps its activations near 1:
    GoogLeNet's shrink tenfold an inception module, to logits near 1e-11 -- below float16's smallest
    number, which would make any float16 comparison meaningless. Trained statistics keep them near 1.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
    with torch.no_grad():
        model.train()(x)
    return model.eval()


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("name", FAMILIES)
def test_cuda_autocast_in_channels_last_stays_close_to_float32(name, dtype, monkeypatch):
    # float32 means float32 here: TF32 convolutions and matmuls would round the reference to 10 bits
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    model = cnnzoo.create(name).cuda()
    x = _images(model).cuda()
    _calibrate_batchnorm(model, x)
    with torch.no_grad():
        expected = model(x)
        model.to(memory_format=torch.channels_last)
        x_channels_last = x.contiguous(memory_format=torch.channels_last)
        _assert_close_to_scale(model(x_channels_last), expected, rtol=1e-3)  # other convolution algorithms
        with torch.autocast("cuda", dtype=dtype):
            out = model(x_channels_last)
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    assert _relative_error(out, expected) < BF16_TOLERANCE  # float16's 11 bits are finer than bfloat16's


@CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("name", FAMILIES)
def test_cuda_batch_of_one_in_eval_mode_gives_one_row_of_logits(name):
    model = cnnzoo.create(name).eval().cuda()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        out = model(_images(model, batch=1).cuda())
    assert out.shape == (1, model.num_classes) and torch.isfinite(out).all()
