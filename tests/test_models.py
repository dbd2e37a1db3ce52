"""Every registered network: parameter counts, output shapes, smallest input, input checks, the
classifier interface, and real forward (and backward) passes.

Tests are parametrized over ``cnnzoo.list_models()``, so registering a model is enough to have it
tested here; its published parameter count must be added to PARAMETER_COUNTS. Shape and size checks
run on the meta device (no weights allocated); one real forward per model checks the numbers.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import cnnzoo
from cnnzoo._meta import meta_forward
from cnnzoo.models import GoogLeNetOutputs, ZooModel
from cnnzoo.models.googlenet import Inception
from conftest import tiered

ALL_MODELS = cnnzoo.list_models()

# The published parameter count of each registered network at its default configuration.
PARAMETER_COUNTS: dict[str, int] = {
    # LeNet-5 of LeCun et al. 1998 as built here (C3 fully connected to S2, linear output layer); the
    # paper's Table I sparse C3 would give fewer. Figure from the issue that added the model.
    "lenet5": 61_706,
    # torchvision docs (the num_params of each model's weights enum).
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    # timm (timm.create_model(name) with its default 1000 classes).
    "seresnet50": 28_088_024,
    "seresnet101": 49_326_872,
    "seresnet152": 66_821_848,
    # The paper's two-tower AlexNet (Krizhevsky et al. 2012, Figure 2, grouped conv2/4/5): the issue's
    # figure (the paper only says "60 million").
    "alexnet_2012": 60_965_224,
    # Network in Network, the authors' released ImageNet model: the issue's figure.
    "nin": 7_595_176,
    # DenseNet-264 (Huang et al. 2017, Table 1; torchvision has no builder): the figure.
    "densenet264": 33_337_704,
    # CIFAR networks: exact figures from the issue; the papers round them (He et al. 2016 Table 6:
    # 0.27M, 0.46M, 0.66M, 0.85M, 1.7M; Huang et al. 2017 Table 2: 0.8M for DenseNet-BC L=100 k=12).
    "cifar_resnet20": 269_722,
    "cifar_resnet32": 464_154,
    "cifar_resnet44": 658_586,
    "cifar_resnet56": 853_018,
    "cifar_resnet110": 1_727_962,
    "cifar_densenet_bc100": 769_162,
    # One tower of the 2012 AlexNet without LRN, as a flowers tutorial trains it, and GoogLeNet as the paper
    # builds it (Table 1, 5x5 convolutions, no BatchNorm): the figures of the issue that added them.
    "alexnet_half": 16_630_440,
    "googlenet_2014": 6_998_552,
}

# Cheap enough for real forward/backward passes and property tests on two cores.
CHEAP_MODELS = ["lenet5", "cifar_resnet20", "resnet18", "densenet121", "googlenet", "nin", "alexnet"]


def meta_model(name: str, **kwargs) -> ZooModel:
    """``name`` built on the meta device (shapes only, no storage), in eval mode."""
    with torch.device("meta"):
        return cnnzoo.create(name, **kwargs).eval()


@functools.lru_cache(maxsize=None)
def _shared_meta_model(name: str, frozen_kwargs: tuple) -> ZooModel:
    return meta_model(name, **dict(frozen_kwargs))


def shared_meta_model(name: str, **kwargs) -> ZooModel:
    """Like :func:`meta_model` but built once per configuration and shared: callers must not change it.

    Building is most of the cost of a meta-device test (DenseNet-264 takes half a second).
    """
    return _shared_meta_model(name, tuple(sorted(kwargs.items())))


def default_shape(model: ZooModel, batch: int = 2) -> tuple[int, int, int, int]:
    return (batch, *model.default_cfg["input_size"])


def small_side(model: ZooModel) -> int:
    """A cheap valid side for a real forward: the designed size of the 32x32 networks, else >= 32."""
    designed = model.default_cfg["input_size"][1]
    return designed if designed <= 64 else max(model.min_input_size, 32)


# -- parameter counts -------------------------------------------------------------------------------


def test_every_registered_model_has_a_published_parameter_count():
    missing = [name for name in ALL_MODELS if name not in PARAMETER_COUNTS]
    assert missing == [], f"add the published parameter count of {missing} to PARAMETER_COUNTS"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_parameter_count_matches_published_figure(name):
    model = shared_meta_model(name)
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNTS[name]


@pytest.mark.parametrize("name", ["lenet5", "alexnet_2012", "resnet50", "densenet264", "cifar_resnet110"])
def test_model_info_parameters_match_published_figure(name):
    assert cnnzoo.model_info(name).parameters == PARAMETER_COUNTS[name]


# -- shapes and default_cfg on the meta device ----------------------------------------------------


@pytest.mark.parametrize("name", ALL_MODELS)
def test_output_has_num_classes_columns_at_default_input_size(name):
    model = shared_meta_model(name, num_classes=7)
    out = meta_forward(model, default_shape(model, batch=3))
    assert out.shape == (3, 7)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_one_channel_model_takes_one_channel_input_at_default_size(name):
    model = shared_meta_model(name, in_chans=1)
    assert model.in_chans == 1
    assert model.default_cfg["input_size"][0] == 1
    out = meta_forward(model, default_shape(model))
    assert out.shape == (2, model.num_classes)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_pre_logits_have_num_features_columns(name):
    model = shared_meta_model(name)
    x = torch.empty(default_shape(model), device="meta")
    with torch.no_grad():
        pre_logits = model.forward_head(model.forward_features(x), pre_logits=True)
    assert model.num_features > 0
    assert pre_logits.shape == (2, model.num_features)


@pytest.mark.parametrize("kwargs", [{}, {"num_classes": 7}, {"in_chans": 1}, {"num_classes": 3, "in_chans": 4}],
                         ids=["default", "7cls", "1ch", "3cls-4ch"])
@pytest.mark.parametrize("name", ALL_MODELS)
def test_default_cfg_describes_the_built_model(name, kwargs):
    model = shared_meta_model(name, **kwargs)
    cfg = model.default_cfg
    expected_keys = {"architecture", "input_size", "min_input_size", "num_classes", "mean", "std",
                     "interpolation", "crop_pct", "classifier", "first_conv"}
    assert expected_keys <= set(cfg)
    assert cfg["architecture"] == name
    assert cfg["input_size"][0] == model.in_chans == kwargs.get("in_chans", model.in_chans)
    assert cfg["num_classes"] == model.num_classes == kwargs.get("num_classes", model.num_classes)
    assert len(cfg["mean"]) == len(cfg["std"]) == model.in_chans
    assert all(s > 0 for s in cfg["std"])
    m = model.min_input_size
    assert cfg["min_input_size"] == (model.in_chans, m, m)
    assert m <= min(cfg["input_size"][1:]), "the designed input must be accepted"
    assert model.get_submodule(cfg["classifier"]) is model.get_classifier()
    first_conv = model.get_submodule(cfg["first_conv"])
    assert first_conv is next(layer for layer in model.modules() if isinstance(layer, nn.Conv2d))
    assert first_conv.in_channels == model.in_chans


# -- the smallest input --------------------------------------------------------------------------


@functools.cache
def _meta_conv_refuses_a_kernel_larger_than_its_input() -> bool:
    try:
        torch.nn.functional.conv2d(torch.empty(1, 1, 4, 4, device="meta"), torch.empty(1, 1, 5, 5, device="meta"))
    except RuntimeError:
        return True
    return False


@pytest.mark.parametrize("name", ALL_MODELS)
def test_network_runs_at_min_input_size_and_fails_one_pixel_below(name):
    model = meta_model(name)
    m = model.min_input_size
    model.min_input_size = None  # bypass the pre-check: the layers themselves must refuse
    out = meta_forward(model, (1, model.in_chans, m, m))
    assert out.shape == (1, model.num_classes)
    if m == 1:
        return  # nothing smaller than 1x1 exists
    for shape in [(m - 1, m - 1), (m - 1, m), (m, m - 1)]:
        try:
            meta_forward(model, (1, model.in_chans, *shape))
        except RuntimeError:
            continue
        if not _meta_conv_refuses_a_kernel_larger_than_its_input():
            pytest.skip(f"torch {torch.__version__}'s meta convolution returns an empty map for a kernel larger than "
                        "its input instead of raising (torch 2.4's does; its CPU kernel and newer torch raise)")
        pytest.fail(f"a {shape} input ran; the layers must refuse it")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_input_below_min_size_raises_input_shape_error_naming_the_minimum(name):
    model = shared_meta_model(name)
    m = model.min_input_size
    if m == 1:
        model.check_input(torch.empty(1, model.in_chans, 1, 1, device="meta"))  # 1x1 is accepted
        return
    for shape in [(m - 1, m - 1), (m - 1, 4 * m), (4 * m, m - 1)]:
        with pytest.raises(cnnzoo.InputShapeError, match=f"at least {m}x{m}"):
            model(torch.empty(1, model.in_chans, *shape, device="meta"))


def test_alexnet_rejects_32x32_input_naming_63x63():
    model = cnnzoo.create("alexnet").eval()
    assert model.min_input_size == 63
    with pytest.raises(cnnzoo.InputShapeError, match="63x63") as error:
        model(torch.randn(1, 3, 32, 32))
    assert isinstance(error.value, ValueError)
    assert "32x32" in str(error.value)


# -- other malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_MODELS)
def test_wrong_channel_count_raises_input_shape_error_naming_in_chans(name):
    model = shared_meta_model(name)
    side = max(model.min_input_size, 32)
    wrong = 1 if model.in_chans != 1 else 3
    with pytest.raises(cnnzoo.InputShapeError) as error:
        model(torch.empty(2, wrong, side, side, device="meta"))
    message = str(error.value)
    assert f"{model.in_chans}-channel" in message
    assert f"in_chans={wrong}" in message  # the fix: build the model for the data's channels


@pytest.mark.parametrize("name", ALL_MODELS)
def test_unbatched_3d_input_raises_input_shape_error_suggesting_unsqueeze(name):
    model = shared_meta_model(name)
    side = max(model.min_input_size, 32)
    with pytest.raises(cnnzoo.InputShapeError, match="unsqueeze"):
        model(torch.empty(model.in_chans, side, side, device="meta"))


@pytest.mark.parametrize("shape", [(3,), (2, 3), (1, 1, 3, 32, 32)])
def test_input_of_other_rank_raises_input_shape_error_naming_the_rank(shape):
    model = shared_meta_model("resnet18")
    with pytest.raises(cnnzoo.InputShapeError, match=f"{len(shape)}-d tensor"):
        model(torch.empty(shape, device="meta"))


def test_non_tensor_input_raises_input_shape_error():
    model = shared_meta_model("resnet18")
    with pytest.raises(cnnzoo.InputShapeError, match="torch.Tensor"):
        model([[1.0, 2.0]])


# -- the classifier ------------------------------------------------------------------------------


def classifier_outputs(layer: nn.Module) -> int:
    if isinstance(layer, nn.Linear):
        return layer.out_features
    if isinstance(layer, nn.Conv2d):  # NIN's 1x1 convolution classifier
        return layer.out_channels
    raise AssertionError(f"unexpected classifier type {type(layer).__name__}")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_classifier_has_num_classes_outputs_and_reads_num_features(name):
    model = shared_meta_model(name, num_classes=7)
    classifier = model.get_classifier()
    assert classifier_outputs(classifier) == 7
    in_width = classifier.in_features if isinstance(classifier, nn.Linear) else classifier.in_channels
    assert in_width == model.num_features


@pytest.mark.parametrize("name", ALL_MODELS)
def test_reset_classifier_swaps_head_for_n_outputs_keeping_state_dict_keys(name):
    model = meta_model(name)
    keys_before = list(model.state_dict())
    old = model.get_classifier()
    model.reset_classifier(5)
    new = model.get_classifier()
    assert new is not old
    assert type(new) is type(old)
    assert classifier_outputs(new) == 5
    assert model.num_classes == 5
    assert model.default_cfg["num_classes"] == 5
    assert list(model.state_dict()) == keys_before
    assert all(p.device.type == "meta" for p in new.parameters()), "the new head follows the model's device"
    assert meta_forward(model, default_shape(model)).shape == (2, 5)


@pytest.mark.parametrize("name", ["lenet5", "alexnet_2012", "nin", "resnet18", "densenet121", "vgg11"])
def test_reset_classifier_on_real_model_keeps_backbone_weights(name):
    model = cnnzoo.create(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    head = model.default_cfg["classifier"]
    model.reset_classifier(3)
    after = model.state_dict()
    for key, value in before.items():
        if key.startswith(head + "."):
            assert after[key].shape[0] == 3
        else:
            assert torch.equal(after[key], value), key
    assert all(p.requires_grad for p in model.get_classifier().parameters())


@pytest.mark.parametrize("bad", [-3, 2.5, True, "10", None])
@pytest.mark.parametrize("name", ["lenet5", "nin", "googlenet", "resnet50"])
def test_reset_classifier_rejects_non_positive_or_non_int_class_counts(name, bad):
    model = meta_model(name)
    old, classes = model.get_classifier(), model.num_classes
    with pytest.raises(ValueError) as error:
        model.reset_classifier(bad)
    assert isinstance(error.value, cnnzoo.CnnzooError)
    assert "num_classes" in str(error.value)
    assert model.get_classifier() is old
    assert model.num_classes == model.default_cfg["num_classes"] == classes


@pytest.mark.parametrize("name,kwargs", [("lenet5", {}), ("nin", {}), ("googlenet", {"aux_logits": True})])
def test_reset_classifier_follows_the_model_dtype(name, kwargs):
    model = cnnzoo.create(name, **kwargs).to(torch.float64)
    model.reset_classifier(3)
    assert {p.dtype for p in model.parameters()} == {torch.float64}


def test_googlenet_reset_classifier_also_resizes_auxiliary_classifiers():
    model = meta_model("googlenet", aux_logits=True)
    keys_before = list(model.state_dict())
    model.reset_classifier(11)
    assert model.fc.out_features == 11
    assert model.aux1.fc2.out_features == 11
    assert model.aux2.fc2.out_features == 11
    assert model.aux1.fc2.weight.device.type == "meta"
    assert list(model.state_dict()) == keys_before
    outputs = meta_forward(model.train(), (2, 3, 224, 224))
    assert [o.shape for o in outputs] == [(2, 11)] * 3


# -- constructor arguments -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_MODELS)
@pytest.mark.parametrize("argument", ["num_classes", "in_chans"])
def test_create_rejects_non_positive_or_non_int_sizes(name, argument):
    for bad in (-3, 2.5, True) if argument == "num_classes" else (0, -3, 2.5, True):  # num_classes=0: timm's
        with pytest.raises(ValueError, match=argument) as error:
            cnnzoo.create(name, **{argument: bad})
        assert isinstance(error.value, cnnzoo.CnnzooError), bad


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "nin", "googlenet", "resnet18", "cifar_densenet_bc100"])
@pytest.mark.parametrize("argument", ["num_classes", "in_chans"])
def test_builder_called_directly_rejects_non_positive_or_non_int_sizes(name, argument):
    builder = getattr(cnnzoo.models, name)
    for bad in (-3, 2.5, True) if argument == "num_classes" else (0, -3, 2.5, True):  # num_classes=0: timm's
        with pytest.raises(ValueError, match=argument) as error:
            with torch.device("meta"):
                builder(**{argument: bad})
        assert isinstance(error.value, cnnzoo.CnnzooError), bad


# -- real forward passes -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ALL_MODELS)
def real_model(request) -> ZooModel:
    """Each registered model with real (randomly initialised) weights, in eval mode.

    Module-scoped and parametrized, so pytest groups the tests using it by model and builds each
    model once; shared, so the tests using it must not change it.
    """
    torch.manual_seed(0)
    model = cnnzoo.create(request.param).eval()
    yield model
    del model


def test_real_forward_gives_finite_logits_of_shape_batch_by_num_classes(real_model):
    side = small_side(real_model)
    x = torch.randn(2, real_model.in_chans, side, side)
    with torch.no_grad():
        out = real_model(x)
    assert out.shape == (2, real_model.num_classes)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert not torch.equal(out[0], out[1]), "the two images should get different logits"


def test_real_forward_at_min_input_size_gives_finite_logits(real_model):
    m = real_model.min_input_size
    with torch.no_grad():
        out = real_model(torch.randn(1, real_model.in_chans, m, m))
    assert out.shape == (1, real_model.num_classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("real_model", tiered(ALL_MODELS), indirect=True)
def test_eval_forward_treats_each_image_of_the_batch_independently(real_model):
    side = small_side(real_model)
    x = torch.randn(3, real_model.in_chans, side, side)
    with torch.no_grad():
        together = real_model(x)
        alone = real_model(x[1:2])
    # Batch size changes the order of float32 sums, and deep untrained networks (ResNet-152: logits
    # near 5e4) magnify that, so the tolerance is relative to the largest logit. Batch statistics
    # leaking into eval mode would change the logits by far more.
    scale = together.abs().max().item()
    torch.testing.assert_close(alone, together[1:2], rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("real_model", CHEAP_MODELS, indirect=True)
def test_forward_equals_head_of_features_in_eval_mode(real_model):
    side = small_side(real_model)
    x = torch.randn(2, real_model.in_chans, side, side)
    with torch.no_grad():
        logits = real_model(x)
        features = real_model.forward_features(x)
        assert features.dim() == 4 and features.shape[0] == 2
        assert torch.equal(real_model.forward_head(features), logits)


@pytest.mark.parametrize("real_model", [n for n in CHEAP_MODELS if n != "nin"], indirect=True)
def test_classifier_applied_to_pre_logits_gives_the_logits(real_model):
    # NIN is left out: its classifier is a 1x1 convolution followed by ReLU and then averaging, so it
    # does not act on the averaged vector forward_head(pre_logits=True) returns.
    side = small_side(real_model)
    x = torch.randn(2, real_model.in_chans, side, side)
    with torch.no_grad():
        features = real_model.forward_features(x)
        pre_logits = real_model.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (2, real_model.num_features)
        torch.testing.assert_close(real_model.get_classifier()(pre_logits), real_model(x))


@pytest.mark.parametrize("name", ["lenet5", "cifar_resnet20", "resnet18", "densenet121", "googlenet", "nin",
                                  "alexnet_2012"])
def test_training_step_sends_gradients_to_every_parameter(name):
    aux = {"aux_logits": True} if name == "googlenet" else {}  # the auxiliary classifiers must learn too
    model = cnnzoo.create(name, num_classes=4, **aux).train()
    side = small_side(model)
    x = torch.randn(3, model.in_chans, side, side)
    out = model(x)
    logits = list(out) if isinstance(out, tuple) else [out]
    loss = sum(nn.functional.cross_entropy(o, torch.tensor([0, 1, 3])) for o in logits)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []
    zero_grad = [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert zero_grad == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("in_chans", [1, 4])
@pytest.mark.parametrize("name", ["lenet5", "cifar_resnet20", "resnet18", "densenet121", "googlenet",
                                  "alexnet_2012", "nin"])
def test_real_forward_with_other_channel_counts(name, in_chans):
    model = cnnzoo.create(name, in_chans=in_chans).eval()
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == in_chans
    side = small_side(model)
    with torch.no_grad():
        out = model(torch.randn(2, in_chans, side, side))
    assert out.shape == (2, model.num_classes)
    assert torch.isfinite(out).all()


# -- gradient checkpointing ----------------------------------------------------------------------


def _training_step(model: ZooModel, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # the same dropout masks
    out = model(x)
    out.square().mean().backward()
    return out.detach(), {n: p.grad for n, p in model.named_parameters()}


def _saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward, parameters excluded."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.untyped_storage().data_ptr() not in parameters:
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return sum(storages.values())


# Over 40 million parameters: a training step of each costs seconds on two cores.
_BIG = {"alexnet", "alexnet_2012", "resnet101", "resnet152", "resnext101_32x8d", "resnext101_64x4d", "seresnet101",
        "seresnet152", "wide_resnet50_2", "wide_resnet101_2", *(n for n in ALL_MODELS if n.startswith("vgg"))}
# DenseNet's set_grad_checkpointing is its memory-efficient path, whose outputs, gradients and statistics
# test_densenet_memory.py compares with the plain network's for every DenseNet, in float64.
_CHECKPOINTED = [n for n in ALL_MODELS if cnnzoo.registry.get_entry(n).family not in ("densenet", "cifar_densenet")]


def test_every_model_but_densenet_has_its_grad_checkpointing_compared_with_the_plain_model():
    # guards the family filter above: DenseNets, and only they, are left to test_densenet_memory.py
    assert set(ALL_MODELS) - set(_CHECKPOINTED) == set(cnnzoo.list_models(["densenet*", "cifar_densenet*"]))


@pytest.mark.parametrize("real_model", [pytest.param(n, marks=pytest.mark.slow) if n in _BIG else n
                                        for n in _CHECKPOINTED], indirect=True)
def test_grad_checkpointing_keeps_outputs_gradients_and_batchnorm_statistics(real_model):
    model = copy.deepcopy(real_model).train()
    side = small_side(model)
    x = torch.randn(2, model.in_chans, side, side)
    start = copy.deepcopy(model.state_dict())
    expected_out, expected_grads = _training_step(model, x)
    expected_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(start)
    model.set_grad_checkpointing()
    assert model.grad_checkpointing
    out, grads = _training_step(model, x)
    # the same kernels run again: bitwise the same
    assert torch.equal(out, expected_out)
    for name, grad in expected_grads.items():
        assert torch.equal(grads[name], grad), name
    # BatchNorm statistics updated once, by the forward pass, not again by the recomputation
    state = model.state_dict()
    for key, value in expected_state.items():
        assert torch.equal(state[key], value), key
    model.set_grad_checkpointing(False)
    assert not model.grad_checkpointing


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "nin", "cifar_resnet20", "resnet18", "googlenet", "vgg11_bn",
                                  "densenet121"])
def test_grad_checkpointing_keeps_fewer_bytes_for_backward(name):
    torch.manual_seed(0)
    model = cnnzoo.create(name).train()
    x = torch.randn(2, model.in_chans, small_side(model), small_side(model))
    plain = _saved_bytes(model, x)
    model.set_grad_checkpointing()
    assert 1.4 * _saved_bytes(model, x) < plain
    with torch.no_grad():
        model(x)  # nothing to recompute: runs as usual


def test_grad_checkpointing_keeps_the_feature_maps_of_features_only_models():
    torch.manual_seed(0)
    backbone = cnnzoo.create("resnet18", features_only=True).train()
    x = torch.randn(2, 3, 64, 64)
    expected = [m.detach() for m in backbone(x)]
    backbone.model.set_grad_checkpointing()
    maps = backbone(x)
    assert all(torch.equal(m, e) for m, e in zip(maps, expected, strict=True))
    sum(m.sum() for m in maps).backward()
    assert [n for n, p in backbone.named_parameters() if p.grad is None] == ["model.fc.weight", "model.fc.bias"]


# -- property tests over sizes and class counts --------------------------------------------------

# The real-tensor property covers the cheapest networks. ResNet-18's sizes stop at 96 rather than
# twice its designed 224: a 448x448 batch of four costs about a second on two cores, and the meta
# property below covers the full range for every model.
_REAL_PROPERTY_MAX_SIDE = {"lenet5": 64, "cifar_resnet20": 64, "resnet18": 96}


@st.composite
def real_cases(draw):
    name = draw(st.sampled_from(sorted(_REAL_PROPERTY_MAX_SIDE)))
    smallest = {"lenet5": 32, "cifar_resnet20": 1, "resnet18": 1}[name]
    sides = st.integers(smallest, _REAL_PROPERTY_MAX_SIDE[name])
    height = draw(sides)
    width = draw(st.one_of(st.just(height), sides))  # square half the time
    return name, draw(st.integers(1, 1500)), draw(st.integers(1, 4)), height, width


@settings(max_examples=25, deadline=None)
@given(case=real_cases())
def test_property_real_output_shape_is_batch_by_num_classes(case):
    name, num_classes, batch, height, width = case
    model = cnnzoo.create(name, num_classes=num_classes).eval()
    assert model.min_input_size <= min(height, width)
    with torch.no_grad():
        out = model(torch.randn(batch, model.in_chans, height, width))
    assert out.shape == (batch, num_classes)
    assert torch.isfinite(out).all()


@st.composite
def meta_cases(draw):
    name = draw(st.sampled_from(ALL_MODELS))
    model = shared_meta_model(name)
    sides = st.integers(model.min_input_size, 2 * max(model.default_cfg["input_size"][1:]))
    height = draw(sides)
    width = draw(st.one_of(st.just(height), sides))
    return name, draw(st.integers(1, 1500)), draw(st.integers(1, 4)), height, width


@pytest.mark.slow  # about 10 s: forty meta-device builds, some of them DenseNet-264
@settings(max_examples=40, deadline=None)
@given(case=meta_cases())
def test_property_any_model_accepts_any_size_from_its_minimum(case):
    name, num_classes, batch, height, width = case
    model = meta_model(name, num_classes=num_classes)
    out = meta_forward(model, (batch, model.in_chans, height, width))
    assert out.shape == (batch, num_classes)


@st.composite
def too_small_cases(draw):
    name = draw(st.sampled_from([n for n in ALL_MODELS if shared_meta_model(n).min_input_size > 1]))
    m = shared_meta_model(name).min_input_size
    small = draw(st.integers(1, m - 1))
    other = draw(st.integers(1, 4 * m))
    height, width = draw(st.sampled_from([(small, other), (other, small)]))
    return name, height, width


@settings(max_examples=60, deadline=None)
@given(case=too_small_cases())
def test_property_any_side_below_the_minimum_is_refused_before_running(case):
    name, height, width = case
    model = shared_meta_model(name)
    m = model.min_input_size
    with pytest.raises(cnnzoo.InputShapeError, match=f"at least {m}x{m}") as error:
        model(torch.empty(1, model.in_chans, height, width, device="meta"))
    assert f"{height}x{width}" in str(error.value)


# -- GoogLeNet's auxiliary classifiers -----------------------------------------------------------


def test_googlenet_with_aux_logits_returns_three_logits_in_train_mode_and_one_in_eval():
    model = cnnzoo.create("googlenet", aux_logits=True, num_classes=6)
    x = torch.randn(2, 3, 64, 64)
    model.train()
    out = model(x)
    assert isinstance(out, GoogLeNetOutputs)
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert [o.shape for o in out] == [(2, 6)] * 3
    assert not torch.equal(out.aux_logits1, out.aux_logits2)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (2, 6)


def test_googlenet_without_aux_logits_has_no_aux_classifiers_and_returns_a_tensor_in_train_mode():
    model = cnnzoo.create("googlenet").train()
    assert model.aux1 is None and model.aux2 is None
    assert not any(k.startswith("aux") for k in model.state_dict())
    out = model(torch.randn(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1000)


# -- the networks the tutorials train: one tower of the 2012 AlexNet, the paper's GoogLeNet ----------


def _copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Give ``target`` the parameters of ``source``, matched by order: the two must agree layer by layer."""
    pairs = list(zip(source.parameters(), target.parameters(), strict=True))
    assert all(a.shape == b.shape for a, b in pairs), [(a.shape, b.shape) for a, b in pairs if a.shape != b.shape]
    with torch.no_grad():
        for a, b in pairs:
            b.copy_(a)


