"""examples/finetune.py runs end to end on a tiny image folder made here; examples/make_digits_folder.py writes
scikit-learn's digits as an image folder; the tutorial's committed run is whole and is the one the page shows."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.datasets import ImageFolder

import cnnzoo

ROOT = Path(__file__).resolve().parents[1]
#: The run the tutorial shows: examples/finetune.py's metrics.json and plots, committed beside the page.
TUTORIAL_RUN = ROOT / "docs" / "_static" / "tutorial_run"
TUTORIAL_RUN_FILES = {"metrics.json", "confusion_matrix.png", "curves.png", "mistakes.png"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image_folder(root: Path, classes: tuple[str, ...] = ("daisy", "tulips"), per_class: int | tuple[int, ...] = 6) -> Path:
    generator = torch.Generator().manual_seed(0)
    counts = (per_class,) * len(classes) if isinstance(per_class, int) else per_class
    for index, (name, count) in enumerate(zip(classes, counts, strict=True)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            # each class its own colour, so there is something to learn
            pixels = torch.randint(0, 60, (40, 48, 3), generator=generator, dtype=torch.uint8)
            pixels[..., index % 3] += 150
            Image.fromarray(pixels.numpy()).save(root / name / f"{i}.png")
    return root


def _run_finetune(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """examples/finetune.py run as a script, as a user runs it."""
    return subprocess.run([sys.executable, str(ROOT / "examples" / "finetune.py"), *args],
                          capture_output=True, text=True, timeout=300, check=False, env=env)


@pytest.mark.slow
def test_finetune_example_trains_one_epoch_and_saves_a_reloadable_model(tmp_path):
    data = _image_folder(tmp_path / "flowers")
    output = tmp_path / "run"
    result = _run_finetune("--data", str(data), "--model", "cifar_resnet20", "--epochs", "1", "--batch-size", "4",
                           "--freeze-backbone", "--hidden", "auto", "--output", str(output))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "per-class validation accuracy" in result.stdout and "daisy" in result.stdout
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["classes"] == ["daisy", "tulips"] and len(metrics["history"]) == 1
    confusion = torch.tensor(metrics["confusion_matrix"])
    assert confusion.shape == (2, 2) and confusion.sum() == 2  # 10% of each class's 6 images, rounded: 1 each
    model = cnnzoo.create(str(output / "model"))
    assert model.num_classes == 2
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    for name in ("confusion_matrix.png", "curves.png", "mistakes.png"):
        assert (output / name).read_bytes().startswith(PNG_SIGNATURE)


def _example(name: str):
    """examples/NAME.py as a module (examples/ is not a package)."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def _finetune():
    return _example("finetune")


def test_finetune_example_uses_train_and_val_folders_when_present(tmp_path):
    finetune = _finetune()
    _image_folder(tmp_path / "data" / "train")
    _image_folder(tmp_path / "data" / "val", per_class=2)
    model = cnnzoo.create("cifar_resnet20", num_classes=2)
    train, val, classes = finetune.datasets(tmp_path / "data", model, 0.1, 0)
    assert (len(train), len(val), classes) == (12, 4, ["daisy", "tulips"])
    image, label = val[0]
    assert image.shape == (3, 32, 32) and label == 0


def _held_out(count: int, fraction: float) -> int:
    """How many of a class's ``count`` images the split promises to validation: fraction * count to the nearest
    whole image (halves up), at least one each way, and none from a class of one image."""
    if count == 1:
        return 0
    return min(max(math.floor(fraction * count + 0.5), 1), count - 1)


@pytest.mark.parametrize(("fraction", "expected"), [(0.1, [1, 2, 1]), (0.25, [3, 5, 2]), (0.5, [5, 10, 4])])
def test_finetune_example_splits_a_class_folder_class_by_class(tmp_path, fraction, expected):
    finetune = _finetune()
    data = _image_folder(tmp_path / "data", classes=("daisy", "roses", "tulips"), per_class=(10, 20, 7))
    model = cnnzoo.create("cifar_resnet20", num_classes=3)
    train, val, classes = finetune.datasets(data, model, fraction, 0)
    assert classes == ["daisy", "roses", "tulips"]
    # two views of the same listing, with training and evaluation transforms
    assert train.dataset is not val.dataset and train.dataset.samples == val.dataset.samples
    assert train.dataset.transform is not val.dataset.transform
    samples = train.dataset.samples
    train_files = [samples[i][0] for i in train.indices]
    val_files = [samples[i][0] for i in val.indices]
    assert not set(train_files) & set(val_files)
    assert sorted(train_files + val_files) == sorted(str(path) for path in data.rglob("*.png"))
    held_out = [sum(samples[i][1] == label for i in val.indices) for label in range(3)]
    assert held_out == expected == [_held_out(count, fraction) for count in (10, 20, 7)]
    image, label = val[0]
    assert image.shape == (3, 32, 32) and label == 0


