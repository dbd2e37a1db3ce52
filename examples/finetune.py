"""Fine-tune a cnnzoo network on a folder of images, one folder per class (the flowers layout).

    python examples/finetune.py --data flower_photos --model resnet50 --pretrained --freeze-backbone --epochs 5

The same script trains data-parallel on N processes (DistributedDataParallel; one per GPU, or N on the CPU):

    torchrun --nproc-per-node N examples/finetune.py --data flower_photos --model resnet50 --pretrained

Each process then loads its own share of every epoch's images (``--batch-size`` is per process, so the
batch of one optimizer step is N times larger), gradients are averaged over the processes after each
backward, and only the first process (rank 0) evaluates, prints and writes files.

DIR either holds ``train/`` and ``val/`` folders, or one folder per class, which is split here class by class
(stratified): each class keeps ``--val-fraction`` of its images (10% by default, rounded to the nearest whole
image, halves up) for validation, chosen at random but reproducibly with ``--seed``, so every class is
represented in proportion. A class of two or more images gives at least one to validation and keeps at least one
for training; a class of a single image keeps it for training, since a class the model never sees cannot be
learned, and so has no validation images (its per-class accuracy reads ``-``).
Writes to ``--output`` (default ``runs/MODEL``): the fine-tuned model (``cnnzoo.create(OUTPUT/"model")``
reloads it), ``metrics.json`` (loss and accuracy per epoch, per-class accuracy, confusion matrix) and, when
matplotlib is installed (``pip install -e ".[examples]"``), ``confusion_matrix.png`` and ``curves.png``.

On a small GPU, ``--amp bf16`` (or ``fp16``, with loss scaling) runs the forward pass in half precision and
``--memory-efficient`` recomputes activations in backward instead of keeping them; ``cnnzoo memory MODEL --budget
2GiB`` gives the largest batch that fits in 2 GiB without either, so that batch fits with room to spare:

    python examples/finetune.py --data flower_photos --model densenet121 --pretrained --amp bf16 --memory-efficient
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from torchvision.datasets import ImageFolder
from tqdm import tqdm

import cnnzoo


def _fraction(text: str) -> float:
    """``--val-fraction``'s type: a number strictly between 0 and 1, or argparse's usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, such as 0.1; got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), such as 0.1; got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr that names ``--help``, like the ``cnnzoo`` command's, not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def default_workers() -> int:
    """``--workers``'s default: one less than the CPUs this process may use (the main process loads too), at most 4.

    The CPUs counted are those DataLoader counts when it warns of too many workers (``os.sched_getaffinity``
    where the platform has it, else ``os.cpu_count()``), so the default never draws that warning.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(4, cpus - 1))


def resolve_device(text: str) -> str:
    """``--device``'s type: ``auto`` is ``cuda`` when available, else ``mps`` when available, else ``cpu``; an
    explicit device this machine lacks is argparse's usage error, not a traceback later."""
    if text == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected auto, cuda, cuda:N, mps or cpu; got {text!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError("CUDA is not available on this machine (torch.cuda.is_available() "
                                             "is False); use --device auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError("MPS is not available on this machine; use --device auto or cpu")
    return text


AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_works(device: str, dtype: torch.dtype) -> bool:
    """Whether ``torch.autocast`` on ``device`` runs a matrix product in ``dtype`` (an unsupported dtype warns and
    runs in float32 instead, or raises, depending on the device and the torch version)."""
    device_type = torch.device(device).type
    if not torch.amp.is_autocast_available(device_type):
        return False
    if device_type == "cuda":  # asked, not tried: under torchrun a tensor here would put every process on GPU 0
        return dtype == torch.float16 or torch.cuda.is_bf16_supported()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(device_type, dtype=dtype):
                square = torch.ones(2, 2, device=device)
                return (square @ square).dtype == dtype
    except RuntimeError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="image folder: train/ and val/, or one folder per class")
    parser.add_argument("--model", default="resnet18", help="a name from `cnnzoo list`")
    parser.add_argument("--pretrained", action="store_true", help="start from the model's default ImageNet weights")
    parser.add_argument("--freeze-backbone", action="store_true", help="train only the classifier")
    parser.add_argument("--hidden", default=None,
                        help="put a hidden layer of this width (and a ReLU) before the class layer: a number, or "
                             "'auto' for about sqrt(features x classes) rounded to a power of two (128 for "
                             "ResNet-50's 2048 features and 5 classes; the feature width itself when there are "
                             "more classes than features); without it the head is one linear layer")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3, help="backbone learning rate; the head gets 10x")
    parser.add_argument("--val-fraction", type=_fraction, default=0.1,
                        help="share of each class held out for validation when --data has no train/ and val/: "
                             "between 0 and 1, rounded per class to whole images, at least one each way; "
                             "a class of a single image keeps it for training (default 0.1)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processes loading images (default: one less than the CPUs this process may use, "
                             "at most 4; here %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the model's initialisation and the per-class train/val split: the same seed "
                             "gives the same split, another seed another split (default 0)")
    parser.add_argument("--device", type=resolve_device, default="auto",
                        help="auto (the default): cuda when available, else mps when available, else cpu")
    parser.add_argument("--amp", choices=tuple(AMP_DTYPES), default="off",
                        help="mixed precision for training and evaluation (torch.autocast): bf16, or fp16 with "
                             "loss scaling (GradScaler) against underflowing gradients; weights stay float32 "
                             "(default off)")
    parser.add_argument("--memory-efficient", action="store_true",
                        help="keep less activation memory for backward by recomputing activations there: "
                             "longer training steps, the same gradients (DenseNets: memory_efficient=True; other "
                             "networks: set_grad_checkpointing)")
    parser.add_argument("--output", type=Path, default=None, help="where to write (default runs/MODEL)")
    args = parser.parse_args(argv)
    if args.workers < 0:
        parser.error(f"--workers must be 0 or more; got {args.workers}")
    dtype = AMP_DTYPES[args.amp]
    if dtype is not None and not autocast_works(args.device, dtype):
        other = "bf16" if args.amp == "fp16" else "fp16"
        parser.error(f"--amp {args.amp}: autocast on {args.device} does not support {dtype} with torch "
                     f"{torch.__version__}; use --amp {other} or off")
    return args


