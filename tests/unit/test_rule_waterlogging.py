"""waterlogging: water depth tiers blue ≥ 15 cm (GB 51222-2017, [M]), yellow ≥ 27, orange ≥ 40, red ≥ 50
([P]), each after 2 consecutive readings and cleared 2 cm below; in an underpass (``location:
underpass``) any water (≥ 3 cm) rising faster than 10 cm per 10 min is red."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, Waterlogging
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
EVERY_MS = 60_000
ROAD = {"location": "road"}
UNDERPASS = {"location": "underpass"}


def run(depths: Sequence[float], params: Mapping[str, Any] = ROAD, every_ms: int = EVERY_MS) -> RuleOutput:
    rule = Waterlogging()
    state = rule.configure(rule.init_state(1), [dict(params)], ["wd-1"])
    ts = T0 + np.arange(len(depths), dtype=np.int64) * every_ms
    return rule.evaluate(state, Batch.of([0] * len(depths), ts, np.asarray(depths, dtype=float)))


@pytest.mark.parametrize(
    ("depth", "level"),
    [
        (14.9, NORMAL),
        (15.0, BLUE),  # GB 51222 design limit, exactly at
        (15.1, BLUE),
        (26.9, BLUE),
        (27.0, YELLOW),
        (27.1, YELLOW),
        (39.9, YELLOW),
        (40.0, ORANGE),
        (40.1, ORANGE),
        (49.9, ORANGE),
        (50.0, RED),
        (50.1, RED),
    ],
)
def test_depth_tiers_after_two_readings(depth: float, level: int) -> None:
    out = run([0.0, depth, depth])
    assert out.levels.tolist() == [NORMAL, NORMAL, level]


def test_levels_clear_two_centimetres_below_their_set_point() -> None:
    out = run([30.0, 30.0, 26.0, 25.1, 24.9, 13.1, 12.9])
    assert out.levels.tolist() == [NORMAL, YELLOW, YELLOW, YELLOW, BLUE, BLUE, NORMAL]


def test_a_single_echo_is_not_water() -> None:
    # a tall vehicle under an ultrasonic sensor in a dry underpass: one reading at 45 cm
    out = run([0.0] * 12 + [45.0] + [0.0] * 12, params=UNDERPASS)
    assert (out.levels == NORMAL).all()


def rising(cm_per_10min: float, start_cm: float, n: int) -> list[float]:
    return [start_cm + cm_per_10min * i / 10.0 for i in range(n)]


@pytest.mark.parametrize(
    ("rate", "level"),
    [(9.9, NORMAL), (10.0, NORMAL), (10.1, RED), (15.0, RED)],  # "faster than 10 cm per 10 min"
)
def test_underpass_water_rising_faster_than_10_cm_per_10_min_is_red(rate: float, level: int) -> None:
    depths = rising(rate, 4.0, 8)  # ≥ 3 cm of water, 8 min of rise, still under 15 cm
    out = run(depths, params=UNDERPASS)
    assert out.scores[-1] < 15.0
    np.testing.assert_allclose(out.measures.extra["rise_cm_per_10min"][-1], rate, rtol=1e-9)
    assert out.levels[-1] == level


def test_the_same_rise_on_a_road_or_in_a_dry_underpass_is_only_its_depth() -> None:
    assert (run(rising(15.0, 4.0, 8), params=ROAD).levels == NORMAL).all()
    # rising from 0: red only once there is water (≥ 3 cm) and two readings of it
    out = run(rising(15.0, 0.0, 8), params=UNDERPASS)
    wet = np.flatnonzero(out.scores >= 3.0)[0]
    assert (out.levels[: wet + 1] == NORMAL).all() and out.levels[-1] == RED


def test_rapid_rise_red_falls_back_to_the_depth_tier_when_the_rise_stops() -> None:
    depths = rising(15.0, 4.0, 10) + [17.5] * 15  # fills to 17.5 cm, then stands
    out = run(depths, params=UNDERPASS)
    assert out.levels[9] == RED and out.levels[-1] == BLUE


def test_location_param_and_numeric_underpass_flag() -> None:
    rule = Waterlogging()
    state = rule.configure(
        rule.init_state(4),
        [{"location": "underpass"}, {"location": "road"}, {"underpass": 1}, {}],
        ["a", "b", "c", "d"],
    )
    assert state["sp_underpass"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_stale_and_non_finite_depths_change_nothing() -> None:
    first = run([20.0, 20.0, 20.0])
    rule = Waterlogging()
    later = rule.evaluate(first.state, Batch.of([0, 0], [T0, T0 + 10 * EVERY_MS], [55.0, np.nan]))
    assert not later.measures.valid.any() and later.levels.tolist() == [BLUE, BLUE]


def test_reasons_name_the_place_the_rise_and_the_rule() -> None:
    rule = Waterlogging()
    out = run(rising(15.0, 4.0, 8), params=UNDERPASS)
    i = int(np.argmax(out.levels == RED))
    ctx = rule.context(out.state, 0, "rf-wd-0002", "underpass-3", RED, NORMAL, out.measures, i)
    reason = rule.describe(ctx)
    assert reason.startswith("water in the underpass at underpass-3 rising 15 cm per 10 min > underpass")
    assert "close the underpass" in reason and "[rule waterlogging, sensor rf-wd-0002]" in reason
    out = run([0.0, 41.5, 41.5])
    ctx = rule.context(out.state, 0, "rf-wd-0003", "road-2", ORANGE, NORMAL, out.measures, 2)
    assert rule.describe(ctx).startswith("water depth 41.5 cm at road-2 ≥ orange depth 40 cm by 1.5 cm")


@pytest.mark.parametrize(
    "params",
    [
        {"blue_cm": 0},
        {"yellow_cm": 10},
        {"underpass": 2},
        {"rise_cm_per_10min": 0},
        {"min_points": 1},
        {"clear_margin_cm": -1},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = Waterlogging()
    with pytest.raises(SensorParamError, match="wd-9"):
        rule.configure(rule.init_state(1), [params], ["wd-9"])
