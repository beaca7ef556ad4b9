"""tank_level_limits: H 85 %, HH 90 %, L 10 %, LL 5 % (defaults, [P]); L blue, H/LL yellow, HH orange, HH and
still rising ≥ 0.2 %/min red; hysteresis 1 % back inside the limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, TankLevelLimits
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000


def run(
    values: Sequence[float], params: Mapping[str, Any] | None = None, every_s: float = 60.0
) -> RuleOutput:
    rule = TankLevelLimits()
    state = rule.configure(rule.init_state(1), [params or {}], ["hz-tl-1"])
    ts = T0 + (1000 * every_s * np.arange(len(values))).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (84.99, NORMAL),
        (85.0, YELLOW),  # H, exactly at
        (85.01, YELLOW),
        (89.99, YELLOW),
        (90.0, ORANGE),  # HH, exactly at (a first reading has no trend)
        (90.01, ORANGE),
        (100.0, ORANGE),
        (10.01, NORMAL),
        (10.0, BLUE),  # L, exactly at
        (9.99, BLUE),
        (5.01, BLUE),
        (5.0, YELLOW),  # LL, exactly at
        (4.99, YELLOW),
        (0.0, YELLOW),
        (50.0, NORMAL),
    ],
)
def test_first_reading_levels_at_each_limit(value: float, level: int) -> None:
    out = run([value])
    assert out.levels.tolist() == [level]
    assert out.scores.tolist() == [value]


def test_red_when_still_rising_at_high_high() -> None:
    # one reading a minute, rising 0.5 %/min: the fit over 300 s needs 3 readings spanning ≥ 150 s
    out = run([88.5, 89.0, 89.5, 90.0, 90.5, 90.5, 90.5, 90.5, 90.5, 90.5])
    assert out.levels.tolist() == [YELLOW, YELLOW, YELLOW, RED, RED, RED, RED, RED, RED, RED]
    # the same levels reached without a trend (first readings) are orange
    assert run([90.0, 90.0, 90.0]).levels.tolist() == [ORANGE] * 3


@pytest.mark.parametrize(("rate", "level"), [(0.2, RED), (0.21, RED), (0.19, ORANGE)])
def test_rising_threshold_exactly_at_just_above_and_just_below(rate: float, level: int) -> None:
    values = [90.0 - rate * (5 - k) for k in range(6)]  # one a minute, ends exactly at HH = 90
    out = run(values)
    assert out.levels[-1] == level


def test_trend_needs_half_the_window_covered() -> None:
    # three readings 10 s apart rise 1 %/min, but span 20 s of the 300 s window: no trend, orange
    assert run([89.9, 90.0, 90.1], every_s=10.0).levels.tolist() == [YELLOW, ORANGE, ORANGE]


def test_hysteresis_high_side() -> None:
    # yellow (H 85) holds down to 84; orange (HH 90) down to 89, then yellow while ≥ 84
    assert run([86.0, 84.0, 83.99]).levels.tolist() == [YELLOW, YELLOW, NORMAL]
    assert run([91.0, 89.0, 88.99, 84.0, 83.99]).levels.tolist() == [ORANGE, ORANGE, YELLOW, YELLOW, NORMAL]


def test_red_is_held_like_orange() -> None:
    out = run([87.0, 88.0, 89.0, 90.0, 89.0, 88.99])
    assert out.levels.tolist() == [YELLOW, YELLOW, YELLOW, RED, RED, YELLOW]


def test_hysteresis_low_side() -> None:
    # blue (L 10) holds up to 11; yellow (LL 5) holds up to 6, then blue while ≤ 11
    assert run([9.0, 11.0, 11.01]).levels.tolist() == [BLUE, BLUE, NORMAL]
    assert run([4.0, 6.0, 6.01, 11.0, 11.01]).levels.tolist() == [YELLOW, YELLOW, BLUE, BLUE, NORMAL]


def test_per_sensor_limits_from_registry_params() -> None:
    p = {
        "high_pct": 80.0,
        "high_high_pct": 92.0,
        "low_pct": 15.0,
        "low_low_pct": 8.0,
        "clear_margin_pct": 0.5,
    }
    levels = [int(run([v], p).levels[0]) for v in (79.99, 80.0, 91.99, 92.0, 15.01, 15.0, 8.01, 8.0)]
    assert levels == [NORMAL, YELLOW, YELLOW, ORANGE, NORMAL, BLUE, BLUE, YELLOW]


def test_filling_normally_below_h_raises_nothing() -> None:
    # filled from 40 % to 84 % at 0.3 %/min, with level noise
    rng = np.random.default_rng(3)
    values = np.linspace(40.0, 84.0, 147) + rng.normal(0, 0.05, 147)
    assert set(run(values.tolist()).levels.tolist()) == {NORMAL}


@pytest.mark.parametrize(
    "params",
    [
        {"high_pct": 95.0},  # above HH
        {"low_low_pct": 12.0},  # above L
        {"low_pct": 85.0},  # at H
        {"clear_margin_pct": -1},
        {"trend_window_s": 0},
        {"trend_min_points": 1},
        {"rising_pct_per_min": 0},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = TankLevelLimits()
    with pytest.raises(SensorParamError, match="hz-tl-7"):
        rule.configure(rule.init_state(1), [params], ["hz-tl-7"])


def test_reasons() -> None:
    rule = TankLevelLimits()
    state = rule.configure(rule.init_state(1), [{}], ["hz-tl-1"])
    values = [88.5, 89.0, 89.5, 90.0, 88.7, 4.5]
    ts = T0 + 60_000 * np.arange(len(values))
    out = rule.evaluate(state, Batch.of([0] * len(values), ts, np.array(values)))

    def reason(level: int, previous: int, i: int) -> str:
        return rule.describe(
            rule.context(out.state, 0, "hz-tl-1", "tankfarm-03", level, previous, out.measures, i)
        )

    red = reason(RED, YELLOW, 3)
    assert red.startswith("tank level 90 % at tankfarm-03 ≥ HH 90 % by 0 %")
    assert "still rising 0.5 %/min over 300 s" in red and "overfill" in red and "yellow → red" in red
    assert reason(YELLOW, RED, 4).startswith("tank level 88.7 % at tankfarm-03 < HH clear point 89 %")
    assert reason(YELLOW, NORMAL, 5).startswith("tank level 4.5 % at tankfarm-03 ≤ LL 5 % by 0.5 %")
    assert reason(YELLOW, NORMAL, 0).startswith("tank level 88.5 % at tankfarm-03 ≥ H 85 % by 3.5 %")


def test_non_finite_and_stale_readings_change_nothing() -> None:
    rule = TankLevelLimits()
    state = rule.configure(rule.init_state(1), [{}], ["hz-tl-1"])
    a = rule.evaluate(state, Batch.of([0, 0], [T0, T0 + 1000], [86.0, np.nan]))
    assert a.levels.tolist() == [YELLOW, YELLOW]
    b = rule.evaluate(a.state, Batch.of([0], [T0 - 500], [50.0]))  # older than the newest valid reading
    assert b.levels.tolist() == [YELLOW]
