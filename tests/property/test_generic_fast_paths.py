"""The batch-level fast paths of the z-score-type detectors compute exactly what the reference computes.

``EwmaZ`` and ``Cusum`` take a fast path when every sensor of a batch is warm and no update can
overflow; ``RobustZ`` builds every reading's ring at once and takes its MAD from a half-cleaner on
sorted rings when they are full (detectors/generic/ring.py). The streams in
test_detector_reference.py rarely get there (three sensors, short streams), so these tests warm many
sensors first, then compare batch after batch with the one-reading-at-a-time reference, bit for bit:
several readings per sensor per batch, equal values (ties, flat runs, zero MAD), a sensor with more
readings in one batch than its ring holds, late and equal timestamps, NaN/inf, and values big enough to
leave the fast path. The helpers of the fast paths are checked on their own too.
"""

from __future__ import annotations

import itertools
import statistics
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.base import Batch, sequential_steps
from detectors.conformance import Stream, run_chunks
from detectors.generic import (
    Cusum,
    CusumParams,
    EwmaZ,
    EwmaZParams,
    GenericDetector,
    RobustZ,
    RobustZParams,
    ring,
)
from detectors.generic import reference as ref
from detectors.generic.common import Runs, StepGrid
from detectors.generic.ewma_z import cannot_overflow, warm

T0_MS = 1_700_000_000_000

DETECTORS: list[tuple[str, GenericDetector[Any], Any]] = [
    ("ewma_z", EwmaZ(EwmaZParams()), ref.ReferenceEwmaZ),
    ("ewma_z_fast_alpha", EwmaZ(EwmaZParams(alpha=0.3, min_count=2)), ref.ReferenceEwmaZ),
    ("cusum", Cusum(CusumParams()), ref.ReferenceCusum),
    ("cusum_small", Cusum(CusumParams(alpha=0.2, min_count=3, k=0.25)), ref.ReferenceCusum),
    ("robust_z", RobustZ(RobustZParams()), ref.ReferenceRobustZ),
    ("robust_z_exact", RobustZ(RobustZParams(hop=1)), ref.ReferenceRobustZ),
    ("robust_z_16", RobustZ(RobustZParams(window=16, min_count=4, hop=1)), ref.ReferenceRobustZ),
    ("robust_z_hop_4", RobustZ(RobustZParams(hop=4)), ref.ReferenceRobustZ),
    ("robust_z_16_hop_8", RobustZ(RobustZParams(window=16, min_count=3, hop=8)), ref.ReferenceRobustZ),
    ("robust_z_odd", RobustZ(RobustZParams(window=5, min_count=3, hop=1)), ref.ReferenceRobustZ),
    ("robust_z_odd_hop_5", RobustZ(RobustZParams(window=5, min_count=3, hop=5)), ref.ReferenceRobustZ),
]


def _stream(rng: np.random.Generator, sensors: int, n: int, ties: bool, hostile: bool) -> Stream:
    """Readings of ``sensors`` sensors at a few levels; rounded values give ties and flat runs."""
    rows = rng.integers(0, sensors, n).astype(np.int32)
    ts = T0_MS + np.cumsum(rng.choice([0, 0, 1, 250, 1000], n)).astype(np.int64)
    values = (rows % 5).astype(np.float64) + rng.normal(0.0, 1.0, n)
    if ties:
        values = np.round(values, 0)
        values[rng.random(n) < 0.2] = 2.0
    if hostile:
        bad = rng.random(n) < 0.02
        values[bad] = rng.choice([np.nan, np.inf, -np.inf, 1e150, -1e300, 1e300], int(bad.sum()))
    late = rng.random(n) < 0.02
    ts[late] -= 3_000
    return Stream(rows, ts, values)


def _reference_scores(oracle: Any, stream: Stream, cuts: list[int]) -> np.ndarray:
    want = np.full(len(stream), np.nan)
    for start, stop in itertools.pairwise([0, *cuts, len(stream)]):
        order = start + np.lexsort((stream.ts_ms[start:stop], stream.rows[start:stop]))
        for i in order:
            want[i] = oracle.step_one(int(stream.rows[i]), int(stream.ts_ms[i]), float(stream.values[i]))
    return want


@pytest.mark.parametrize(("name", "det", "make_reference"), DETECTORS, ids=[d[0] for d in DETECTORS])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("hostile", [False, True], ids=["finite", "hostile"])
def test_warm_many_sensor_batches_match_the_reference(
    name: str, det: GenericDetector[Any], make_reference: Any, ties: bool, hostile: bool
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name}/{ties}/{hostile}".encode()))
    sensors = 60
    stream = _stream(rng, sensors, 9_000, ties, hostile)
    # warm-up in big batches, then batches of every shape: ~1, ~5 and ~40 readings per sensor
    cuts = [4_000, 4_060, 4_120, 4_420, 4_720, 7_120, 7_121, 7_200]
    got, _ = run_chunks(det, det.init_state(sensors), stream, cuts)
    want = _reference_scores(make_reference(det.params), stream, cuts)
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(got[4_000:]).mean() > 0.9  # warm: the comparison is about real scores


