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
reloads it), ``metrics.json`` (loss, accuracy and seconds per epoch, per-class accuracy, the confusion matrix,
the wrongly predicted validation images, and how the run was made: its command, every setting with the
defaults it took, the Python, torch, torchvision and cnnzoo versions, the device, when it started and how long
it took) and, when matplotlib is installed (``pip install -e ".[examples]"``), ``confusion_matrix.png``,
``curves.png`` and ``mistakes.png`` (the wrongly predicted validation images, each under its true and its
predicted class).

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
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

import torch
import torch.distributed as dist
import torchvision
from PIL import Image
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
        # bfloat16 is native from compute capability 8 (Ampere); is_bf16_supported() also says yes to
        # older cards, which emulate it slowly and have no bfloat16 convolutions in cuDNN
        return dtype == torch.float16 or torch.cuda.get_device_capability(torch.device(device).index)[0] >= 8
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
             amp: str = "off") -> tuple[float, torch.Tensor, torch.Tensor]:
    """The mean loss over ``loader``'s images, the confusion matrix (a row per true class, a column per
    predicted class) and the class predicted for each image, in the loader's order."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    total_loss, count, guesses = 0.0, 0, []
    with torch.no_grad(), autocast(device, amp):
        for images, labels in loader:
            logits = model(images.to(device)).float().cpu()
            total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            count += len(labels)
            guesses.append(logits.argmax(1))
            for truth, guess in zip(labels, guesses[-1]):
                confusion[truth, guess] += 1
    return total_loss / max(count, 1), confusion, torch.cat(guesses) if guesses else torch.zeros(0, dtype=torch.long)


def wrong_images(dataset: torch.utils.data.Dataset, guesses: torch.Tensor, classes: list[str],
                 root: Path) -> list[dict]:
    """The images of ``dataset`` (an ImageFolder, or a Subset of one) whose predicted class in ``guesses``
    (in the dataset's order) is not their own: each as its file, relative to ``root``, its true class and
    the class predicted."""
    if isinstance(dataset, Subset):
        samples = [dataset.dataset.samples[index] for index in dataset.indices]
    else:
        samples = dataset.samples
    return [{"image": Path(os.path.relpath(path, root)).as_posix(), "true": classes[label],
             "predicted": classes[guess]}
            for (path, label), guess in zip(samples, guesses.tolist(), strict=True) if guess != label]


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


#: How many wrongly predicted images ``mistakes.png`` shows at most (the first ones, in the folder's order).
MISTAKES_SHOWN = 24
#: ``mistakes.png``'s layout, in inches: eight images to a row, each row this tall, plus the title's height.
MISTAKES_PER_ROW, MISTAKES_ROW_HEIGHT, MISTAKES_TITLE_HEIGHT = 8, 1.55, 0.5


def plot(history: list[dict], confusion: torch.Tensor, classes: list[str], output: Path, model_name: str,
         mistakes: Sequence[dict] = (), data: Path | None = None) -> bool:
    """Draw ``confusion_matrix.png``, ``curves.png`` and ``mistakes.png`` into ``output``; False, with a note,
    without matplotlib.

    They are drawn to be read at a documentation page's width: class names, counts in every cell, titles
    and axis labels in words, training and validation in one panel per measure, and the wrongly predicted
    validation images (files in ``mistakes`` relative to ``data``) each under its true and predicted class.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install -e '.[examples]')")
        return False
    with plt.rc_context({"font.size": 11}):
        for name, figure in (("confusion_matrix.png", _confusion_figure(plt, history, confusion, classes, model_name)),
                             ("curves.png", _curves_figure(plt, history, model_name)),
                             ("mistakes.png", _mistakes_figure(plt, mistakes, data, int(confusion.sum()), model_name))):
            figure.tight_layout()
            figure.savefig(output / name, dpi=100)
            plt.close(figure)
    return True


