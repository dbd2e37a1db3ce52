"""Input statistics shared by the registry and the models."""

from __future__ import annotations

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "CIFAR_MEAN", "CIFAR_STD", "MNIST_MEAN", "MNIST_STD", "adapt_mean_std"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)


def adapt_mean_std(values: tuple[float, ...], in_chans: int) -> tuple[float, ...]:
    """Per-channel statistics for ``in_chans`` channels: averaged for one channel, cycled for more."""
    if in_chans == len(values):
        return tuple(values)
    if in_chans == 1:
        return (sum(values) / len(values),)
    return tuple(values[i % len(values)] for i in range(in_chans))