def stratified_split(targets: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split the indices of ``targets`` into training and validation, class by class.

    Each class's images are shuffled with one generator seeded by ``seed`` (classes in label order), and the
    first ``fraction * count`` of them, rounded to the nearest whole image (halves up), go to validation. A class
    of two or more images gives at least one to validation and keeps at least one for training; a class of one
    image keeps it for training, because a class absent from training cannot be learned.

    Args:
        targets: the class label of each image, as ``ImageFolder.targets``.
        fraction: the share of each class held out, strictly between 0 and 1.
        seed: the same seed gives the same split; another seed, almost always another split.

    Returns:
        ``(train_indices, val_indices)``: disjoint, together every index of ``targets``, each sorted.

    Example:
        >>> stratified_split([0] * 10 + [1] * 20, 0.1, seed=0)[1]  # one image of class 0, two of class 1
        [4, 13, 24]
    """
    if not 0 < fraction < 1:
        raise cnnzoo.CnnzooValueError(f"fraction must be between 0 and 1 (exclusive), such as 0.1; got {fraction}")
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(targets):
        by_class.setdefault(label, []).append(index)
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in sorted(by_class):
        indices = by_class[label]
        count = len(indices)
        # halves up, not round(): 0.1 * 15 and 0.1 * 25 are ties, yet float error and round()'s ties-to-even
        # would hold out 2 of both
        held_out = min(max(math.floor(fraction * count + 0.5), 1), count - 1)
        order = torch.randperm(count, generator=generator).tolist()
        val += [indices[i] for i in order[:held_out]]
        train += [indices[i] for i in order[held_out:]]
    return sorted(train), sorted(val)


class _ClassesOf(ImageFolder):
    """An ImageFolder with the classes (and labels) it is given, so a ``val/`` folder's labels are ``train/``'s
    even where it lacks a class or has no images of one."""

    def __init__(self, root: Path, classes: list[str], transform: object) -> None:
        self._given = classes
        super().__init__(root, transform, allow_empty=True)

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        return self._given, {name: index for index, name in enumerate(self._given)}


def datasets(root: Path, model: nn.Module, val_fraction: float, seed: int) -> tuple[torch.utils.data.Dataset, torch.utils.data.Dataset, list[str]]:
    train_tf, eval_tf = cnnzoo.transforms_for(model, train=True), cnnzoo.transforms_for(model)
    if (root / "train").is_dir() and (root / "val").is_dir():
        train = ImageFolder(root / "train", train_tf)
        unknown = sorted({entry.name for entry in os.scandir(root / "val") if entry.is_dir()} - set(train.classes))
        if unknown:
            raise cnnzoo.CnnzooValueError(f"{root / 'val'} has classes {root / 'train'} lacks: {', '.join(unknown)}; "
                                          "a class the model never trains on cannot be learned")
        return train, _ClassesOf(root / "val", train.classes, eval_tf), train.classes
    # two views of one folder, listed in the same order, so one split's indices select from both
    train_view, val_view = ImageFolder(root, train_tf), ImageFolder(root, eval_tf)
    train_indices, val_indices = stratified_split(train_view.targets, val_fraction, seed)
    return Subset(train_view, train_indices), Subset(val_view, val_indices), train_view.classes


def build_model(args: argparse.Namespace, num_classes: int) -> nn.Module:
    """The network ``args`` ask for; with ``--memory-efficient``, in its memory-saving form.

    A model whose builder takes ``memory_efficient`` (the DenseNets: one shared feature storage per block,
    BatchNorm-ReLU recomputed in backward) is built with it; any other gets gradient checkpointing.
    """
    pretrained = True if args.pretrained else None
    if args.memory_efficient:
        try:  # a builder that has a memory-saving form says so by accepting this (as `cnnzoo memory` asks)
            with torch.device("meta"):
                cnnzoo.create(args.model, num_classes=num_classes, pretrained=False, memory_efficient=True)
        except TypeError:
            pass
        else:
            return cnnzoo.create(args.model, num_classes=num_classes, pretrained=pretrained, memory_efficient=True)
    model = cnnzoo.create(args.model, num_classes=num_classes, pretrained=pretrained)
    if args.memory_efficient:
        model.set_grad_checkpointing(True)
    return model


def autocast(device: str, amp: str) -> torch.autocast:
    """The mixed precision ``--amp`` asks for on ``device`` (a disabled context for ``off``)."""
    dtype = AMP_DTYPES[amp]
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)


def evaluate(model: nn.Module, loader: DataLoader, num_classes: int, device: str,
             amp: str = "off") -> tuple[float, torch.Tensor]:
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    total_loss, count = 0.0, 0
    with torch.no_grad(), autocast(device, amp):
        for images, labels in loader:
            logits = model(images.to(device)).float().cpu()
            total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            count += len(labels)
            for truth, guess in zip(labels, logits.argmax(1)):
                confusion[truth, guess] += 1
    return total_loss / max(count, 1), confusion


def start_distributed(device: str) -> tuple[int, int, str]:
    """This process's rank, the number of processes and its device; joins the process group under torchrun.

    torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and where to meet, ``MASTER_ADDR`` and
    ``MASTER_PORT``) in each process's environment. GPUs talk over NCCL, one GPU per process on this
    machine; CPU processes over gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, device
    if device.startswith("cuda"):
        local_rank = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world_size, device


