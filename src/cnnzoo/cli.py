"""The ``cnnzoo`` command: list the zoo and describe any network in it.

    cnnzoo list [PATTERN ...] [--verbose] [--pretrained [--sort name|top1|top5] [--license PATTERN]...]
    cnnzoo info NAME [--num-classes N] [--input-size C H W]
    cnnzoo memory NAME [--batch-size B] [--budget SIZE] [--input-size C H W] [--optimizer adam|adamw|sgd|none]
                       [--inference] [--dtype float32|bfloat16|float16] [--num-classes N]
    cnnzoo export NAME --output PATH [--format onnx|pt2] [--num-classes N] [--in-chans C] [--input-size S]

NAME is anything :func:`cnnzoo.create` builds without a download: a name from ``cnnzoo list``, a name with
a pretrained tag (``resnet50.tv2_in1k``: the architecture those weights need, and which weights they are),
or a directory written by :func:`cnnzoo.save_pretrained`. No weights are downloaded or allocated, except by
``export``, which builds the network and writes it with its weights: a saved directory's, those NAME.TAG names
(downloaded into the cache as :func:`cnnzoo.create` does), or freshly initialised ones for a bare name.

Exit status, as grep has it: 0 for an answer; 1 for a negative one (``list`` matches nothing, ``memory``'s
batch does not fit the budget); 2 for input the command cannot take, with one line on stderr
(``cnnzoo info: error: ...``) and never a traceback; 130 when interrupted, 141 when the reader of its output
goes away (``cnnzoo list | head -3``), quietly, as for a command killed by those signals. An error that is
cnnzoo's own bug says so on that one line; ``CNNZOO_DEBUG=1`` shows its traceback instead.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import torch

import cnnzoo
from cnnzoo import pretrained
from cnnzoo.errors import CnnzooError, CnnzooValueError
from cnnzoo.memory import estimate_memory, format_bytes, max_batch_size, parse_bytes
from cnnzoo.onnx import translation_table

__all__ = ["main"]

# The limits of what the options take: far beyond any real use, and well inside what int64 tensor
# shapes and byte counts hold, so a typo is refused at the boundary instead of overflowing in torch.
#: ImageNet-21k has 21,841 classes and JFT-300M 18,291: a million is 45 times the largest label sets in
#: use, and its classifier alone on AlexNet's 4096 features is 15 GiB of float32.
MAX_CLASSES = 10**6
#: 2**20 images: 16 times the largest batch ImageNet has been trained with (65,536 over a TPU pod, Ying et al. 2018).
MAX_BATCH_SIZE = 2**20
#: Hyperspectral cubes have a few hundred bands (AVIRIS: 224).
MAX_CHANNELS = 1024
#: 16384 pixels a side (268 megapixels); gigapixel slides are cut into tiles before a CNN sees them.
MAX_SIDE = 2**14

_DEBUG_VARIABLE = "CNNZOO_DEBUG"


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted (so a newline or an escape sequence shows as one), cut short if long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _one_line(text: str) -> str:
    """``text`` on one line: whitespace runs (newlines too) become one space, other control characters escapes."""
    collapsed = " ".join(text.split())
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in collapsed)


def _whole_number(text: str, smallest: int, largest: int, why: str) -> int:
    """``text`` as an int from ``smallest`` to ``largest``, or an ArgumentTypeError saying what is expected."""
    digits = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", digits):
        raise argparse.ArgumentTypeError(f"must be a whole number from {smallest:,} to {largest:,}, got {_shown(text)}")
    magnitude = digits.lstrip("+-").lstrip("0") or "0"
    negative = digits.startswith("-") and magnitude != "0"
    too_long = len(magnitude) > len(str(largest))  # looked at first: int() refuses more than 4300 digits
    if negative or not too_long and int(magnitude) < smallest:
        raise argparse.ArgumentTypeError(f"must be >= {smallest}, got {_shown(text)}")
    if too_long or int(magnitude) > largest:
        raise argparse.ArgumentTypeError(f"must be at most {largest:,} ({why}), got {_shown(text)}")
    return int(magnitude)


def _count(largest: int, why: str, name: str) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number from 1 to ``largest``."""

    def parse(text: str) -> int:
        return _whole_number(text, 1, largest, why)

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _budget(text: str) -> int:
    """An argparse ``type`` for --budget: a memory size as parse_bytes reads it, from one byte to 1 PiB."""
    try:
        return parse_bytes(text)
    except CnnzooError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _InputSize(argparse.Action):
    """--input-size C H W: checked as a whole, so the message can say which of the three is wrong."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        texts = list(values)  # type: ignore[call-overload]
        limits = (("channels", MAX_CHANNELS), ("height", MAX_SIDE), ("width", MAX_SIDE))
        size = []
        for text, (what, largest) in zip(texts, limits):
            try:
                size.append(_whole_number(text, 1, largest, "pixels a side" if what != "channels" else "bands"))
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentError(
                    self, f"must be C H W, whole numbers; its {what} {exc}"
                ) from None
        setattr(namespace, self.dest, tuple(size))


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, with where to find the usage.

    argparse prints its usage block before the error; a usage error should instead be one line like any
    other failure of the command, so ``--help`` is named on that line rather than shown.
    """

    def error(self, message: str) -> NoReturn:
        # "argument --batch-size: must be >= 1" reads better as "--batch-size must be >= 1"
        message = re.sub(r"^argument (\S+): (?=must )", r"\1 ", message)
        message = _one_line(message).rstrip(".")
        self.exit(2, f"{self.prog}: error: {message}. See `{self.prog} --help`.\n")


