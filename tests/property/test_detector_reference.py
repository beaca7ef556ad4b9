"""The vectorised generic detectors compute the same statistic as a plain one-reading-at-a-time loop.

Oracles: detectors/generic/reference.py. Streams mix noise, repeats, ties in time, late readings,
large values and NaN/inf, over a few sensors, cut into random batches; set points are configured on
some rows so per-sensor overrides are compared too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.conformance import Stream, run_chunks
from detectors.generic import (
    Cusum,
    EwmaZ,
    FlatLine,
    Gap,
    GenericDetector,
    RateOfChange,
    RobustZ,
    Spike,
    StaticLimits,
)
from detectors.generic import reference as ref

CAPACITY = 3
START_TS_MS = 1_700_000_000_000


def _reference_for(det: GenericDetector[Any]) -> tuple[Any, dict[str, Any]]:
    """A reference with the same params, and the set points to configure on row 1 of both."""
    p = det.params
    if isinstance(det, StaticLimits):
        high = [0.25 * (k + 1) for k in range(p.levels)]
        return ref.ReferenceStaticLimits(p, high={1: high}), {"high": high}
    if isinstance(det, RateOfChange):
        return ref.ReferenceRateOfChange(p, limit_per_s={1: 0.75}), {"limit_per_s": 0.75}
    if isinstance(det, FlatLine):
        return ref.ReferenceFlatLine(p, tolerance={1: 2.0}), {"tolerance": 2.0}
    if isinstance(det, Gap):
        return ref.ReferenceGap(p, interval_ms={1: 1500.0}), {"interval_ms": 1500.0}
    plain: dict[type, Callable[[Any], Any]] = {
        EwmaZ: ref.ReferenceEwmaZ,
        Cusum: ref.ReferenceCusum,
        RobustZ: ref.ReferenceRobustZ,
        Spike: ref.ReferenceSpike,
    }
    return plain[type(det)](p), {}


GENERIC_CASES = [
    (f"{type(d).__name__}[{i}]", d)
    for cls in (StaticLimits, RateOfChange, RobustZ, EwmaZ, Cusum, FlatLine, Gap, Spike)
    for i, d in enumerate(cls.conformance_examples())
]

values = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([0.0, 0.0, 1.0, 1.004, 5.0]),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e300]),
)


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    n = draw(st.integers(1, 80))
    rows = draw(st.lists(st.integers(0, CAPACITY - 1), min_size=n, max_size=n))
    steps = draw(st.lists(st.sampled_from([0, 1, 250, 1000, 1500, 4000, 60_000]), min_size=n, max_size=n))
    vals = draw(st.lists(values, min_size=n, max_size=n))
    ts = START_TS_MS + np.cumsum(np.asarray(steps, dtype=np.int64))
    late = draw(st.lists(st.integers(0, n - 1), max_size=3))  # a few readings arrive with an old stamp
    ts[late] -= 3_000
    return Stream(np.asarray(rows, dtype=np.int32), ts, np.asarray(vals, dtype=np.float64))


@pytest.mark.parametrize("det", [d for _, d in GENERIC_CASES], ids=[i for i, _ in GENERIC_CASES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), data=st.data())
def test_matches_the_one_reading_at_a_time_reference(
    det: GenericDetector[Any], stream: Stream, data: st.DataObject
) -> None:
    oracle, set_points = _reference_for(det)
    state = det.init_state(CAPACITY)
    if set_points:
        state = det.configure(state, [1], **set_points)
    # the reference sees readings in the order the batch applies them: each sensor's by timestamp
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream)), max_size=5))))
    got, _ = run_chunks(det, state, stream, cuts)
    want = np.full(len(stream), np.nan)
    edges = [0, *cuts, len(stream)]
    for start, stop in itertools.pairwise(edges):
        order = start + np.lexsort((stream.ts_ms[start:stop], stream.rows[start:stop]))
        for i in order:
            want[i] = oracle.step_one(int(stream.rows[i]), int(stream.ts_ms[i]), float(stream.values[i]))
    np.testing.assert_array_equal(got, want)
