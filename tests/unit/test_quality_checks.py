"""QARTOD checks of detectors.quality: exact flags at, just below and just above each limit, exemptions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.base import Batch
from detectors.lifecycle.common import Cow
from detectors.lifecycle.testing import tiny_registry
from detectors.quality import FAIL, NOT_EVALUATED, PASS, SUSPECT, QartodQuality, QualityChannel, QualityParams
from detectors.quality.checks import FLAT_LINE, GROSS_RANGE, RATE_OF_CHANGE, SPIKE
from detectors.quality.tables import KindQuality

NAN = math.nan
OFF = {"flat_tolerance": NAN}


def flags_of(defaults: KindQuality, rows: list[int], ts_s: list[float], values: list[float], **kw: float):
    det = QartodQuality(QualityParams(defaults=defaults, **kw))  # type: ignore[arg-type]
    state = det.init_state(max(rows) + 1)
    batch = Batch.of(rows, (np.array(ts_s) * 1000).astype(np.int64), values)
    return det.flags_in_place(state, batch).flags


def test_gross_range_fails_only_outside_the_span() -> None:
    d = KindQuality(span_min=0.0, span_max=100.0, **OFF)
    values = [0.0, 100.0, 100.0001, -0.0001, 50.0, NAN, math.inf]
    got = flags_of(d, list(range(7)), [0.0] * 7, values)[:, GROSS_RANGE]
    assert got.tolist() == [PASS, PASS, FAIL, FAIL, PASS, NOT_EVALUATED, NOT_EVALUATED]
    # one-sided span (toxic gas: only negatives impossible) and no span at all
    one = KindQuality(span_min=0.0, **OFF)
    assert flags_of(one, [0, 1], [0, 0], [1e9, -1.0])[:, GROSS_RANGE].tolist() == [PASS, FAIL]
    assert flags_of(KindQuality(**OFF), [0], [0], [-1e9])[:, GROSS_RANGE].tolist() == [NOT_EVALUATED]


@pytest.mark.parametrize(
    ("last", "flag"),
    [(11.0, PASS), (11.001, SUSPECT), (12.0, SUSPECT), (12.001, FAIL), (9.0, PASS), (7.999, FAIL)],
)
def test_spike_against_the_median_of_recent_values(last: float, flag: int) -> None:
    d = KindQuality(spike_suspect=1.0, spike_fail=2.0, **OFF)
    got = flags_of(d, [0] * 4, [0, 60, 120, 180], [10.0, 10.0, 10.0, last])[:, SPIKE]
    assert got.tolist() == [NOT_EVALUATED] * 3 + [flag]  # min_count 3 earlier values


def test_spike_reference_ignores_a_single_earlier_spike_and_gross_range_failures() -> None:
    d = KindQuality(span_max=100.0, spike_suspect=1.0, spike_fail=2.0, flat_tolerance=NAN)
    values = [10.0, 10.0, 500.0, 10.0, 13.0, 10.5]
    got = flags_of(d, [0] * 6, [0, 60, 120, 180, 240, 300], values)
    assert got[:, GROSS_RANGE].tolist() == [PASS, PASS, FAIL, PASS, PASS, PASS]
    # 500 never entered the ring: the 4th reading still has only 2 values before it
    assert got[:, SPIKE].tolist() == [NOT_EVALUATED] * 4 + [FAIL, PASS]


@pytest.mark.parametrize(
    ("step", "dt_s", "flag"),
    [(0.5, 1.0, PASS), (0.5001, 1.0, SUSPECT), (-0.5001, 1.0, SUSPECT), (1.0, 2.0, PASS), (5.0, 0.5, 2)],
)
def test_rate_of_change_suspect_beyond_the_limit(step: float, dt_s: float, flag: int) -> None:
    d = KindQuality(roc_limit_per_s=0.5, **OFF)
    got = flags_of(d, [0, 0], [0.0, dt_s], [1.0, 1.0 + step])[:, RATE_OF_CHANGE]
    assert got.tolist() == [NOT_EVALUATED, flag]  # < 1 s between readings: not evaluated


def test_flat_line_by_count_suspect_then_fail() -> None:
    d = KindQuality(flat_tolerance=0.01, flat_suspect_n=4, flat_fail_n=6, flat_suspect_s=NAN, flat_fail_s=NAN)
    values = [5.0, 5.01, 5.0, 5.005, 5.0, 5.0, 5.0, 5.03, 5.03]
    got = flags_of(d, [0] * 9, list(range(9)), values)[:, FLAT_LINE]
    assert got.tolist() == [PASS, PASS, PASS, SUSPECT, SUSPECT, FAIL, FAIL, PASS, PASS]


def test_flat_line_needs_both_count_and_duration() -> None:
    d = KindQuality(flat_suspect_n=4, flat_fail_n=6, flat_suspect_s=3600, flat_fail_s=21600)
    ts = [0, 1200, 2400, 3599.999, 3600, 21599, 21600]
    got = flags_of(d, [0] * 7, ts, [7.0] * 7)[:, FLAT_LINE]
    # 4th reading: 4 readings but 1 ms short of 1 h; 5th: 1 h; 6th: 6 readings, 1 s short of 6 h
    assert got.tolist() == [PASS, PASS, PASS, PASS, SUSPECT, SUSPECT, FAIL]


def test_flat_line_exempts_legitimately_constant_signals() -> None:
    d = KindQuality(flat_exempt=0.0, flat_suspect_n=2, flat_fail_n=3, flat_suspect_s=NAN, flat_fail_s=NAN)
    got = flags_of(d, [0] * 4 + [1] * 4, list(range(4)) * 2, [0.0] * 4 + [0.2] * 4)[:, FLAT_LINE]
    assert got.tolist() == [PASS] * 4 + [PASS, SUSPECT, FAIL, FAIL]


def test_kind_defaults_exempt_zero_rain_clean_air_and_idle_elevator() -> None:
    reg = tiny_registry(
        ("rain", "rain_gauge"),
        ("gas", "combustible_gas"),
        ("lift", "elevator_status"),
        ("p", "tank_pressure"),
    )
    ch = QualityChannel(reg)
    cow = Cow(ch.init_state(len(reg)))
    n, hours = 4, 8
    rows = np.repeat(np.arange(n, dtype=np.int32), hours)
    ts = np.tile(np.arange(hours, dtype=np.int64) * 3_600_000, n)
    values = np.where(rows == 3, 0.42, 0.0)
    res = ch.run(cow, rows, ts, values)
    flat = res.flags[:, FLAT_LINE].reshape(n, hours)
    assert (flat[:3] == PASS).all()
    # the pressure stuck at 0.42 MPa: suspect from the 4th reading (3 h), fail from the 7th (6 h)
    assert flat[3].tolist() == [PASS, PASS, PASS, SUSPECT, SUSPECT, SUSPECT, FAIL, FAIL]
    assert res.withheld.reshape(n, hours)[3].tolist() == [False] * 6 + [True, True]


def test_registry_params_override_the_kind_defaults() -> None:
    reg = tiny_registry(
        ("g1", "combustible_gas"), ("g2", "combustible_gas", {"span_max": 50, "span_min": None})
    )
    ch = QualityChannel(reg)
    res = ch.run(
        Cow(ch.init_state(2)), np.array([0, 1, 1], np.int32), np.zeros(3, np.int64), np.array([60, 60, -5.0])
    )
    assert res.flags[:, GROSS_RANGE].tolist() == [PASS, FAIL, PASS]
    with pytest.raises(ValueError, match="span_max"):
        QualityChannel(tiny_registry(("g", "combustible_gas", {"span_max": "high"})))
