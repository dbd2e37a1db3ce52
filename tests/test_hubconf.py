"""hubconf.py: torch.hub.load, list and help give every registered model as cnnzoo.create builds it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import cnnzoo
from cnnzoo import registry

REPO = Path(__file__).resolve().parents[1]
# torch.hub.list and help have no source="local": they read the cache folder a GitHub download goes to
GITHUB = "cnnzoo/cnnzoo:main"


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """hubconf puts the checkout's src/ first on sys.path, for the rest of the process; not beyond a test here."""
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def hub_cache() -> None:
    """The checkout where torch.hub keeps its download of cnnzoo/cnnzoo:main (TORCH_HOME is a temporary folder)."""
    hub_dir = Path(torch.hub.get_dir())
    hub_dir.mkdir(parents=True, exist_ok=True)
    (hub_dir / "cnnzoo_cnnzoo_main").symlink_to(REPO, target_is_directory=True)


def hub_load(name: str, *args: object, **kwargs: object) -> torch.nn.Module:
    return torch.hub.load(str(REPO), name, *args, source="local", **kwargs)


def import_hubconf() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("hubconf", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_hub_load_builds_what_create_builds_for_every_registered_model(name: str) -> None:
    with torch.device("meta"):  # shapes only: no weights allocated
        loaded, created = hub_load(name), cnnzoo.create(name)
    assert type(loaded) is type(created)
    assert shapes(loaded) == shapes(created)
    assert loaded.default_cfg == created.default_cfg


def test_hub_list_gives_exactly_the_registered_models(hub_cache: None) -> None:
    entry_points = torch.hub.list(GITHUB, trust_repo=True, skip_validation=True, verbose=False)
    assert sorted(entry_points) == sorted(cnnzoo.list_models())


def test_hub_help_gives_the_builders_docstring_and_the_paper(hub_cache: None) -> None:
    text = torch.hub.help(GITHUB, "resnet50", trust_repo=True, skip_validation=True)
    assert registry.get_entry("resnet50").builder.__doc__ in text
    assert '"Deep Residual Learning for Image Recognition", CVPR 2016' in text
    assert "resnet50.tv_in1k" in text and "num_classes" in text


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_every_entry_point_is_a_named_function_documenting_its_paper(name: str) -> None:
    entry_point = getattr(import_hubconf(), name)
    assert isinstance(entry_point, types.FunctionType) and entry_point.__name__ == name
    assert registry.get_entry(name).paper in entry_point.__doc__
    assert "features_only" in entry_point.__doc__


def test_hub_load_honours_num_classes_and_in_chans() -> None:
    model = hub_load("lenet5", num_classes=5, in_chans=3)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_hub_load_loads_a_safetensors_file_given_as_pretrained(tmp_path: Path) -> None:
    trained = cnnzoo.create("lenet5", num_classes=7)
    weights = cnnzoo.save_pretrained(trained, tmp_path / "saved") / "model.safetensors"
    assert weights.is_file()
    for loaded in (hub_load("lenet5", pretrained=str(weights), num_classes=7), hub_load("lenet5", weights, num_classes=7)):
        assert loaded.state_dict().keys() == trained.state_dict().keys()
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in trained.state_dict().items())


def test_hub_load_gives_the_feature_extractor_create_gives() -> None:
    loaded = hub_load("cifar_resnet20", features_only=True, out_indices=(1, 2))
    created = cnnzoo.create("cifar_resnet20", features_only=True, out_indices=(1, 2))
    assert isinstance(loaded, cnnzoo.FeatureExtractor)
    assert loaded.feature_info == created.feature_info
    maps = loaded(torch.randn(1, 3, 32, 32))
    assert [m.shape[1] for m in maps] == [info["num_chs"] for info in created.feature_info]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"drop_rat": 0.2}, cnnzoo.CnnzooTypeError),
        ({"num_classes": -1}, cnnzoo.CnnzooValueError),
        ({"out_indices": (0,)}, cnnzoo.CnnzooValueError),  # without features_only=True
        ({"pretrained": "no_such_tag"}, cnnzoo.WeightsError),
    ],
)
def test_hub_load_raises_cnnzoos_errors(kwargs: dict[str, object], error: type[Exception]) -> None:
    with torch.device("meta"), pytest.raises(error):
        hub_load("densenet121", **kwargs)


def test_a_model_without_published_weights_says_so_through_the_hub() -> None:
    with pytest.raises(cnnzoo.WeightsError, match="No pretrained weights are published for 'lenet5'"):
        hub_load("lenet5", pretrained=True)


def test_hubconf_warns_when_another_copy_of_cnnzoo_is_already_imported(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    elsewhere = types.ModuleType("cnnzoo")
    elsewhere.__dict__.update({k: v for k, v in vars(cnnzoo).items() if not k.startswith("__")})
    elsewhere.__file__ = str(tmp_path / "site-packages" / "cnnzoo" / "__init__.py")
    monkeypatch.setitem(sys.modules, "cnnzoo", elsewhere)
    with pytest.warns(UserWarning, match="already imported from .*site-packages"):
        hubconf = import_hubconf()
    assert hubconf._cnnzoo is elsewhere


@pytest.mark.slow
def test_the_checkouts_cnnzoo_wins_over_an_older_installed_one(tmp_path: Path) -> None:
    older = tmp_path / "site-packages" / "cnnzoo"
    older.mkdir(parents=True)
    (older / "__init__.py").write_text("__version__ = '0.0.1'\n")
    script = (
        "import sys, torch\n"
        f"model = torch.hub.load({str(REPO)!r}, 'lenet5', source='local', num_classes=3)\n"
        "import cnnzoo\n"
        "print(cnnzoo.__file__, type(model).__name__, model.get_classifier().out_features)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(older.parent)}
    result = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(REPO / "src" / "cnnzoo" / "__init__.py"), "LeNet5", "3"]
