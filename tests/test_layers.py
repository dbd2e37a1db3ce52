"""Tests of the shared building blocks (layers/), the layers whose paper claims they carry, and _geometry."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

import cnnzoo
from cnnzoo._geometry import min_input_side
from cnnzoo.layers import LocalResponseNorm, SqueezeExcite
from cnnzoo.models.resnet import ZeroPadShortcut

# -- Local Response Normalization --------------------------------------------------------------------

lrn_shapes = st.integers(min_value=3, max_value=5).flatmap(
    lambda rank: st.tuples(*[st.integers(min_value=1, max_value=6) for _ in range(rank)])
)
lrn_alpha = st.floats(min_value=1e-6, max_value=1e-2, allow_nan=False)
lrn_beta = st.floats(min_value=0.1, max_value=1.5, allow_nan=False)
lrn_k = st.floats(min_value=0.5, max_value=3.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(shape=lrn_shapes, size=st.integers(1, 7), alpha=lrn_alpha, beta=lrn_beta, k=lrn_k, seed=st.integers(0, 2**16))
def test_lrn_pytorch_scale_equals_torch_functional(
    shape: tuple[int, ...], size: int, alpha: float, beta: float, k: float, seed: int
) -> None:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 10
    layer = LocalResponseNorm(size, alpha=alpha, beta=beta, k=k, scale="pytorch")
    assert_close(layer(x), F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k))


def paper_lrn(a: torch.Tensor, n: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """Krizhevsky et al. 2012, section 3.3, written out channel by channel."""
    channels = a.shape[1]
    b = torch.empty_like(a)
    for c in range(channels):
        lo, hi = max(0, c - n // 2), min(channels - 1, c + n // 2)
        energy = (a[:, lo : hi + 1] ** 2).sum(dim=1)
        b[:, c] = a[:, c] / (k + alpha * energy) ** beta
    return b


@settings(max_examples=60, deadline=None)
@given(
    shape=lrn_shapes,
    size=st.sampled_from([1, 3, 5, 7]),
    alpha=lrn_alpha,
    beta=lrn_beta,
    k=lrn_k,
    seed=st.integers(0, 2**16),
)
def test_lrn_paper_scale_follows_krizhevsky_equation(
    shape: tuple[int, ...], size: int, alpha: float, beta: float, k: float, seed: int
) -> None:
    a = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 10
    layer = LocalResponseNorm(size, alpha=alpha, beta=beta, k=k, scale="paper")
    assert_close(layer(a), paper_lrn(a, size, alpha, beta, k))


def test_lrn_paper_scale_with_alexnet_constants_differs_from_pytorch_scale() -> None:
    # With AlexNet's n=5, k=2, alpha=1e-4, beta=0.75 the two scalings must give different answers on
    # activations of realistic magnitude, or the "paper" option would be decorative.
    a = torch.randn(2, 16, 5, 5, dtype=torch.float64) * 50
    paper = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0, scale="paper")(a)
    assert_close(paper, paper_lrn(a, 5, 1e-4, 0.75, 2.0))
    pytorch = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0, scale="pytorch")(a)
    assert not torch.allclose(paper, pytorch)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"size": 0}, "size"),
        ({"size": -1}, "size"),
        ({"size": 2.5}, "size"),
        ({"size": True}, "size"),
        ({"size": 5, "alpha": float("nan")}, "alpha"),
        ({"size": 5, "beta": float("inf")}, "beta"),
        ({"size": 5, "k": float("nan")}, "k"),
        ({"size": 5, "alpha": "x"}, "alpha"),
        ({"size": 5, "scale": "caffe"}, "scale"),
    ],
)
def test_lrn_rejects_bad_parameters_naming_the_parameter(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=rf"\b{named}\b") as raised:
        LocalResponseNorm(**kwargs)
    assert isinstance(raised.value, cnnzoo.CnnzooError)


# -- Squeeze-and-Excitation -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timm_seresnet50() -> nn.Module:
    return timm.create_model("seresnet50", pretrained=False)


@pytest.mark.parametrize(
    ("stage", "channels", "reduced"), [("layer1", 256, 16), ("layer2", 512, 32), ("layer3", 1024, 64), ("layer4", 2048, 128)]
)
def test_squeeze_excite_loads_timm_seresnet_weights_and_computes_the_same(
    timm_seresnet50: nn.Module, stage: str, channels: int, reduced: int
) -> None:
    theirs = getattr(timm_seresnet50, stage)[0].se.eval()
    ours = SqueezeExcite(channels, reduction=16).eval()
    assert ours.fc1.out_channels == theirs.fc1.out_channels == reduced
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, channels, 4, 4)
    with torch.no_grad():
        assert_close(ours(x), theirs(x))


@settings(max_examples=60, deadline=None)
@given(channels=st.integers(min_value=1, max_value=2048))
def test_squeeze_excite_reduced_width_matches_timm_semodule(channels: int) -> None:
    theirs = timm.layers.SEModule(channels, rd_ratio=1 / 16, rd_divisor=8)
    ours = SqueezeExcite(channels, reduction=16)
    assert ours.fc1.out_channels == theirs.fc1.out_channels
    assert ours.fc1.out_channels >= 8 and ours.fc1.out_channels % 8 == 0


@pytest.mark.parametrize("channels", [1, 8, 24, 64, 127])
def test_squeeze_excite_reduced_width_never_below_eight(channels: int) -> None:
    assert SqueezeExcite(channels, reduction=16).fc1.out_channels == 8


def test_squeeze_excite_gates_each_channel_by_sigmoid_of_its_excitation() -> None:
    # Hu et al. 2018, eq. 2-4: s = sigmoid(W2 relu(W1 z)), z the channel means; output x_c * s_c.
    se = SqueezeExcite(32, reduction=4)
    x = torch.randn(3, 32, 5, 7)
    z = x.mean(dim=(2, 3))
    w1, b1 = se.fc1.weight.flatten(1), se.fc1.bias
    w2, b2 = se.fc2.weight.flatten(1), se.fc2.bias
    s = torch.sigmoid(torch.relu(z @ w1.T + b1) @ w2.T + b2)
    with torch.no_grad():
        assert_close(se(x), x * s[:, :, None, None])


# -- AlexNet 2012: grouped convolutions as the paper's two towers, LRN, initialisation, shapes -------------


@pytest.fixture(scope="module")
def alexnet_2012() -> nn.Module:
    return cnnzoo.create("alexnet_2012").eval()


@pytest.mark.parametrize("layer", ["conv2", "conv4", "conv5"])
def test_alexnet_2012_grouped_conv_equals_two_independent_towers(alexnet_2012: nn.Module, layer: str) -> None:
    grouped: nn.Conv2d = getattr(alexnet_2012.features, layer)
    assert grouped.groups == 2
    half_in, half_out = grouped.in_channels // 2, grouped.out_channels // 2
    towers = []
    for tower in range(2):
        conv = nn.Conv2d(
            half_in, half_out, grouped.kernel_size, stride=grouped.stride, padding=grouped.padding
        )
        with torch.no_grad():
            conv.weight.copy_(grouped.weight[tower * half_out : (tower + 1) * half_out])
            conv.bias.copy_(grouped.bias[tower * half_out : (tower + 1) * half_out])
        towers.append(conv)
    x = torch.randn(2, grouped.in_channels, 13, 13)
    with torch.no_grad():
        # each tower sees only its own half of the previous layer's maps
        expected = torch.cat([towers[0](x[:, :half_in]), towers[1](x[:, half_in:])], dim=1)
        assert_close(grouped(x), expected)


def test_alexnet_2012_conv2_is_two_towers_of_48_to_128(alexnet_2012: nn.Module) -> None:
    conv2 = alexnet_2012.features.conv2
    assert (conv2.in_channels, conv2.out_channels, conv2.groups) == (96, 256, 2)
    assert conv2.weight.shape == (256, 48, 5, 5)


def test_alexnet_2012_conv3_connects_both_towers(alexnet_2012: nn.Module) -> None:
    # Section 3.5: "the kernels of the third convolutional layer are connected to all kernel maps in the second layer"
    assert alexnet_2012.features.conv3.groups == 1
    assert alexnet_2012.features.conv3.weight.shape[1] == 256


def test_alexnet_2012_lrn_layers_use_paper_constants_after_relu_before_pool(alexnet_2012: nn.Module) -> None:
    names = list(alexnet_2012.features._modules)
    norms = [(name, m) for name, m in alexnet_2012.features.named_children() if isinstance(m, LocalResponseNorm)]
    assert [name for name, _ in norms] == ["norm1", "norm2"]
    for _, norm in norms:
        assert (norm.size, norm.alpha, norm.beta, norm.k, norm.scale) == (5, 1e-4, 0.75, 2.0, "paper")
    assert names.index("relu1") < names.index("norm1") < names.index("pool1")
    assert names.index("relu2") < names.index("norm2") < names.index("pool2")


def test_alexnet_2012_initialisation_follows_section_5(alexnet_2012: nn.Module) -> None:
    model = alexnet_2012
    layers = {**dict(model.features.named_children()), **dict(model.classifier.named_children())}
    # "biases in the second, fourth, and fifth convolutional layers, as well as in the fully-connected
    # hidden layers, with the constant 1 ... the remaining layers with the constant 0"
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        assert torch.equal(layers[name].bias, torch.ones_like(layers[name].bias)), name
    for name in ("conv1", "conv3", "fc8"):
        assert torch.equal(layers[name].bias, torch.zeros_like(layers[name].bias)), name
    # "zero-mean Gaussian distribution with standard deviation 0.01"
    for name in ("conv1", "conv3", "fc6"):
        weight = layers[name].weight
        assert abs(weight.mean().item()) < 1e-3, name
        assert weight.std().item() == pytest.approx(0.01, rel=0.05), name


def test_alexnet_2012_feature_maps_match_paper_figure_2(alexnet_2012: nn.Module) -> None:
    shapes = {row.name: row.output_shape for row in cnnzoo.summary(alexnet_2012, input_size=(3, 224, 224)).rows}
    assert shapes["features.conv1"] == (1, 96, 55, 55)
    assert shapes["features.pool1"] == (1, 96, 27, 27)
    assert shapes["features.conv2"] == (1, 256, 27, 27)
    assert shapes["features.pool2"] == (1, 256, 13, 13)
    assert shapes["features.conv3"] == (1, 384, 13, 13)
    assert shapes["features.conv4"] == (1, 384, 13, 13)
    assert shapes["features.conv5"] == (1, 256, 13, 13)
    assert shapes["features.pool5"] == (1, 256, 6, 6)


# -- ZeroPadShortcut and CIFAR ResNet (He et al. 2016, option A) ------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 2),
    in_channels=st.integers(1, 4),
    extra_channels=st.integers(0, 4),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    stride=st.integers(1, 3),
)
def test_zero_pad_shortcut_subsamples_and_appends_zero_channels(
    batch: int, in_channels: int, extra_channels: int, height: int, width: int, stride: int
) -> None:
    out_channels = in_channels + extra_channels
    x = torch.randn(batch, in_channels, height, width)
    out = ZeroPadShortcut(out_channels, stride)(x)
    # the same grid as a padded 3x3 convolution of that stride, which it runs beside
    conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
    assert out.shape == conv(x).shape == (batch, out_channels, math.ceil(height / stride), math.ceil(width / stride))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            assert torch.equal(out[:, :in_channels, i, j], x[:, :, stride * i, stride * j])
    assert torch.count_nonzero(out[:, in_channels:]) == 0


def test_zero_pad_shortcut_of_odd_7x7_stride_2_gives_4x4() -> None:
    out = ZeroPadShortcut(32, 2)(torch.randn(1, 16, 7, 7))
    assert out.shape == (1, 32, 4, 4)


def test_zero_pad_shortcut_has_no_parameters_or_buffers() -> None:
    shortcut = ZeroPadShortcut(64, 2)
    assert list(shortcut.parameters()) == []
    assert shortcut.state_dict() == {}


@pytest.fixture(scope="module")
def cifar_resnet20() -> nn.Module:
    return cnnzoo.create("cifar_resnet20").eval()


def test_cifar_resnet20_has_no_projection_parameters(cifar_resnet20: nn.Module) -> None:
    assert not [key for key in cifar_resnet20.state_dict() if "downsample" in key]
    convs = [m for m in cifar_resnet20.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19  # 6n + 1 with n = 3, plus the fc layer makes 20
    assert all(conv.kernel_size == (3, 3) for conv in convs)  # no 1x1 projections
    assert isinstance(cifar_resnet20.layer2[0].downsample, ZeroPadShortcut)
    assert isinstance(cifar_resnet20.layer3[0].downsample, ZeroPadShortcut)
    # the 0.27M of He et al. 2016, Table 6
    assert sum(p.numel() for p in cifar_resnet20.parameters()) == 269_722


def test_cifar_resnet20_stages_output_16x32x32_32x16x16_64x8x8(cifar_resnet20: nn.Module) -> None:
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [
        getattr(cifar_resnet20, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
        for name in ("layer1", "layer2", "layer3")
    ]
    try:
        with torch.no_grad():
            cifar_resnet20(torch.randn(2, 3, 32, 32))
    finally:
        for handle in handles:
            handle.remove()
    assert shapes == {"layer1": (2, 16, 32, 32), "layer2": (2, 32, 16, 16), "layer3": (2, 64, 8, 8)}


# -- _geometry.min_input_side ----------------------------------------------------------------------------


def smallest_side_that_runs(stack: nn.Module, channels: int = 1, limit: int = 64) -> int | None:
    """The first side s in 1..limit at which the real stack runs on a (1, C, s, s) tensor."""
    for side in range(1, limit + 1):
        try:
            with torch.no_grad():
                stack(torch.zeros(1, channels, side, side))
        except RuntimeError:
            continue
        return side
    return None


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        pytest.param(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), 5, id="two-unpadded-3x3-convs"),
        pytest.param(nn.Sequential(nn.MaxPool2d(3, 2)), 3, id="maxpool-3-2-floor"),
        pytest.param(nn.Sequential(nn.MaxPool2d(3, 2, ceil_mode=True)), 2, id="maxpool-3-2-ceil"),
        pytest.param(nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2)), 5, id="dilated-conv"),
        pytest.param(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)), 3, id="padded-conv-relu-pool"),
        pytest.param(
            nn.Sequential(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), nn.Conv2d(1, 1, 2)),
            2,
            id="ceil-window-may-not-start-in-right-padding",
        ),
        pytest.param(
            nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 5)), nn.AvgPool2d(2), nn.Sequential(nn.Conv2d(1, 1, 3))),
            10,
            id="nested-sequentials",
        ),
    ],
)
def test_min_input_side_of_hand_built_stacks_matches_real_forward(stack: nn.Sequential, expected: int) -> None:
    assert min_input_side(stack) == expected
    assert smallest_side_that_runs(stack) == expected


@st.composite
def spatial_stacks(draw: st.DrawFn) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "max", "avg"]))
        kernel = draw(st.integers(1, 5))
        stride = draw(st.integers(1, 3))
        if kind == "conv":
            padding = draw(st.integers(0, 2))
            dilation = draw(st.integers(1, 2))
            layers.append(nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation))
        else:
            padding = draw(st.integers(0, kernel // 2))
            ceil_mode = draw(st.booleans())
            if kind == "max":
                dilation = draw(st.integers(1, 2))
                layers.append(nn.MaxPool2d(kernel, stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode))
            else:
                layers.append(nn.AvgPool2d(kernel, stride, padding=padding, ceil_mode=ceil_mode))
    return nn.Sequential(*layers)


@settings(max_examples=60, deadline=None)
@given(stack=spatial_stacks())
def test_min_input_side_is_the_first_side_a_real_forward_accepts(stack: nn.Sequential) -> None:
    smallest = smallest_side_that_runs(stack, limit=64)
    if smallest is None:
        with pytest.raises(ValueError):
            min_input_side(stack, limit=64)
    else:
        assert min_input_side(stack) == smallest
