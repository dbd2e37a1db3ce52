"""LiveBytes and storage_bytes (cnnzoo/memory/tracker.py): the public tracker behind the estimator and the benchmarks."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnzoo.memory
from cnnzoo.errors import CnnzooError, CnnzooValueError
from cnnzoo.memory import LiveBytes, storage_bytes

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
FLOAT = 4  # bytes of a float32


@pytest.fixture
def tracker():
    made = LiveBytes()
    yield made
    made.close()


def test_the_tracker_and_storage_bytes_are_public_names_of_cnnzoo_memory():
    assert {"LiveBytes", "storage_bytes"} <= set(cnnzoo.memory.__all__)
    assert cnnzoo.memory.LiveBytes.__doc__ and "Example:" in cnnzoo.memory.storage_bytes.__doc__


def test_an_allocation_is_counted_from_birth(tracker):
    with tracker as entered:
        a = torch.empty(1000)
    assert entered is tracker
    assert tracker.live == tracker.peak == 1000 * FLOAT and tracker.trace == [1000 * FLOAT]
    del a


def test_a_freed_storage_leaves_the_count_and_the_peak_stays(tracker):
    with tracker:
        a = torch.empty(1000)
        b = torch.empty(500)
        del a  # inside the block
    assert tracker.live == 500 * FLOAT and tracker.peak == 1500 * FLOAT
    del b  # after it: the death still counts until close()
    assert tracker.live == 0 and tracker.peak == 1500 * FLOAT


def test_views_and_in_place_results_are_not_counted_twice(tracker):
    with tracker:
        a = torch.zeros(100, 10)
        views = [a.view(10, 100), a.T, a[::2], a[3], a.reshape(1000)]
        a.add_(1).mul_(2)
    assert tracker.live == tracker.peak == 1000 * FLOAT
    assert storage_bytes([a, *views]) == 1000 * FLOAT
    del a, views


def test_resident_tensors_are_never_counted():
    weights = torch.zeros(1000)
    resident = LiveBytes(resident=[weights])
    try:
        with resident:
            weights.mul_(2)
            weights.view(10, 100).add_(1)
            grown = weights * 2
        assert resident.live == resident.peak == 1000 * FLOAT  # the product only
    finally:
        resident.close()
    del grown


def test_a_storage_that_grows_counts_its_new_size(tracker):
    with tracker:
        a = torch.empty(100)
        a.resize_(1000)
    assert tracker.live == tracker.peak == 1000 * FLOAT
    assert tracker.trace == [100 * FLOAT, 1000 * FLOAT]
    del a


def test_meta_tensors_are_counted_without_being_allocated(tracker):
    with tracker:
        huge = torch.empty(2**40, device="meta", dtype=torch.uint8)  # a TiB, which no test machine has
    assert tracker.live == 2**40 and storage_bytes(huge) == 2**40
    del huge
    assert tracker.live == 0


def test_restart_begins_a_new_phase_from_what_is_alive(tracker):
    with tracker:
        kept = torch.empty(100)
        gone = torch.empty(1000)
    del gone
    tracker.restart()
    assert tracker.peak == tracker.live == 100 * FLOAT and tracker.trace == []
    with tracker:  # entered again: the estimator's optimizer update
        more = torch.empty(50)
    assert tracker.peak == 150 * FLOAT and tracker.trace == [150 * FLOAT]
    del kept, more


def test_nested_trackers_each_count_what_their_block_creates():
    outer, inner = LiveBytes(), LiveBytes()
    try:
        with outer:
            a = torch.empty(100)
            with inner:
                b = torch.empty(200)
            with outer:  # the same tracker within itself counts a storage once
                c = torch.empty(50)
        assert outer.live == 350 * FLOAT and inner.live == 200 * FLOAT
        del a, b, c
        assert outer.live == inner.live == 0 and outer.peak == 350 * FLOAT and inner.peak == 200 * FLOAT
    finally:
        outer.close()
        inner.close()


def test_a_closed_tracker_stops_following_deaths_and_cannot_be_entered():
    tracker = LiveBytes()
    with tracker:
        a = torch.empty(100)
    tracker.close()
    tracker.close()  # closing twice does nothing more
    del a
    assert tracker.live == 100 * FLOAT  # as it was at close()
    with pytest.raises(CnnzooError, match="closed.*make a new LiveBytes"), tracker:
        pass


def test_tensors_another_thread_creates_are_not_counted(tracker):
    made: list[torch.Tensor] = []
    with tracker:
        worker = threading.Thread(target=lambda: made.append(torch.empty(1000)))
        worker.start()
        worker.join()
        made.append(torch.empty(10))
    assert tracker.live == tracker.peak == 10 * FLOAT


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4096), st.booleans()), min_size=1, max_size=20))
def test_live_and_peak_follow_any_sequence_of_allocations_and_frees(plan):
    # each step allocates a tensor of `size` floats, and frees the oldest one still alive when `free` is set
    tracker = LiveBytes()
    alive: list[torch.Tensor] = []
    expected_live = expected_peak = 0
    try:
        with tracker:
            for size, free in plan:
                alive.append(torch.empty(size))
                expected_live += size * FLOAT
                expected_peak = max(expected_peak, expected_live)
                if free:
                    expected_live -= alive.pop(0).numel() * FLOAT
                assert tracker.live == expected_live
        assert tracker.peak == expected_peak and max(tracker.trace) == expected_peak
        alive.clear()
        assert tracker.live == 0
    finally:
        tracker.close()


def test_storage_bytes_counts_each_storage_once():
    linear = torch.nn.Linear(16, 8)
    assert storage_bytes(linear.parameters()) == (16 * 8 + 8) * FLOAT
    tied = torch.nn.Sequential(linear, torch.nn.Linear(16, 8))
    tied[1].weight = linear.weight  # tied weights: one storage under two names
    assert storage_bytes(p for _, p in tied.named_parameters(remove_duplicate=False)) == (16 * 8 + 8 + 8) * FLOAT
    assert storage_bytes(torch.zeros(3, dtype=torch.float64)) == 24  # a lone tensor
    assert storage_bytes([]) == 0
    whole = torch.zeros(100)
    assert storage_bytes([whole[:10]]) == 100 * FLOAT  # a slice holds its whole storage alive


@pytest.mark.parametrize("bad", [3, None, "weights", b"weights", [torch.zeros(2), 1.5], [torch.zeros(2).to_sparse()]])
def test_storage_bytes_and_the_tracker_refuse_what_is_not_strided_tensors(bad):
    with pytest.raises(CnnzooValueError, match="^tensors must"):
        storage_bytes(bad)
    with pytest.raises(CnnzooValueError, match="^resident must"):
        LiveBytes(resident=bad)


def test_no_benchmark_imports_a_private_name_of_cnnzoo_memory():
    private = []
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(), str(script))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnzoo.memory"):
                private += [f"{script.name}: {alias.name}" for alias in node.names if alias.name.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and "memory" in ast.unparse(node.value):
                private.append(f"{script.name}: {ast.unparse(node)}")
    assert not private, f"use cnnzoo.memory's public API instead: {private}"