def _confusion_figure(plt, history: list[dict], confusion: torch.Tensor, classes: list[str], model_name: str):
    """The confusion matrix: a row per true class, a column per predicted class, the count in each cell; right
    answers shaded blue, mistakes red."""
    import numpy as np

    count = len(classes)
    # each cell shaded by its share of the true class's images, so classes of different sizes compare
    shares = (confusion / confusion.sum(1, keepdim=True).clamp(min=1)).numpy()
    diagonal = np.eye(count, dtype=bool)
    side = max(4.5, 1.6 + 0.45 * count)
    figure, axis = plt.subplots(figsize=(side, side))
    axis.imshow(np.ma.masked_where(~diagonal, shares), cmap="Blues", vmin=0, vmax=1)
    axis.imshow(np.ma.masked_where(diagonal | (shares == 0), shares), cmap="Reds", vmin=-0.4, vmax=1)
    slanted = max((len(name) for name in classes), default=0) > 3
    axis.set_xticks(range(count), classes, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    axis.set_yticks(range(count), classes)
    for i in range(count):
        for j in range(count):
            cell = int(confusion[i, j])
            # zeros in light grey, so the few mistakes stand out; white on the darkest cells
            colour = "white" if shares[i, j] > 0.5 else ("#b0b0b0" if cell == 0 else "black")
            axis.text(j, i, cell, ha="center", va="center", color=colour,
                      fontweight="bold" if cell and i != j else "normal")
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    total, right = int(confusion.sum()), int(confusion.diag().sum())
    accuracy = f"{right / total:.1%}" if total else "-"
    epoch = f" after epoch {history[-1]['epoch']}" if history else ""
    axis.set_title(f"{model_name}{epoch}: {right} of {total} validation\n"
                   f"images predicted right ({accuracy}); mistakes in red", fontsize=11)
    return figure


def _curves_figure(plt, history: list[dict], model_name: str):
    """Loss and accuracy per epoch, training beside validation, one panel each."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(8.6, 3.9))
    epochs = [h["epoch"] for h in history]
    for axis, key, title in ((loss_axis, "loss", "loss (cross-entropy): lower is better"),
                             (accuracy_axis, "accuracy", "accuracy: higher is better")):
        axis.plot(epochs, [h[f"train_{key}"] for h in history], "o-", label="training (average over the epoch)")
        axis.plot(epochs, [h[f"val_{key}"] for h in history], "s-", label="validation (end of the epoch)")
        axis.set_title(title, fontsize=11)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    loss_axis.set_ylim(bottom=0)
    accuracy_axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    loss_axis.legend()
    figure.suptitle(f"{model_name}: training and validation, epoch by epoch", fontsize=12)
    return figure


def _mistakes_figure(plt, mistakes: Sequence[dict], data: Path | None, total: int, model_name: str):
    """The first :data:`MISTAKES_SHOWN` wrongly predicted validation images, each under its true and predicted
    class (:data:`MISTAKES_PER_ROW` to a row)."""
    shown = list(mistakes)[:MISTAKES_SHOWN]
    columns = min(max(len(shown), 1), MISTAKES_PER_ROW)
    rows = math.ceil(max(len(shown), 1) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(1.1 * columns + 0.3, MISTAKES_ROW_HEIGHT * rows + MISTAKES_TITLE_HEIGHT))
    for axis in axes.flat:
        axis.axis("off")
    for axis, mistake in zip(axes.flat, shown):
        with Image.open(Path(data) / mistake["image"]) as picture:
            picture.thumbnail((256, 256))
            if picture.mode in ("1", "L", "LA"):
                axis.imshow(picture.convert("L"), cmap="gray", vmin=0, vmax=255)
            else:
                axis.imshow(picture.convert("RGB"))
        axis.set_title(f"true {mistake['true']}\nguessed {mistake['predicted']}", fontsize=10)
    if not shown:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=12)
    wrong = len(mistakes)
    first = "" if len(shown) == wrong else f"; the first {len(shown)}"
    figure.suptitle(f"{model_name}: {wrong} of {total} validation images predicted wrong{first}",
                    fontsize=11 if columns > 3 else 9)
    return figure


def device_name(device: str) -> str:
    """The hardware behind ``device`` in words: the GPU's name, or the CPU's model name where the system
    says it (``/proc/cpuinfo`` on Linux), else the processor type."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device.startswith("mps"):
        return f"Apple MPS on {platform.machine()}"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def run_record(argv: list[str], args: argparse.Namespace, output: Path, device: str, world_size: int) -> dict:
    """How a run was made, for its ``metrics.json``: a command that repeats it, every setting (the defaults it
    took included, ``--device auto`` resolved), the versions and the device, so a results file documents
    itself."""
    script = os.path.relpath(__file__)
    if script.startswith(".."):
        script = os.path.abspath(__file__)
    if world_size > 1:
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        nodes = [] if per_node == world_size else ["--nnodes", str(world_size // per_node)]
        launcher = ["torchrun", *nodes, "--nproc-per-node", str(per_node)]
    else:
        launcher = ["python"]
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    settings["output"] = str(output)
    return {
        "command": shlex.join([*launcher, script, *argv]),
        "settings": settings,
        "environment": {
            "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "cnnzoo": cnnzoo.__version__, "platform": platform.platform(), "device": device,
            "device_name": device_name(device), "torch_threads": torch.get_num_threads(), "processes": world_size,
        },
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    started, start = datetime.now(timezone.utc), time.perf_counter()
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
    guesses = torch.zeros(0, dtype=torch.long)
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every process
        epoch_start = time.perf_counter()
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
        val_loss, confusion, guesses = evaluate(model, val_loader, len(classes), device, args.amp)
        record = {"epoch": epoch, "train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                  "val_loss": val_loss, "val_accuracy": confusion.diag().sum().item() / max(confusion.sum().item(), 1),
                  "seconds": round(time.perf_counter() - epoch_start, 1)}
        history.append(record)
        print(f"epoch {epoch}: train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.3f} | "
              f"val loss {val_loss:.4f} acc {record['val_accuracy']:.3f}")

    if rank == 0:
        run = run_record(argv, args, output, device, world_size)
        run["images"] = {"training": len(train_set), "validation": len(val_set)}
        run["started"] = started.isoformat(timespec="seconds")
        run["seconds"] = round(time.perf_counter() - start, 1)
        mistakes = wrong_images(val_set, guesses, classes, args.data) if history else []
        save(run, model, history, confusion, classes, output, mistakes, args.data)
    if world_size > 1:
        dist.destroy_process_group()
    return 0


def save(run: dict, model: nn.Module, history: list[dict], confusion: torch.Tensor, classes: list[str],
         output: Path, mistakes: list[dict], data: Path) -> None:
    """Print the per-class accuracy; write the model, ``metrics.json`` (the run's record ``run``, from
    :func:`run_record`, and its results: ``mistakes`` are the last evaluation's wrongly predicted images,
    files relative to ``data``) and the plots."""
    per_class = {name: (confusion[i, i].item() / confusion[i].sum().item()) if confusion[i].sum() else None
                 for i, name in enumerate(classes)}
    print("per-class validation accuracy:")
    for name, accuracy in per_class.items():
        print(f"  {name:<20} {'-' if accuracy is None else f'{accuracy:.3f}'}")
    cnnzoo.save_pretrained(model, output / "model")
    model_name = run["settings"]["model"]
    (output / "metrics.json").write_text(json.dumps(
        {"model": model_name, **run, "classes": classes, "history": history, "per_class_accuracy": per_class,
         "confusion_matrix": confusion.tolist(), "mistakes": mistakes}, indent=2) + "\n")
    plot(history, confusion, classes, output, model_name, mistakes, data)
    print(f"saved to {output}")


if __name__ == "__main__":
    sys.exit(main())
