"""AlarmMachine: per (sensor row, rule) level; emits only transitions, in batch order."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.alarm import NEVER, AlarmMachine
from detectors.base import StateKeyMismatchError


def apply(machine: AlarmMachine, state, rows, levels, ts=None):
    return machine.apply(
        state,
        np.asarray(rows, dtype=np.int32),
        np.asarray(levels, dtype=np.int8),
        None if ts is None else np.asarray(ts, dtype=np.int64),
    )


def test_emits_only_changes_with_previous_and_new_level() -> None:
    m = AlarmMachine()
    tr, state = apply(m, m.init_state(3), [0, 0, 0, 1, 2, 2], [0, 2, 3, 0, 1, 1])
    assert tr.index.tolist() == [1, 2, 4]
    assert tr.previous.tolist() == [0, 2, 0]
    assert tr.level.tolist() == [2, 3, 1]
    assert state["level"].tolist() == [3, 0, 1]


def test_consecutive_batches_continue_from_the_last_level() -> None:
    m = AlarmMachine()
    _, state = apply(m, m.init_state(2), [0, 1], [3, 1])
    tr, state = apply(m, state, [0, 0, 1], [3, 0, 1])
    assert tr.index.tolist() == [1] and tr.previous.tolist() == [3] and tr.level.tolist() == [0]
    assert state["level"].tolist() == [0, 1]


def test_up_and_down_in_one_batch_gives_both_transitions() -> None:
    m = AlarmMachine()
    tr, state = apply(m, m.init_state(1), [0, 0, 0, 0], [0, 4, 0, 0], ts=[10, 20, 30, 40])
    assert tr.index.tolist() == [1, 2] and tr.level.tolist() == [4, 0]
    assert state["level"].tolist() == [0]
    assert state["since_ts_ms"].tolist() == [30]


def test_since_records_the_last_change_per_row() -> None:
    m = AlarmMachine()
    _, state = apply(m, m.init_state(3), [0, 0, 1, 2], [1, 2, 0, 0], ts=[5, 6, 7, 8])
    assert state["since_ts_ms"].tolist() == [6, NEVER, NEVER]


def test_never_mutates_its_input_state() -> None:
    m = AlarmMachine()
    state = m.init_state(2)
    before = {k: v.copy() for k, v in state.items()}
    _, new = apply(m, state, [0, 1], [2, 3], ts=[1, 2])
    for k in state:
        np.testing.assert_array_equal(state[k], before[k])
        assert new[k] is not state[k]


def test_empty_batch() -> None:
    m = AlarmMachine()
    tr, state = apply(m, m.init_state(2), [], [])
    assert len(tr) == 0 and state["level"].tolist() == [0, 0]


def test_one_reading_at_a_time_equals_one_batch() -> None:
    m = AlarmMachine()
    rng = np.random.default_rng(0)
    rows = np.sort(rng.integers(0, 5, 200)).astype(np.int32)
    levels = rng.integers(0, 5, 200).astype(np.int8)
    whole, whole_state = m.apply(m.init_state(5), rows, levels)
    state, got = m.init_state(5), []
    for i in range(rows.size):
        tr, state = m.apply(state, rows[i : i + 1], levels[i : i + 1])
        got += [(i, int(p), int(lv)) for p, lv in zip(tr.previous, tr.level, strict=True)]
    want = list(zip(whole.index.tolist(), whole.previous.tolist(), whole.level.tolist(), strict=True))
    assert got == want
    np.testing.assert_array_equal(state["level"], whole_state["level"])


def test_rejects_bad_input() -> None:
    m = AlarmMachine()
    with pytest.raises(ValueError, match="sorted"):
        apply(m, m.init_state(2), [1, 0], [1, 1])
    with pytest.raises(ValueError, match=r"0\.\.4"):
        apply(m, m.init_state(2), [0], [5])
    with pytest.raises(ValueError, match="match"):
        apply(m, m.init_state(2), [0, 1], [1])


def test_grow_and_snapshot_round_trip() -> None:
    m = AlarmMachine()
    _, state = apply(m, m.init_state(2), [0, 1], [2, 4], ts=[1, 2])
    grown = m.grow(state, 4)
    assert grown["level"].tolist() == [2, 4, 0, 0]
    with pytest.raises(ValueError):
        m.grow(state, 1)
    restored = m.restore(m.snapshot(grown))
    for k in grown:
        np.testing.assert_array_equal(restored[k], grown[k])
    with pytest.raises(StateKeyMismatchError):
        AlarmMachine(max_level=1).restore(m.snapshot(grown))