def _format_size(size: Sequence[int]) -> str:
    return "x".join(str(s) for s in size)


def _refuse_downloads(name: str) -> None:
    if name.startswith(pretrained.HF_PREFIX):
        repo = name[len(pretrained.HF_PREFIX):]
        raise CnnzooValueError(
            f"{name} would have to be downloaded, which this command does not do. Fetch it with "
            f"`huggingface-cli download {repo} --local-dir DIR`, then run this command on DIR."
        )


def _named_weights(name: str) -> pretrained.PretrainedTag | None:
    """The weights ``NAME.TAG`` names, as create reads it; None for a bare name, a directory or an unknown name."""
    model_name, _, tag = name.rpartition(".")
    if not model_name or not tag or "." in model_name or not cnnzoo.is_model(model_name):
        return None
    return pretrained.get_tag(model_name, tag)  # a WeightsError lists the model's tags


def _weights_input(weights: pretrained.PretrainedTag) -> tuple[int, int, int]:
    """The input ``create(NAME.TAG)`` says it takes (its ``default_cfg``): the weights' crop, the model's channels."""
    return (cnnzoo.model_info(weights.model).input_size[0], weights.crop, weights.crop)


def _license_pattern(text: str) -> str:
    """An argparse ``type`` for --license: a wildcard over license names, refused if no license could match it."""
    licenses = sorted({tag.license for tags in pretrained.PRETRAINED.values() for tag in tags.values()})
    if not any(fnmatch.fnmatchcase(license, text) for license in licenses):
        raise argparse.ArgumentTypeError(f"{_shown(text)} matches no license of the published weights "
                                         f"({', '.join(licenses)})")
    return text


def _model_name(text: str) -> str:
    """An argparse ``type`` for NAME: refuses a path the file system will not even look at.

    For a path, create() looks for a saved directory, and for a name too long for a file name ("File name too
    long") or a home directory that does not exist ('~nobody') that look raises instead of answering no.
    """
    try:
        pretrained.is_saved_directory(text)
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} is neither a model name (`cnnzoo list` shows them) nor a directory that can be "
            f"opened ({reason.rstrip('.')})") from None
    return text


