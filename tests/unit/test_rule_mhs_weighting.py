"""Major-hazard-source weighting of the hazchem rules: R classes of 原安监总局令第40号 Annex 1
(R ≥ 100 level 1, 50 ≤ R < 100 level 2, 10 ≤ R < 50 level 3, R < 10 level 4) and the [P] escalation
(level 1: every colour one higher, level 2: yellow and above one higher, capped at red)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import GasTwoStage, SensorParamError, TankLevelLimits
from detectors.domain.hazchem_mhs import escalate, mhs_level_from_r
from detectors.domain.rule import DomainRule, RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)


def run(rule: DomainRule, values: Sequence[float], params: Mapping[str, Any]) -> RuleOutput:
    state = rule.configure(rule.init_state(1), [params], ["hz-1"])
    ts = 1_700_000_000_000 + 1000 * np.arange(len(values))
    return rule.evaluate(state, Batch.of([0] * len(values), ts, np.asarray(values, dtype=float)))


@pytest.mark.parametrize(
    ("r", "level"),
    [(1000.0, 1), (100.0, 1), (99.99, 2), (50.0, 2), (49.99, 3), (10.0, 3), (9.99, 4), (0.0, 4), (np.nan, 0)],
)
def test_r_value_classes(r: float, level: int) -> None:
    assert mhs_level_from_r(np.array([r])).tolist() == [level]


def test_escalation_table() -> None:
    colours = np.array([NORMAL, BLUE, YELLOW, ORANGE, RED], dtype=np.int8)
    want = {
        0: [NORMAL, BLUE, YELLOW, ORANGE, RED],
        1: [NORMAL, YELLOW, ORANGE, RED, RED],
        2: [NORMAL, BLUE, ORANGE, RED, RED],
        3: [NORMAL, BLUE, YELLOW, ORANGE, RED],
        4: [NORMAL, BLUE, YELLOW, ORANGE, RED],
    }
    for mhs, levels in want.items():
        assert escalate(colours, np.full(5, mhs, dtype=np.int8)).tolist() == levels, mhs


@pytest.mark.parametrize("params", [{"mhs_level": 1}, {"r_value": 100.0}, {"mhs_level": 1, "r_value": 250.0}])
def test_level_1_source_raises_the_gas_alarm_one_colour(params: dict[str, Any]) -> None:
    # falling readings (never "rising"): 2nd alarm 50 orange → red, 1st alarm 25 → orange, pre-alarm → yellow
    out = run(GasTwoStage(), [50.0, 25.0, 12.5], params)
    assert out.levels.tolist() == [RED, ORANGE, YELLOW]
    # rising onto the 2nd alarm is red already: capped at red
    assert run(GasTwoStage(), [12.5, 25.0, 50.0], params).levels.tolist() == [YELLOW, ORANGE, RED]


def test_level_2_source_keeps_blue_and_raises_yellow_and_above() -> None:
    out = run(GasTwoStage(), [50.0, 25.0, 12.5], {"r_value": 75.0})
    assert out.levels.tolist() == [RED, ORANGE, BLUE]


@pytest.mark.parametrize("params", [{}, {"mhs_level": 3}, {"mhs_level": 4}, {"r_value": 9.99}])
def test_level_3_4_and_unclassified_sources_are_not_weighted(params: dict[str, Any]) -> None:
    out = run(GasTwoStage(), [50.0, 25.0, 12.5], params)
    assert out.levels.tolist() == [ORANGE, YELLOW, BLUE]


def test_hysteresis_is_that_of_the_unweighted_rule() -> None:
    # 1st alarm 25 holds down to 23; weighted orange until 22.99, then blue (pre-alarm held) → yellow
    out = run(GasTwoStage(), [26.0, 23.0, 22.99, 10.5, 10.49], {"mhs_level": 1})
    assert out.levels.tolist() == [ORANGE, ORANGE, YELLOW, YELLOW, NORMAL]


def test_tank_level_is_weighted_too() -> None:
    out = run(TankLevelLimits(), [50.0, 85.0, 90.0], {"mhs_level": 1})
    assert out.levels.tolist() == [NORMAL, ORANGE, RED]


@pytest.mark.parametrize(
    "params", [{"mhs_level": 5}, {"mhs_level": 1.5}, {"r_value": -1.0}, {"mhs_level": 1, "r_value": 20.0}]
)
def test_bad_mhs_params_are_refused(params: dict[str, Any]) -> None:
    rule = GasTwoStage()
    with pytest.raises(SensorParamError, match="hz-1"):
        rule.configure(rule.init_state(1), [params], ["hz-1"])


def test_reason_cites_the_unweighted_set_point_and_the_weighting() -> None:
    rule = GasTwoStage()
    out = run(rule, [26.0, 22.0], {"mhs_level": 1})
    up = rule.describe(rule.context(out.state, 0, "hz-cg-1", "tankfarm-2", ORANGE, NORMAL, out.measures, 0))
    assert up.startswith(
        "combustible gas 26 %LEL at tankfarm-2 ≥ 1st alarm 25 %LEL by 1 %LEL (GB/T 50493-2019)"
    )
    assert "weighted one colour up (yellow → orange): major hazard source level 1 (R ≥ 100" in up
    assert up.endswith("; normal → orange [rule gas_two_stage, sensor hz-cg-1]")
    down = rule.describe(rule.context(out.state, 0, "hz-cg-1", "tankfarm-2", YELLOW, ORANGE, out.measures, 1))
    assert "< 1st alarm clear point 23 %LEL" in down and down.endswith(
        "; orange → yellow [rule gas_two_stage, sensor hz-cg-1]"
    )
