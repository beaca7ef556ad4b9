"""toxic_gas_two_stage: GB/T 50493-2019 toxic gas alarm, 1st ≤ 100 %OEL, 2nd ≤ 200 %OEL (5/10 %IDLH where the
detector cannot resolve the OEL), per gas from the OEL table (H2S 10/20 mg/m³, Cl2 1/2, CO2 9000/18000 …)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import SensorParamError, ToxicGasTwoStage
from detectors.domain.hazchem_toxic import OEL_TABLE, gas_code
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
H2S = {"gas": "H2S"}


def run(
    values: Sequence[float],
    params: Mapping[str, Any] = H2S,
    rows: Sequence[int] | None = None,
    sensor_params: Sequence[Mapping[str, Any]] | None = None,
) -> RuleOutput:
    rule = ToxicGasTwoStage()
    rows = list(rows) if rows is not None else [0] * len(values)
    cap = max(rows) + 1
    sp = list(sensor_params) if sensor_params is not None else [params] * cap
    state = rule.configure(rule.init_state(cap), sp, [f"tg-{i}" for i in range(cap)])
    ts = 1_700_000_000_000 + 1000 * np.arange(len(values))
    return rule.evaluate(state, Batch.of(rows, ts, np.asarray(values, dtype=float)))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (4.99, NORMAL),
        (5.0, BLUE),  # pre-alarm ½ × 1st alarm, exactly at
        (5.01, BLUE),
        (9.99, BLUE),
        (10.0, YELLOW),  # 1st alarm = 100 %OEL (H2S 10 mg/m³), exactly at
        (10.01, YELLOW),
        (19.99, YELLOW),
        (20.0, ORANGE),  # 2nd alarm = 200 %OEL; a first reading is not rising
        (20.01, ORANGE),
    ],
)
def test_h2s_levels_at_each_set_point(value: float, level: int) -> None:
    out = run([value])
    assert out.levels.tolist() == [level]
    assert out.scores.tolist() == [value]


@pytest.mark.parametrize("gas", sorted(OEL_TABLE))
def test_every_gas_of_the_table_alarms_at_its_own_al_and_ah(gas: str) -> None:
    al, ah = OEL_TABLE[gas]
    assert ah == 2 * al  # the table's 2nd alarm is 200 %OEL
    below = np.nextafter(al, 0.0) * (1 - 1e-6)
    out = run([below, al, ah, np.nextafter(ah, 0.0) * (1 - 1e-6)], params={"gas": gas}, rows=[0, 1, 2, 3])
    assert out.levels.tolist() == [BLUE, YELLOW, ORANGE, YELLOW]


def test_gas_names_are_matched_loosely() -> None:
    assert gas_code("h2s") == gas_code("H2S") == gas_code("hydrogen sulfide") == gas_code("Hydrogen-Sulfide")
    assert gas_code("ethylene oxide") == gas_code("ethylene_oxide")
    assert gas_code("krypton") < 0


def test_red_needs_the_second_set_point_and_a_rising_reading() -> None:
    assert run([19.99, 20.0]).levels.tolist() == [YELLOW, RED]
    assert run([20.0, 20.0]).levels.tolist() == [ORANGE, ORANGE]
    assert run([25.0, 22.0, 22.5]).levels.tolist() == [ORANGE, ORANGE, RED]


def test_hysteresis_is_ten_percent_of_each_set_point() -> None:
    # yellow (10) holds down to 9.0; blue (5) down to 4.5; orange/red (20) down to 18
    out = run([10.5, 9.0, 8.99, 4.5, 4.49, 4.99, 5.0])
    assert out.levels.tolist() == [YELLOW, YELLOW, BLUE, BLUE, NORMAL, NORMAL, BLUE]
    out = run([19.0, 21.0, 18.0, 17.99])
    assert out.levels.tolist() == [YELLOW, RED, RED, YELLOW]


def test_idlh_stages_when_the_detector_cannot_resolve_the_oel() -> None:
    # phosgene OEL 0.5 mg/m³; a detector that resolves only 0.8 mg/m³ alarms at 5 % / 10 % of IDLH 20 mg/m³
    p = {"gas": "phosgene", "detection_limit_mgm3": 0.8, "idlh_mgm3": 20.0}
    out = run([0.99, 1.0, 1.99, 2.0], params=p, rows=[0, 1, 2, 3])
    assert out.levels.tolist() == [BLUE, YELLOW, YELLOW, ORANGE]
    # a detector that resolves the OEL keeps the OEL stages
    q = {"gas": "phosgene", "detection_limit_mgm3": 0.1, "idlh_mgm3": 20.0}
    assert run([0.5, 1.0], params=q, rows=[0, 1]).levels.tolist() == [YELLOW, ORANGE]


def test_explicit_set_points_win_over_the_table() -> None:
    p = {"gas": "NH3", "first_alarm_mgm3": 15.0, "second_alarm_mgm3": 30.0}
    assert run([14.99, 15.0, 30.0], params=p, rows=[0, 1, 2]).levels.tolist() == [BLUE, YELLOW, ORANGE]
    unknown = {"gas": "arsine", "first_alarm_mgm3": 0.05, "second_alarm_mgm3": 0.1}
    assert run([0.05, 0.1], params=unknown, rows=[0, 1]).levels.tolist() == [YELLOW, ORANGE]


def test_per_sensor_gases_side_by_side() -> None:
    sp = [{"gas": "H2S"}, {"gas": "Cl2"}, {"gas": "CO2"}]
    out = run([10.0, 1.0, 9000.0], rows=[0, 1, 2], sensor_params=sp)
    assert out.levels.tolist() == [YELLOW, YELLOW, YELLOW]


@pytest.mark.parametrize(
    "params",
    [
        {},  # no gas: never assumed
        {"gas": "krypton"},  # not in the table, no set points
        {"gas": 7},
        {"gas": "phosgene", "detection_limit_mgm3": 0.8},  # cannot resolve the OEL and no IDLH
        {"gas": "phosgene", "detection_limit_mgm3": 0.8, "idlh_mgm3": 8.0},  # 5 %IDLH = 0.4 below 0.8
        {"gas": "H2S", "range_mgm3": 15.0},  # full scale below the 2nd alarm
        {"gas": "H2S", "first_alarm_mgm3": 30.0},  # 1st above the table's 2nd
        {"gas": "H2S", "prealarm_ratio": 0},
        {"gas": "H2S", "clear_ratio": 1.0},
    ],
)
def test_bad_params_are_refused_naming_the_sensor(params: dict[str, Any]) -> None:
    rule = ToxicGasTwoStage()
    with pytest.raises(SensorParamError, match="tg-9"):
        rule.configure(rule.init_state(1), [params], ["tg-9"])


def test_reason_names_gas_place_set_point_excess_oel_and_standard() -> None:
    rule = ToxicGasTwoStage()
    state = rule.configure(rule.init_state(1), [H2S], ["hz-tg-0001"])
    out = rule.evaluate(state, Batch.of([0, 0], [1000, 2000], [15.0, 21.0]))
    ctx = rule.context(out.state, 0, "hz-tg-0001", "tankfarm-03", RED, YELLOW, out.measures, 1)
    reason = rule.describe(ctx)
    assert reason.startswith("toxic gas H2S 21 mg/m³ at tankfarm-03 ≥ 2nd alarm 20 mg/m³ by 1 mg/m³")
    assert "(GB/T 50493-2019)" in reason and "210 %OEL" in reason and "rising" in reason
    assert reason.endswith("yellow → red [rule toxic_gas_two_stage, sensor hz-tg-0001]")
    down = rule.context(out.state, 0, "hz-tg-0001", "tankfarm-03", BLUE, YELLOW, out.measures, 0)
    assert "< 1st alarm clear point 9 mg/m³" in rule.describe(down)


def test_reason_of_idlh_stages_says_why() -> None:
    rule = ToxicGasTwoStage()
    p = {"gas": "phosgene", "detection_limit_mgm3": 0.8, "idlh_mgm3": 20.0}
    state = rule.configure(rule.init_state(1), [p], ["tg-1"])
    out = rule.evaluate(state, Batch.of([0], [1000], [1.2]))
    reason = rule.describe(rule.context(out.state, 0, "tg-1", "tf-1", YELLOW, NORMAL, out.measures, 0))
    assert "1st alarm (5 %IDLH) 1 mg/m³" in reason and "IDLH 20 mg/m³" in reason and "0.8 mg/m³" in reason


def test_non_finite_and_stale_readings_change_nothing() -> None:
    rule = ToxicGasTwoStage()
    state = rule.configure(rule.init_state(1), [H2S], ["tg-1"])
    a = rule.evaluate(state, Batch.of([0, 0], [1000, 2000], [12.0, np.inf]))
    assert a.levels.tolist() == [YELLOW, YELLOW]
    b = rule.evaluate(a.state, Batch.of([0], [500], [0.0]))
    assert b.levels.tolist() == [YELLOW]
    c = rule.evaluate(b.state, Batch.of([0], [3000], [20.5]))  # rising vs 12, not vs the stale 0
    assert c.levels.tolist() == [RED]
