"""tank_temperature_rise and tank_pressure_rise: rate of rise over a 300 s least-squares window ([P]):
temperature blue 0.25, yellow 0.5, orange 1, red 2 °C/min; pressure blue 0.5, yellow 1, orange 2, red 5 %
of the relief set pressure per minute; 3 consecutive readings to raise, clear below the blue rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, TankPressureRise, TankTemperatureRise
from detectors.domain.rule import DomainRule, RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
EVERY_S = 10.0
#: first reading whose window is half covered (150 s of 300 s at one reading per 10 s)
FIRST_RATE = 15


def run(rule: DomainRule, values: Sequence[float], params: Mapping[str, Any] | None = None) -> RuleOutput:
    state = rule.configure(rule.init_state(1), [params or {}], ["hz-1"])
    ts = T0 + (1000 * EVERY_S * np.arange(len(values))).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


def ramp(per_min: float, n: int = 40, start: float = 30.0) -> list[float]:
    return [start + per_min * EVERY_S * k / 60.0 for k in range(n)]


@pytest.mark.parametrize(
    ("rate", "level"),
    [
        (0.2499, NORMAL),
        (0.25, BLUE),  # exactly at the blue rate
        (0.2501, BLUE),
        (0.4999, BLUE),
        (0.5, YELLOW),
        (0.5001, YELLOW),
        (1.0, ORANGE),
        (1.9999, ORANGE),
        (2.0, RED),
        (2.0001, RED),
    ],
)
def test_temperature_levels_at_each_rate(rate: float, level: int) -> None:
    out = run(TankTemperatureRise(), ramp(rate))
    assert np.isnan(out.scores[:FIRST_RATE]).all()
    np.testing.assert_allclose(out.scores[FIRST_RATE:], rate, rtol=1e-9)
    # raised on the third consecutive reading at the rate
    assert set(out.levels[: FIRST_RATE + 2].tolist()) == {NORMAL}
    assert set(out.levels[FIRST_RATE + 2 :].tolist()) == {level}


def test_sustain_is_a_per_sensor_count_of_consecutive_readings() -> None:
    out = run(TankTemperatureRise(), ramp(1.0), {"sustain_readings": 5})
    assert set(out.levels[: FIRST_RATE + 4].tolist()) == {NORMAL}
    assert set(out.levels[FIRST_RATE + 4 :].tolist()) == {ORANGE}
    out = run(TankTemperatureRise(), ramp(1.0), {"sustain_readings": 1})
    assert out.levels[FIRST_RATE] == ORANGE


def test_clears_below_the_blue_rate() -> None:
    up = ramp(1.5, n=30)
    flat = [up[-1]] * 40
    out = run(TankTemperatureRise(), up + flat)
    levels, rates = out.levels, out.scores
    assert levels[29] == ORANGE
    first_below = int(np.flatnonzero((np.arange(levels.size) > 29) & (rates < 0.25))[0])
    assert set(levels[30:first_below].tolist()) == {ORANGE}  # held while ≥ the blue rate
    assert set(levels[first_below:].tolist()) == {NORMAL}


def test_normal_heating_and_daily_swing_raise_nothing() -> None:
    # steam heating at 0.2 °C/min (12 °C/h) with sensor noise, then a slow sun-driven swing
    rng = np.random.default_rng(5)
    values = np.r_[np.array(ramp(0.2, n=200)), 30 + 2 * np.sin(np.arange(400) / 60)] + rng.normal(
        0, 0.05, 600
    )
    assert set(run(TankTemperatureRise(), values.tolist()).levels.tolist()) == {NORMAL}


@pytest.mark.parametrize(
    ("relief", "rate_pct", "level"),
    [(1.0, 0.5, BLUE), (0.6, 0.99, BLUE), (0.6, 1.0, YELLOW), (1.6, 2.0, ORANGE), (0.25, 5.0, RED)],
)
def test_pressure_rate_in_percent_of_the_relief_set_pressure(
    relief: float, rate_pct: float, level: int
) -> None:
    mpa_per_min = rate_pct / 100.0 * relief
    out = run(TankPressureRise(), ramp(mpa_per_min, start=0.6 * relief), {"relief_set_mpa": relief})
    np.testing.assert_allclose(out.scores[FIRST_RATE:], rate_pct, rtol=1e-6)
    assert out.levels[-1] == level


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        (TankTemperatureRise(), {"yellow_c_per_min": 0.1}),  # below blue
        (TankTemperatureRise(), {"rate_window_s": 0}),
        (TankTemperatureRise(), {"min_points": 1}),
        (TankPressureRise(), {"relief_set_mpa": 0}),
        (TankPressureRise(), {"sustain_readings": 0}),
    ],
)
def test_bad_params_are_refused_naming_the_sensor(rule: DomainRule, params: dict[str, Any]) -> None:
    with pytest.raises(SensorParamError, match="hz-7"):
        rule.configure(rule.init_state(1), [params], ["hz-7"])


def test_reasons_say_how_soon_the_limit_is_reached() -> None:
    rule = TankPressureRise()
    out = run(rule, ramp(0.01, start=0.6), {"relief_set_mpa": 1.0})
    i = FIRST_RATE + 2
    reason = rule.describe(
        rule.context(out.state, 0, "hz-tp-1", "tankfarm-03", YELLOW, NORMAL, out.measures, i)
    )
    assert reason.startswith("pressure rise 1 %/min at tankfarm-03 ≥ yellow rate 1 %/min by 0 %/min")
    assert (
        "rising 0.01 MPa/min of relief set 1 MPa" in reason and "reaches the relief set pressure in" in reason
    )
    assert reason.endswith("normal → yellow [rule tank_pressure_rise, sensor hz-tp-1]")
    temp = TankTemperatureRise()
    out = run(temp, ramp(1.2, start=40.0), {"high_c": 54.0})
    reason = temp.describe(
        temp.context(out.state, 0, "hz-tt-1", "tankfarm-03", ORANGE, NORMAL, out.measures, i)
    )
    assert reason.startswith("temperature rise 1.2°C/min at tankfarm-03 ≥ orange rate 1°C/min by 0.2°C/min")
    assert "reaches H 54 °C in" in reason


def test_non_finite_readings_change_nothing() -> None:
    rule = TankTemperatureRise()
    state = rule.configure(rule.init_state(1), [{}], ["hz-1"])
    values = np.array(ramp(1.0))
    ts = T0 + (1000 * EVERY_S * np.arange(values.size)).astype(np.int64)
    spoilt = values.copy()
    spoilt[20] = np.nan
    a = rule.evaluate(state, Batch.of(np.zeros(values.size - 1), np.delete(ts, 20), np.delete(values, 20)))
    b = rule.evaluate(state, Batch.of(np.zeros(values.size), ts, spoilt))
    assert np.isnan(b.scores[20]) and b.levels[20] == b.levels[19]
    np.testing.assert_array_equal(np.delete(b.levels, 20), a.levels)