def test_stratified_split_is_reproducible_with_the_seed_and_changes_with_another():
    finetune = _finetune()
    targets = [0] * 10 + [1] * 20 + [2] * 7
    first = finetune.stratified_split(targets, 0.2, seed=0)
    assert finetune.stratified_split(targets, 0.2, seed=0) == first
    other = finetune.stratified_split(targets, 0.2, seed=1)
    assert other != first
    assert [len(part) for part in other] == [len(part) for part in first]


def test_stratified_split_keeps_a_single_image_class_for_training():
    finetune = _finetune()
    train, val = finetune.stratified_split([0, 1, 1, 2, 2, 2], 0.1, seed=0)
    assert 0 in train and 0 not in val
    assert [sum(i in val for i in (1, 2)), sum(i in val for i in (3, 4, 5))] == [1, 1]


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=5),
    fraction=st.floats(0, 0.5, exclude_min=True),
    seed=st.integers(0, 2**31 - 1),
)
def test_stratified_split_holds_out_each_class_share_and_covers_every_image_once(data, sizes, fraction, seed):
    finetune = _finetune()
    # in any order: the split must not rely on ImageFolder listing classes one after another
    targets = data.draw(st.permutations([label for label, size in enumerate(sizes) for _ in range(size)]))
    train, val = finetune.stratified_split(targets, fraction, seed)
    assert sorted(train + val) == list(range(len(targets)))
    assert train == sorted(train) and val == sorted(val)
    for label, size in enumerate(sizes):
        held_out = sum(targets[i] == label for i in val)
        assert held_out == _held_out(size, fraction)
        if size > 1:
            assert 1 <= held_out <= size - 1
            if 1 < fraction * size + 0.5 < size:  # not pushed to a bound: as close to the fraction as a whole count gets
                assert abs(held_out - fraction * size) <= 0.5 + 1e-9
    assert finetune.stratified_split(targets, fraction, seed) == (train, val)


@pytest.mark.parametrize("fraction", ["0", "1", "-0.1", "1.5", "nan", "ten"])
def test_finetune_example_refuses_a_val_fraction_outside_0_to_1_with_a_usage_error(fraction, capsys):
    finetune = _finetune()
    with pytest.raises(SystemExit) as exit_info:
        finetune.parse_args(["--data", "flowers", "--val-fraction", fraction])
    assert exit_info.value.code == 2
    assert "--val-fraction" in capsys.readouterr().err


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 2.0, float("nan")])
def test_stratified_split_refuses_a_fraction_outside_0_to_1(fraction):
    finetune = _finetune()
    with pytest.raises(cnnzoo.CnnzooValueError, match="between 0 and 1"):
        finetune.stratified_split([0, 0, 1, 1], fraction, seed=0)


def test_finetune_example_help_says_the_split_is_per_class_and_seeded(capsys):
    finetune = _finetune()
    with pytest.raises(SystemExit):
        finetune.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "share of each class held out for validation" in help_text
    assert "the same seed gives the same split" in help_text
    assert "split 90/10" not in finetune.__doc__ and "class by class" in finetune.__doc__


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as probe:  # binding is allowed here; only connecting is refused (conftest.py)
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_finetune_example_under_torchrun_trains_on_two_processes_and_only_rank_0_writes(tmp_path):
    data = _image_folder(tmp_path / "flowers")
    output = tmp_path / "run"
    env = dict(os.environ)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the processes talk over loopback only
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(_free_loopback_port()),
         str(ROOT / "examples" / "finetune.py"), "--data", str(data), "--model", "cifar_resnet20", "--device", "cpu",
         "--epochs", "1", "--batch-size", "2", "--freeze-backbone", "--output", str(output)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # one report and one set of files, from rank 0 alone
    assert result.stdout.count("saved to") == 1 and result.stdout.count("per-class validation accuracy") == 1
    assert "10 training and 2 validation images, 2 processes" in result.stdout
    expected = {"model", "metrics.json"}
    try:
        import matplotlib  # noqa: F401

        expected |= {"confusion_matrix.png", "curves.png", "mistakes.png"}
    except ImportError:
        pass
    assert {path.name for path in output.iterdir()} == expected
    assert (output / "model" / "config.json").is_file()
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and torch.tensor(metrics["confusion_matrix"]).sum() == 2
    # the record says how to repeat the run: under torchrun, on two processes
    assert metrics["command"].startswith("torchrun --nproc-per-node 2 ") and metrics["environment"]["processes"] == 2
    assert metrics["images"] == {"training": 10, "validation": 2}
    model = cnnzoo.create(str(output / "model"))
    assert model.num_classes == 2
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)


