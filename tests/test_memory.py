"""Memory estimation: the estimate's parts, budgets, the largest batch, the command, and the real thing."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.errors import CnnzooValueError, InputShapeError, UnknownModelError
from cnnzoo.memory import (
    RUNTIME_OVERHEAD,
    MemoryEstimate,
    estimate_memory,
    format_bytes,
    max_batch_size,
    measure_step_peak,
    measure_step_peak_in_subprocess,
    parse_bytes,
)
from conftest import smallest_of_each_family

MiB = 2**20

# What one forward + loss + backward step at batch 8 adds to the resident memory of a process started
# with MEASUREMENT_ENV (torchvision's models, PyTorch 2.14, the figures), in MiB.
MEASURED_CPU_STEP = {"alexnet": 289, "resnet18": 223, "resnet50": 732, "densenet121": 1026}


def _step_need(estimate: MemoryEstimate) -> int:
    """What the step adds on top of the weights and optimizer state (the issue's accuracy criterion)."""
    return estimate.total - estimate.params - estimate.optimizer_state


def _compared(name: str, estimate: int, measured: int) -> str:
    return f"{name}: estimated {estimate / MiB:.0f} MiB, measured {measured / MiB:.0f} MiB"


# -- the estimate ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet18", "alexnet"])
def test_estimate_fields_add_up_to_the_total(name):
    estimate = estimate_memory(name, 2, optimizer="adam")
    working = max(estimate.activations, estimate.optimizer_temporaries)
    assert estimate.total == (estimate.params + estimate.buffers + estimate.grads + estimate.optimizer_state
                              + working + estimate.inputs + estimate.overhead)
    assert min(estimate.params, estimate.grads, estimate.optimizer_state, estimate.activations, estimate.inputs) > 0
    assert estimate.overhead == RUNTIME_OVERHEAD


def test_adam_temporaries_outweigh_alexnets_activations_at_a_small_batch():
    # Adam's update of the 9216x4096 fc6 weight holds sqrt(v) and sqrt(v)/c: two 144 MiB temporaries (and
    # the previous parameter's denominator, until the loop rebinds it)
    estimate = estimate_memory("alexnet", 2, optimizer="adam")
    assert estimate.optimizer_temporaries == pytest.approx(2 * 9216 * 4096 * 4, abs=MiB)
    assert estimate.optimizer_temporaries > estimate.activations


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_params_bytes_are_the_parameter_count_times_the_element_size(dtype):
    estimate = estimate_memory("resnet18", 1, dtype=dtype, optimizer="sgd")
    count = cnnzoo.model_info("resnet18").parameters
    assert estimate.params == count * dtype.itemsize
    assert estimate.grads == estimate.params  # every parameter trains
    assert estimate.optimizer_state == estimate.params  # SGD's momentum: one state per parameter
    assert estimate.inputs == 3 * 224 * 224 * dtype.itemsize + 8  # the image and its int64 target


def test_adam_keeps_two_states_and_no_optimizer_none():
    adam = estimate_memory("resnet18", 1, optimizer="adam")
    assert adam.optimizer_state == 2 * adam.params
    none = estimate_memory("resnet18", 1, optimizer=None)
    assert none.optimizer_state == none.optimizer_temporaries == 0
    plain_sgd = estimate_memory("resnet18", 1, optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    assert plain_sgd.optimizer_state == 0 and plain_sgd.optimizer == "sgd"


def test_activations_grow_linearly_with_the_batch():
    sizes = (2, 4, 8)
    estimates = [estimate_memory("resnet18", n, optimizer=None) for n in sizes]
    activations = [e.activations for e in estimates]
    first, second = activations[1] - activations[0], activations[2] - activations[1]
    # the peak is the highest of lines in the batch size, so it bends upwards where another line takes over
    assert 2 * first <= second <= 1.05 * 2 * first
    assert [e.inputs for e in estimates] == [n * estimates[0].inputs // 2 for n in sizes]
    assert len({(e.params, e.grads, e.buffers) for e in estimates}) == 1


def test_frozen_backbone_needs_gradients_and_state_only_for_the_head():
    trainable = cnnzoo.create("resnet18", num_classes=5)
    frozen = cnnzoo.freeze_backbone(cnnzoo.create("resnet18", num_classes=5))
    full, head = estimate_memory(trainable, 8), estimate_memory(frozen, 8)
    head_bytes = (512 * 5 + 5) * 4
    assert head.params == full.params
    assert head.grads == head_bytes
    assert head.optimizer_state == 2 * head_bytes
    # no layer before the head needs its input for a weight gradient: nothing is saved for backward
    assert head.activations < full.activations / 3


def test_estimate_leaves_a_model_object_as_it_was():
    model = cnnzoo.create("resnet18", num_classes=3).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    estimate = estimate_memory(model, 4, optimizer=None)
    assert not model.training and not any(m.training for m in model.modules())
    assert all(p.device.type == "cpu" and p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert estimate.total == estimate_memory("resnet18", 4, optimizer=None, num_classes=3).total
    assert estimate.model == "resnet18"


def test_inference_keeps_no_gradients_and_needs_less():
    training = estimate_memory("resnet18", 4, optimizer=None)
    inference = estimate_memory("resnet18", 4, training=False)
    assert inference.grads == inference.optimizer_state == 0
    assert inference.activations < training.activations / 2
    assert inference.inputs == 4 * 3 * 224 * 224 * 4  # no targets
    assert "inference" in str(inference) and "gradients" not in str(inference)


def test_input_size_and_model_arguments_are_honoured():
    small = estimate_memory("alexnet", 4, input_size=(1, 112, 112), in_chans=1)
    assert small.input_size == (1, 112, 112)
    assert small.activations < estimate_memory("alexnet", 4).activations / 3
    assert estimate_memory("alexnet", 4, input_size=112, in_chans=1).total == small.total
    assert estimate_memory("alexnet", 4, num_classes=10).params < estimate_memory("alexnet", 4).params
    tagged = estimate_memory("alexnet.tv_in1k", 1)  # the architecture only: nothing is downloaded
    assert tagged.params == estimate_memory("alexnet", 1).params


def test_a_half_precision_estimate_is_about_half():
    single = estimate_memory("resnet18", 8, optimizer=None)
    half = estimate_memory("resnet18", 8, optimizer=None, dtype="bfloat16")
    assert half.params * 2 == single.params
    # max-pool indices stay int64 and BatchNorm keeps float32 statistics for half-precision maps
    assert single.activations / 2 < half.activations < 1.1 * single.activations / 2


def test_str_shows_every_part_in_readable_units():
    text = str(estimate_memory("resnet18", 8, optimizer="sgd"))
    assert text.startswith("resnet18: batch 8 of 3x224x224, float32, training with sgd")
    for label in ("parameters", "gradients", "optimizer state", "activations", "input batch", "total"):
        assert label in text
    assert "44.6 MiB" in text and "11,689,512" in text


def test_fits_compares_with_a_budget():
    estimate = estimate_memory("alexnet", 8)
    assert estimate.fits(estimate.total) and estimate.fits("2GiB")
    assert not estimate.fits(estimate.total - 1)


@pytest.mark.parametrize("name", smallest_of_each_family())
def test_every_family_can_be_estimated(name):
    estimate = estimate_memory(name, 1, optimizer=None)
    assert estimate.grads == estimate.params > 0
    assert estimate.activations > estimate.inputs > 0


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("call", "error", "hint"),
    [
        (lambda: estimate_memory("resnet18", 0), CnnzooValueError, "batch_size"),
        (lambda: estimate_memory("resnet18", 1, optimizer="lion"), CnnzooValueError, "functools.partial"),
        (lambda: estimate_memory("resnet18", 1, dtype=torch.int8), CnnzooValueError, "torch.bfloat16"),
        (lambda: estimate_memory("resnet18", 1, input_size=(3, 224)), CnnzooValueError, "(C, H, W)"),
        (lambda: estimate_memory("alexnet", 1, input_size=(3, 32, 32)), InputShapeError, "at least 63x63"),
        (lambda: estimate_memory(cnnzoo.create("lenet5"), 1, num_classes=3), CnnzooValueError, "by name"),
        (lambda: estimate_memory(torch.nn.Linear(4, 2), 1), CnnzooValueError, "input_size=(C, H, W)"),
        (lambda: estimate_memory("resnet05", 1), UnknownModelError, "resnet50"),
    ],
)
def test_bad_arguments_raise_with_the_fix(call, error, hint):
    with pytest.raises(error, match=None) as caught:
        call()
    assert hint in str(caught.value)


def test_a_model_without_a_default_input_takes_input_size():
    estimate = estimate_memory(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)), 4, input_size=(3, 2, 2))
    assert estimate.params == (12 * 2 + 2) * 4 and estimate.model == "Sequential"


# -- budgets -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GiB", 2 * 2**30), ("512MiB", 512 * 2**20), ("2GB", 2 * 10**9), ("1.5 GiB", 3 * 2**29), ("1024", 1024),
     (4096, 4096), ("2g", 2 * 2**30), ("100 kb", 100_000), ("8 KiB", 8192), (" 3TiB ", 3 * 2**40), ("1e3", 1000)],
)
def test_parse_bytes_reads_binary_and_decimal_units(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    "bad", ["2x", "", "GiB", "-1GiB", "two GiB", "1.2.3MiB", "0", 0, -5, True, 1.5, None, "nan GiB"])
def test_parse_bytes_refuses_what_it_cannot_read(bad):
    with pytest.raises(CnnzooValueError, match="2GiB"):
        parse_bytes(bad)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["B", "KiB", "MiB", "GiB", "kB", "MB", "GB", "TB"]),
       st.sampled_from(["", " "]))
