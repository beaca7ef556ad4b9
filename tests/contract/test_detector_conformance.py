"""One conformance suite for every detector (design.md §5, §8): purity, batch invariance, isolation,
snapshots, growth, hostile inputs and scale.

The detectors come from :func:`detectors.conformance.conformance_cases`, which discovers every concrete
``Detector`` subclass under ``detectors/`` and its ``conformance_examples()``; a new detector is picked
up without editing this file.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch, Detector, StateKeyMismatchError
from detectors.conformance import (
    GENERIC_DETECTORS,
    assert_states_equal,
    channel_values,
    concrete_detector_classes,
    conformance_cases,
    make_stream,
    run_chunks,
    uncovered_detector_classes,
)

CASES = conformance_cases()
IDS = [case_id for case_id, _ in CASES]
DETECTORS = [det for _, det in CASES]

N_SENSORS = 6
PER_SENSOR = 40


def _stream(det: Detector[Any], seed: int = 0, **kw: Any):
    return make_stream(np.random.default_rng(seed), N_SENSORS, PER_SENSOR, channels=det.channels, **kw)


def _warm_state(det: Detector[Any], capacity: int = N_SENSORS):
    return run_chunks(det, det.init_state(capacity), _stream(det, seed=99))[1]


def test_every_concrete_detector_has_conformance_examples() -> None:
    assert uncovered_detector_classes() == [], (
        "add a conformance_examples() classmethod to these detectors (see detectors/conformance.py)"
    )


def test_generic_detectors_are_discovered() -> None:
    found = set(concrete_detector_classes())
    assert set(GENERIC_DETECTORS) <= found
    assert {type(d) for d in DETECTORS} >= set(GENERIC_DETECTORS)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
class TestConformance:
    def test_scores_are_float64_of_batch_length(self, det: Detector[Any]) -> None:
        batch = _stream(det).batch()
        scores, state = det.step(det.init_state(N_SENSORS), batch)
        assert isinstance(scores, np.ndarray)
        assert scores.dtype == np.float64
        assert scores.shape == (len(batch),)
        assert det.capacity(state) == N_SENSORS

    def test_step_score_and_update_never_mutate_state(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        before = {k: v.copy() for k, v in state.items()}
        batch = _stream(det, seed=1, start_ts_ms=1_800_000_000_000).batch()
        det.score(state, batch)
        det.step(state, batch)
        det.update(state, batch)
        det.update(state, batch, np.arange(len(batch)) % 2 == 0)
        assert_states_equal(state, before)

    def test_score_and_update_are_the_halves_of_step(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        batch = _stream(det, seed=2, start_ts_ms=1_800_000_000_000).batch()
        scores, new_state = det.step(state, batch)
        np.testing.assert_array_equal(det.score(state, batch), scores)
        assert_states_equal(det.update(state, batch), new_state)
        mask = np.arange(len(batch)) % 3 != 0
        assert_states_equal(det.update(state, batch, mask), det.step(state, batch.take(mask))[1])

    def test_one_batch_equals_one_reading_at_a_time(self, det: Detector[Any]) -> None:
        stream = _stream(det, seed=3)
        whole_scores, whole_state = run_chunks(det, det.init_state(N_SENSORS), stream)
        every = range(1, len(stream))
        single_scores, single_state = run_chunks(det, det.init_state(N_SENSORS), stream, every)
        np.testing.assert_array_equal(whole_scores, single_scores)
        assert_states_equal(whole_state, single_state)
        if type(det) in GENERIC_DETECTORS:  # others may need longer histories
            assert np.isfinite(whole_scores).any(), "nothing scored: give an example that warms up sooner"

    def test_one_batch_equals_uneven_chunks(self, det: Detector[Any]) -> None:
        stream = _stream(det, seed=4)
        whole_scores, whole_state = run_chunks(det, det.init_state(N_SENSORS), stream)
        chunk_scores, chunk_state = run_chunks(det, det.init_state(N_SENSORS), stream, [3, 4, 30, 31, 70])
        np.testing.assert_array_equal(whole_scores, chunk_scores)
        assert_states_equal(whole_state, chunk_state)

    def test_readings_of_one_sensor_never_touch_another(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        stream = _stream(det, seed=5, start_ts_ms=1_800_000_000_000)
        only_a = stream.only_rows(stream.rows == 2)
        _, after = run_chunks(det, state, only_a)
        others = np.flatnonzero(np.arange(N_SENSORS) != 2)
        assert_states_equal(after, state, others)
        # and the scores of sensor B do not depend on whether sensor A's readings were in the batch
        mixed_scores, _ = run_chunks(det, state, stream)
        b_only = stream.only_rows(stream.rows == 3)
        b_scores, _ = run_chunks(det, state, b_only)
        np.testing.assert_array_equal(mixed_scores[stream.rows == 3], b_scores)

    def test_snapshot_round_trip(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        restored = det.restore(det.snapshot(state))
        assert_states_equal(restored, state)
        for k in state:
            assert restored[k].shape == state[k].shape
        batch = _stream(det, seed=6, start_ts_ms=1_800_000_000_000).batch()
        a_scores, a_state = det.step(state, batch)
        b_scores, b_state = det.step(restored, batch)
        np.testing.assert_array_equal(a_scores, b_scores)
        assert_states_equal(a_state, b_state)

    def test_restore_refuses_a_snapshot_made_with_other_params(self, det: Detector[Any]) -> None:
        other = _detector_with_other_params(det)
        assert other.state_key() != det.state_key()
        blob = other.snapshot(other.init_state(3))
        with pytest.raises(StateKeyMismatchError):
            det.restore(blob)

    def test_grow_keeps_old_rows_and_adds_cold_ones(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        grown = det.grow(state, N_SENSORS + 4)
        assert det.capacity(grown) == N_SENSORS + 4
        assert_states_equal({k: v[:N_SENSORS] for k, v in grown.items()}, state)
        cold = det.init_state(4)
        assert_states_equal({k: v[N_SENSORS:] for k, v in grown.items()}, cold)
        assert_states_equal(det.grow(state, N_SENSORS), state)
        with pytest.raises(ValueError):
            det.grow(state, N_SENSORS - 1)
        # a new row behaves like a fresh sensor
        stream = _stream(det, seed=7, start_ts_ms=1_800_000_000_000)
        one = stream.only_rows(stream.rows == 0)
        moved = type(one)(one.rows + N_SENSORS + 1, one.ts_ms, one.values)
        grown_scores, _ = run_chunks(det, grown, moved)
        fresh_scores, _ = run_chunks(det, det.init_state(1), one)
        np.testing.assert_array_equal(grown_scores, fresh_scores)

    def test_nan_and_inf_never_crash_or_poison_state(self, det: Detector[Any]) -> None:
        clean = _stream(det, seed=8)
        hostile = _stream(det, seed=8, non_finite_fraction=0.3)  # the same readings, 30% made NaN/inf
        scores, state = run_chunks(det, det.init_state(N_SENSORS), hostile, [10, 40])
        assert scores.dtype == np.float64 and scores.shape == (len(hostile),)
        # a long clean continuation scores (once warm) wherever it would have without the hostile part
        _, clean_state = run_chunks(det, det.init_state(N_SENSORS), clean)
        after = make_stream(np.random.default_rng(9), N_SENSORS, 45, det.channels, 1_900_000_000_000)
        want, want_state = run_chunks(det, clean_state, after)
        got, got_state = run_chunks(det, state, after)
        tail = _occurrence(after.rows) >= 35  # every example here is warm by then
        assert np.array_equal(np.isfinite(got[tail]), np.isfinite(want[tail])), "scores poisoned by NaN/inf"
        if type(det) not in GENERIC_DETECTORS:
            return  # a ring buffer may keep NaN on purpose; the scores above are the contract
        for k, v in want_state.items():  # the generic detectors never store a non-finite value
            if np.issubdtype(v.dtype, np.floating):
                leaked = np.isfinite(v) & ~np.isfinite(got_state[k])
                assert not leaked.any(), f"state column {k!r} holds NaN/inf after non-finite inputs"

    def test_all_non_finite_batch(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        n = 9
        base = np.array([np.nan, np.inf, -np.inf] * 3)
        ts = 1_800_000_000_000 + np.arange(n)
        batch = Batch.of(np.arange(n) % 3, ts, channel_values(base, det.channels))
        scores, _ = det.step(state, batch)
        assert scores.dtype == np.float64 and scores.shape == (n,)

    def test_empty_batch(self, det: Detector[Any]) -> None:
        state = _warm_state(det)
        scores, new_state = det.step(state, Batch.empty(det.channels))
        assert scores.dtype == np.float64 and scores.shape == (0,)
        assert_states_equal(new_state, state)
        scores, _ = det.step(det.init_state(0), Batch.empty(det.channels))
        assert scores.shape == (0,)

    def test_single_sensor(self, det: Detector[Any]) -> None:
        stream = make_stream(np.random.default_rng(10), 1, 60, channels=det.channels)
        whole, state = run_chunks(det, det.init_state(1), stream)
        singles, single_state = run_chunks(det, det.init_state(1), stream, range(1, len(stream)))
        np.testing.assert_array_equal(whole, singles)
        assert_states_equal(state, single_state)
        if type(det) in GENERIC_DETECTORS:
            assert np.isfinite(whole).any()

    def test_a_million_sensors(self, det: Detector[Any]) -> None:
        capacity = 1_000_000
        rng = np.random.default_rng(11)
        rows = np.r_[rng.integers(0, capacity, 5_000), [0, 0, capacity - 1, capacity - 1]]
        ts = 1_800_000_000_000 + np.arange(rows.size, dtype=np.int64) * 7
        batch = Batch.of(rows, ts, channel_values(rng.normal(size=rows.size), det.channels))
        state = det.init_state(capacity)
        scores, new_state = det.step(state, batch)
        assert scores.dtype == np.float64 and scores.shape == (rows.size,)
        assert det.capacity(new_state) == capacity
        scores2, _ = det.step(new_state, batch.take(batch.rows == capacity - 1))
        assert scores2.shape == (2,)


IN_PLACE = [(i, d) for i, d in CASES if hasattr(d, "step_in_place")]


@pytest.mark.parametrize("det", [d for _, d in IN_PLACE], ids=[i for i, _ in IN_PLACE])
def test_step_in_place_matches_step(det: Detector[Any]) -> None:
    state = _warm_state(det)
    batch = _stream(det, seed=12, start_ts_ms=1_800_000_000_000).batch()
    want_scores, want_state = det.step(state, batch)
    got_scores = det.step_in_place(state, batch)
    np.testing.assert_array_equal(got_scores, want_scores)
    assert_states_equal(state, want_state)


def _occurrence(rows: np.ndarray) -> np.ndarray:
    """How many earlier readings of the same sensor precede each reading (stream order)."""
    occ = np.empty(rows.size, dtype=np.int64)
    for r in np.unique(rows):
        at = np.flatnonzero(rows == r)
        occ[at] = np.arange(at.size)
    return occ


def _detector_with_other_params(det: Detector[Any]) -> Detector[Any]:
    """Same class with one parameter changed, else any detector of another class."""
    params = det.params
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        for f in dataclasses.fields(params):
            value = getattr(params, f.name)
            if isinstance(value, bool):
                candidate: Any = not value
            elif isinstance(value, int):
                candidate = value + 1
            elif isinstance(value, float) and math.isfinite(value):
                candidate = value * 0.5 + 0.25
            else:
                continue
            try:
                other = type(det)(dataclasses.replace(params, **{f.name: candidate}))
            except (TypeError, ValueError):
                continue
            if other.state_key() != det.state_key():
                return other
    return next(d for d in DETECTORS if type(d) is not type(det))
