"""well_methane: [P] tiers blue ≥ 5 %LEL sustained ≥ 3 readings, yellow ≥ 10, orange ≥ 25, red ≥ 50 or ≥ 25
and rising (≥ 1 %LEL/min over 300 s); hysteresis 2 %LEL; sewer biogas with no gas main within 30 m capped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, WellMethane
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000
GAS_VALVE = {"well_type": "gas_valve"}
BIOGAS = {"well_type": "sewer", "gas_main_within_m": 120.0}


def run(values: Sequence[float], params: Mapping[str, Any] = GAS_VALVE, every_s: float = 60.0) -> RuleOutput:
    rule = WellMethane()
    state = rule.configure(rule.init_state(1), [params], ["gp-wm-1"])
    ts = T0 + (1000 * every_s * np.arange(len(values))).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


def first(value: float, params: Mapping[str, Any] = GAS_VALVE) -> int:
    return int(run([value], params).levels[0])


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (9.99, NORMAL),  # blue needs three readings
        (10.0, YELLOW),  # exactly at
        (10.01, YELLOW),
        (24.99, YELLOW),
        (25.0, ORANGE),  # exactly at; a first reading has no trend
        (25.01, ORANGE),
        (49.99, ORANGE),
        (50.0, RED),  # the red tier needs no trend
        (50.01, RED),
    ],
)
def test_first_reading_tiers(value: float, level: int) -> None:
    assert first(value) == level


def test_blue_needs_three_consecutive_readings_at_five() -> None:
    assert run([5.0, 5.0, 5.0]).levels.tolist() == [NORMAL, NORMAL, BLUE]
    assert run([5.01, 5.01, 5.01]).levels.tolist() == [NORMAL, NORMAL, BLUE]
    assert run([4.99, 4.99, 4.99, 4.99]).levels.tolist() == [NORMAL] * 4
    assert run([5.0, 5.0, 4.99, 5.0, 5.0, 5.0]).levels.tolist() == [NORMAL] * 5 + [BLUE]


@pytest.mark.parametrize(("rate", "level"), [(1.0, RED), (1.01, RED), (0.99, ORANGE)])
def test_red_when_rising_at_one_percent_lel_per_minute(rate: float, level: int) -> None:
    # one reading a minute, ending exactly at the orange tier 25 %LEL
    values = [25.0 - rate * (4 - k) for k in range(5)]
    assert run(values).levels[-1] == level


def test_hysteresis_two_percent_lel_below_each_tier() -> None:
    # leaving yellow, blue holds while the last three readings are all ≥ 5 − 2
    assert run([12.0, 8.0, 7.99]).levels.tolist() == [YELLOW, YELLOW, BLUE]
    assert run([12.0, 8.0, 2.99]).levels.tolist() == [YELLOW, YELLOW, NORMAL]
    assert run([6.0, 6.0, 12.0, 8.0, 7.99, 3.0, 2.99]).levels.tolist() == [
        NORMAL,
        NORMAL,
        YELLOW,
        YELLOW,
        BLUE,  # the last three readings (12, 8, 7.99) are all ≥ 3
        BLUE,
        NORMAL,
    ]
    assert run([30.0, 23.0, 22.99]).levels.tolist() == [ORANGE, ORANGE, YELLOW]
    assert run([60.0, 23.0, 22.99]).levels.tolist() == [RED, RED, YELLOW]  # red is held like orange


def test_sewer_biogas_without_a_gas_main_nearby_is_capped_at_yellow_from_25() -> None:
    assert run([15.0, 15.0, 15.0, 24.99], BIOGAS).levels.tolist() == [NORMAL] * 4
    assert first(25.0, BIOGAS) == YELLOW
    assert first(80.0, BIOGAS) == YELLOW
    assert run([30.0, 23.0, 22.99], BIOGAS).levels.tolist() == [YELLOW, YELLOW, NORMAL]
    assert first(25.0, {**BIOGAS, "well_type": "stormwater"}) == YELLOW
    assert first(60.0, {**BIOGAS, "biogas_cap_level": 3}) == ORANGE
    assert first(20.0, {**BIOGAS, "biogas_ceiling_lel": 20.0}) == YELLOW


@pytest.mark.parametrize(
    "params",
    [
        {"well_type": "sewer", "gas_main_within_m": 30.0},  # a main within the radius: could be a leak
        {"well_type": "sewer"},  # distance unknown: judged like any well
        {"well_type": "telecom", "gas_main_within_m": 500.0},  # no methane source of its own
        {"well_type": "power", "gas_main_within_m": 500.0},
        {},
    ],
)
def test_other_wells_get_the_full_tiers(params: dict[str, Any]) -> None:
    assert first(60.0, params) == RED
    assert first(12.0, params) == YELLOW


@pytest.mark.parametrize(
    "params",
    [
        {"well_type": "cable"},
        {"well_type": 3},
        {"yellow_lel": 4.0},  # below blue
        {"blue_sustain_readings": 40},  # more than the ring holds
        {"blue_sustain_readings": 0},
        {"gas_main_within_m": -1.0},
        {"biogas_cap_level": 7},
        {"trend_window_s": 0},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = WellMethane()
    with pytest.raises(SensorParamError, match="gp-wm-9"):
        rule.configure(rule.init_state(1), [params], ["gp-wm-9"])


def reasons(params: Mapping[str, Any], values: Sequence[float]) -> list[str]:
    rule = WellMethane()
    state = rule.configure(rule.init_state(1), [params], ["gp-wm-0004"])
    ts = T0 + 60_000 * np.arange(len(values))
    out = rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))
    found, prev = [], 0
    for i, lv in enumerate(out.levels.tolist()):
        if lv != prev:
            ctx = rule.context(out.state, 0, "gp-wm-0004", "dn300-main-4", lv, prev, out.measures, i)
            found.append(rule.describe(ctx))
        prev = lv
    return found


def test_reasons_name_the_well_the_tier_and_what_to_do() -> None:
    got = reasons(GAS_VALVE, [6.0, 6.0, 6.0, 12.0, 16.0, 20.0, 24.0, 28.0])
    assert got[0].startswith(
        "methane (lowest of the last 3 readings) 6 %LEL at dn300-main-4 (gas_valve well) ≥ blue tier 5 %LEL"
    )
    assert got[1].startswith(
        "methane 12 %LEL at dn300-main-4 (gas_valve well) ≥ yellow tier 10 %LEL by 2 %LEL"
    )
    assert "rising 4 %LEL/min over 300 s" in got[2] and got[2].endswith(
        "yellow → red [rule well_methane, sensor gp-wm-0004]"
    )
    bio = reasons(BIOGAS, [26.0])[0]
    assert "≥ biogas ceiling 25 %LEL by 1 %LEL" in bio and "nearest 120 m" in bio and "not a gas leak" in bio


def test_non_finite_and_stale_readings_change_nothing() -> None:
    rule = WellMethane()
    state = rule.configure(rule.init_state(1), [GAS_VALVE], ["gp-wm-1"])
    a = rule.evaluate(state, Batch.of([0, 0], [T0, T0 + 60_000], [12.0, np.nan]))
    assert a.levels.tolist() == [YELLOW, YELLOW]
    b = rule.evaluate(a.state, Batch.of([0], [T0 - 1000], [0.0]))
    assert b.levels.tolist() == [YELLOW]
