"""Tests of cnnzoo.summary: the layer table, its parameter and trainable columns, FLOPs, and what it leaves alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnzoo

LENET5_PARAMS = 61_706


@pytest.fixture
def lenet5() -> nn.Module:
    return cnnzoo.create("lenet5")


def shapes_by_name(result: cnnzoo.ModelSummary) -> dict[str, tuple[int, ...]]:
    return {row.name: row.output_shape for row in result.rows}


# -- the table ------------------------------------------------------------------------------------------


def test_lenet5_rows_follow_paper_figure_2(lenet5: nn.Module) -> None:
    shapes = shapes_by_name(cnnzoo.summary(lenet5))
    assert shapes["features.c1"] == (1, 6, 28, 28)
    assert shapes["features.s2"] == (1, 6, 14, 14)
    assert shapes["features.c3"] == (1, 16, 10, 10)
    assert shapes["features.s4"] == (1, 16, 5, 5)
    assert shapes["features.c5"] == (1, 120, 1, 1)
    assert shapes["f6"] == (1, 84)
    assert shapes["output"] == (1, 10)


def test_lenet5_rows_are_in_execution_order(lenet5: nn.Module) -> None:
    names = [row.name for row in cnnzoo.summary(lenet5).rows]
    order = ["features.c1", "features.s2", "features.c3", "features.s4", "features.c5", "f6", "output"]
    assert [names.index(name) for name in order] == sorted(names.index(name) for name in order)


def test_lenet5_parameter_counts_sum_to_total(lenet5: nn.Module) -> None:
    result = cnnzoo.summary(lenet5)
    assert result.total_params == LENET5_PARAMS
    assert sum(row.parameters for row in result.rows) == LENET5_PARAMS
    by_name = {row.name: row.parameters for row in result.rows}
    # (5*5*in + 1) * out for the convolutions, (in + 1) * out for the linear layers
    assert by_name["features.c1"] == (25 * 1 + 1) * 6
    assert by_name["features.c3"] == (25 * 6 + 1) * 16
    assert by_name["features.c5"] == (25 * 16 + 1) * 120
    assert by_name["f6"] == (120 + 1) * 84
    assert by_name["output"] == (84 + 1) * 10


def test_summary_str_renders_table_header_and_totals(lenet5: nn.Module) -> None:
    text = str(cnnzoo.summary(lenet5))
    header = next(line for line in text.splitlines() if line.startswith("Layer"))
    assert "Output shape" in header and "Params" in header and "Trainable" in header
    assert "Total params: 61,706" in text
    assert "Trainable params: 61,706" in text
    assert "Frozen params: 0" in text
    assert "[1, 6, 28, 28]" in text
    assert "48,120" in text  # C5's parameters, with a thousands separator


# -- the trainable column -------------------------------------------------------------------------------


def test_trainable_column_reports_frozen_partly_frozen_and_parameter_free_rows(lenet5: nn.Module) -> None:
    for parameter in lenet5.features.c1.parameters():
        parameter.requires_grad_(False)
    lenet5.f6.weight.requires_grad_(False)
    result = cnnzoo.summary(lenet5)
    trainable = {row.name: row.trainable for row in result.rows}
    assert trainable["features.c1"] == "no"
    assert trainable["f6"] == "partly"
    assert trainable["features.c3"] == trainable["features.c5"] == trainable["output"] == "yes"
    assert trainable["features.act1"] == trainable["features.s2"] == trainable["pool"] == "-"
    frozen = (25 + 1) * 6 + 120 * 84
    assert result.frozen_params == frozen
    assert result.trainable_params == LENET5_PARAMS - frozen
    text = str(result)
    assert f"Trainable params: {LENET5_PARAMS - frozen:,}" in text
    assert f"Frozen params: {frozen:,}" in text


# -- what summary leaves alone ----------------------------------------------------------------------------


def test_summary_of_a_cpu_model_neither_moves_nor_changes_it() -> None:
    model = cnnzoo.create("cifar_resnet20").train()
    before = {name: (t.device, t.data_ptr(), t.clone()) for name, t in model.state_dict(keep_vars=True).items()}
    devices_seen: set[torch.device] = set()
    hook = model.conv1.register_forward_hook(lambda _m, _i, out: devices_seen.add(out.device))
    try:
        result = cnnzoo.summary(model)
    finally:
        hook.remove()
    assert result.total_params == sum(p.numel() for p in model.parameters())
    # the forward ran on meta tensors: no real activations were allocated
    assert devices_seen == {torch.device("meta")}
    after = model.state_dict(keep_vars=True)
    assert after.keys() == before.keys()
    for name, (device, pointer, value) in before.items():
        assert after[name].device == device == torch.device("cpu"), name
        assert after[name].data_ptr() == pointer, name
        # BatchNorm running statistics included: a train-mode pass must not update them
        assert torch.equal(after[name], value), name
    assert model.training


def test_summary_removes_its_hooks(lenet5: nn.Module) -> None:
    cnnzoo.summary(lenet5)
    assert all(not module._forward_hooks for module in lenet5.modules())


def test_summary_of_a_model_built_on_meta_device_matches_cpu_model() -> None:
    with torch.device("meta"):
        on_meta = cnnzoo.create("lenet5")
    assert cnnzoo.summary(on_meta).rows == cnnzoo.summary(cnnzoo.create("lenet5")).rows


def test_summary_of_a_plain_sequential_with_input_size() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    result = cnnzoo.summary(model, input_size=(3, 32, 32))
    assert [(row.name, row.type, row.output_shape) for row in result.rows] == [
        ("0", "Conv2d", (1, 8, 30, 30)),
        ("1", "ReLU", (1, 8, 30, 30)),
        ("2", "Flatten", (1, 7200)),
        ("3", "Linear", (1, 10)),
    ]
    assert result.total_params == (27 + 1) * 8 + (7200 + 1) * 10
    assert result.input_size == (1, 3, 32, 32)


def test_summary_of_a_plain_module_without_input_size_raises_value_error() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3))
    with pytest.raises(ValueError, match="input_size"):
        cnnzoo.summary(model)


def test_summary_without_input_size_error_is_a_cnnzoo_error() -> None:
    with pytest.raises(cnnzoo.CnnzooError):
        cnnzoo.summary(nn.Sequential(nn.Conv2d(3, 8, 3)))


# -- input size and batch size --------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "batch_size"), [(32, 1), (40, 2), (64, 3)])
def test_summary_honours_input_size_and_batch_size(lenet5: nn.Module, side: int, batch_size: int) -> None:
    result = cnnzoo.summary(lenet5, input_size=(1, side, side), batch_size=batch_size)
    assert result.input_size == (batch_size, 1, side, side)
    c1 = side - 4
    c3 = c1 // 2 - 4
    c5 = c3 // 2 - 4
    shapes = shapes_by_name(result)
    assert shapes["features.c1"] == (batch_size, 6, c1, c1)
    assert shapes["features.c3"] == (batch_size, 16, c3, c3)
    assert shapes["features.c5"] == (batch_size, 120, c5, c5)
    assert shapes["output"] == (batch_size, 10)
    assert f"Input size: {[batch_size, 1, side, side]}" in str(result)


def test_summary_of_model_with_input_too_small_raises_input_shape_error(lenet5: nn.Module) -> None:
    with pytest.raises(cnnzoo.InputShapeError):
        cnnzoo.summary(lenet5, input_size=(1, 20, 20))


# -- FLOPs ------------------------------------------------------------------------------------------------


def test_summary_flops_equal_flop_counter_on_a_real_forward() -> None:
    model = cnnzoo.create("cifar_resnet20").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert counter.get_total_flops() > 0
    assert cnnzoo.summary(model).flops == counter.get_total_flops()


def test_lenet5_flops_equal_hand_count_of_multiply_adds(lenet5: nn.Module) -> None:
    # two FLOPs per multiply-add: out_maps * out_h * out_w * (in_maps * 5 * 5), then in * out for linear layers
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 120 * 16 * 25 + 120 * 84 + 84 * 10
    assert cnnzoo.summary(lenet5).flops == 2 * macs


def test_summary_flops_scale_linearly_with_batch_size(lenet5: nn.Module) -> None:
    assert cnnzoo.summary(lenet5, batch_size=4).flops == 4 * cnnzoo.summary(lenet5).flops


@pytest.mark.parametrize(("name", "gmacs"), [("resnet50", 4.089), ("resnet18", 1.814), ("alexnet", 0.714)])
def test_summary_flops_match_torchvision_published_operation_counts(name: str, gmacs: float) -> None:
    # torchvision's weight tables (meta["_ops"]) list GMACs at 224x224; the counter counts two FLOPs per MAC.
    assert round(cnnzoo.summary(cnnzoo.create(name)).flops / 2e9, 3) == gmacs


@pytest.mark.parametrize("kwargs", [{"input_size": (1, -3, 3)}, {"input_size": "abc"}, {"input_size": (1, 32)},
                                    {"input_size": (1, 32.5, 32)}, {"batch_size": 0}, {"batch_size": None}])
def test_summary_refuses_sizes_that_are_not_whole_numbers_at_the_call(kwargs):
    model = cnnzoo.create("lenet5")
    with pytest.raises(cnnzoo.CnnzooValueError):
        cnnzoo.summary(model, **kwargs)