def plot(history: list[dict], confusion: torch.Tensor, classes: list[str], output: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install -e '.[examples]')")
        return False
    figure, axis = plt.subplots(figsize=(1 + 0.6 * len(classes), 1 + 0.6 * len(classes)))
    axis.imshow(confusion.numpy(), cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            axis.text(j, i, int(confusion[i, j]), ha="center", va="center")
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.tight_layout()
    figure.savefig(output / "confusion_matrix.png", dpi=120)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["train_loss"] for h in history], label="train")
    left.plot(epochs, [h["val_loss"] for h in history], label="val")
    left.set_title("loss")
    left.legend()
    right.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    right.plot(epochs, [h["val_accuracy"] for h in history], label="val")
    right.set_title("accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(output / "curves.png", dpi=120)
    plt.close("all")
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rank, world_size, device = start_distributed(args.device)
    say = print if rank == 0 else lambda *_, **__: None
    # the same seed everywhere: every process builds the same model and the same train/val split
    torch.manual_seed(args.seed)
    output = args.output or Path("runs") / args.model
    if rank == 0:
        output.mkdir(parents=True, exist_ok=True)
    classes = ImageFolder(args.data / "train" if (args.data / "train").is_dir() else args.data).classes
    download_first = world_size > 1 and args.pretrained  # rank 0 fills the weights cache; the others read it
    if download_first and rank != 0:
        dist.barrier()
    model = build_model(args, len(classes))
    if download_first and rank == 0:
        dist.barrier()
    if args.hidden is not None:
        cnnzoo.replace_head(model, len(classes), hidden="auto" if args.hidden == "auto" else int(args.hidden))
    if args.freeze_backbone:
        cnnzoo.freeze_backbone(model)
    model.to(device)
    # `model` stays the plain network (evaluated, saved); `trained` is what the training loop calls
    trained: nn.Module = model
    if world_size > 1:
        on_gpu = device.startswith("cuda")
        trained = DistributedDataParallel(model, device_ids=[torch.device(device).index] if on_gpu else None)
    train_set, val_set, classes = datasets(args.data, model, args.val_fraction, args.seed)
    sampler = DistributedSampler(train_set, seed=args.seed) if world_size > 1 else None
    shard = len(train_set) // world_size
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None, sampler=sampler,
                              num_workers=args.workers, drop_last=shard > args.batch_size)
    val_loader = DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)
    optimizer = torch.optim.AdamW(cnnzoo.param_groups(model, lr=args.lr))
    # fp16's narrow range would flush small gradients to zero: scale the loss up, and the gradients back down
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=args.amp == "fp16")
    say(f"{args.model}: {len(classes)} classes, {len(train_set)} training and {len(val_set)} validation images"
        + (f", {world_size} processes" if world_size > 1 else "")
        + f"; on {device}" + (f", {args.amp} autocast" if args.amp != "off" else "")
        + (", memory-efficient" if args.memory_efficient else ""))

    history: list[dict] = []
    confusion = torch.zeros(len(classes), len(classes), dtype=torch.long)
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every process
        trained.train()
        seen, correct, total_loss = 0, 0, 0.0
        for images, labels in tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", leave=False, disable=rank != 0):
            images, labels = images.to(device), labels.to(device)
            with autocast(device, args.amp):
                output_logits = trained(images)
                logits = output_logits[0] if isinstance(output_logits, tuple) else output_logits
                loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            seen += len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            total_loss += loss.item() * len(labels)
        if world_size > 1:
            # the epoch's training figures over every process's share, not just this one's
            totals = torch.tensor([seen, correct, total_loss], dtype=torch.float64, device=device)
            dist.all_reduce(totals)
            seen, correct, total_loss = int(totals[0].item()), int(totals[1].item()), totals[2].item()
        if rank != 0:
            continue
        # rank 0 evaluates the plain network on the whole validation set: no collective, no padded duplicates
        val_loss, confusion = evaluate(model, val_loader, len(classes), device, args.amp)
        record = {"epoch": epoch, "train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                  "val_loss": val_loss, "val_accuracy": confusion.diag().sum().item() / max(confusion.sum().item(), 1)}
        history.append(record)
        print(f"epoch {epoch}: train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.3f} | "
              f"val loss {val_loss:.4f} acc {record['val_accuracy']:.3f}")

    if rank == 0:
        save(args, model, history, confusion, classes, output)
    if world_size > 1:
        dist.destroy_process_group()
    return 0


def save(args: argparse.Namespace, model: nn.Module, history: list[dict], confusion: torch.Tensor,
         classes: list[str], output: Path) -> None:
    per_class = {name: (confusion[i, i].item() / confusion[i].sum().item()) if confusion[i].sum() else None
                 for i, name in enumerate(classes)}
    print("per-class validation accuracy:")
    for name, accuracy in per_class.items():
        print(f"  {name:<20} {'-' if accuracy is None else f'{accuracy:.3f}'}")
    cnnzoo.save_pretrained(model, output / "model")
    (output / "metrics.json").write_text(json.dumps(
        {"model": args.model, "classes": classes, "history": history, "per_class_accuracy": per_class,
         "confusion_matrix": confusion.tolist()}, indent=2) + "\n")
    plot(history, confusion, classes, output)
    print(f"saved to {output}")


if __name__ == "__main__":
    sys.exit(main())
