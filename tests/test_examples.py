"""examples/finetune.py runs end to end on a tiny image folder made here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import cnnzoo

ROOT = Path(__file__).resolve().parents[1]


def _image_folder(root: Path, classes: tuple[str, ...] = ("daisy", "tulips"), per_class: int = 6) -> Path:
    generator = torch.Generator().manual_seed(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            # each class its own colour, so there is something to learn
            pixels = torch.randint(0, 60, (40, 48, 3), generator=generator, dtype=torch.uint8)
            pixels[..., index % 3] += 150
            Image.fromarray(pixels.numpy()).save(root / name / f"{i}.png")
    return root


@pytest.mark.slow
def test_finetune_example_trains_one_epoch_and_saves_a_reloadable_model(tmp_path):
    data = _image_folder(tmp_path / "flowers")
    output = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "finetune.py"), "--data", str(data), "--model", "cifar_resnet20",
         "--epochs", "1", "--batch-size", "4", "--freeze-backbone", "--hidden", "auto", "--output", str(output)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "per-class validation accuracy" in result.stdout and "daisy" in result.stdout
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["classes"] == ["daisy", "tulips"] and len(metrics["history"]) == 1
    confusion = torch.tensor(metrics["confusion_matrix"])
    assert confusion.shape == (2, 2) and confusion.sum() == 1  # 10% of 12 images held out
    model = cnnzoo.create(str(output / "model"))
    assert model.num_classes == 2
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (output / "confusion_matrix.png").stat().st_size > 0 and (output / "curves.png").stat().st_size > 0


def test_finetune_example_uses_train_and_val_folders_when_present(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import finetune
    finally:
        sys.path.pop(0)
    _image_folder(tmp_path / "data" / "train")
    _image_folder(tmp_path / "data" / "val", per_class=2)
    model = cnnzoo.create("cifar_resnet20", num_classes=2)
    train, val, classes = finetune.datasets(tmp_path / "data", model, 0.1, 0)
    assert (len(train), len(val), classes) == (12, 4, ["daisy", "tulips"])
    image, label = val[0]
    assert image.shape == (3, 32, 32) and label == 0


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
    assert "11 training and 1 validation images, 2 processes" in result.stdout
    expected = {"model", "metrics.json"}
    try:
        import matplotlib  # noqa: F401

        expected |= {"confusion_matrix.png", "curves.png"}
    except ImportError:
        pass
    assert {path.name for path in output.iterdir()} == expected
    assert (output / "model" / "config.json").is_file()
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and torch.tensor(metrics["confusion_matrix"]).sum() == 1
    model = cnnzoo.create(str(output / "model"))
    assert model.num_classes == 2
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)
