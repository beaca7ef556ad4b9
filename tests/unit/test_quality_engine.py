"""The engine's data-quality hook: failed readings never colour a hazard, suspect readings never
escalate, sensor_fault alerts alone never raise a hazard colour; snapshots carry the quality state."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.engine import Engine
from detectors.lifecycle.testing import echo_rule, tiny_registry
from riskstream.schemas import Alert, Channel

S = 1000


def engine(params: dict[str, Any] | None = None) -> Engine:
    return Engine(tiny_registry(("s1", "tank_level", params or {})), "cfg-1", rules=[echo_rule()])


def run(eng: Engine, values: list[float], step_ms: int = 60 * S) -> list[Alert]:
    n = len(values)
    alerts, _ = eng.process(
        eng.init_state(), np.zeros(n, np.int32), np.arange(n, dtype=np.int64) * step_ms, np.array(values)
    )
    return alerts


def hazard(alerts: list[Alert]) -> list[tuple[int, str, str]]:
    return [(a.ts_ms, a.previous_level, a.level) for a in alerts if a.channel == Channel.HAZARD]


def faults(alerts: list[Alert]) -> list[tuple[int, str, str, str]]:
    return [(a.ts_ms, a.rule, a.previous_level, a.level) for a in alerts if a.channel == Channel.SENSOR_FAULT]


def test_failed_reading_never_produces_a_hazard_colour() -> None:
    # echo: the level is the value; 130 % is outside the tank_level span 0..125 (gross range fail)
    alerts = run(engine(), [0.5, 130.0, 0.5])
    assert hazard(alerts) == []
    assert faults(alerts) == [
        (60 * S, "qartod_gross_range", "normal", "fault"),
        (120 * S, "qartod_gross_range", "fault", "normal"),
    ]
    fault = next(a for a in alerts if a.level == "fault")
    assert "130" in fault.reason and "0..125" in fault.reason and "QARTOD gross range" in fault.reason
    assert fault.value == 130.0


def test_failed_reading_does_not_update_the_rule_state() -> None:
    eng = engine({"span_max": 3.5})
    # 4 (red) fails the span: the pair stays yellow and the 2 that follows is no change
    alerts = run(eng, [2.0, 4.0, 2.0])
    assert hazard(alerts) == [(0, "normal", "yellow")]


def test_suspect_reading_does_not_escalate_but_lowers() -> None:
    eng = engine({"roc_limit_per_s": 0.01})  # 1 level per minute = 0.0167 %/s: every change is suspect
    alerts = run(eng, [1.0, 3.0, 3.0, 1.0])
    # 1 → 3 is suspect: held at blue; the repeat 3 passes and escalates; 3 → 1 (suspect) may lower
    assert hazard(alerts) == [(0, "normal", "blue"), (120 * S, "blue", "orange"), (180 * S, "orange", "blue")]
    assert faults(alerts) == [
        (60 * S, "qartod_rate_of_change", "normal", "fault"),
        (120 * S, "qartod_rate_of_change", "fault", "normal"),
        (180 * S, "qartod_rate_of_change", "normal", "fault"),
    ]


def test_suspect_readings_in_one_batch_chain_the_cap() -> None:
    eng = engine({"roc_limit_per_s": 0.01})
    alerts = run(eng, [1.0, 2.0, 3.0, 4.0])  # every rise suspect: never above blue
    assert hazard(alerts) == [(0, "normal", "blue")]


def test_sensor_fault_never_raises_a_hazard_colour_by_itself() -> None:
    params = {"flat_suspect_n": 3, "flat_fail_n": 5, "flat_suspect_s": None, "flat_fail_s": None}
    alerts = run(engine(params), [0.5] * 8)  # stuck at a normal value: flat-line suspect, then fail
    assert hazard(alerts) == []
    assert faults(alerts) == [(120 * S, "qartod_flat_line", "normal", "fault")]
    assert "stuck at 0.5" in alerts[0].reason and "flat line" in alerts[0].reason


def test_snapshot_restore_carries_quality_state() -> None:
    params = {"flat_suspect_n": 3, "flat_fail_n": 5, "flat_suspect_s": None, "flat_fail_s": None}
    eng = engine(params)
    whole = run(eng, [0.5] * 6)
    state, got = eng.init_state(), []
    for i in range(6):
        out, state = eng.process(state, [0], [i * 60 * S], [0.5])
        got += out
        state = eng.restore(eng.snapshot(state))
    assert [a.alert_id for a in got] == [a.alert_id for a in whole] != []


def test_in_place_equals_pure() -> None:
    eng = engine({"roc_limit_per_s": 0.01})
    values = np.array([1.0, 3.0, 3.0, 130.0, 1.0, 1.0])
    ts = np.arange(6, dtype=np.int64) * 60 * S
    pure, s1 = eng.process(eng.init_state(), np.zeros(6, np.int32), ts, values)
    inplace, s2 = eng.process(eng.init_state(), np.zeros(6, np.int32), ts, values, in_place=True)
    assert pure == inplace
    for k, v in s1.sensors.items():
        np.testing.assert_array_equal(v, s2.sensors[k])
