"""elevator_ride_vibration: GB/T 10058 [M] z pk-pk ≤ 0.30, A95 ≤ 0.20; xy pk-pk ≤ 0.20, A95 ≤ 0.15 m/s².
Yellow: pk-pk ≥ limit on 2 consecutive readings; orange ≥ 2 × limit; blue: the last trip's A95 ≥ limit.
Plus the ISO 18738-style raw-acceleration helpers (scipy 10 Hz low-pass, adjacent peak-to-peak, A95)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorRideVibration, SensorParamError
from detectors.domain.elevator_ride import (
    ElevatorRideVibrationParams,
    a95,
    a95_from_top,
    adjacent_peak_to_peak,
    lowpass_10hz,
    report_pkpk,
)
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE = range(4)
T0 = 1_782_864_000_000
REST = (0.012, 0.008)  # z, xy pk-pk of a car at rest


def run(
    pairs: Sequence[Sequence[float]],
    params: Mapping[str, Any] | None = None,
    rule: ElevatorRideVibration | None = None,
) -> RuleOutput:
    rule = rule or ElevatorRideVibration()
    state = rule.configure(rule.init_state(1), [params or {}], ["vib-1"])
    ts = T0 + 5000 * np.arange(len(pairs))
    return rule.evaluate(state, Batch.of(np.zeros(len(ts), dtype=np.int32), ts, np.asarray(pairs, float)))


@pytest.mark.parametrize(
    ("z", "xy", "level"),
    [
        (0.299, 0.10, NORMAL),
        (0.30, 0.10, YELLOW),  # exactly the vertical maximum
        (0.301, 0.10, YELLOW),
        (0.10, 0.199, NORMAL),
        (0.10, 0.20, YELLOW),  # exactly the horizontal maximum
        (0.599, 0.10, YELLOW),
        (0.60, 0.10, ORANGE),  # 2 × 0.30
        (0.10, 0.40, ORANGE),  # 2 × 0.20
    ],
)
def test_peak_to_peak_limits(z: float, xy: float, level: int) -> None:
    out = run([REST, (z, xy), (z, xy)])
    assert out.levels.tolist()[:2] == [NORMAL, NORMAL]  # one reading over is a jolt, not yet a level
    assert out.levels[2] == level


def test_single_jolt_is_ignored_and_alarm_clears_below_0_9_of_the_limit() -> None:
    assert run([REST, (0.9, 0.1), (0.1, 0.05), REST]).levels.max() == NORMAL
    out = run([(0.35, 0.1), (0.35, 0.1), (0.28, 0.1), (0.27, 0.1), (0.269, 0.1), REST])
    assert out.levels.tolist() == [NORMAL, YELLOW, YELLOW, YELLOW, NORMAL, NORMAL]


def trip(z: Sequence[float], xy: float = 0.05) -> list[tuple[float, float]]:
    return [(v, xy) for v in z]


@pytest.mark.parametrize(
    ("z", "level"),
    [
        ([0.20, 0.20], BLUE),  # A95 = 0.20 exactly
        ([0.199, 0.199], NORMAL),
        ([0.15, 0.203], BLUE),  # n = 2: A95 = 0.15 + 0.95 · 0.053 = 0.20035, just above
        ([0.15, 0.2], NORMAL),  # A95 = 0.1975: the largest period at 0.20 is not enough
        ([0.1] * 19 + [0.25, 0.25], BLUE),  # n = 21: A95 = 2nd largest = 0.25
        ([0.1] * 20 + [0.25], NORMAL),  # A95 = 0.1 + 0.0 … interpolated below 0.20
        ([0.21, 0.22, 0.21, 0.22, 0.23], BLUE),  # all under 0.30, A95 over 0.20
    ],
)
def test_a95_per_trip(z: list[float], level: int) -> None:
    pairs = [REST, *trip(z), REST, REST, REST]
    out = run(pairs)
    assert out.levels[: len(z) + 1].max() == NORMAL
    assert out.levels[-1] == level
    want = float(np.percentile(z, 95))
    assert out.measures.per_level[-1, 0] == pytest.approx(want / 0.20)


def test_a_one_reading_jolt_is_not_a_trip() -> None:
    out = run([REST, (0.45, 0.05), REST, REST, REST])  # door slam at rest: one period over the floor
    assert out.levels.max() == NORMAL
    assert np.isnan(out.measures.per_level[-1, 0])
    out = run([REST, (0.45, 0.05), REST, REST], params={"min_trip_readings": 1})
    assert out.levels[-1] == BLUE


def test_horizontal_a95() -> None:
    out = run([REST, *trip([0.1] * 5, xy=0.15), REST, REST])
    assert out.levels[-1] == BLUE
    out = run([REST, *trip([0.1] * 5, xy=0.149), REST, REST])
    assert out.levels[-1] == NORMAL


def test_blue_holds_until_a_later_trip_is_within_limits() -> None:
    pairs = [REST, *trip([0.25] * 3), REST, REST, REST, *trip([0.1] * 3), REST, REST]
    levels = run(pairs).levels.tolist()
    assert levels == [NORMAL] * 5 + [BLUE, BLUE, BLUE, BLUE, BLUE, NORMAL, NORMAL]


def test_a95_from_top_matches_numpy_percentile() -> None:
    rng = np.random.default_rng(0)
    k = 5
    for n in [1, 2, 3, 20, 21, 22, 40, 81, 82, 200]:
        x = rng.uniform(0, 1, n)
        top = np.full(k, -np.inf)
        for v in x:  # the rule's insertion: replace the smallest kept value
            j = np.argmin(top)
            top[j] = max(top[j], v)
        got = a95_from_top(-np.sort(-top)[None, :], np.array([n]))[0]
        if n <= 20 * (k - 1) + 1:
            assert got == pytest.approx(np.percentile(x, 95), abs=1e-12), n
        else:
            assert got >= np.percentile(x, 95)  # upper bound beyond the exact range
    assert np.isnan(a95_from_top(np.full((1, k), -np.inf), np.array([0]))[0])


def test_long_trip_uses_the_kept_top_values() -> None:
    rule = ElevatorRideVibration(ElevatorRideVibrationParams(top_k=3))
    z = [0.1] * 30 + [0.3]  # n = 31 ≤ 20·(3-1)+1 = 41: exact
    out = run([REST, *trip(z), REST, REST], rule=rule)
    assert out.measures.per_level[-1, 0] == pytest.approx(np.percentile(z, 95) / 0.2)


def test_bad_params() -> None:
    rule = ElevatorRideVibration()
    for bad in (
        {"z_a95_limit": 0},
        {"vib_clear_ratio": 1.5},
        {"vib_orange_ratio": 0.5},
        {"vib_sustain_readings": 0},
    ):
        with pytest.raises(SensorParamError, match="vib-1"):
            rule.configure(rule.init_state(1), [bad], ["vib-1"])
    with pytest.raises(ValueError, match="top_k"):
        ElevatorRideVibration(ElevatorRideVibrationParams(top_k=1))


def test_reasons() -> None:
    rule = ElevatorRideVibration()
    state = rule.configure(rule.init_state(1), [{}], ["el-ev-0004"])
    pairs = [REST, (0.36, 0.05), (0.36, 0.05), REST, REST]
    out = rule.evaluate(state, Batch.of([0] * 5, T0 + 5000 * np.arange(5), np.array(pairs)))
    assert out.levels.tolist() == [NORMAL, NORMAL, YELLOW, BLUE, BLUE]

    def text(level: int, previous: int, i: int) -> str:
        return rule.describe(
            rule.context(out.state, 0, "el-ev-0004", "bldg-107", level, previous, out.measures, i)
        )

    up = text(YELLOW, NORMAL, 2)
    assert up.startswith(
        "car vibration z pk-pk 0.36 m/s² (1.2 × limit) at bldg-107 ≥ max pk-pk limit 0.3 m/s² by 0.06 m/s² "
        "over 2 readings; xy 0.05 m/s²"
    )
    assert (
        "GB/T 10058" in up
        and "[M]" in up
        and up.endswith("[rule elevator_ride_vibration, sensor el-ev-0004]")
    )
    down = text(BLUE, YELLOW, 3)
    assert "< clear point 0.9 × limit" in down
    blue = text(BLUE, NORMAL, 4)
    assert blue.startswith(
        "ride quality: last trip (2 readings in motion) A95 z 0.36 m/s² at bldg-107 ≥ A95 limit 0.2 m/s² "
        "by 0.16"
    )


# --- raw acceleration helpers (scipy) -----------------------------------------------------------------


def test_lowpass_keeps_ride_frequencies_and_removes_mains_hum() -> None:
    fs = 256.0
    t = np.arange(0, 20.0, 1 / fs)
    ride = 0.1 * np.sin(2 * np.pi * 2.0 * t)  # 2 Hz car sway, 0.2 m/s² pk-pk
    hum = 0.2 * np.sin(2 * np.pi * 50.0 * t)  # 50 Hz electrical pick-up
    y = lowpass_10hz(ride + hum, fs)
    mid = slice(int(2 * fs), int(18 * fs))
    assert np.max(np.abs(y[mid] - ride[mid])) < 0.005
    per_second = report_pkpk(ride + hum, fs, 1.0)
    assert per_second.shape == (20,)
    assert per_second[2:-2] == pytest.approx(0.2, abs=0.005)
    raw = (ride + hum).reshape(20, -1)
    assert (raw.max(axis=1) - raw.min(axis=1)).min() > 0.5  # unfiltered it would break the 0.30 limit


def test_adjacent_peak_to_peak_and_a95() -> None:
    x = np.array([0.0, 1.0, 0.0, -0.5, 0.2, 0.2, 0.1, 0.3])
    at, pp = adjacent_peak_to_peak(x)
    assert at.tolist() == [0, 1, 3, 5, 6]  # a flat top counts at its end
    assert pp == pytest.approx([1.0, 1.5, 0.7, 0.1, 0.2])
    assert adjacent_peak_to_peak(np.zeros(5))[1].size == 0
    assert a95(pp) == pytest.approx(np.percentile(pp, 95))
    assert np.isnan(a95(np.empty(0)))
    with pytest.raises(ValueError, match="twice"):
        lowpass_10hz(x, 15.0)
