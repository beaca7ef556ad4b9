"""tunnel_methane: GB 50838-2015 gas compartment alarm ≤ 20 %LEL (accident ventilation), cut-off 25 %LEL [M];
blue ½ alarm, yellow alarm, orange cut-off, red cut-off and rising (≥ 1 %LEL/min over 120 s) or ≥ 50 %LEL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, TunnelMethane
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000


def run(
    values: Sequence[float], params: Mapping[str, Any] | None = None, every_s: float = 10.0
) -> RuleOutput:
    rule = TunnelMethane()
    state = rule.configure(rule.init_state(1), [params or {}], ["gp-tm-1"])
    ts = T0 + (1000 * every_s * np.arange(len(values))).astype(np.int64)
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (9.99, NORMAL),
        (10.0, BLUE),  # pre-alarm ½ × 20
        (19.99, BLUE),
        (20.0, YELLOW),  # GB 50838 alarm, exactly at
        (20.01, YELLOW),
        (24.99, YELLOW),
        (25.0, ORANGE),  # cut-off, exactly at (no trend on a first reading)
        (49.99, ORANGE),
        (50.0, RED),
    ],
)
def test_first_reading_levels(value: float, level: int) -> None:
    assert run([value]).levels.tolist() == [level]


@pytest.mark.parametrize(("rate", "level"), [(1.0, RED), (1.01, RED), (0.99, ORANGE)])
def test_red_when_rising_at_the_cut_off(rate: float, level: int) -> None:
    values = [25.0 - rate * (6 - k) / 6 for k in range(7)]  # one reading per 10 s, rate %LEL/min, ends at 25
    assert run(values).levels[-1] == level


def test_hysteresis_and_stepping_down() -> None:
    assert run([21.0, 18.0, 17.99, 8.0, 7.99]).levels.tolist() == [YELLOW, YELLOW, BLUE, BLUE, NORMAL]
    assert run([60.0, 23.0, 22.99]).levels.tolist() == [RED, RED, YELLOW]


def test_per_sensor_alarm_set_point() -> None:
    p = {"alarm_lel": 15.0, "cutoff_lel": 20.0}
    levels = [int(run([v], p).levels[0]) for v in (7.49, 7.5, 15.0, 20.0)]
    assert levels == [NORMAL, BLUE, YELLOW, ORANGE]


@pytest.mark.parametrize(
    "params", [{"alarm_lel": 30.0}, {"prealarm_ratio": 0.0}, {"cutoff_lel": 60.0}, {"clear_margin_lel": -1.0}]
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = TunnelMethane()
    with pytest.raises(SensorParamError, match="gp-tm-9"):
        rule.configure(rule.init_state(1), [params], ["gp-tm-9"])


def test_reason_names_the_action_of_each_stage() -> None:
    rule = TunnelMethane()
    state = rule.configure(rule.init_state(1), [{}], ["gp-tm-0002"])
    out = rule.evaluate(state, Batch.of([0, 0], [T0, T0 + 10_000], [20.5, 19.0]))
    up = rule.describe(
        rule.context(out.state, 0, "gp-tm-0002", "utiltunnel-3", YELLOW, BLUE, out.measures, 0)
    )
    assert up.startswith(
        "methane in the gas compartment 20.5 %LEL at utiltunnel-3 ≥ alarm 20 %LEL by 0.5 %LEL (GB 50838-2015)"
    )
    assert "accident ventilation" in up and up.endswith(
        "blue → yellow [rule tunnel_methane, sensor gp-tm-0002]"
    )
    down = rule.describe(
        rule.context(out.state, 0, "gp-tm-0002", "utiltunnel-3", BLUE, YELLOW, out.measures, 1)
    )
    assert "< alarm clear point 18 %LEL" in down
