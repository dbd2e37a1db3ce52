"""Write scikit-learn's handwritten digits as an image folder, one folder per class (the flowers layout).

    python examples/make_digits_folder.py digits --size 32

scikit-learn ships the test set of the UCI "Optical Recognition of Handwritten Digits" data set
(``sklearn.datasets.load_digits``): 1,797 images of the digits 0 to 9, written by 13 people on forms,
scanned as 32x32 black-and-white bitmaps and reduced to 8x8 pixels, each pixel counting the inked cells of
a 4x4 block (a grey level from 0 to 16). This script writes them as PNG files, ``OUTPUT/DIGIT/INDEX.png``
(``OUTPUT/0/0000.png``, ``OUTPUT/1/0001.png`` and so on: the folder is the digit, the file name the image's
index in ``load_digits``), enlarged from 8x8 to ``--size`` pixels square with each pixel repeated as a block
(nearest neighbour, so no grey level is invented), drawn as MNIST draws digits: light strokes on a black
background (0 is black, 16 is white).

``examples/finetune.py --data OUTPUT`` then trains on it like on any image folder. The docs' tutorial shows
such a run. scikit-learn is not a dependency of cnnzoo: ``pip install scikit-learn`` first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
from PIL import Image

import cnnzoo

#: The largest grey level of ``load_digits``' images (each pixel counts the set cells of a 4x4 block).
DIGITS_MAX = 16


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr that names ``--help`` (as examples/finetune.py's do)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def write_image_folder(images: np.ndarray, labels: np.ndarray, output: Path, size: int = 32,
                       max_value: float = DIGITS_MAX) -> dict[str, int]:
    """Write grey images as PNG files in one folder per label: ``output/LABEL/INDEX.png``.

    Args:
        images: ``(count, height, width)`` grey levels from 0 (written black) to ``max_value`` (white).
        labels: ``(count,)`` whole numbers, each image's class; the folder names.
        output: the folder to write into; created, and it must not already hold files.
        size: the written images' side in pixels, at least the images' own; each pixel is repeated as
            a block (nearest neighbour), so no grey level is invented between two pixels.
        max_value: the grey level written white.

    Returns:
        The number of images written per class folder, by folder name.

    Raises:
        cnnzoo.CnnzooValueError: arrays of the wrong shape or values, a size smaller than the images,
            or an ``output`` folder that is not empty.

    Example:
        >>> counts = write_image_folder(np.zeros((2, 8, 8)), np.array([3, 7]),
        ...                             Path("tiny"), size=16)  # doctest: +SKIP
        >>> counts  # doctest: +SKIP
        {'3': 1, '7': 1}
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        raise cnnzoo.CnnzooValueError(f"images must be (count, height, width) grey levels; got shape {images.shape}")
    if labels.shape != images.shape[:1]:
        raise cnnzoo.CnnzooValueError(f"labels must be one whole number per image, shape ({len(images)},); "
                                      f"got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise cnnzoo.CnnzooValueError("labels must be whole numbers 0 or more (they name the folders)")
    if not max_value > 0:
        raise cnnzoo.CnnzooValueError(f"max_value must be above 0; got {max_value}")
    if images.size and not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= max_value):
        raise cnnzoo.CnnzooValueError(f"grey levels must lie between 0 and max_value={max_value}; "
                                      f"got {images.min()} to {images.max()}")
    if size < max(images.shape[1:]):
        raise cnnzoo.CnnzooValueError(f"size must be at least the images' own {images.shape[2]}x{images.shape[1]} "
                                      f"pixels, so none is lost; got {size}")
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise cnnzoo.CnnzooValueError(f"{output} already exists and is not an empty folder: choose another "
                                      "output folder, or remove it first")
    grey = np.rint(images.astype(np.float64) * (255 / max_value)).astype(np.uint8)
    digits = len(str(max(len(images) - 1, 0)))
    counts: dict[str, int] = {}
    for index, (pixels, label) in enumerate(zip(grey, labels)):
        folder = output / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST)
        image.save(folder / f"{index:0{digits}d}.png")
        counts[folder.name] = counts.get(folder.name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: int(item[0])))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder to write; it must not exist yet, or be empty")
    parser.add_argument("--size", type=int, default=32,
                        help="the images' side in pixels, 8 or more: each of the 8x8 pixels becomes a block, "
                             "all of one size when SIZE is a multiple of 8 (default 32, the input size of "
                             "LeNet-5 and of the CIFAR networks, and the digits' scanned size)")
    args = parser.parse_args(argv)
    if args.size < 8:
        parser.error(f"--size must be 8 or more (the digits are 8x8 pixels); got {args.size}")
    if args.output.exists() and (not args.output.is_dir() or any(args.output.iterdir())):
        parser.error(f"{args.output} already exists and is not an empty folder: choose another, or remove it")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("error: this script reads the digits from scikit-learn, which is not installed: "
              "pip install scikit-learn", file=sys.stderr)
        return 1
    digits = load_digits()
    counts = write_image_folder(digits.images, digits.target, args.output, size=args.size)
    print(f"wrote {sum(counts.values())} images of {args.size}x{args.size} pixels to {args.output}: "
          + ", ".join(f"{count} of {name}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
