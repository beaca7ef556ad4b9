"""gas_two_stage: GB/T 50493-2019 two-stage combustible gas alarm (1st 25 %LEL, 2nd 50 %LEL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import GasTwoStage, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)


def run(
    values: Sequence[float],
    rows: Sequence[int] | None = None,
    params: Sequence[Mapping[str, Any]] | None = None,
    rule: GasTwoStage | None = None,
) -> RuleOutput:
    rule = rule or GasTwoStage()
    rows = list(rows) if rows is not None else [0] * len(values)
    cap = max(rows) + 1 if rows else 1
    state = rule.configure(rule.init_state(cap), params or [{}] * cap, [f"s{i}" for i in range(cap)])
    ts = 1_700_000_000_000 + 1000 * np.arange(len(values))
    return rule.evaluate(state, Batch.of(rows, ts, np.asarray(values, dtype=float)))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (12.49, NORMAL),
        (12.5, BLUE),  # pre-alarm = 0.5 × 1st alarm, exactly at
        (12.51, BLUE),
        (24.99, BLUE),
        (25.0, YELLOW),  # 1st alarm, exactly at
        (25.01, YELLOW),
        (49.99, YELLOW),
        (50.0, ORANGE),  # 2nd alarm, exactly at; a first reading is not "rising"
        (50.01, ORANGE),
        (100.0, ORANGE),
    ],
)
def test_first_reading_levels_at_each_set_point(value: float, level: int) -> None:
    out = run([value])
    assert out.levels.tolist() == [level]
    assert out.scores.tolist() == [value]


def test_red_needs_the_second_set_point_and_a_rising_reading() -> None:
    # 49.99 -> 50 rises onto the 2nd alarm: red; a sensor already at 50 that stays at 50 is orange
    assert run([49.99, 50.0]).levels.tolist() == [YELLOW, RED]
    assert run([50.0, 50.0]).levels.tolist() == [ORANGE, ORANGE]
    assert run([60.0, 55.0]).levels.tolist() == [ORANGE, ORANGE]  # falling above the 2nd alarm
    assert run([60.0, 55.0, 55.1]).levels.tolist() == [ORANGE, ORANGE, RED]
    assert run([30.0, 49.99]).levels.tolist() == [YELLOW, YELLOW]  # rising below the 2nd alarm


def test_hysteresis_holds_a_level_until_its_set_point_minus_margin() -> None:
    # yellow holds down to 25 − 2 = 23 (inclusive), then steps down to blue (held down to 12.5 − 2)
    out = run([26.0, 24.0, 23.0, 22.99, 11.0, 10.5, 10.49, 12.49, 12.5])
    assert out.levels.tolist() == [YELLOW, YELLOW, YELLOW, BLUE, BLUE, BLUE, NORMAL, NORMAL, BLUE]


def test_red_is_held_like_orange_and_clears_below_second_minus_margin() -> None:
    out = run([45.0, 55.0, 49.0, 48.0, 47.99, 50.0])
    assert out.levels.tolist() == [YELLOW, RED, RED, RED, YELLOW, RED]


def test_orange_is_held_down_to_48_and_escalates_to_red_when_rising_again() -> None:
    out = run([50.0, 48.5, 48.0, 49.0, 51.0, 47.9])
    assert out.levels.tolist() == [ORANGE, ORANGE, ORANGE, ORANGE, RED, YELLOW]


def test_a_big_drop_goes_straight_to_normal() -> None:
    assert run([80.0, 81.0, 0.0]).levels.tolist() == [ORANGE, RED, NORMAL]


def test_per_sensor_set_points_from_registry_params() -> None:
    params = [
        {},
        {"first_alarm_lel": 20, "second_alarm_lel": 40, "prealarm_ratio": 0.25, "clear_margin_lel": 5},
    ]
    out = run([20.0, 20.0, 5.0, 5.0, 39.0, 41.0], rows=[0, 1, 0, 1, 1, 1], params=params)
    # batch order is (row, ts): sensor 0 (defaults) 20 -> blue, 5 -> normal; sensor 1 (1st 20, 2nd 40,
    # pre-alarm 5, margin 5): 20 -> yellow, 5 -> blue (below 20 − 5, still at the pre-alarm 5 − 5 = 0),
    # 39 -> yellow, 41 rising -> red
    assert out.levels.tolist() == [BLUE, NORMAL, YELLOW, BLUE, YELLOW, RED]


def test_rising_is_judged_against_the_previous_batch_too() -> None:
    rule = GasTwoStage()
    state = rule.configure(rule.init_state(1), [{}], ["s0"])
    first = rule.evaluate(state, Batch.of([0], [1000], [49.0]))
    second = rule.evaluate(first.state, Batch.of([0], [2000], [52.0]))
    assert second.levels.tolist() == [RED]


def test_non_finite_and_stale_readings_change_nothing() -> None:
    rule = GasTwoStage()
    state = rule.configure(rule.init_state(1), [{}], ["s0"])
    a = rule.evaluate(state, Batch.of([0, 0], [1000, 2000], [30.0, np.nan]))
    assert a.levels.tolist() == [YELLOW, YELLOW]
    assert np.isnan(a.scores[1])
    # a reading older than the newest (late over the network) does not rewind the level
    b = rule.evaluate(a.state, Batch.of([0], [500], [0.0]))
    assert b.levels.tolist() == [YELLOW]
    c = rule.evaluate(b.state, Batch.of([0], [3000], [51.0]))  # rising vs 30, not vs the stale 0
    assert c.levels.tolist() == [RED]


def test_sensors_are_isolated() -> None:
    alone = run([49.0, 55.0])
    mixed = run([49.0, 80.0, 55.0, 10.0], rows=[0, 1, 0, 1])
    assert mixed.levels[:2].tolist() == alone.levels.tolist()


@pytest.mark.parametrize(
    "params",
    [
        {"first_alarm_lel": 60},  # above the 2nd alarm
        {"prealarm_ratio": 0},
        {"clear_margin_lel": -1},
        {"first_alarm_lel": "25"},
        {"second_alarm_lel": True},
        {"second_alarm_lel": float("nan")},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = GasTwoStage()
    with pytest.raises(SensorParamError, match="gas-7"):
        rule.configure(rule.init_state(1), [params], ["gas-7"])


def test_reason_names_value_place_set_point_excess_and_standard() -> None:
    rule = GasTwoStage()
    state = rule.configure(rule.init_state(1), [{}], ["hc-1"])
    out = rule.evaluate(state, Batch.of([0, 0], [1000, 2000], [49.0, 57.3]))
    ctx = rule.context(out.state, 0, "hc-1", "tank-farm-3", RED, YELLOW, out.measures, 1)
    reason = rule.describe(ctx)
    assert reason.startswith("combustible gas 57.3 %LEL at tank-farm-3 ≥ 2nd alarm 50 %LEL by 7.3 %LEL")
    assert "GB/T 50493-2019" in reason and "rising" in reason and "yellow → red" in reason
    down = rule.context(out.state, 0, "hc-1", "tank-farm-3", YELLOW, RED, out.measures, 0)
    assert "< 2nd alarm clear point 48 %LEL" in rule.describe(down)