def _half_alexnet_as_the_tutorial_writes_it(num_classes: int) -> nn.Module:
    # the description, layer by layer
    return nn.Sequential(
        nn.Conv2d(3, 48, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(48, 128, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(128, 192, 3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(4608, 2048), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(2048, 2048), nn.ReLU(),
        nn.Linear(2048, num_classes),
    )


def test_alexnet_half_has_the_tutorials_parameter_count_for_five_flowers():
    model = meta_model("alexnet_half", num_classes=5)
    assert sum(p.numel() for p in model.parameters()) == 14_591_685


def test_alexnet_half_computes_what_the_tutorials_layer_by_layer_network_computes():
    reference = _half_alexnet_as_the_tutorial_writes_it(5).eval()
    model = cnnzoo.create("alexnet_half", num_classes=5).eval()
    _copy_in_order(reference, model)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
    assert not any(isinstance(m, cnnzoo.layers.LocalResponseNorm) for m in model.modules())
    assert list(model.state_dict()) == list(cnnzoo.create("alexnet", num_classes=5).state_dict()), \
        "torchvision's AlexNet layout"


def test_alexnet_half_is_one_tower_of_the_2012_network():
    half = meta_model("alexnet_half")
    towers = meta_model("alexnet_2012")
    half_convs = [m for m in half.features if isinstance(m, nn.Conv2d)]
    tower_convs = [m for m in towers.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in half_convs] == [c.out_channels // 2 for c in tower_convs]
    assert [(c.kernel_size, c.stride, c.padding) for c in half_convs] == \
        [(c.kernel_size, c.stride, c.padding) for c in tower_convs]
    assert all(c.groups == 1 for c in half_convs)
    assert half.num_features == 2048 and half.get_classifier().in_features == 2048


class _PaperInception(nn.Module):
    """Figure 2b as a tutorial writes it, with true 5x5 convolutions and no BatchNorm."""

    def __init__(self, c_in, c1, c3r, c3, c5r, c5, proj):
        super().__init__()
        self.p1 = nn.Sequential(nn.Conv2d(c_in, c1, 1), nn.ReLU())
        self.p2 = nn.Sequential(nn.Conv2d(c_in, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU())
        self.p3 = nn.Sequential(nn.Conv2d(c_in, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU())
        self.p4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(c_in, proj, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.p1(x), self.p2(x), self.p3(x), self.p4(x)], 1)


def _googlenet_as_the_paper_writes_it(in_chans: int, num_classes: int) -> nn.Module:
    # Table 1 and Figure 3, with the LRN of the released Caffe model (torch's LocalResponseNorm divides
    # alpha by the size, as Caffe does)
    return nn.Sequential(
        nn.Conv2d(in_chans, 64, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
        nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0), nn.MaxPool2d(3, 2, ceil_mode=True),
        _PaperInception(192, 64, 96, 128, 16, 32, 32), _PaperInception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        _PaperInception(480, 192, 96, 208, 16, 48, 64), _PaperInception(512, 160, 112, 224, 24, 64, 64),
        _PaperInception(512, 128, 128, 256, 24, 64, 64), _PaperInception(512, 112, 144, 288, 32, 64, 64),
        _PaperInception(528, 256, 160, 320, 32, 128, 128),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        _PaperInception(832, 256, 160, 320, 32, 128, 128), _PaperInception(832, 384, 192, 384, 48, 128, 128),
        nn.AvgPool2d(7), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, num_classes),
    )


def test_googlenet_2014_parameter_counts_with_and_without_auxiliary_classifiers():
    assert sum(p.numel() for p in meta_model("googlenet_2014").parameters()) == 6_998_552
    assert sum(p.numel() for p in meta_model("googlenet_2014", aux_logits=True).parameters()) == 13_378_280


def test_googlenet_2014_computes_table_1_at_224x224():
    reference = _googlenet_as_the_paper_writes_it(3, 1000).eval()
    model = cnnzoo.create("googlenet_2014").eval()
    _copy_in_order(reference, model)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)


def test_googlenet_2014_has_no_batchnorm_true_5x5_convolutions_and_the_caffe_models_lrn():
    model = meta_model("googlenet_2014", aux_logits=True)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    inceptions = [m for m in model.modules() if isinstance(m, Inception)]
    assert len(inceptions) == 9
    assert all(m.branch3[1].conv.kernel_size == (5, 5) for m in inceptions)
    assert all(c.bias is not None for c in model.modules() if isinstance(c, nn.Conv2d))
    norms = [m for m in model.modules() if isinstance(m, cnnzoo.layers.LocalResponseNorm)]
    assert [(n.size, n.alpha, n.beta, n.k, n.scale) for n in norms] == [(5, 1e-4, 0.75, 1.0, "pytorch")] * 2
    assert model.dropout.p == 0.4
    assert model.aux1.dropout.p == model.aux2.dropout.p == 0.7
    assert isinstance(model.maxpool4, nn.MaxPool2d) and model.maxpool4.kernel_size == 3


def test_googlenet_2014_auxiliary_classifiers_pool_5x5_stride_3_as_section_5_says():
    model = cnnzoo.create("googlenet_2014", aux_logits=True, num_classes=7).train()
    aux = model.aux1
    x = torch.randn(2, 512, 14, 14)  # Inception 4a's map at 224x224
    pooled = torch.nn.functional.avg_pool2d(x, 5, stride=3)
    assert pooled.shape[-2:] == (4, 4)
    with torch.no_grad():
        expected = aux.fc2(torch.relu(aux.fc1(torch.relu(aux.conv.conv(pooled)).flatten(1))))
        torch.testing.assert_close(aux.eval()(x), expected)


def test_googlenet_2014_takes_one_channel_96x96_fashion_mnist_images_with_auxiliary_classifiers():
    model = cnnzoo.create("googlenet_2014", in_chans=1, num_classes=10, aux_logits=True).train()
    x = torch.randn(4, 1, 96, 96)
    out = model(x)
    assert isinstance(out, GoogLeNetOutputs) and [o.shape for o in out] == [(4, 10)] * 3
    loss = out.logits.logsumexp(1).sum() + 0.3 * (out.aux_logits1.logsumexp(1).sum() + out.aux_logits2.logsumexp(1).sum())
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []
    with torch.no_grad():
        assert model.eval()(x).shape == (4, 10)


def test_googlenet_2014_auxiliary_classifiers_refuse_too_small_training_inputs_before_running():
    model = cnnzoo.create("googlenet_2014", aux_logits=True).train()
    m = model.min_aux_input_size
    assert m > model.min_input_size
    assert [o.shape for o in model(torch.randn(1, 3, m, m))] == [(1, 1000)] * 3
    with pytest.raises(cnnzoo.InputShapeError, match=f"at least {m}x{m}.*aux_logits=False"):
        model(torch.randn(1, 3, m - 1, m))
    with torch.no_grad():  # evaluation runs the main path alone, which takes smaller inputs
        assert model.eval()(torch.randn(1, 3, m - 1, m - 1)).shape == (1, 1000)


def test_googlenet_2014_reset_classifier_resizes_every_head_with_zero_biases():
    model = cnnzoo.create("googlenet_2014", aux_logits=True)
    model.reset_classifier(5)
    heads = [model.fc, model.aux1.fc2, model.aux2.fc2]
    assert [h.out_features for h in heads] == [5, 5, 5]
    assert all(torch.equal(h.bias, torch.zeros(5)) for h in heads)
    assert torch.equal(model.aux1.fc1.bias, torch.full((1024,), 0.2)), "hidden layers keep the Caffe model's 0.2"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_integer_images_raise_input_shape_error_with_the_totensor_hint(name):
    model = shared_meta_model(name)
    side = max(model.min_input_size, 32)
    for forward in (model, model.forward_features):
        with pytest.raises(cnnzoo.InputShapeError, match="ToTensor"):
            forward(torch.empty(2, model.in_chans, side, side, dtype=torch.uint8, device="meta"))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_features_refuses_a_wrong_channel_count_like_forward(name):
    model = shared_meta_model(name)
    side = max(model.min_input_size, 32)
    wrong = 1 if model.in_chans != 1 else 3
    with pytest.raises(cnnzoo.InputShapeError, match=f"in_chans={wrong}"):
        model.forward_features(torch.empty(2, wrong, side, side, device="meta"))