@settings(max_examples=60, deadline=None)
def test_parse_bytes_of_a_whole_number_of_units_is_exact(count, unit, space):
    multiplier = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    assert parse_bytes(f"{count}{space}{unit}") == count * multiplier[unit]
    assert parse_bytes(f"{count}{unit}".upper()) == count * multiplier[unit]


@given(st.integers(min_value=1, max_value=2**50))
@settings(max_examples=100, deadline=None)
def test_format_bytes_reads_back_within_its_precision(size):
    # one decimal of KiB or MiB (1.3 KiB for 1338 bytes), two of GiB
    assert parse_bytes(format_bytes(size)) == pytest.approx(size, rel=0.05)


# -- the largest batch ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "budget", "options"), [
    ("resnet18", "1GiB", {"optimizer": None}),
    ("alexnet", "1.5GiB", {"optimizer": "adam"}),
    ("lenet5", "64MiB", {"training": False}),
])
def test_max_batch_size_is_the_last_batch_that_fits(model, budget, options):
    largest = max_batch_size(model, budget, **options)
    assert estimate_memory(model, largest, **options).fits(budget)
    assert not estimate_memory(model, largest + 1, **options).fits(budget)


def test_max_batch_size_bisects_when_the_traces_do_not_line_up(monkeypatch):
    import cnnzoo.memory as memory

    expected = max_batch_size("alexnet", "1.5GiB")
    trace_step = memory._trace_step

    def uneven(subject, batch_size, training, make_optimizer):
        step = trace_step(subject, batch_size, training, make_optimizer)
        return memory.dataclasses.replace(step, trace=step.trace + (0,) * batch_size)

    monkeypatch.setattr(memory, "_trace_step", uneven)
    assert max_batch_size("alexnet", "1.5GiB") == expected