def test_finetune_example_trains_with_bf16_and_recomputation_and_shows_an_empty_class_as_dash_and_null(tmp_path, capsys):
    finetune = _finetune()
    # a class of one image keeps it for training, so the validation split has no tulips at all
    data = _image_folder(tmp_path / "flowers", per_class=(6, 1))
    output = tmp_path / "run"
    assert finetune.main(["--data", str(data), "--model", "cifar_resnet20", "--device", "cpu", "--amp", "bf16",
                          "--memory-efficient", "--epochs", "1", "--batch-size", "4", "--workers", "0",
                          "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "on cpu, bf16 autocast, memory-efficient" in printed
    tulips = next(line for line in printed.splitlines() if line.strip().startswith("tulips"))
    assert tulips.split() == ["tulips", "-"]
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["per_class_accuracy"]["tulips"] is None and metrics["per_class_accuracy"]["daisy"] is not None
    assert torch.tensor(metrics["confusion_matrix"]).sum(1).tolist() == [1, 0]
    assert "nan" not in printed.lower() and "nan" not in (output / "metrics.json").read_text().lower()
    assert cnnzoo.create(str(output / "model"))(torch.randn(1, 3, 32, 32)).shape == (1, 2)


@pytest.mark.slow
def test_finetune_example_trains_a_memory_efficient_densenet_under_bf16_as_a_script(tmp_path):
    data = _image_folder(tmp_path / "flowers")
    output = tmp_path / "run"
    result = _run_finetune("--data", str(data), "--model", "cifar_densenet_bc100", "--device", "cpu", "--amp", "bf16",
                           "--memory-efficient", "--epochs", "1", "--batch-size", "4", "--output", str(output))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "bf16 autocast, memory-efficient" in result.stdout
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and torch.tensor(metrics["confusion_matrix"]).sum() == 2
    assert all(math.isfinite(value) for value in metrics["history"][0].values())


@pytest.mark.parametrize(("name", "memory_efficient", "grad_checkpointing"), [
    ("cifar_densenet_bc100", True, False),  # DenseNet's own memory-efficient implementation
    ("cifar_resnet20", False, True),  # every other network: gradient checkpointing
])
def test_finetune_example_memory_efficient_builds_each_family_in_its_memory_saving_form(name, memory_efficient,
                                                                                       grad_checkpointing):
    finetune = _finetune()
    args = finetune.parse_args(["--data", "flowers", "--model", name, "--device", "cpu", "--memory-efficient"])
    model = finetune.build_model(args, num_classes=3)
    assert model.num_classes == 3
    assert getattr(model, "memory_efficient", False) is memory_efficient
    assert model.grad_checkpointing is grad_checkpointing
    plain = finetune.build_model(finetune.parse_args(["--data", "flowers", "--model", name, "--device", "cpu"]), 3)
    assert not getattr(plain, "memory_efficient", False) and not plain.grad_checkpointing


def test_finetune_example_help_says_what_memory_efficient_trades_and_what_auto_width_is(capsys):
    finetune = _finetune()
    with pytest.raises(SystemExit):
        finetune.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "seed rule" not in help_text
    assert "'auto' for about sqrt(features x classes) rounded to a power of two" in help_text
    assert "keep less activation memory for backward by recomputing activations there" in help_text
    assert "one less than the CPUs this process may use, at most 4" in help_text
    assert "--amp {off,bf16,fp16}" in help_text
    doc = " ".join(finetune.__doc__.split())
    assert "--amp bf16 --memory-efficient" in doc and "cnnzoo memory MODEL --budget 2GiB" in doc


def _no_cuda(monkeypatch, mps: bool = False) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_finetune_example_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    finetune = _finetune()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert finetune.resolve_device("auto") == expected
    assert finetune.parse_args(["--data", "flowers"]).device == expected


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "gpu"])
def test_finetune_example_refuses_a_device_this_machine_lacks_with_a_one_line_usage_error(monkeypatch, capsys, device):
    finetune = _finetune()
    _no_cuda(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        finetune.parse_args(["--data", "flowers", "--device", device])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ": error: argument --device:" in err
    expected = {"cuda": "CUDA is not available", "cuda:1": "CUDA is not available", "mps": "MPS is not available",
                "gpu": "expected auto, cuda, cuda:N, mps or cpu"}
    assert expected[device] in err


@pytest.mark.slow
def test_finetune_example_with_device_cuda_and_no_cuda_exits_2_with_one_line_and_no_traceback(tmp_path):
    result = _run_finetune("--data", str(tmp_path), "--device", "cuda", env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "CUDA is not available on this machine" in result.stderr and "--device" in result.stderr


def test_finetune_example_autocast_probe_tells_supported_dtypes_from_unsupported():
    finetune = _finetune()
    assert finetune.autocast_works("cpu", torch.bfloat16)
    assert not finetune.autocast_works("cpu", torch.float64)  # CPU autocast warns and stays float32


@pytest.mark.parametrize("capability", [(6, 1), (7, 5), (8, 0), (9, 0)])
def test_finetune_example_offers_bfloat16_only_on_cards_that_run_it_natively(capability, monkeypatch):
    finetune = _finetune()
    asked = []
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda device_type: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # says yes to emulation too
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: asked.append(index) or capability)
    assert finetune.autocast_works("cuda:1", torch.bfloat16) == (capability[0] >= 8)
    assert finetune.autocast_works("cuda", torch.float16)
    assert asked[0] == 1  # the process's own card, as torchrun assigns it


def test_finetune_example_refuses_amp_the_device_cannot_run_and_names_the_other(monkeypatch, capsys):
    finetune = _finetune()
    monkeypatch.setattr(finetune, "autocast_works", lambda device, dtype: dtype == torch.bfloat16)
    assert finetune.parse_args(["--data", "flowers", "--device", "cpu", "--amp", "bf16"]).amp == "bf16"
    with pytest.raises(SystemExit) as exit_info:
        finetune.parse_args(["--data", "flowers", "--device", "cpu", "--amp", "fp16"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--amp fp16" in err and "use --amp bf16" in err


@pytest.mark.parametrize(("cpus", "expected"), [(1, 0), (2, 1), (3, 2), (5, 4), (64, 4)])
def test_finetune_example_workers_default_is_one_less_than_the_cpus_at_most_4(monkeypatch, cpus, expected):
    finetune = _finetune()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert finetune.default_workers() == expected
    assert finetune.parse_args(["--data", "flowers"]).workers == expected


def test_finetune_example_workers_default_draws_no_dataloader_warning():
    import warnings

    finetune = _finetune()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.utils.data.DataLoader(list(range(4)), num_workers=finetune.default_workers())


def test_finetune_example_val_folder_keeps_train_labels_when_it_lacks_a_class(tmp_path):
    finetune = _finetune()
    _image_folder(tmp_path / "data" / "train", classes=("daisy", "roses", "tulips"))
    _image_folder(tmp_path / "data" / "val", classes=("daisy", "tulips"), per_class=2)
    (tmp_path / "data" / "val" / "roses").mkdir()  # there, but empty
    model = cnnzoo.create("cifar_resnet20", num_classes=3)
    _, val, classes = finetune.datasets(tmp_path / "data", model, 0.1, 0)
    assert classes == ["daisy", "roses", "tulips"] and val.classes == classes
    assert [label for _, label in val.samples] == [0, 0, 2, 2]
    (tmp_path / "data" / "val" / "roses").rmdir()  # or missing altogether
    assert [label for _, label in finetune.datasets(tmp_path / "data", model, 0.1, 0)[1].samples] == [0, 0, 2, 2]


def test_finetune_example_refuses_a_val_class_that_train_lacks(tmp_path):
    finetune = _finetune()
    _image_folder(tmp_path / "data" / "train")
    _image_folder(tmp_path / "data" / "val", classes=("daisy", "tulips", "roses"), per_class=1)
    with pytest.raises(cnnzoo.CnnzooValueError, match="roses"):
        finetune.datasets(tmp_path / "data", cnnzoo.create("cifar_resnet20", num_classes=2), 0.1, 0)


# -- the run's record in metrics.json, and the plots ------------------------------------------------------------


def test_finetune_example_metrics_record_the_command_settings_versions_device_and_mistakes(tmp_path, monkeypatch):
    finetune = _finetune()
    data = _image_folder(tmp_path / "flowers")
    output = tmp_path / "run"
    monkeypatch.chdir(ROOT)  # as the docs run it: from the repository's root
    argv = ["--data", str(data), "--model", "lenet5", "--epochs", "2", "--workers", "0", "--output", str(output)]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert finetune.main(argv) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert shlex.split(metrics["command"]) == ["python", "examples/finetune.py", *argv]
    # every option, with the defaults the command left out and --device auto resolved
    expected = {key: str(value) if isinstance(value, Path) else value
                for key, value in vars(finetune.parse_args(argv)).items()}
    assert metrics["settings"] == expected
    assert metrics["settings"]["device"] == finetune.resolve_device("auto") and metrics["settings"]["lr"] == 1e-3
    assert metrics["environment"] == {
        "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "cnnzoo": cnnzoo.__version__, "platform": platform.platform(), "device": metrics["settings"]["device"],
        "device_name": finetune.device_name(metrics["settings"]["device"]), "torch_threads": torch.get_num_threads(),
        "processes": 1,
    }
    assert metrics["environment"]["device_name"].strip()
    started = datetime.fromisoformat(metrics["started"])
    assert started.tzinfo is not None and before <= started <= datetime.now(timezone.utc)
    assert [record["epoch"] for record in metrics["history"]] == [1, 2]
    assert all(record["seconds"] >= 0 for record in metrics["history"])
    assert metrics["seconds"] >= max(record["seconds"] for record in metrics["history"])
    assert metrics["images"] == {"training": 10, "validation": 2}
    # the wrongly predicted images are the confusion matrix's off-diagonal counts, each a file under --data
    confusion = torch.tensor(metrics["confusion_matrix"])
    assert len(metrics["mistakes"]) == confusion.sum() - confusion.trace()
    for mistake in metrics["mistakes"]:
        assert (data / mistake["image"]).is_file() and mistake["image"].split("/")[0] == mistake["true"]
        assert mistake["true"] != mistake["predicted"] and mistake["predicted"] in metrics["classes"]


def test_finetune_example_records_the_script_by_its_full_path_when_run_from_elsewhere(tmp_path, monkeypatch):
    finetune = _finetune()
    monkeypatch.chdir(tmp_path)
    argv = ["--data", "flowers", "--device", "cpu"]
    record = finetune.run_record(argv, finetune.parse_args(argv), Path("runs/resnet18"), "cpu", world_size=1)
    assert shlex.split(record["command"]) == ["python", str(ROOT / "examples" / "finetune.py"), *argv]
    assert record["settings"]["output"] == "runs/resnet18" and record["settings"]["data"] == "flowers"


@pytest.mark.parametrize(("per_node", "launcher"), [("4", ["torchrun", "--nproc-per-node", "4"]),
                                                    ("2", ["torchrun", "--nnodes", "2", "--nproc-per-node", "2"])])
def test_finetune_example_records_the_torchrun_command_that_repeats_a_distributed_run(monkeypatch, per_node, launcher):
    finetune = _finetune()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", per_node)
    argv = ["--data", "flowers", "--device", "cpu"]
    record = finetune.run_record(argv, finetune.parse_args(argv), Path("runs/x"), "cpu", world_size=4)
    assert shlex.split(record["command"])[:len(launcher)] == launcher
    assert record["environment"]["processes"] == 4


def test_finetune_example_wrong_images_lists_a_val_folders_mistakes_by_file_and_class(tmp_path):
    finetune = _finetune()
    _image_folder(tmp_path / "data" / "train")
    _image_folder(tmp_path / "data" / "val", per_class=2)
    _, val, classes = finetune.datasets(tmp_path / "data", cnnzoo.create("lenet5", num_classes=2), 0.1, 0)
    # every image called daisy: the tulips are the mistakes
    mistakes = finetune.wrong_images(val, torch.zeros(len(val), dtype=torch.long), classes, tmp_path / "data")
    assert mistakes == [{"image": f"val/tulips/{i}.png", "true": "tulips", "predicted": "daisy"} for i in (0, 1)]
    with pytest.raises(ValueError):  # one prediction per image, or the list would pair the wrong files
        finetune.wrong_images(val, torch.zeros(len(val) - 1, dtype=torch.long), classes, tmp_path / "data")


@pytest.mark.parametrize("wrong", [0, 3, 30])
def test_finetune_example_plots_the_matrix_the_curves_and_the_wrong_images_at_page_width(tmp_path, wrong):
    pytest.importorskip("matplotlib")
    finetune = _finetune()
    data = _image_folder(tmp_path / "flowers", per_class=15)
    history = [{"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.2 / epoch, "train_accuracy": 0.5 + epoch / 10,
                "val_accuracy": 0.4 + epoch / 10, "seconds": 1.0} for epoch in (1, 2, 3)]
    confusion = torch.tensor([[15 - wrong // 2, wrong // 2], [wrong - wrong // 2, 15 - (wrong - wrong // 2)]])
    mistakes = [{"image": f"daisy/{i % 15}.png", "true": "daisy", "predicted": "tulips"} for i in range(wrong)]
    output = tmp_path / "plots"
    output.mkdir()
    assert finetune.plot(history, confusion, ["daisy", "tulips"], output, "lenet5", mistakes, data)
    sizes = {}
    for name in ("confusion_matrix.png", "curves.png", "mistakes.png"):
        assert (output / name).read_bytes().startswith(PNG_SIGNATURE)
        with Image.open(output / name) as image:
            sizes[name] = image.size
    # drawn for a documentation page: at most 1100 pixels wide, so the text stays readable scaled to fit
    assert all(width <= 1100 for width, _ in sizes.values())
    # eight wrong images to a row, at most MISTAKES_SHOWN of them: 30 wrong images take three rows
    rows = {0: 1, 3: 1, 30: 3}[wrong]
    assert finetune.MISTAKES_PER_ROW == 8 and finetune.MISTAKES_SHOWN == 24
    assert sizes["mistakes.png"][1] == round(100 * (finetune.MISTAKES_ROW_HEIGHT * rows + finetune.MISTAKES_TITLE_HEIGHT))


# -- examples/make_digits_folder.py ----------------------------------------------------------------------------


def _blocks(levels: np.ndarray, scale: int, max_value: float = 16) -> np.ndarray:
    """Grey levels as make_digits_folder writes them: 0 black, max_value white, each pixel a scale x scale block."""
    return np.kron(np.rint(levels * (255 / max_value)), np.ones((scale, scale))).astype(np.uint8)


def test_make_digits_folder_writes_one_folder_per_label_each_pixel_a_block(tmp_path):
    make_digits_folder = _example("make_digits_folder")
    levels = np.random.default_rng(0).integers(0, 17, size=(12, 8, 8)).astype(np.float64)
    labels = np.array([3, 0, 3, 7, 0, 0, 3, 7, 7, 7, 0, 3])
    output = tmp_path / "digits"
    counts = make_digits_folder.write_image_folder(levels, labels, output, size=32)
    assert counts == {"0": 4, "3": 4, "7": 4}
    # the folder is the label, the name the image's index, padded so the files sort in order
    written = sorted(path.relative_to(output).as_posix() for path in output.rglob("*"))
    assert written == ["0", "0/01.png", "0/04.png", "0/05.png", "0/10.png", "3", "3/00.png", "3/02.png", "3/06.png",
                       "3/11.png", "7", "7/03.png", "7/07.png", "7/08.png", "7/09.png"]
    for index, label in enumerate(labels):
        with Image.open(output / str(label) / f"{index:02d}.png") as image:
            assert (image.mode, image.size) == ("L", (32, 32))
            assert np.array_equal(np.asarray(image), _blocks(levels[index], 4))
    folder = ImageFolder(output)
    assert folder.classes == ["0", "3", "7"] and len(folder) == 12
    assert make_digits_folder.write_image_folder(levels[:1] * 2, labels[:1], tmp_path / "dark", 8, max_value=32) == {"3": 1}
    with Image.open(tmp_path / "dark" / "3" / "0.png") as image:
        assert np.array_equal(np.asarray(image), _blocks(levels[0], 1))


@pytest.mark.parametrize(("images", "labels", "size", "message"), [
    (np.zeros((2, 8)), np.array([0, 1]), 32, "must be \\(count, height, width\\)"),
    (np.zeros((2, 8, 8)), np.array([0]), 32, "one whole number per image"),
    (np.zeros((2, 8, 8)), np.array([0.0, 1.0]), 32, "whole numbers 0 or more"),
    (np.zeros((2, 8, 8)), np.array([0, -1]), 32, "whole numbers 0 or more"),
    (np.full((2, 8, 8), 17.0), np.array([0, 1]), 32, "between 0 and max_value=16"),
    (np.full((2, 8, 8), -1.0), np.array([0, 1]), 32, "between 0 and max_value=16"),
    (np.full((2, 8, 8), np.nan), np.array([0, 1]), 32, "between 0 and max_value=16"),
    (np.zeros((2, 8, 8)), np.array([0, 1]), 4, "at least the images' own 8x8"),
])
def test_make_digits_folder_refuses_bad_arrays_and_writes_nothing(tmp_path, images, labels, size, message):
    make_digits_folder = _example("make_digits_folder")
    with pytest.raises(cnnzoo.CnnzooValueError, match=message):
        make_digits_folder.write_image_folder(images, labels, tmp_path / "digits", size=size)
    assert not (tmp_path / "digits").exists()


def test_make_digits_folder_refuses_a_folder_that_holds_files_and_leaves_it_alone(tmp_path):
    make_digits_folder = _example("make_digits_folder")
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "notes.txt").write_text("mine")
    with pytest.raises(cnnzoo.CnnzooValueError, match="not an empty folder"):
        make_digits_folder.write_image_folder(np.zeros((1, 8, 8)), np.array([0]), tmp_path / "digits")
    assert [path.name for path in (tmp_path / "digits").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()  # an empty folder is filled
    assert make_digits_folder.write_image_folder(np.zeros((1, 8, 8)), np.array([0]), tmp_path / "empty") == {"0": 1}


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: output"),
    (["digits", "--size", "4"], "--size must be 8 or more"),
    (["digits", "--size", "big"], "argument --size: invalid int value: 'big'"),
    (["taken"], "taken already exists and is not an empty folder"),
    (["digits", "--colour", "red"], "unrecognized arguments: --colour red"),
])
def test_make_digits_folder_refuses_bad_arguments_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    make_digits_folder = _example("make_digits_folder")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "0.png").write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        make_digits_folder.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ": error: " in err and message in err and "--help" in err
    assert not (tmp_path / "digits").exists()


def test_make_digits_folder_without_scikit_learn_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    make_digits_folder = _example("make_digits_folder")
    # None in sys.modules makes the import fail, as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert make_digits_folder.main([str(tmp_path / "digits")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "scikit-learn" in captured.err and "pip install scikit-learn" in captured.err
    assert not (tmp_path / "digits").exists()


def test_make_digits_folder_writes_scikit_learns_1797_digits(tmp_path, capsys):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    make_digits_folder = _example("make_digits_folder")
    output = tmp_path / "digits"
    assert make_digits_folder.main([str(output)]) == 0
    digits = sklearn_datasets.load_digits()
    counts = np.bincount(digits.target)
    assert capsys.readouterr().out.startswith(f"wrote 1797 images of 32x32 pixels to {output}: {counts[0]} of 0, ")
    folder = ImageFolder(output)
    assert folder.classes == [str(digit) for digit in range(10)]
    assert Counter(folder.targets) == dict(enumerate(counts.tolist()))
    for index in (0, 1, 1796):
        with Image.open(output / str(digits.target[index]) / f"{index:04d}.png") as image:
            assert np.array_equal(np.asarray(image), _blocks(digits.images[index], 4))


# -- the tutorial's committed run --------------------------------------------------------------------------------


def _tutorial_metrics() -> dict:
    return json.loads((TUTORIAL_RUN / "metrics.json").read_text())


def test_the_tutorials_run_is_committed_whole_and_its_files_are_well_formed():
    assert {path.name for path in TUTORIAL_RUN.iterdir()} == TUTORIAL_RUN_FILES  # no model weights
    for name in TUTORIAL_RUN_FILES - {"metrics.json"}:
        assert (TUTORIAL_RUN / name).read_bytes().startswith(PNG_SIGNATURE)
        with Image.open(TUTORIAL_RUN / name) as image:
            image.verify()
        with Image.open(TUTORIAL_RUN / name) as image:
            assert image.width <= 1100
    metrics = _tutorial_metrics()
    options = metrics["settings"]
    assert shlex.split(metrics["command"])[:2] == ["python", "examples/finetune.py"]
    assert metrics["model"] == options["model"] and not options["pretrained"]
    assert {"python", "torch", "torchvision", "cnnzoo", "platform", "device", "device_name"} <= set(metrics["environment"])
    assert metrics["classes"] == [str(digit) for digit in range(10)]
    assert [record["epoch"] for record in metrics["history"]] == list(range(1, options["epochs"] + 1))
    confusion = torch.tensor(metrics["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == metrics["images"]["validation"]
    assert sum(metrics["images"].values()) == 1797  # every one of scikit-learn's digits, used once
    assert metrics["history"][-1]["val_accuracy"] == confusion.trace().item() / confusion.sum().item()
    for name, row, accuracy in zip(metrics["classes"], confusion, metrics["per_class_accuracy"].values()):
        assert accuracy == row[int(name)].item() / row.sum().item()
    pairs = Counter((mistake["true"], mistake["predicted"]) for mistake in metrics["mistakes"])
    assert pairs == {(str(i), str(j)): count for (i, j), count in np.ndenumerate(confusion.numpy()) if i != j and count}


def _page(name: str) -> str:
    return (ROOT / "docs" / name).read_text()


def test_the_tutorial_shows_exactly_the_committed_run_with_its_commands_and_numbers():
    text = _page("tutorial.rst")
    folder = TUTORIAL_RUN.relative_to(ROOT / "docs").as_posix()
    referenced = set(re.findall(rf"{re.escape(folder)}/([\w.]+)", text))
    assert referenced == TUTORIAL_RUN_FILES
    figures = re.findall(r"^\.\. figure:: (\S+)\n((?:   .*\n|\n)*)", text, flags=re.MULTILINE)
    assert {path for path, _ in figures} == {f"{folder}/{name}" for name in TUTORIAL_RUN_FILES - {"metrics.json"}}
    for path, options in figures:
        assert ":alt: " in options, f"{path} needs alt text"
    assert ":download:`" in text and f"<{folder}/metrics.json>`" in text
    # the commands that made the run, as the page prints them (a backslash continues a line)
    flat = " ".join(text.replace("\\\n", " ").split())
    metrics = _tutorial_metrics()
    data = metrics["settings"]["data"]
    assert f"python examples/make_digits_folder.py {data}" in flat
    assert metrics["command"] in flat
    # the numbers the page quotes are the run's
    for quoted in _tutorial_quotes(metrics):
        assert quoted in flat, f"the tutorial should say {quoted!r}, as {TUTORIAL_RUN / 'metrics.json'} has it"


def _tutorial_quotes(metrics: dict) -> list[str]:
    """What the tutorial says about its run, worded as the page words it, from the run's metrics.json."""
    confusion = torch.tensor(metrics["confusion_matrix"])
    right, total = confusion.trace().item(), confusion.sum().item()
    last = metrics["history"][-1]
    lowest = min(metrics["history"], key=lambda record: record["val_loss"])
    environment = metrics["environment"]
    mistakes = metrics["mistakes"]
    # the digit most often misread and the answer most often wrong: each must be one class, or the page's
    # sentence about it would be wrong
    misread = Counter(mistake["true"] for mistake in mistakes).most_common(2)
    wrong_answers = Counter(mistake["predicted"] for mistake in mistakes).most_common(2)
    assert misread[0][1] > misread[1][1] and wrong_answers[0][1] > wrong_answers[1][1]
    digit, times = misread[0]
    answer, given = wrong_answers[0]
    off_diagonal = confusion - torch.diag(confusion.diag())
    return [
        f"{metrics['settings']['epochs']} epochs from scratch on {metrics['images']['training']:,} training images",
        f"on {metrics['images']['validation']} validation images",
        f"with {cnnzoo.model_info(metrics['model']).parameters:,} parameters",
        f"(about {round(metrics['images']['validation'] / len(metrics['classes']))})",
        f"The run took {metrics['seconds']:.0f} seconds on {environment['torch_threads']} CPU threads "
        f"({environment['device_name']}), with torch {environment['torch'].split('+')[0]}",
        f"to {last['train_loss']:.3f} at the last epoch, with {last['train_accuracy']:.1%} of the training images",
        f"lowest at epoch {lowest['epoch']} ({lowest['val_loss']:.3f})",
        f"between {confusion.diag().min().item()} and {confusion.diag().max().item()} images per digit",
        f"{int((off_diagonal > 0).sum())} red cells",
        f"{right} of {total} validation images ({right / total:.1%}) predicted right",
        f"the run made {len(mistakes)} mistakes",
        f"most often misread is {digit} ({times} of its {confusion[int(digit)].sum().item()} images)",
        f"most often wrong is {answer} ({given} of the {len(mistakes)} mistakes)",
        f"The {len(mistakes)} validation images the network got wrong",
    ]
