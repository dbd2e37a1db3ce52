"""The registry: names, wildcards, close matches, argument checks, users' own models, model_info."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo import registry
from conftest import registry_restored

SEED_MODELS = [
    "lenet5", "alexnet", "alexnet_2012", "nin", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
    "vgg16_bn", "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2", "seresnet50", "seresnet101",
    "seresnet152", "densenet121", "densenet161", "densenet169", "densenet201", "cifar_resnet20",
    "cifar_resnet32", "cifar_resnet44", "cifar_resnet56", "cifar_resnet110", "cifar_densenet_bc100",
    "alexnet_half", "googlenet_2014",
]


@pytest.fixture
def clean_registry():
    """Let a test register models and forget them afterwards."""
    with registry_restored():
        yield


def test_every_classic_architecture_is_registered():
    missing = [name for name in SEED_MODELS if not cnnzoo.is_model(name)]
    assert missing == []


def test_builders_are_importable_by_name_from_cnnzoo_models():
    model = cnnzoo.models.resnet50(num_classes=5)
    assert model.get_classifier().out_features == 5
    assert model.default_cfg["architecture"] == "resnet50"


def test_list_models_sorts_naturally():
    assert cnnzoo.list_models("resnet[0-9]*") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def test_list_models_takes_several_patterns_and_excludes():
    names = cnnzoo.list_models(["vgg1?", "vgg1?_bn"], exclude="*_bn")
    assert names == ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert cnnzoo.list_models("no_such_*") == []


def test_list_models_without_pattern_lists_everything_once():
    names = cnnzoo.list_models()
    assert len(names) == len(set(names)) == len(registry._REGISTRY)


def test_is_model_is_false_for_unknown_names():
    assert cnnzoo.is_model("resnet50")
    assert not cnnzoo.is_model("resnet05")


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("resnet05", "resnet50"), ("densnet121", "densenet121"), ("ResNet-50", "resnet50"), ("vgg16bn", "vgg16_bn")],
)
def test_unknown_name_error_lists_close_matches(typo, expected):
    with pytest.raises(cnnzoo.UnknownModelError, match="Did you mean") as caught:
        cnnzoo.create(typo)
    assert expected in str(caught.value)
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, KeyError)


def test_unknown_name_without_close_match_points_to_the_list():
    with pytest.raises(cnnzoo.UnknownModelError, match="list_models"):
        cnnzoo.model_info("transformer_xl")


@pytest.mark.parametrize(("argument", "bad"), [(argument, bad) for argument in ("num_classes", "in_chans")
                                               for bad in (0, -1, 2.5, True, "5")
                                               if (argument, bad) != ("num_classes", 0)])  # 0: timm's no-classifier
def test_create_refuses_non_positive_or_non_integer_counts(argument, bad):
    with pytest.raises(ValueError, match=argument) as caught:
        cnnzoo.create("lenet5", **{argument: bad})
    assert isinstance(caught.value, cnnzoo.CnnzooError)


def test_negative_num_classes_error_says_zero_gives_features():
    with pytest.raises(ValueError, match="num_classes=0 gives a model without classifier"):
        cnnzoo.create("resnet18", num_classes=-1)


def test_create_passes_architecture_options_through():
    model = cnnzoo.create("googlenet", aux_logits=True)
    assert model.aux1 is not None and model.aux2 is not None
    with pytest.raises(TypeError, match="no_such_option"):
        cnnzoo.create("resnet18", no_such_option=1)


def test_create_uses_the_model_defaults_when_counts_are_not_given():
    lenet = cnnzoo.create("lenet5")
    assert (lenet.num_classes, lenet.in_chans) == (10, 1)
    assert cnnzoo.create("lenet5", in_chans=3).default_cfg["input_size"] == (3, 32, 32)


def test_pretrained_without_published_weights_is_refused_loudly():
    with pytest.raises(cnnzoo.WeightsError, match="lenet5"):
        cnnzoo.create("lenet5", pretrained=True)


def test_model_info_describes_without_building_real_weights():
    info = cnnzoo.model_info("resnet50")
    assert info.parameters == 25_557_032
    assert info.family == "resnet"
    assert "Deep Residual Learning" in info.paper
    assert info.input_size == (3, 224, 224)
    assert info.num_classes == 1000
    # torchvision lists 4.09 GFLOPS counting multiply-adds; the flop counter counts each as two
    assert info.gflops == pytest.approx(8.18, abs=0.02)
    assert info.mean == (0.485, 0.456, 0.406) and info.std == (0.229, 0.224, 0.225)
    assert info.min_input_size == (3, 1, 1)


def test_model_info_follows_configuration_arguments():
    assert cnnzoo.model_info("resnet50", num_classes=5).parameters == 25_557_032 - 2048 * 995 - 995
    one_channel = cnnzoo.model_info("resnet50", in_chans=1)
    assert one_channel.input_size == (1, 224, 224)
    assert one_channel.mean == pytest.approx((sum((0.485, 0.456, 0.406)) / 3,))
    with pytest.raises(ValueError, match="num_classes"):
        cnnzoo.model_info("resnet50", num_classes=0)


# the input of these weights differs from the architecture's default: a resize (tv2_in1k), a size and an
# interpolation (a1_in1k), a normalisation (ra4_e3600_r224_in1k), an architecture option (googlenet.tv_in1k)
TAGS_WITH_THEIR_OWN_INPUT = ["resnet50.tv2_in1k", "resnet50.a1_in1k", "resnet34.ra4_e3600_r224_in1k",
                             "googlenet.tv_in1k"]


@pytest.mark.parametrize("name", TAGS_WITH_THEIR_OWN_INPUT)
@pytest.mark.parametrize("kwargs", [{}, {"num_classes": 5, "in_chans": 1}], ids=["default", "adapted"])
def test_model_info_of_name_tag_describes_what_create_of_it_builds(name, kwargs, publish_weights):
    publish_weights([name])
    model = cnnzoo.create(name, **kwargs)
    cfg = model.default_cfg
    info = cnnzoo.model_info(name, **kwargs)
    model_name, _, tag = name.partition(".")
    assert (info.name, info.tag, info.default_tag) == (model_name, tag, "tv_in1k")
    assert cfg["tag"] == tag
    assert info.input_size == tuple(cfg["input_size"]) and info.crop_pct == pytest.approx(cfg["crop_pct"])
    assert (info.interpolation, info.mean, info.std) == (cfg["interpolation"], tuple(cfg["mean"]), tuple(cfg["std"]))
    assert info.num_classes == cfg["num_classes"] == kwargs.get("num_classes", 1000)
    assert info.parameters == sum(p.numel() for p in model.parameters())
    expected_gflops = cnnzoo.summary(model.eval(), info.input_size).flops / 1e9
    assert info.gflops == pytest.approx(expected_gflops)
    assert info != cnnzoo.model_info(model_name, **kwargs)  # the weights' input, not the architecture's


def test_model_info_of_a_bare_name_describes_the_architecture_without_a_tag():
    info = cnnzoo.model_info("resnet50")
    assert info.tag is None and info.default_tag == "tv_in1k"
    assert (info.input_size, info.interpolation) == ((3, 224, 224), "bilinear")
    assert cnnzoo.model_info("resnet50.a1_in1k").input_size == (3, 288, 288)


@pytest.mark.parametrize(("name", "error"), [
    ("resnet50.no_such_tag", cnnzoo.WeightsError),  # the message lists the model's tags
    ("lenet5.tv_in1k", cnnzoo.WeightsError),  # no weights published at all
    ("no_such_model.tv_in1k", cnnzoo.UnknownModelError),
    ("resnet50.", cnnzoo.UnknownModelError),
    ("resnet50..", cnnzoo.UnknownModelError),
    (".tv_in1k", cnnzoo.UnknownModelError),
    ("resnet50.tv_in1k.x", cnnzoo.UnknownModelError),
])
def test_model_info_refuses_a_name_tag_as_create_does(name, error):
    with pytest.raises(error) as by_create:
        with torch.device("meta"):
            cnnzoo.create(name)
    with pytest.raises(error) as by_info:
        cnnzoo.model_info(name)
    assert str(by_info.value) == str(by_create.value)


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_every_model_and_builder_docstring_cite_the_paper(name):
    info = cnnzoo.model_info(name)
    assert info.paper and ("19" in info.paper or "20" in info.paper), "citation with a year"
    assert info.family
    first_author = info.paper.split(",")[0].split()[0]
    assert first_author in (registry.get_entry(name).builder.__doc__ or ""), "the docstring cites the paper"


def test_model_info_is_a_frozen_dataclass():
    info = cnnzoo.model_info("lenet5")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.parameters = 0  # type: ignore[misc]


def test_register_model_bare_decorator_registers_a_users_model(clean_registry):
    @cnnzoo.register_model
    def my_tiny_net(num_classes: int = 3, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    assert cnnzoo.is_model("my_tiny_net")
    assert "my_tiny_net" in cnnzoo.list_models("my_*")
    model = cnnzoo.create("my_tiny_net", num_classes=6, in_chans=2)
    assert model(torch.randn(2, 2, 16, 16)).shape == (2, 6)
    assert model.default_cfg["architecture"] == "my_tiny_net"
    assert model.default_cfg["input_size"] == (2, 224, 224)
    assert cnnzoo.model_info("my_tiny_net").family == "test_registry"


def test_register_model_with_arguments_sets_the_configuration(clean_registry):
    @cnnzoo.register_model(name="cifar_toy", family="toys", paper="Me, 2026", input_size=(3, 32, 32),
                           num_classes=10, crop_pct=1.0)
    def build(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(in_chans * 32 * 32, num_classes))

    info = cnnzoo.model_info("cifar_toy")
    assert (info.family, info.paper, info.input_size, info.crop_pct) == ("toys", "Me, 2026", (3, 32, 32), 1.0)
    assert info.parameters == 3 * 32 * 32 * 10 + 10


def test_register_model_refuses_duplicates_unless_overwriting(clean_registry):
    def resnet18(num_classes: int = 1000, in_chans: int = 3) -> nn.Module:
        return nn.Linear(1, num_classes)

    with pytest.raises(cnnzoo.RegistryError, match="already registered"):
        cnnzoo.register_model(resnet18)
    cnnzoo.register_model(resnet18, overwrite=True)
    assert isinstance(cnnzoo.create("resnet18"), nn.Linear)


def test_register_model_refuses_dotted_names(clean_registry):
    with pytest.raises(cnnzoo.RegistryError, match="tag"):
        cnnzoo.register_model(lambda **kw: nn.Identity(), name="mine.v1")


def test_builder_without_kwargs_reports_unexpected_arguments(clean_registry):
    @cnnzoo.register_model
    def fixed_net(num_classes: int = 2) -> nn.Module:
        return nn.Linear(4, num_classes)

    with pytest.raises(TypeError, match="in_chans"):
        cnnzoo.create("fixed_net", in_chans=1)


# -- explicit sources and arguments checked at the call (issue 15) ----------------------------------------


def test_a_registered_name_means_the_registered_network_whatever_folders_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cnnzoo.save_pretrained(cnnzoo.create("lenet5"), "resnet18")  # a saved LeNet-5 in ./resnet18/
    assert type(cnnzoo.create("resnet18")).__name__ == "ResNet"
    assert type(cnnzoo.create("./resnet18")).__name__ == "LeNet5"
    assert type(cnnzoo.create(tmp_path / "resnet18")).__name__ == "LeNet5"


def test_a_bare_unregistered_name_with_a_saved_folder_is_ambiguous_and_says_how_to_load_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cnnzoo.save_pretrained(cnnzoo.create("lenet5"), "flowers")
    with pytest.raises(cnnzoo.UnknownModelError, match=r"create\('\./flowers'\)"):
        cnnzoo.create("flowers")
    with pytest.raises(cnnzoo.WeightsError, match="not a folder"):
        cnnzoo.create(tmp_path / "no-such-folder")


@pytest.mark.parametrize("bad", [None, 3, 2.5, ["resnet18"], b"resnet18"])
def test_create_and_model_info_refuse_a_name_that_is_not_a_string(bad):
    with pytest.raises(cnnzoo.UnknownModelError, match="resnet50"):
        cnnzoo.create(bad)
    with pytest.raises(cnnzoo.UnknownModelError):
        cnnzoo.model_info(bad)


@pytest.mark.parametrize("bad", [2, "12", [1.5], [], [True], (None,)])
def test_create_refuses_out_indices_that_are_not_a_sequence_of_stage_indices(bad):
    with pytest.raises(cnnzoo.CnnzooValueError, match="out_indices"):
        cnnzoo.create("lenet5", features_only=True, out_indices=bad)


def test_out_indices_without_features_only_is_refused_rather_than_ignored():
    with pytest.raises(cnnzoo.CnnzooValueError, match="features_only=True"):
        cnnzoo.create("lenet5", out_indices=(1, 2))


def test_numpy_and_torch_integers_are_whole_numbers():
    np = pytest.importorskip("numpy")
    model = cnnzoo.create("lenet5", num_classes=np.int64(5), in_chans=torch.tensor(2))
    assert (model.num_classes, model.in_chans) == (5, 2) and type(model.num_classes) is int
    backbone = cnnzoo.create("lenet5", features_only=True, out_indices=[np.int32(1)])
    assert [info["index"] for info in backbone.feature_info] == [1]


@pytest.mark.parametrize("name, argument", [("densenet121", "drop_rate"), ("vgg11", "dropout"), ("alexnet", "dropout"),
                                            ("nin", "dropout"), ("googlenet_2014", "dropout_aux")])
@pytest.mark.parametrize("bad", [-1, 1, 2, float("nan"), "0.5", None])
def test_dropout_outside_0_to_1_is_refused_at_the_call(name, argument, bad):
    with pytest.raises(cnnzoo.CnnzooValueError, match=argument):
        with torch.device("meta"):
            cnnzoo.create(name, **{argument: bad})


def test_model_info_follows_a_re_registration(clean_registry):
    @cnnzoo.register_model(family="mine")
    def tiny(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    assert cnnzoo.model_info("tiny").family == "mine"
    assert cnnzoo.model_info("tiny").parameters == 3 * 4 * 9 + 4 + 4 * 10 + 10

    @cnnzoo.register_model(name="tiny", family="yours", overwrite=True)
    def tiny_again(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))

    assert cnnzoo.model_info("tiny").family == "yours"
    assert cnnzoo.model_info("tiny").parameters == 3 * 8 * 9 + 8 + 8 * 10 + 10


# -- one job a module: the registry knows names, builders and their declared weights ---------------------


def test_the_registry_imports_neither_the_factory_nor_the_weights_loader():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(registry.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not imported & {"cnnzoo.pretrained", "cnnzoo.factory", "cnnzoo.transfer"}


def test_every_published_tag_is_declared_beside_its_builder_and_knows_its_model():
    for model_name, tags in registry.PRETRAINED.items():
        builder_module = registry.get_entry(model_name).builder.__module__
        assert builder_module.startswith("cnnzoo.models."), model_name
        assert all(tag.model == model_name and tag.name == f"{model_name}.{key}" for key, tag in tags.items())
        assert registry.DEFAULT_TAGS[model_name] in tags


def test_a_users_model_declares_its_weights_at_registration_and_loads_them(clean_registry, hf_cache, tmp_path):
    from safetensors.torch import save_file

    from cnnzoo.weights import PretrainedTag

    def tiny(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    cnnzoo.register_model(name="tiny", weights=[PretrainedTag("mine_in1k", hf_hub_id="me/tiny", publisher="me")])(tiny)
    reference = tiny()
    save_file(reference.state_dict(), str(tmp_path / "w.safetensors"))
    hf_cache("me/tiny", {"model.safetensors": tmp_path / "w.safetensors"})
    assert cnnzoo.list_models("tiny", pretrained=True) == ["tiny.mine_in1k"]
    model = cnnzoo.create("tiny", pretrained=True)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    cnnzoo.register_model(name="tiny", overwrite=True)(tiny)  # re-registered without weights: none left
    assert cnnzoo.list_models("tiny", pretrained=True) == []


def test_model_info_of_a_plain_modules_tag_describes_what_create_of_it_builds(clean_registry, hf_cache, tmp_path):
    # a registered plain module has no apply_pretrained_cfg of its own: the weights' input goes over its description
    from safetensors.torch import save_file

    from cnnzoo.weights import PretrainedTag

    def tiny(num_classes: int = 10, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    weights = PretrainedTag("small_in1k", hf_hub_id="me/tiny", publisher="me", resize=112, crop=96,
                            interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), num_classes=10)
    cnnzoo.register_model(name="tiny", input_size=(3, 64, 64), weights=[weights])(tiny)
    save_file(tiny().state_dict(), str(tmp_path / "w.safetensors"))
    hf_cache("me/tiny", {"model.safetensors": tmp_path / "w.safetensors"})
    cfg = cnnzoo.create("tiny.small_in1k").default_cfg
    info = cnnzoo.model_info("tiny.small_in1k")
    assert (info.input_size, info.crop_pct, info.interpolation) == ((3, 96, 96), 96 / 112, "bicubic")
    assert (info.input_size, info.crop_pct, info.interpolation) == (cfg["input_size"], cfg["crop_pct"],
                                                                    cfg["interpolation"])
    assert (info.mean, info.std, info.tag) == (cfg["mean"], cfg["std"], cfg["tag"]) == (
        (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "small_in1k")
    assert cnnzoo.model_info("tiny").input_size == (3, 64, 64)


def test_a_misspelt_architecture_option_is_named_at_the_call_for_every_model():
    for name in ["alexnet", "resnet18", "densenet121", "vgg11", "googlenet_2014"]:
        with pytest.raises(cnnzoo.CnnzooTypeError, match="no_such_option") as caught:
            with torch.device("meta"):
                cnnzoo.create(name, no_such_option=1)
        assert isinstance(caught.value, TypeError) and "it takes" in str(caught.value)


def test_a_trailing_dot_is_not_the_default_tag():
    with pytest.raises(cnnzoo.UnknownModelError, match="no tag after it"):
        cnnzoo.create("resnet18.")


@pytest.mark.parametrize("name", [".tv_in1k", "resnet18..", "resnet18.tv_in1k.x", "a.b.c"])
def test_a_name_with_an_empty_model_or_more_than_one_dot_says_what_a_name_looks_like(name):
    with pytest.raises(cnnzoo.UnknownModelError, match=r"neither NAME nor NAME\.TAG") as caught:
        cnnzoo.create(name)
    assert "resnet50.tv2_in1k" in str(caught.value) and f"'./{name}'" in str(caught.value)


@pytest.mark.parametrize("bad", [3, [1], ("vgg*", None)])
def test_list_models_refuses_patterns_that_are_not_strings(bad):
    with pytest.raises(cnnzoo.CnnzooValueError, match="Patterns are strings"):
        cnnzoo.list_models(bad)


@pytest.mark.parametrize("bad", [3, "my net", "org/net", "~net", "hf-hub:net"])
def test_register_model_refuses_names_create_would_read_as_something_else(clean_registry, bad):
    with pytest.raises(cnnzoo.RegistryError, match="path"):
        cnnzoo.register_model(name=bad)(lambda **kwargs: nn.Identity())


# -- timm's tags merged with the families' own (src/cnnzoo/weights_timm.py, checked in tests/test_weights.py) --


def test_timms_other_tags_join_a_familys_own_after_them():
    tags = registry.tags_of("resnet50")
    assert tags[:2] == ["tv_in1k", "tv2_in1k"] and "a1_in1k" in tags and "fb_swsl_ig1b_ft_in1k" in tags
    assert registry.DEFAULT_TAGS["resnet50"] == "tv_in1k"
    assert registry.get_tag("resnet50", "tv_in1k").top1 == 76.13  # the family's declaration wins over timm's
    assert cnnzoo.is_model("resnext101_32x8d.fb_wsl_ig1b_ft_in1k")


def test_a_users_own_model_under_a_cnnzoo_name_does_not_inherit_timms_tags(clean_registry):
    def resnet50(num_classes: int = 1000, in_chans: int = 3) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    cnnzoo.register_model(overwrite=True)(resnet50)
    assert registry.tags_of("resnet50") == []
    with pytest.raises(cnnzoo.WeightsError, match="No pretrained weights"):
        registry.get_tag("resnet50", "a1_in1k")


def test_list_models_selects_weights_by_license():
    non_commercial = cnnzoo.list_models(pretrained=True, license="cc-by-nc-*")
    assert "resnext101_32x8d.fb_wsl_ig1b_ft_in1k" in non_commercial
    assert all(registry.get_tag(*n.rsplit(".", 1)).license == "cc-by-nc-4.0" for n in non_commercial)
    permissive = cnnzoo.list_models("resnet18", pretrained=True, license=["apache-2.0", "bsd-*"])
    assert permissive[0] == "resnet18.tv_in1k" and "resnet18.a1_in1k" in permissive
    assert not any("fb_" in n for n in permissive)
    assert cnnzoo.list_models(pretrained=True, license="no-such-license") == []


def test_list_models_license_needs_pretrained_and_strings():
    with pytest.raises(cnnzoo.CnnzooValueError, match="pretrained=True"):
        cnnzoo.list_models(license="apache-2.0")
    with pytest.raises(cnnzoo.CnnzooValueError, match="Patterns are strings"):
        cnnzoo.list_models(pretrained=True, license=3)


def test_the_tests_family_representatives_cover_every_family_and_the_fast_tier_every_family_too():
    from conftest import FAST_MODELS, smallest_of_each_family

    families = {cnnzoo.registry.get_entry(n).family for n in cnnzoo.list_models()}
    assert {cnnzoo.registry.get_entry(n).family for n in smallest_of_each_family()} == families
    assert FAST_MODELS <= set(cnnzoo.list_models())
    # the fast tier's cheap networks stand for every family but VGG's and the ResNet variants' (same blocks)
    covered = {cnnzoo.registry.get_entry(n).family for n in FAST_MODELS}
    assert families - covered <= {"vgg", "resnext", "wide_resnet", "seresnet", "densenet"}