def test_max_batch_size_of_a_frozen_model_is_larger():
    model = cnnzoo.create("alexnet", num_classes=5)
    trainable = max_batch_size(model, "1GiB", optimizer="sgd")
    assert max_batch_size(cnnzoo.freeze_backbone(model), "1GiB", optimizer="sgd") > 4 * trainable


def test_a_budget_batch_one_exceeds_says_what_one_needs_and_what_helps():
    with pytest.raises(CnnzooValueError) as caught:
        max_batch_size("alexnet", "600MiB")
    message = str(caught.value)
    assert "batch size 1" in message and "1.22 GiB" in message and "600.0 MiB" in message
    assert "freeze_backbone" in message and "bfloat16" in message and "optimizer='sgd'" in message


def test_a_model_that_can_recompute_is_told_so():
    with pytest.raises(CnnzooValueError, match="memory_efficient=True"):
        max_batch_size("densenet121", "50MiB", optimizer=None)


def test_max_batch_size_refuses_an_unreadable_budget():
    with pytest.raises(CnnzooValueError, match="Cannot read '2 gigs'"):
        max_batch_size("resnet18", "2 gigs")


# -- the command ---------------------------------------------------------------------------------------

def test_memory_command_prints_the_breakdown_and_the_largest_batch(capsys):
    assert main(["memory", "alexnet", "--batch-size", "16", "--budget", "2GiB", "--optimizer", "sgd"]) == 0
    out = capsys.readouterr().out
    assert "alexnet: batch 16 of 3x224x224, float32, training with sgd" in out
    assert "batch 16 fits" in out
    largest = max_batch_size("alexnet", "2GiB", optimizer="sgd")
    assert f"Largest batch within 2.00 GiB: {largest}" in out


def test_memory_command_without_batch_size_estimates_the_largest(capsys):
    assert main(["memory", "lenet5", "--budget", "64MiB", "--inference", "--dtype", "bfloat16"]) == 0
    out = capsys.readouterr().out
    largest = max_batch_size("lenet5", "64MiB", training=False, dtype=torch.bfloat16)
    assert f"lenet5: batch {largest} of 1x32x32, bfloat16, inference" in out