def _accuracy(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _license(tag: pretrained.PretrainedTag) -> str:
    """The license, with what ``cc-by-nc`` means said, so it is not missed in a long listing."""
    return f"{tag.license} (non-commercial use only)" if tag.license.lower().startswith("cc-by-nc") else tag.license


def _list_weights(args: argparse.Namespace) -> int:
    """``list --pretrained``: every NAME.TAG with who publishes it, its reported accuracy, input and license."""
    names = cnnzoo.list_models(args.patterns or None, pretrained=True, license=args.license)
    if not names:
        asked = " ".join(_shown(p) for p in args.patterns) or "any model"
        licenses = f" under the license {' or '.join(_shown(p) for p in args.license)}" if args.license else ""
        print(f"No published weights for {asked}{licenses}. Try `cnnzoo list --pretrained` for all of them.",
              file=sys.stderr)
        return 1
    tags = [pretrained.get_tag(*name.rsplit(".", 1)) for name in names]
    if args.sort != "name":
        # best first; weights without a reported figure after them, in the registry's order
        tags.sort(key=lambda tag: (getattr(tag, args.sort) is None, -(getattr(tag, args.sort) or 0.0)))
    header = ("weights", "publisher", "top-1", "top-5", "crop", "license") + (("source",) if args.verbose else ())
    rows = [header] + [(tag.name, tag.publisher, _accuracy(tag.top1), _accuracy(tag.top5), str(tag.crop), _license(tag))
                       + ((tag.source,) if args.verbose else ()) for tag in tags]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [cell.rjust(w) if 2 <= i <= 4 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if not args.pretrained and (args.sort != "name" or args.license):
        option = f"--sort {args.sort}" if args.sort != "name" else "--license"
        raise CnnzooValueError(f"{option} applies to published weights; add --pretrained (`cnnzoo list --pretrained "
                               f"{option if args.sort != 'name' else '--license PATTERN'}`).")
    if args.pretrained:
        return _list_weights(args)
    names = cnnzoo.list_models(args.patterns or None)
    if not names:
        patterns = " ".join(_shown(p) for p in args.patterns)
        print(f"No model matches {patterns}. Try `cnnzoo list` for all of them.", file=sys.stderr)
        return 1
    if not args.verbose:
        print("\n".join(names))
        return 0
    rows = [("name", "family", "input", "params", "GFLOPs")]
    for name in names:
        info = cnnzoo.model_info(name)
        rows.append((name, info.family, _format_size(info.input_size), f"{info.parameters:,}", f"{info.gflops:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    return 0


def _describe_weights(tag: pretrained.PretrainedTag, default_tag: str | None) -> list[str]:
    default = f", the default of {tag.model}" if tag.tag == default_tag else ""
    cfg = tag.cfg()
    measured_by = f"as {tag.accuracy_by} measured it" if tag.accuracy_by else f"as {tag.publisher} reports"
    accuracy = (f"ImageNet-1k top-1 {tag.top1}%, top-5 {tag.top5}% at {tag.crop}px, {measured_by}"
                if tag.top1 is not None else "none published")
    trained = f"; trained at {tag.train_size}px" if tag.train_size else ""
    return [
        f"Weights:        {tag.name} ({tag.publisher}{default}); described, not downloaded",
        f"Accuracy:       {accuracy}",
        f"Weights input:  {_format_size(cfg['input_size'])}: resize {tag.resize}, centre crop {tag.crop} "
        f"(crop_pct {cfg['crop_pct']:.3f}), {tag.interpolation}; mean {tag.mean}, std {tag.std}; "
        f"{tag.num_classes} classes{trained}",
        f"License:        {_license(tag)}",
        f"Source:         {tag.source}",
    ]


def _cmd_info(args: argparse.Namespace) -> int:
    _refuse_downloads(args.name)
    kwargs: dict[str, int] = {}
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.input_size is not None:
        kwargs["in_chans"] = args.input_size[0]
    saved = pretrained.is_saved_directory(args.name)
    weights = None if saved else _named_weights(args.name)
    with torch.device("meta"):
        # pretrained=False: the architecture NAME.TAG or a saved directory needs, without reading weights
        model = cnnzoo.create(args.name, pretrained=False, **kwargs)
    cfg = model.default_cfg
    facts = cnnzoo.model_info(cfg["architecture"])
    if args.input_size is not None:
        input_size = tuple(args.input_size)
    elif weights is not None:
        input_size = _weights_input(weights)
    else:
        input_size = tuple(cfg["input_size"])
    model.eval()
    try:
        model.check_input(torch.empty((1, *input_size), device="meta"))
    except CnnzooError as exc:
        raise CnnzooValueError(f"--input-size {_format_size(input_size)}: {exc}") from None
    table = cnnzoo.summary(model, input_size)
    smallest = cfg.get("min_input_size")
    print(f"{args.name}  ({facts.family})")
    if saved or weights is not None:
        print(f"Architecture:   {facts.name}")
    print(f"Paper:          {facts.paper}")
    print(f"Default input:  {_format_size(cfg['input_size'])}"
          + (f" (smallest {smallest[1]}x{smallest[2]})" if smallest else ""))
    print(f"Normalisation:  mean {tuple(cfg['mean'])}, std {tuple(cfg['std'])}; {cfg['interpolation']} resize, "
          f"crop {cfg['crop_pct']}")
    print(f"Classes:        {cfg['num_classes']}")
    if weights is not None:
        print("\n".join(_describe_weights(weights, facts.default_tag)))
    elif saved:
        weights_file = Path(args.name) / pretrained.WEIGHTS_NAME
        print(f"Weights:        {weights_file} (saved with cnnzoo.save_pretrained; not read)")
    elif facts.pretrained_tags:
        for i, tag in enumerate(facts.pretrained_tags):
            label = "Weights:" if i == 0 else ""
            default = ", default" if tag.tag == facts.default_tag else ""
            accuracy = (f"ImageNet top-1 {tag.top1}%, top-5 {tag.top5}% at {tag.crop}px" if tag.top1 is not None
                        else f"evaluated at {tag.crop}px, no accuracy published")
            print(f"{label:<16}{tag.name} ({tag.publisher}{default}): {accuracy}; {_license(tag)}; {tag.source}")
    else:
        print("Weights:        none published; train from scratch or load your own with pretrained=PATH")
    print(f"Parameters:     {table.total_params:,}")
    print(f"FLOPs:          {table.flops / 1e9:.3f} GFLOPs per image at {_format_size(input_size)} "
          f"({table.flops / 2e9:.3f} G multiply-adds)")
    print(table)
    return 0


def _cmd_memory(args: argparse.Namespace) -> int:
    _refuse_downloads(args.name)
    budget = args.budget
    weights = None if pretrained.is_saved_directory(args.name) else _named_weights(args.name)
    kwargs: dict[str, object] = {
        # for NAME.TAG, the input those weights were trained on, as create(NAME.TAG).default_cfg says
        "input_size": args.input_size if args.input_size is not None or weights is None else _weights_input(weights),
        "training": not args.inference,
        "optimizer": None if args.optimizer == "none" else args.optimizer,
        "dtype": getattr(torch, args.dtype),
    }
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.input_size is not None:
        kwargs["in_chans"] = args.input_size[0]
    largest = max_batch_size(args.name, budget, **kwargs) if budget is not None else None
    batch_size = args.batch_size if args.batch_size is not None else largest or 32
    estimate = estimate_memory(args.name, batch_size, **kwargs)
    print(estimate)
    if budget is None:
        return 0
    label = f"Budget {format_bytes(budget)}"
    if estimate.total <= budget:
        print(f"{label}: batch {batch_size} fits, with {format_bytes(budget - estimate.total)} to spare.")
    else:
        print(f"{label}: batch {batch_size} does not fit; it needs {format_bytes(estimate.total - budget)} more.")
    print(f"Largest batch within {format_bytes(budget)}: {largest}")
    return 0 if estimate.total <= budget else 1


_EXPORT_SUFFIXES = {".onnx": "onnx", ".pt2": "pt2"}


def _export_input(model: torch.nn.Module, side: int | None) -> torch.Tensor:
    """An example input of two images at ``side`` (default: the model's input), checked against the model."""
    channels, *size = model.default_cfg["input_size"]
    example = torch.randn(2, channels, *((side, side) if side is not None else size))
    try:
        model.check_input(example)
    except CnnzooError as exc:
        raise CnnzooValueError(f"--input-size {side}: {exc}") from None
    return example


def _cmd_export(args: argparse.Namespace) -> int:
    output = Path(args.output).expanduser()
    fmt = args.format or _EXPORT_SUFFIXES.get(output.suffix.lower())
    if fmt is None:
        raise CnnzooValueError(
            f"--output {_shown(args.output)}: say which format with --format onnx or --format pt2, or name the "
            "file .onnx or .pt2.")
    if output.is_dir() or not output.parent.is_dir():
        problem = "is a directory" if output.is_dir() else (
            f"is in a folder that does not exist ({_shown(str(output.parent))})")
        raise CnnzooValueError(f"--output {_shown(args.output)} {problem}; name a file in an existing folder.")
    if fmt == "onnx":
        translation_table()  # raises before anything is built if the ONNX packages are missing
    kwargs = {key: value for key, value in (("num_classes", args.num_classes), ("in_chans", args.in_chans))
              if value is not None}
    model = cnnzoo.create(args.name, **kwargs).eval()
    example = _export_input(model, args.input_size)
    # the batch is left free: a graph traced at two images runs on any number
    dynamic_shapes = ({0: torch.export.Dim("batch", min=1)},)
    try:
        if fmt == "onnx":
            cnnzoo.export_onnx(model, example, output, dynamic_shapes=dynamic_shapes)
        else:
            torch.export.save(torch.export.export(model, (example,), dynamic_shapes=dynamic_shapes), output)
    except OSError as exc:  # a full disk, a read-only folder
        raise CnnzooValueError(f"Cannot write {_shown(str(output))}: {exc.strerror or exc}.") from None
    saved = pretrained.is_saved_directory(args.name)
    weights = "its saved weights" if saved else (
        "freshly initialised weights" if cnnzoo.is_model(args.name) else "the weights its name gives")
    loading = "" if fmt == "onnx" else "; load it with torch.export.load after `import cnnzoo`"
    print(f"Wrote {output}: {args.name} with {weights}, input Bx{_format_size(example.shape[1:])} for any batch "
          f"size B, as {'ONNX' if fmt == 'onnx' else 'a torch.export program'}{loading}.")
    return 0


def _model_arguments(command: argparse.ArgumentParser) -> None:
    """The model a command works on: its name and its number of classes."""
    command.add_argument("name", type=_model_name,
                         help="a name from `cnnzoo list`, NAME.TAG for published weights, or a save_pretrained directory")
    command.add_argument("--num-classes", type=_count(MAX_CLASSES, "far more than any image dataset has", "number_of_classes"),
                         metavar="N", help=f"classifier outputs, 1 to {MAX_CLASSES:,} (default: the model's)")


def _input_size_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--input-size", action=_InputSize, nargs=3, metavar=("C", "H", "W"),
                         help=f"input channels (at most {MAX_CHANNELS}) and size (at most {MAX_SIDE} a side; "
                              "default: the model's, or its weights' for NAME.TAG)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cnnzoo`` command; every option's value is checked as it is read."""
    parser = _Parser(
        prog="cnnzoo", description="Faithful classic CNN architectures for transfer learning.",
        epilog="Exit status: 0 for an answer; 1 when `list` matches nothing or `memory`'s batch does not fit; "
               f"2 for input a command cannot take, said in one line on stderr ({_DEBUG_VARIABLE}=1 shows the "
               "traceback of an unexpected error).")
    parser.add_argument("--version", action="version", version=f"cnnzoo {cnnzoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list model names, or their published weights, optionally filtered by wildcards")
    listing.add_argument("patterns", nargs="*", metavar="PATTERN", help="shell wildcard such as 'resnet*'")
    listing.add_argument("-v", "--verbose", action="store_true",
                         help="add family, input size, parameters and GFLOPs (with --pretrained: where the weights are)")
    listing.add_argument("--pretrained", action="store_true",
                         help="list NAME.TAG for every set of published weights, with publisher, reported ImageNet "
                              "top-1/top-5, evaluation crop and license")
    listing.add_argument("--sort", choices=("name", "top1", "top5"), default="name",
                         help="with --pretrained: by name (default), or by reported top-1 or top-5 accuracy, best "
                              "first (weights without a reported figure last)")
    listing.add_argument("--license", action="append", type=_license_pattern, metavar="PATTERN",
                         help="with --pretrained: only weights under a matching license, such as apache-2.0 or "
                              "'bsd-*' (repeatable)")
    listing.set_defaults(run=_cmd_list)

    info = commands.add_parser("info", help="describe one model: paper, input, weights, parameters, FLOPs, layers")
    _model_arguments(info)
    _input_size_argument(info)
    info.set_defaults(run=_cmd_info)

    memory = commands.add_parser(
        "memory", help="estimate the memory of a training step (no weights are allocated)",
        description="Estimate the memory one training step (or inference pass) takes: parameters, gradients, "
                    "optimizer state, activations. With --budget, say whether it fits and the largest batch "
                    "that does; exits 1 when the batch does not fit.")
    _model_arguments(memory)
    memory.add_argument("--batch-size", type=_count(MAX_BATCH_SIZE, "images per batch", "batch_size"), metavar="B",
                        help="images per batch (default: the largest within --budget, else 32)")
    memory.add_argument("--budget", type=_budget, metavar="SIZE",
                        help="memory available, such as 2GiB, 512MiB or 8GB (at most 1024TiB)")
    _input_size_argument(memory)
    memory.add_argument("--optimizer", choices=("adam", "adamw", "sgd", "none"), default="adam",
                        help="adam/adamw keep two states per parameter, sgd (with momentum) one (default: adam)")
    memory.add_argument("--inference", action="store_true", help="a forward pass without autograd instead of training")
    memory.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                        help="type of weights and activations (default: float32)")
    memory.set_defaults(run=_cmd_memory)

    export = commands.add_parser(
        "export", help="write a network with its weights as ONNX or as a torch.export program",
        description="Build a network and write it with its weights: as ONNX (torch's dynamo exporter; needs "
                    'pip install "cnnzoo[onnx]") or as a torch.export program (.pt2). The batch size is left free. '
                    "A bare name has freshly initialised weights; NAME.TAG downloads the weights it names.")
    _model_arguments(export)
    export.add_argument("--output", required=True, metavar="PATH", help="the file to write (.onnx or .pt2)")
    export.add_argument("--format", choices=("onnx", "pt2"),
                        help="onnx or pt2 (default: from the extension of --output)")
    export.add_argument("--in-chans", type=_count(MAX_CHANNELS, "bands", "channels"), metavar="C",
                        help=f"input channels, at most {MAX_CHANNELS} (default: the model's)")
    export.add_argument("--input-size", type=_count(MAX_SIDE, "pixels a side", "side"), metavar="S",
                        help=f"side of the square example input, at most {MAX_SIDE} (default: the model's input)")
    export.set_defaults(run=_cmd_export)
    return parser


def _fail(message: str) -> int:
    print(_one_line(message), file=sys.stderr)
    return 2


def _discard_stdout() -> None:
    """Point the process's stdout at /dev/null, so the interpreter's last flush meets no broken pipe."""
    if sys.stdout is not sys.__stdout__:  # called in-process (a test, a notebook): leave its streams alone
        return
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (see the module's description); never raises.

    Args:
        argv: the arguments after ``cnnzoo``; ``sys.argv[1:]`` when None.

    Returns:
        0 for an answer, 1 for a negative one, 2 for input the command cannot take (one line on stderr),
        130 when interrupted, 141 when the reader of stdout went away.
    """
    try:
        args = build_parser().parse_args(argv)
        status = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit
        return status
    except SystemExit as exit_:  # argparse: --help and --version (0), or a usage error it printed (2)
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # the reader left (`cnnzoo list | head -3`): stop quietly, as a command killed by SIGPIPE does
        _discard_stdout()
        return 128 + signal.SIGPIPE
    except CnnzooError as exc:
        return _fail(f"cnnzoo: error: {exc}")
    except Exception as exc:
        if os.environ.get(_DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        detail = detail if len(detail) <= 500 else detail[:500] + "..."
        return _fail(f"cnnzoo: unexpected error (a bug in cnnzoo; please report it): {detail} -- "
                     f"run with {_DEBUG_VARIABLE}=1 for the traceback")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
