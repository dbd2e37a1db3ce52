"""examples/finetune.py runs end to end on a tiny image folder made here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import cnnzoo

ROOT = Path(__file__).resolve().parents[1]


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
    assert (output / "confusion_matrix.png").stat().st_size > 0 and (output / "curves.png").stat().st_size > 0


def _finetune():
    """examples/finetune.py as a module (examples/ is not a package)."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import finetune
    finally:
        sys.path.pop(0)
    return finetune


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

        expected |= {"confusion_matrix.png", "curves.png"}
    except ImportError:
        pass
    assert {path.name for path in output.iterdir()} == expected
    assert (output / "model" / "config.json").is_file()
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and torch.tensor(metrics["confusion_matrix"]).sum() == 2
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