def test_memory_command_exits_1_when_the_batch_does_not_fit(capsys):
    assert main(["memory", "alexnet", "--batch-size", "4096", "--budget", "1GiB", "--input-size", "1", "64", "64",
                 "--num-classes", "10", "--optimizer", "none"]) == 1
    out = capsys.readouterr().out
    assert "does not fit" in out and "1x64x64" in out


@pytest.mark.parametrize(("argv", "hint"), [
    (["--budget", "lots"], "Cannot read 'lots'"),
    (["--budget", "300MiB"], "batch size 1"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
])
def test_memory_command_reports_bad_input(capsys, argv, hint):
    assert main(["memory", "alexnet", *argv]) == 2
    assert hint in capsys.readouterr().err


# -- against the real thing ----------------------------------------------------------------------------

def test_measure_step_peak_restores_the_model_and_returns_bytes():
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs")
    model = cnnzoo.create("lenet5").eval()
    peak = measure_step_peak(model, 4)
    assert isinstance(peak, int) and peak >= 0
    assert not model.training and all(p.grad is not None for p in model.parameters())


@pytest.fixture(scope="module", autouse=True)
def measured_cpu_steps(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[int]]]:
    """One fresh process per model measuring a step at batch 8, started with the module's first test.

    The processes run beside the module's other tests, two at a time with one thread each: two threads
    each on two cores would spin against each other for a third more CPU time, and one thread measures
    only a few MiB less (AlexNet: 285 MiB instead of 292).
    """
    wanted = any(item.name.startswith(test_estimate_is_within_a_quarter_of_a_measured_cpu_step.__name__)
                 for item in request.session.items)
    if not wanted or not os.path.exists("/proc/self/clear_refs"):
        yield {}
        return
    measure = functools.partial(measure_step_peak_in_subprocess, batch_size=8, threads=1)
    pool = ThreadPoolExecutor(max_workers=2)
    # the longest first, so that the two workers finish together
    names = sorted(MEASURED_CPU_STEP, key=MEASURED_CPU_STEP.get, reverse=True)
    yield {name: pool.submit(measure, name) for name in names}
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow  # a real step of each model, in processes started with the module (DenseNet-121: 20 s)
@pytest.mark.parametrize("name", sorted(MEASURED_CPU_STEP))
def test_estimate_is_within_a_quarter_of_a_measured_cpu_step(name, measured_cpu_steps):
    if not measured_cpu_steps:
        pytest.skip("needs Linux's /proc/self/clear_refs")
    estimate = _step_need(estimate_memory(name, 8, optimizer=None))
    measured = measured_cpu_steps[name].result()
    assert measured == pytest.approx(MEASURED_CPU_STEP[name] * MiB, rel=0.25)  # it measures what the issue did
    assert estimate == pytest.approx(measured, rel=0.25), _compared(name, estimate, measured)


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(MEASURED_CPU_STEP))
def test_estimate_is_within_a_quarter_of_a_measured_cuda_step(name):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = cnnzoo.create(name).cuda()
    measured = measure_step_peak(model, 8)
    estimate = _step_need(estimate_memory(name, 8, optimizer=None))
    assert estimate == pytest.approx(measured, rel=0.25), _compared(name, estimate, measured)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "vgg11"])
def test_activations_are_no_larger_than_torchvision_s_for_the_same_architecture(name, training):
    # the estimator follows every tensor an operator creates, so it sees a map a block keeps alive longer
    # than needed (ResNet blocks once kept one more 56x56 map at inference than torchvision's)
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        ours, theirs = cnnzoo.create(name), torchvision.models.get_model(name)
    size = (3, 224, 224)
    mine = estimate_memory(ours, 8, input_size=size, training=training).activations
    reference = estimate_memory(theirs, 8, input_size=size, training=training).activations
    assert mine <= reference, f"{name}: {mine / MiB:.1f} MiB of activations against torchvision's {reference / MiB:.1f}"


def test_live_bytes_counts_tensors_while_they_live():
    # the tracker behind the estimator and benchmarks/throughput.py's CPU memory column, on real tensors
    from cnnzoo.memory import _LiveBytes

    tracker = _LiveBytes(resident=[])
    with tracker:
        a = torch.zeros(1000)
        b = a * 2
        a.add_(1)  # in place: no new storage
        del a
        c = b.view(10, 100) + 1
    assert tracker.peak == 8000 and tracker.live == 8000
    tracker.close()
    del b, c
