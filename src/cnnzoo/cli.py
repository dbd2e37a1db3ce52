"""The ``cnnzoo`` command: list the zoo and describe any network in it.

    cnnzoo list [PATTERN ...] [--verbose]
    cnnzoo info NAME [--num-classes N] [--input-size C H W]
    cnnzoo memory NAME [--batch-size B] [--budget SIZE] [--input-size C H W] [--optimizer adam|adamw|sgd|none]
                       [--inference] [--dtype float32|bfloat16|float16] [--num-classes N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

import cnnzoo
from cnnzoo.errors import CnnzooError, check_positive_int

__all__ = ["main"]


def _format_size(size: Sequence[int]) -> str:
    return "x".join(str(s) for s in size)


def _cmd_list(args: argparse.Namespace) -> int:
    names = cnnzoo.list_models(args.patterns or None)
    if not names:
        print(f"No model matches {' '.join(args.patterns)}. Try `cnnzoo list` for all of them.", file=sys.stderr)
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


def _cmd_info(args: argparse.Namespace) -> int:
    kwargs: dict[str, int] = {}
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.input_size is not None:
        kwargs["in_chans"] = args.input_size[0]
    info = cnnzoo.model_info(args.name, **kwargs)
    with torch.device("meta"):
        model = cnnzoo.create(args.name, **kwargs)
    input_size = tuple(args.input_size) if args.input_size is not None else info.input_size
    model.eval()
    try:
        model.check_input(torch.empty((1, *input_size), device="meta"))
    except CnnzooError as exc:
        raise CnnzooError(f"--input-size {_format_size(input_size)}: {exc}") from None
    table = cnnzoo.summary(model, input_size)
    smallest = info.min_input_size
    print(f"{info.name}  ({info.family})")
    print(f"Paper:          {info.paper}")
    print(f"Default input:  {_format_size(info.input_size)}" + (f" (smallest {smallest[1]}x{smallest[2]})" if smallest else ""))
    print(f"Normalisation:  mean {info.mean}, std {info.std}; {info.interpolation} resize, crop {info.crop_pct}")
    print(f"Classes:        {info.num_classes}")
    if info.pretrained_tags:
        for i, tag in enumerate(info.pretrained_tags):
            label = "Weights:" if i == 0 else ""
            default = ", default" if tag.tag == info.default_tag else ""
            print(f"{label:<16}{info.name}.{tag.tag} ({tag.publisher}{default}): ImageNet top-1 {tag.top1}%, "
                  f"top-5 {tag.top5}% at {tag.crop}px; {tag.license}; {tag.source}")
    else:
        print("Weights:        none published; train from scratch or load your own with pretrained=PATH")
    print(f"Parameters:     {info.parameters:,}")
    print(f"FLOPs:          {table.flops / 1e9:.3f} GFLOPs per image at {_format_size(input_size)} "
          f"({table.flops / 2e9:.3f} G multiply-adds)")
    print(table)
    return 0


def _cmd_memory(args: argparse.Namespace) -> int:
    from cnnzoo.memory import estimate_memory, format_bytes, max_batch_size, parse_bytes

    budget = parse_bytes(args.budget) if args.budget is not None else None
    kwargs: dict[str, object] = {
        "input_size": tuple(args.input_size) if args.input_size is not None else None,
        "training": not args.inference,
        "optimizer": None if args.optimizer == "none" else args.optimizer,
        "dtype": getattr(torch, args.dtype),
    }
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.input_size is not None:
        kwargs["in_chans"] = args.input_size[0]
    if args.batch_size is not None:
        check_positive_int("--batch-size", args.batch_size)
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cnnzoo`` command."""
    parser = argparse.ArgumentParser(prog="cnnzoo", description="Faithful classic CNN architectures for transfer learning.")
    parser.add_argument("--version", action="version", version=f"cnnzoo {cnnzoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list model names, optionally filtered by wildcards")
    listing.add_argument("patterns", nargs="*", metavar="PATTERN", help="shell wildcard such as 'resnet*'")
    listing.add_argument("-v", "--verbose", action="store_true", help="add family, input size, parameters and GFLOPs")
    listing.set_defaults(run=_cmd_list)

    info = commands.add_parser("info", help="describe one model: paper, input, parameters, FLOPs, layer table")
    info.add_argument("name", help="a model name from `cnnzoo list`")
    info.add_argument("--num-classes", type=int, metavar="N", help="classifier outputs (default: the model's)")
    info.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"),
                      help="input channels and size (default: the model's)")
    info.set_defaults(run=_cmd_info)

    memory = commands.add_parser(
        "memory", help="estimate the memory of a training step (no weights are allocated)",
        description="Estimate the memory one training step (or inference pass) takes: parameters, gradients, "
                    "optimizer state, activations. With --budget, say whether it fits and the largest batch "
                    "that does; exits 1 when the batch does not fit.")
    memory.add_argument("name", help="a model name from `cnnzoo list`")
    memory.add_argument("--batch-size", type=int, metavar="B",
                        help="images per batch (default: the largest within --budget, else 32)")
    memory.add_argument("--budget", metavar="SIZE", help="memory available, such as 2GiB, 512MiB or 8GB")
    memory.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"),
                        help="input channels and size (default: the model's)")
    memory.add_argument("--optimizer", choices=("adam", "adamw", "sgd", "none"), default="adam",
                        help="adam/adamw keep two states per parameter, sgd (with momentum) one (default: adam)")
    memory.add_argument("--inference", action="store_true", help="a forward pass without autograd instead of training")
    memory.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                        help="type of weights and activations (default: float32)")
    memory.add_argument("--num-classes", type=int, metavar="N", help="classifier outputs (default: the model's)")
    memory.set_defaults(run=_cmd_memory)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CnnzooError as exc:
        print(f"cnnzoo: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
