"""Hypothesis properties over every discovered detector (detectors/conformance.py): batch invariance,
sensor isolation, snapshot round-trip and NaN/inf safety on generated streams."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.base import Detector
from detectors.conformance import Stream, assert_states_equal, channel_values, conformance_cases, run_chunks

CASES = conformance_cases()
IDS = [case_id for case_id, _ in CASES]
DETECTORS = [det for _, det in CASES]
CAPACITY = 4
START_TS_MS = 1_700_000_000_000

PROFILE = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

finite_values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, 1.0, 1.004, -2.5]),  # repeats: flat runs, zero MAD, equal medians
)
hostile_values = st.one_of(finite_values, st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def streams(draw: st.DrawFn, channels: int, values: st.SearchStrategy[float] = finite_values) -> Stream:
    """Time-ordered readings over CAPACITY sensors; equal timestamps allowed (ties keep arrival order)."""
    n = draw(st.integers(0, 40))
    rows = draw(st.lists(st.integers(0, CAPACITY - 1), min_size=n, max_size=n))
    steps = draw(st.lists(st.integers(0, 5_000), min_size=n, max_size=n))
    vals = draw(st.lists(values, min_size=n, max_size=n))
    ts = START_TS_MS + np.cumsum(np.asarray(steps, dtype=np.int64))
    base = np.asarray(vals, dtype=np.float64)
    return Stream(np.asarray(rows, dtype=np.int32), ts.astype(np.int64), channel_values(base, channels))


def _cuts(data: st.DataObject, n: int) -> list[int]:
    return sorted(set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=8))))


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
@PROFILE
@given(data=st.data())
def test_batch_invariance(det: Detector[Any], data: st.DataObject) -> None:
    stream = data.draw(streams(det.channels))
    whole_scores, whole_state = run_chunks(det, det.init_state(CAPACITY), stream)
    cut_scores, cut_state = run_chunks(det, det.init_state(CAPACITY), stream, _cuts(data, len(stream)))
    np.testing.assert_array_equal(whole_scores, cut_scores)
    assert_states_equal(whole_state, cut_state)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
@PROFILE
@given(data=st.data())
def test_sensor_isolation(det: Detector[Any], data: st.DataObject) -> None:
    stream = data.draw(streams(det.channels))
    sensor = data.draw(st.integers(0, CAPACITY - 1))
    mine = stream.rows == sensor
    all_scores, all_state = run_chunks(det, det.init_state(CAPACITY), stream)
    own_scores, own_state = run_chunks(det, det.init_state(CAPACITY), stream.only_rows(mine))
    np.testing.assert_array_equal(all_scores[mine], own_scores)
    assert_states_equal(all_state, own_state, np.array([sensor]))
    others = np.flatnonzero(np.arange(CAPACITY) != sensor)
    assert_states_equal(own_state, det.init_state(CAPACITY), others)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
@PROFILE
@given(data=st.data())
def test_snapshot_round_trip(det: Detector[Any], data: st.DataObject) -> None:
    first = data.draw(streams(det.channels))
    second = data.draw(streams(det.channels))
    second = Stream(second.rows, second.ts_ms + 10_000_000_000, second.values)
    _, state = run_chunks(det, det.init_state(CAPACITY), first)
    restored = det.restore(det.snapshot(state))
    assert_states_equal(restored, state)
    a_scores, a_state = run_chunks(det, state, second)
    b_scores, b_state = run_chunks(det, restored, second)
    np.testing.assert_array_equal(a_scores, b_scores)
    assert_states_equal(a_state, b_state)


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
@PROFILE
@given(data=st.data())
def test_nan_and_inf_are_safe(det: Detector[Any], data: st.DataObject) -> None:
    stream = data.draw(streams(det.channels, hostile_values))
    scores, state = run_chunks(det, det.init_state(CAPACITY), stream, _cuts(data, len(stream)))
    assert scores.dtype == np.float64 and scores.shape == (len(stream),)
    assert det.capacity(state) == CAPACITY
    finite = np.isfinite(stream.values)
    finite_part = finite if finite.ndim == 1 else finite.all(axis=1)
    # detectors that declare it drop a non-finite reading: NaN score, and as if it had never been sent
    if getattr(det, "skips_non_finite", False):
        assert np.isnan(scores[~finite_part]).all()
        clean_scores, clean_state = run_chunks(det, det.init_state(CAPACITY), stream.only_rows(finite_part))
        np.testing.assert_array_equal(scores[finite_part], clean_scores)
        assert_states_equal(state, clean_state)
