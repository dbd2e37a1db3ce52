"""How much memory training (or running) a network takes: estimated without allocating it, and measured.

:func:`estimate_memory` answers "does ResNet-50 at batch 64 fit on a 16 GiB card?" on a laptop without
that card, by tracing one training step on the meta device; :func:`max_batch_size` inverts it for a
budget such as ``"2GiB"``; :func:`measure_step_peak` measures the real thing for comparison (see
``tests/test_memory.py``). :class:`LiveBytes` and :func:`storage_bytes`, which the estimator counts with,
count the tensors of a real step too (the benchmarks' CPU memory column).

The package holds one job a module:

- :mod:`cnnzoo.memory.units`: reading and writing sizes (:func:`parse_bytes`, :func:`format_bytes`);
- :mod:`cnnzoo.memory.tracker`: counting live tensor storages (:class:`LiveBytes`, :func:`storage_bytes`);
- :mod:`cnnzoo.memory.step`: the step that is estimated and measured, and the checks of its arguments;
- :mod:`cnnzoo.memory.estimate`: the meta-device estimator (:func:`estimate_memory`, :func:`max_batch_size`);
- :mod:`cnnzoo.memory.measure`: real measurement (:func:`measure_step_peak`,
  :func:`measure_step_peak_in_subprocess`).

Example:
    >>> estimate = cnnzoo.estimate_memory("resnet50", batch_size=64)
    >>> print(estimate)  # doctest: +SKIP
    >>> cnnzoo.max_batch_size("resnet50", "16GiB")  # doctest: +SKIP
"""

from cnnzoo.memory.estimate import (
    RUNTIME_OVERHEAD,
    MemoryEstimate,
    OptimizerFactory as OptimizerFactory,  # the types optimizer= takes, importable as before, not in __all__
    OptimizerSpec as OptimizerSpec,
    estimate_memory,
    max_batch_size,
)
from cnnzoo.memory.measure import MEASUREMENT_ENV, measure_step_peak, measure_step_peak_in_subprocess
from cnnzoo.memory.tracker import LiveBytes, storage_bytes
from cnnzoo.memory.units import format_bytes, parse_bytes

# the tracker's name before it was public, which tests/test_memory.py still imports
_LiveBytes = LiveBytes

__all__ = [
    "MemoryEstimate",
    "estimate_memory",
    "max_batch_size",
    "parse_bytes",
    "format_bytes",
    "measure_step_peak",
    "measure_step_peak_in_subprocess",
    "LiveBytes",
    "storage_bytes",
    "RUNTIME_OVERHEAD",
    "MEASUREMENT_ENV",
]
