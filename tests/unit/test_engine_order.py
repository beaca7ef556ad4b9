"""The engine's sort of a call's readings by (kind, sensor row, ts_ms): its one-reading-per-sensor fast
path gives the stable lexicographic order, as do the sorts it falls back to."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.engine import Engine
from detectors.lifecycle.testing import echo_rule, tiny_registry

KINDS = ["tank_level", "combustible_gas", "rain_gauge"]


def engine(n: int) -> Engine:
    reg = tiny_registry(*((f"s{i}", KINDS[(i * 7) % 3]) for i in range(n)))
    return Engine(reg, rules=[echo_rule()])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("share", [1.0, 0.5, 0.3, 0.1])
@pytest.mark.parametrize("repeats", [0, 1, 20])
@pytest.mark.parametrize("time_sorted", [False, True])
def test_kind_order_is_the_stable_lexicographic_order(
    seed: int, share: float, repeats: int, time_sorted: bool
) -> None:
    eng = engine(200)
    rng = np.random.default_rng(seed)
    size = int(200 * share)
    rows = rng.permutation(200)[:size].astype(np.int32)
    if repeats:  # some sensors twice (one is enough to need the sort)
        rows = np.r_[rows, rows[:repeats]].astype(np.int32)
        rng.shuffle(rows)
    ts = rng.integers(0, 5, rows.size).astype(np.int64)  # ties too
    if time_sorted:
        ts.sort()
    rank = eng._kind_rank[rows]
    want = np.lexsort((np.arange(rows.size), ts, rank))  # by kind rank, then time, then position
    np.testing.assert_array_equal(eng._kind_order(rows, ts), want)


def test_kind_order_of_nothing() -> None:
    eng = engine(5)
    got = eng._kind_order(np.empty(0, np.int32), np.empty(0, np.int64))
    assert got.size == 0 and got.dtype == np.int64
