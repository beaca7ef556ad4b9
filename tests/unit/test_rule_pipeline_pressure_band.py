"""pipeline_pressure_band: pressure outside ±10 % of the set point nominal_kpa ([P]); blue ±7.5 %, yellow
±10 %, orange ±20 %, red ±30 %, after 3 consecutive readings, held until back inside the band by 1 %."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import PipelinePressureBand, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_700_000_000_000


def run(values: Sequence[float], params: Mapping[str, Any] | None = None) -> RuleOutput:
    rule = PipelinePressureBand()
    state = rule.configure(rule.init_state(1), [params or {}], ["gp-pp-1"])
    ts = T0 + 5000 * np.arange(len(values))
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


def held(kpa: float, params: Mapping[str, Any] | None = None) -> int:
    """Level after three readings at ``kpa`` (nominal 300 kPa by default)."""
    return int(run([kpa] * 3, params).levels[-1])


@pytest.mark.parametrize(
    ("kpa", "level"),
    [
        (277.53, NORMAL),  # 7.49 % below
        (277.5, BLUE),  # 7.5 % below, exactly at
        (277.47, BLUE),
        (270.03, BLUE),
        (270.0, YELLOW),  # 10 %: the band alarm
        (269.97, YELLOW),
        (240.0, ORANGE),  # 20 %
        (239.97, ORANGE),
        (210.03, ORANGE),
        (210.0, RED),  # 30 %
        (0.0, RED),
        (322.47, NORMAL),  # above the set point alike
        (322.5, BLUE),
        (330.0, YELLOW),
        (360.0, ORANGE),
        (390.0, RED),
        (300.0, NORMAL),
    ],
)
def test_levels_at_each_band(kpa: float, level: int) -> None:
    assert held(kpa) == level


def test_three_consecutive_readings_raise_a_level() -> None:
    assert run([265.0, 265.0, 265.0]).levels.tolist() == [NORMAL, NORMAL, YELLOW]
    assert run([265.0, 265.0, 285.0, 265.0, 265.0, 265.0]).levels.tolist() == [NORMAL] * 5 + [YELLOW]


def test_hysteresis_one_percent_inside_the_band() -> None:
    # yellow (10 %) holds down to 9 % (273 kPa); blue (7.5 %) down to 6.5 % (280.5 kPa)
    out = run([265.0] * 3 + [273.0, 273.03, 280.5, 280.53])
    assert out.levels.tolist() == [NORMAL, NORMAL, YELLOW, YELLOW, BLUE, BLUE, NORMAL]


def test_per_sensor_set_point_and_bands() -> None:
    assert held(180.0, {"nominal_kpa": 200.0}) == YELLOW
    assert held(2.7, {"nominal_kpa": 3.0, "band_yellow_pct": 8.0, "band_blue_pct": 5.0}) == YELLOW


def test_demand_dips_within_the_regulator_class_raise_nothing() -> None:
    # a 5 % daytime sag with noise 0.05 % of nominal
    rng = np.random.default_rng(1)
    t = np.arange(2000)
    values = 300.0 * (1 - 0.05 * np.sin(np.pi * t / 2000) ** 2 + 0.0005 * rng.standard_normal(t.size))
    assert set(run(values.tolist()).levels.tolist()) == {NORMAL}


@pytest.mark.parametrize(
    "params",
    [
        {"nominal_kpa": 0},
        {"band_yellow_pct": 5.0},
        {"band_clear_margin_pct": -0.1},
        {"band_sustain_readings": 0},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = PipelinePressureBand()
    with pytest.raises(SensorParamError, match="gp-pp-9"):
        rule.configure(rule.init_state(1), [params], ["gp-pp-9"])


def test_reason_says_which_side_and_how_far() -> None:
    rule = PipelinePressureBand()
    state = rule.configure(rule.init_state(1), [{}], ["gp-pp-0003"])
    out = rule.evaluate(state, Batch.of([0, 0, 0], [T0, T0 + 5000, T0 + 10_000], [268.5] * 3))
    reason = rule.describe(
        rule.context(out.state, 0, "gp-pp-0003", "dn300-main-2", YELLOW, NORMAL, out.measures, 2)
    )
    assert reason.startswith("pressure deviation 10.5 % at dn300-main-2 ≥ yellow band 10 % by 0.5 %")
    assert "268.5 kPa, below set point 300 kPa, 3 consecutive readings" in reason


def test_non_finite_and_stale_readings_change_nothing() -> None:
    rule = PipelinePressureBand()
    state = rule.configure(rule.init_state(1), [{"band_sustain_readings": 1}], ["gp-pp-1"])
    a = rule.evaluate(state, Batch.of([0, 0], [T0, T0 + 5000], [265.0, np.nan]))
    assert a.levels.tolist() == [YELLOW, YELLOW]
    b = rule.evaluate(a.state, Batch.of([0], [T0 - 5000], [300.0]))
    assert b.levels.tolist() == [YELLOW]


def test_pressure_rules_share_only_the_set_point_and_the_rate_definition() -> None:
    """A sensor's params serve every rule of its kind: a key two rules read must mean the same to both."""
    from detectors.domain import default_rules

    users: dict[str, set[str]] = {}
    for rule in default_rules():
        if "pipeline_pressure" in rule.kinds:
            for key in rule.sensor_keys:
                users.setdefault(key, set()).add(rule.name)
    shared = {k: v for k, v in users.items() if len(v) > 1}
    assert shared == {
        "nominal_kpa": {
            "pipeline_pressure_drop",
            "pipeline_pressure_drop_sigma",
            "pipeline_pressure_band",
            "pipeline_night_minimum",
        },
        "rate_window_s": {"pipeline_pressure_drop", "pipeline_pressure_drop_sigma"},
        "min_points": {"pipeline_pressure_drop", "pipeline_pressure_drop_sigma"},
    }