@pytest.mark.parametrize(("name", "det", "make_reference"), DETECTORS, ids=[d[0] for d in DETECTORS])
def test_one_sensor_with_more_readings_than_its_ring(
    name: str, det: GenericDetector[Any], make_reference: Any
) -> None:
    rng = np.random.default_rng(7)
    n = 300
    rows = np.where(rng.random(n) < 0.8, 0, rng.integers(1, 4, n)).astype(np.int32)
    stream = Stream(rows, T0_MS + np.arange(n, dtype=np.int64) * 10, np.round(rng.normal(0, 2, n), 1))
    cuts = [100, 250]
    got, _ = run_chunks(det, det.init_state(4), stream, cuts)
    np.testing.assert_array_equal(got, _reference_scores(make_reference(det.params), stream, cuts))


def test_the_fast_paths_are_taken_on_warm_state() -> None:
    det = EwmaZ(EwmaZParams())
    rng = np.random.default_rng(1)
    _, state = run_chunks(det, det.init_state(50), _stream(rng, 50, 3_000, False, False))
    rows = np.arange(50)
    assert warm(state["count"][rows], det.params.min_count)
    assert cannot_overflow(rng.normal(size=10), state["mean"], state["var"])
    assert not cannot_overflow(np.array([1e101]), state["mean"], state["var"])


finite_values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 1e-300, 1e300, -1e300])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite_values, min_size=32, max_size=32), st.sampled_from([16, 32]))
def test_half_cleaner_mad_equals_the_sorted_deviations(values: list[float], width: int) -> None:
    vals = values[:width]
    rows = np.sort(np.array([vals, vals[::-1]], dtype=np.float64), axis=1)
    med, mad = np.empty(2), np.empty(2)
    with np.errstate(all="ignore"):
        bad = ring.median_and_mad_sorted(rows, med, mad)
    want_med = statistics.median(vals)
    assert med[0] == want_med or (np.isnan(med[0]) and np.isnan(want_med))
    if bad is None or not bad[0]:
        want_mad = statistics.median([abs(v - want_med) for v in vals])
        assert mad[0] == want_mad and mad[1] == want_mad
    else:
        assert not np.isfinite(med[0])  # only an overflowing median is handed back


def test_half_cleaner_hands_back_an_overflowing_median() -> None:
    rows = np.sort(np.array([[1.7e308] * 20 + [1.0] * 12]), axis=1)
    med, mad = np.empty(1), np.empty(1)
    with np.errstate(all="ignore"):
        bad = ring.median_and_mad_sorted(rows, med, mad)
    assert bad is not None and bad[0]
    det = RobustZ(RobustZParams())
    stream = Stream(
        np.zeros(40, np.int32), T0_MS + np.arange(40, dtype=np.int64), np.r_[rows[0], rows[0][:8]]
    )
    got, _ = run_chunks(det, det.init_state(1), stream)
    np.testing.assert_array_equal(got, _reference_scores(ref.ReferenceRobustZ(det.params), stream, []))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 30), min_size=1, max_size=300))
def test_runs_and_step_grid_follow_the_sequential_steps(row_list: list[int]) -> None:
    batch = Batch.of(np.array(row_list), np.zeros(len(row_list)), np.arange(len(row_list), dtype=float))
    runs = Runs.of(batch.rows)
    np.testing.assert_array_equal(runs.occurrence(), batch.occurrence())
    np.testing.assert_array_equal(runs.rows, np.unique(batch.rows))
    assert int(runs.lengths.sum()) == len(batch)
    # a scan visits every reading once, each sensor's readings in order, k-th readings together
    grid = StepGrid.of(batch.rows)
    visits: list[tuple[int, np.ndarray]] = []

    def record(k: int, x: np.ndarray, cols: list[np.ndarray], out: np.ndarray) -> None:
        rows_now = cols[0]
        visits.append((k, rows_now.copy()))
        out[:] = x

    seen = grid.scan(batch.values, [grid.rows.astype(np.float64)], record)
    np.testing.assert_array_equal(seen, batch.values)
    steps = sequential_steps(batch)
    assert [k for k, _ in visits] == list(range(len(steps)))
    for (_, rows_now), idx in zip(visits, steps, strict=True):
        np.testing.assert_array_equal(np.sort(rows_now), batch.rows[idx])
