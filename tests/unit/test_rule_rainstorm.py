"""rainstorm: CMA rainstorm signals from gauge increments (blue 50 mm/12 h, yellow 50 mm/6 h,
orange 50 mm/3 h, red 100 mm/3 h) over trailing event-time bins of 5 min."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import Rainstorm, RainstormParams, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
MIN = 60_000
HOUR = 60 * MIN
T0 = (1_700_000_000_000 // (12 * HOUR)) * (12 * HOUR)  # aligned to bins (and to 12 h, for readability)


def run(
    readings: Sequence[tuple[int, float]], row: int = 0, rule: Rainstorm | None = None, state=None
) -> RuleOutput:
    """``readings`` = (ms after T0, mm since the gauge's previous reading)."""
    rule = rule or Rainstorm()
    if state is None:
        state = rule.configure(rule.init_state(row + 1), [{}] * (row + 1), [f"r{i}" for i in range(row + 1)])
    ts = [T0 + t for t, _ in readings]
    return rule.evaluate(state, Batch.of([row] * len(readings), ts, [mm for _, mm in readings]))


@pytest.mark.parametrize(
    ("mm", "level"),
    [
        (49.9, NORMAL),
        (50.0, ORANGE),  # 50 mm within 3 h (so also within 6 h and 12 h): the highest signal wins
        (50.1, ORANGE),
        (99.9, ORANGE),
        (100.0, RED),
        (100.1, RED),
    ],
)
def test_one_burst_at_each_set_point(mm: float, level: int) -> None:
    out = run([(0, mm)])
    assert out.levels.tolist() == [level]
    assert out.scores.tolist() == [mm]


@pytest.mark.parametrize(("mm", "level"), [(49.9, NORMAL), (50.0, YELLOW), (50.1, YELLOW)])
def test_yellow_set_point_at_below_and_above(mm: float, level: int) -> None:
    # two halves 4 h apart: each 3 h window holds one half, the 6 h window both
    out = run([(0, mm / 2), (4 * HOUR, mm / 2)])
    assert out.measures.extra["s6"][-1] == pytest.approx(mm) and out.levels[-1] == level


@pytest.mark.parametrize(("mm", "level"), [(49.9, NORMAL), (50.0, BLUE), (50.1, BLUE)])
def test_blue_set_point_at_below_and_above(mm: float, level: int) -> None:
    # thirds 4 h apart: a 6 h window holds at most two, the 12 h window all three
    out = run([(0, mm / 3), (4 * HOUR, mm / 3), (8 * HOUR, mm / 3)])
    assert out.measures.extra["s12"][-1] == pytest.approx(mm) and out.levels[-1] == level


def test_sums_of_decimal_tips_hit_the_set_point_exactly() -> None:
    # 500 tips of 0.1 mm within 3 h: floating-point 0.1 sums to 49.99999999999986, still "≥ 50"
    out = run([(i * 20_000, 0.1) for i in range(500)])
    assert out.levels[-2] == NORMAL and out.levels[-1] == ORANGE


def test_yellow_is_50_mm_in_6_h_without_50_in_3_h() -> None:
    out = run([(0, 25.0), (4 * HOUR, 25.0)])
    assert out.levels.tolist() == [NORMAL, YELLOW]
    assert out.measures.extra["s3"][-1] == 25.0 and out.measures.extra["s6"][-1] == 50.0


def test_blue_is_50_mm_in_12_h_without_50_in_6_h() -> None:
    out = run([(h * HOUR, 10.0) for h in (0, 2, 4, 6, 8)])
    assert out.levels.tolist() == [NORMAL, NORMAL, NORMAL, NORMAL, BLUE]
    assert out.measures.extra["s6"][-1] == 30.0 and out.measures.extra["s12"][-1] == 50.0


def test_levels_fall_as_the_trailing_sums_fall() -> None:
    # 100 mm at T0 (bin 0); later zero readings move the window on.
    times = [0, 3 * HOUR - 5 * MIN, 3 * HOUR, 6 * HOUR - 1, 6 * HOUR, 12 * HOUR - 1, 12 * HOUR]
    out = run([(t, 100.0 if t == 0 else 0.0) for t in times])
    assert out.levels.tolist() == [RED, RED, YELLOW, YELLOW, BLUE, BLUE, NORMAL]


def test_bin_resolution_approximation_is_whole_bins() -> None:
    # rain at 00:04:59 lies in bin 0; at 03:00:00 the 3 h sum covers bins 1..36 (02:55 wide + the
    # current bin), so it no longer counts although it fell less than 3 h earlier (documented).
    out = run([(5 * MIN - 1000, 60.0), (3 * HOUR, 0.0)])
    assert out.levels.tolist() == [ORANGE, YELLOW]
    # and it never counts rain older than 3 h: rain at 00:00:00 is out at 03:00:00 either way
    out = run([(0, 60.0), (3 * HOUR - 1, 0.0), (3 * HOUR, 0.0)])
    assert out.levels.tolist() == [ORANGE, ORANGE, YELLOW]


def test_late_reading_is_added_to_its_bin_and_judged_as_of_now() -> None:
    rule = Rainstorm()
    first = run([(2 * HOUR, 30.0)], rule=rule)
    late = run([(1 * HOUR, 25.0)], rule=rule, state=first.state)  # arrives after, happened before
    assert late.levels.tolist() == [ORANGE]
    assert late.scores.tolist() == [55.0]


def test_long_silence_clears_the_ring() -> None:
    out = run([(0, 40.0), (13 * HOUR, 20.0)])
    assert out.scores.tolist() == [40.0, 20.0]
    assert out.levels.tolist() == [NORMAL, NORMAL]


def test_negative_and_non_finite_increments_are_ignored() -> None:
    out = run([(0, 45.0), (MIN, -10.0), (2 * MIN, np.nan), (3 * MIN, np.inf), (4 * MIN, 5.0)])
    assert out.levels.tolist() == [NORMAL, NORMAL, NORMAL, NORMAL, ORANGE]
    assert np.isnan(out.scores[1:4]).all()


def test_per_sensor_set_points() -> None:
    rule = Rainstorm()
    state = rule.configure(rule.init_state(2), [{}, {"orange_3h_mm": 30, "red_3h_mm": 60}], ["a", "b"])
    out = rule.evaluate(state, Batch.of([0, 1], [T0, T0], [35.0, 35.0]))
    assert out.levels.tolist() == [NORMAL, ORANGE]


def test_bin_ms_must_divide_three_hours() -> None:
    with pytest.raises(ValueError, match="bin_ms"):
        RainstormParams(bin_ms=7 * MIN)
    rule = Rainstorm(RainstormParams(bin_ms=10 * MIN))
    assert rule.widths == (18, 36, 72)


def test_bad_params_are_refused() -> None:
    rule = Rainstorm()
    with pytest.raises(SensorParamError, match="g-1"):
        rule.configure(rule.init_state(1), [{"red_3h_mm": 40}], ["g-1"])


def test_reason_and_value_name_the_deciding_window() -> None:
    rule = Rainstorm()
    out = run([(0, 30.0), (HOUR, 74.5)], rule=rule)
    ctx = rule.context(out.state, 0, "r-1", "park", RED, NORMAL, out.measures, 1)
    reason = rule.describe(ctx)
    assert reason.startswith("rain in 3 h 104.5 mm at park ≥ red signal 100 mm by 4.5 mm")
    assert "CMA rainstorm warning signal" in reason
    assert rule.alert_value(ctx) == 104.5
