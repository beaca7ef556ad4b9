"""Alarm lifecycle through the engine: table-driven, exact expected alert sequences per feature.

Rules here are :func:`detectors.lifecycle.testing.echo_rule`: a reading's level *is* its value, so each
case writes the per-reading levels and checks every alert the engine emits, in order. Every case is also
re-run one reading per call (and with a snapshot/restore between calls), which must not change a thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from detectors.engine import Engine
from detectors.lifecycle import AgreementSettings, DeadmanSettings, LifecycleConfig
from detectors.lifecycle.testing import echo_rule, tiny_registry
from riskstream.schemas import Alert, OperatorAction

S, MIN = 1000, 60_000
NAN = float("nan")


@dataclass(frozen=True)
class Case:
    name: str
    readings: (
        list[tuple[int, float]] | list[tuple[str, int, float]]
    )  # (ts, level) of s1, or (sensor, ts, level)
    expected: list[tuple[Any, ...]]  # (ts, event, rule, previous, level); rule "" = "echo"
    alarm: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)  # Engine.tick(now) after all readings
    deadman: DeadmanSettings = field(default_factory=DeadmanSettings)
    params: dict[str, Any] = field(default_factory=dict)  # registry params of s1


def engine_for(case: Case) -> Engine:
    reg = tiny_registry(("s1", "tank_level", case.params), ("s2", "tank_level"))
    return Engine(
        reg, "cfg-1", rules=[echo_rule()], lifecycle=LifecycleConfig(alarm=case.alarm, deadman=case.deadman)
    )


def columns(case: Case, eng: Engine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, ts, vals = [], [], []
    for r in case.readings:
        sid, t, x = r if len(r) == 3 else ("s1", *r)  # type: ignore[misc]
        rows.append(eng.registry.index[sid])
        ts.append(t)
        vals.append(x)
    return np.array(rows, np.int32), np.array(ts, np.int64), np.array(vals, float)


def actions_of(case: Case) -> list[OperatorAction]:
    return [OperatorAction(**a) for a in case.actions]


def run_whole(case: Case) -> list[Alert]:
    eng = engine_for(case)
    alerts, state = eng.process(eng.init_state(), *columns(case, eng), actions_of(case))
    for now in case.ticks:
        more, state = eng.tick(state, now)
        alerts += more
    return alerts


def run_one_by_one(case: Case) -> list[Alert]:
    """One reading per call, each action with the call of the last reading stamped at or before it,
    and a snapshot/restore round trip between calls."""
    eng = engine_for(case)
    rows, ts, vals = columns(case, eng)
    acts = sorted(actions_of(case), key=lambda a: a.ts_ms)
    state, alerts = eng.init_state(), []
    for i in range(rows.size):
        mine = [a for a in acts if ts[i] <= a.ts_ms and (i + 1 == rows.size or ts[i + 1] > a.ts_ms)]
        if i == 0:
            mine = [a for a in acts if a.ts_ms < ts[0]] + mine
        out, state = eng.process(state, rows[i : i + 1], ts[i : i + 1], vals[i : i + 1], mine)
        alerts += out
        state = eng.restore(eng.snapshot(state))
    if rows.size == 0:
        out, state = eng.apply_actions(state, acts)
        alerts += out
    for now in case.ticks:
        more, state = eng.tick(state, now)
        alerts += more
    return alerts


def summary(alerts: list[Alert]) -> list[tuple[Any, ...]]:
    out = []
    for a in alerts:
        rule = "" if a.rule == "echo" else a.rule
        out.append((a.ts_ms, a.event.value, rule, a.previous_level, a.level))
    return out


def tr(ts: int, prev: str, level: str, event: str = "transition", rule: str = "") -> tuple[Any, ...]:
    return (ts, event, rule, prev, level)


def levels(seq: list[float], step_ms: int = S, start: int = 0) -> list[tuple[int, float]]:
    return [(start + i * step_ms, x) for i, x in enumerate(seq)]


CASES = [
    Case(
        "default passes every level change through",
        levels([0, 2, 3, 3, 0, 1]),
        [
            tr(1000, "normal", "yellow"),
            tr(2000, "yellow", "orange"),
            tr(4000, "orange", "normal"),
            tr(5000, "normal", "blue"),
        ],
    ),
    Case(
        "a reading the rule cannot use (NaN) changes nothing",
        levels([2, NAN, 2, 0]),
        [tr(0, "normal", "yellow"), tr(3000, "yellow", "normal")],
    ),
    Case(
        "debounce 2 of the last 3 readings",
        levels([0, 2, 0, 2, 2, 0, 0]),
        [tr(3000, "normal", "yellow"), tr(5000, "yellow", "normal")],
        alarm={"raise_readings": 2, "raise_window": 3},
    ),
    Case(
        "pending while the value flaps around the set point: 3 consecutive readings needed",
        levels([2, 0, 2, 0, 2, 1, 2, 2, 2, 0]),
        [tr(6000, "normal", "blue"), tr(8000, "blue", "yellow"), tr(9000, "yellow", "normal")],
        alarm={"raise_readings": 3, "raise_window": 3},
    ),
    Case(
        "debounce counts per level: red needs its own 2 of 2, orange is raised meanwhile",
        levels([3, 4, 3, 4, 4, 0]),
        [tr(1000, "normal", "orange"), tr(4000, "orange", "red"), tr(5000, "red", "normal")],
        alarm={"raise_readings": 2, "raise_window": 2},
    ),
    Case(
        "held for a duration: raised once the run at ≥ yellow has lasted 10 s, a dip restarts it",
        levels([2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 0], step_ms=2 * S),
        [tr(18000, "normal", "yellow"), tr(22000, "yellow", "normal")],
        alarm={"raise_hold_ms": 10 * S},
    ),
    Case(
        "hysteresis in levels: orange holds while readings stay at ≥ yellow",
        levels([3, 2, 2, 3, 1, 0]),
        [tr(0, "normal", "orange"), tr(4000, "orange", "blue"), tr(5000, "blue", "normal")],
        alarm={"clear_levels": {"orange": "yellow"}},
    ),
    Case(
        "clear after 2 consecutive readings below; a return into the band resets the count",
        levels([3, 0, 3, 0, 0]),
        [tr(0, "normal", "orange"), tr(4000, "orange", "normal")],
        alarm={"clear_readings": 2},
    ),
    Case(
        "clear hold time: below for 5 s before the alarm clears",
        levels([3, 0, 0, 0, 0], step_ms=2 * S),
        [tr(0, "normal", "orange"), tr(8000, "orange", "normal")],
        alarm={"clear_hold_ms": 5 * S},
    ),
    Case(
        "latched: stays at its highest level until acknowledged, then follows the condition",
        levels([3, 4, 0, 0]),
        [
            tr(0, "normal", "orange"),
            tr(1000, "orange", "red"),
            tr(5000, "red", "red", "ack"),
            tr(5000, "red", "normal"),
        ],
        alarm={"clear_mode": "latched"},
        actions=[{"action": "ack", "target": "s1", "ts_ms": 5000, "by": "alice"}],
    ),
    Case(
        "latched, acknowledged while still in the band: stays, then clears when the value leaves",
        levels([3, 3, 3, 3, 0]),
        [tr(0, "normal", "orange"), tr(1500, "orange", "orange", "ack"), tr(4000, "orange", "normal")],
        alarm={"clear_mode": "latched"},
        actions=[{"action": "ack", "target": "s1", "ts_ms": 1500}],
    ),
    Case(
        "manual clear (ack) while the value stays in the alarm band: the alarm does not disappear",
        levels([2, 2, 2, 3, 3, 0]),
        [
            tr(0, "normal", "yellow"),
            tr(1000, "yellow", "yellow", "ack"),
            tr(3000, "yellow", "orange"),
            tr(5000, "orange", "normal"),
        ],
        actions=[{"action": "ack", "target": "s1", "ts_ms": 1000}],
    ),
    Case(
        "latched and re-raised after an ack latches again",
        levels([3, 0, 0, 2, 0]),
        [
            tr(0, "normal", "orange"),
            tr(1500, "orange", "orange", "ack"),
            tr(1500, "orange", "normal"),
            tr(3000, "normal", "yellow"),
        ],
        alarm={"clear_mode": "latched"},
        actions=[{"action": "ack", "target": "s1", "ts_ms": 1500}],
    ),
    Case(
        "escalation over time: yellow held 10 s -> orange, 10 s more -> red; cleared by the condition",
        levels([2, 2, 2, 2, 2, 2, 0], step_ms=5 * S),
        [
            tr(0, "normal", "yellow"),
            tr(10000, "yellow", "orange"),
            tr(20000, "orange", "red"),
            tr(30000, "red", "normal"),
        ],
        alarm={"escalate_after_ms": {"yellow": 10 * S, "orange": 10 * S}},
    ),
    Case(
        "trapped passenger: orange at 30 min, red at 60 min, on event time from other sensors",
        [("s1", 0, 2)] + [("s2", t * MIN, 0) for t in range(1, 62)] + [("s1", 62 * MIN, 0)],
        [
            tr(0, "normal", "yellow"),
            tr(30 * MIN, "yellow", "orange"),
            tr(60 * MIN, "orange", "red"),
            tr(62 * MIN, "red", "normal"),
        ],
        alarm={"escalate_after_ms": {"yellow": 30 * MIN, "orange": 30 * MIN}},
    ),
    Case(
        "escalation fires from Engine.tick on an idle partition, strictly after its due time",
        levels([2]),
        [tr(0, "normal", "yellow"), tr(10000, "yellow", "orange")],
        alarm={"escalate_after_ms": {"yellow": 10 * S}},
        ticks=[10000, 10001],
    ),
    Case(
        "escalation stops when the condition drops below where it started",
        levels([2, 2, 2, 1, 1], step_ms=6 * S),
        [tr(0, "normal", "yellow"), tr(10000, "yellow", "orange"), tr(18000, "orange", "blue")],
        alarm={"escalate_after_ms": {"yellow": 10 * S}},
    ),
    Case(
        "de-escalation one level per 10 s",
        [*levels([4] + [0] * 5, step_ms=10 * S), (55 * S, 0)],
        [
            tr(0, "normal", "red"),
            tr(20000, "red", "orange"),
            tr(30000, "orange", "yellow"),
            tr(40000, "yellow", "blue"),
            tr(50000, "blue", "normal"),
        ],
        alarm={"deescalate_step_ms": 10 * S},
    ),
    Case(
        "flapping: the 4th change within a minute is reported once; announced again once stable",
        [*levels([0, 2, 0, 2, 0, 2, 0, 2]), (40 * S, 2), (50 * S, 2)],
        [
            tr(1000, "normal", "yellow"),
            tr(2000, "yellow", "normal"),
            tr(3000, "normal", "yellow"),
            tr(4000, "yellow", "normal", "flapping"),
            tr(37000, "normal", "yellow"),
        ],
        alarm={"flap_transitions": 4, "flap_window_ms": MIN, "flap_settle_ms": 30 * S},
    ),
    Case(
        "flapping settles to the level already announced: nothing more is emitted",
        [*levels([0, 2, 0, 2, 0]), (60 * S, 0)],
        [
            tr(1000, "normal", "yellow"),
            tr(2000, "yellow", "normal"),
            tr(3000, "normal", "yellow"),
            tr(4000, "yellow", "normal", "flapping"),
        ],
        alarm={"flap_transitions": 4, "flap_window_ms": MIN, "flap_settle_ms": 30 * S},
    ),
    Case(
        "changes spread wider than the flapping window are ordinary transitions",
        levels([2, 0, 2, 0, 2], step_ms=MIN),
        [
            tr(0, "normal", "yellow"),
            tr(MIN, "yellow", "normal"),
            tr(2 * MIN, "normal", "yellow"),
            tr(3 * MIN, "yellow", "normal"),
            tr(4 * MIN, "normal", "yellow"),
        ],
        alarm={"flap_transitions": 3, "flap_window_ms": 2 * MIN - 1, "flap_settle_ms": MIN},
    ),
    Case(
        "shelved: keeps evaluating, silent; unshelve announces the level it has now",
        levels([2, 3, 4, 3]),
        [
            tr(0, "normal", "yellow"),
            tr(500, "yellow", "yellow", "shelve"),
            tr(3500, "yellow", "yellow", "unshelve"),
            tr(3500, "yellow", "orange"),
        ],
        actions=[
            {"action": "shelve", "target": "s1", "ts_ms": 500, "by": "bob", "note": "sensor swap"},
            {"action": "unshelve", "target": "s1", "ts_ms": 3500},
        ],
    ),
    Case(
        "shelve expires on event time (after until_ts_ms), then the current level is announced",
        levels([2, 0, 3, 3, 3]),
        [
            tr(0, "normal", "yellow"),
            tr(500, "yellow", "yellow", "shelve"),
            tr(3000, "yellow", "yellow", "unshelve"),
            tr(3000, "yellow", "orange"),
        ],
        actions=[{"action": "shelve", "target": "s1", "ts_ms": 500, "until_ts_ms": 3000}],
    ),
    Case(
        "unshelve when nothing changed meanwhile announces nothing more",
        levels([2, 0, 2]),
        [
            tr(0, "normal", "yellow"),
            tr(500, "yellow", "yellow", "shelve"),
            tr(2500, "yellow", "yellow", "unshelve"),
        ],
        actions=[
            {"action": "shelve", "target": "s1", "ts_ms": 500},
            {"action": "unshelve", "target": "s1", "ts_ms": 2500},
        ],
    ),
    Case(
        "maintenance window on a site silences every sensor there until it ends",
        [
            ("s1", 0, 0),
            ("s2", 0, 0),
            ("s1", 1000, 3),
            ("s2", 1000, 2),
            ("s2", 2000, 0),
            ("s1", 5000, 3),
            ("s2", 5000, 0),
        ],
        [
            (500, "maintenance", "", "normal", "normal"),
            (500, "maintenance", "", "normal", "normal"),
            (4000, "unshelve", "", "normal", "normal"),
            (4000, "transition", "", "normal", "orange"),
            (4000, "unshelve", "", "normal", "normal"),
        ],
        actions=[{"action": "maintenance", "target": "site-1", "ts_ms": 500, "until_ts_ms": 4000}],
    ),
    Case(
        "deadman: data back exactly when the timeout is due keeps the sensor healthy",
        [(0, 0), (30 * S, 0), (60 * S, 0)],
        [],
        params={"expected_interval_s": 10},
    ),
    Case(
        "deadman: 1 ms later it is a fault (stamped when due), cleared by the reading",
        [(0, 0), (30 * S + 1, 0)],
        [tr(30000, "normal", "fault", rule="deadman"), tr(30001, "fault", "normal", rule="deadman")],
        params={"expected_interval_s": 10},
    ),
    Case(
        "deadman: other sensors move event time to the deadline, the sensor reports at that ms",
        [(0, 0), ("s2", 30 * S, 0), ("s1", 30 * S, 0), ("s2", 40 * S, 0)],
        [],
        params={"expected_interval_s": 10},
    ),
    Case(
        "deadman: timeout fires while data comes back in the same ms as the next event: fault then clear",
        [(0, 0), ("s2", 30 * S + 1, 0), ("s1", 30 * S + 1, 0)],
        [tr(30000, "normal", "fault", rule="deadman"), tr(30001, "fault", "normal", rule="deadman")],
        params={"expected_interval_s": 10},
    ),
    Case(
        "deadman on the wall-clock fallback: a tick at the deadline does nothing, 1 ms later faults",
        [(0, 0)],
        [tr(30000, "normal", "fault", rule="deadman")],
        params={"expected_interval_s": 10},
        ticks=[30000, 30001, 90000],
    ),
    Case(
        "deadman learns the interval from the median gap (5 gaps) and a per-sensor factor",
        [*levels([0] * 6, step_ms=2 * S), (15 * S, 0)],
        [tr(14000, "normal", "fault", rule="deadman"), tr(15000, "fault", "normal", rule="deadman")],
        deadman=DeadmanSettings(learn_interval=True),
        params={"deadman_factor": 2},
    ),
    Case(
        "a sensor fault never raises a hazard colour; hazard and fault channels are independent",
        [(0, 3), (50 * S, 3), (51 * S, 0)],
        [
            tr(0, "normal", "orange"),
            tr(30000, "normal", "fault", rule="deadman"),
            tr(50000, "fault", "normal", rule="deadman"),
            tr(51000, "orange", "normal"),
        ],
        params={"expected_interval_s": 10},
    ),
    Case(
        "shelving a sensor also silences its deadman; the fault is announced when the shelve ends",
        [(0, 0), ("s2", 40 * S, 0), ("s2", 70 * S, 0)],
        [
            (1000, "shelve", "", "normal", "normal"),
            (1000, "shelve", "deadman", "normal", "normal"),
            (60000, "unshelve", "deadman", "normal", "normal"),
            tr(60000, "normal", "fault", rule="deadman"),
            (60000, "unshelve", "", "normal", "normal"),
        ],
        params={"expected_interval_s": 10},
        actions=[{"action": "shelve", "target": "s1", "ts_ms": 1000, "until_ts_ms": 60000}],
    ),
    Case(
        "per-sensor alarm settings from registry params override the rule's",
        levels([2, 2, 0, 0]),
        [tr(1000, "normal", "yellow"), tr(3000, "yellow", "normal")],
        params={"alarm": {"raise_readings": 2, "raise_window": 2, "echo": {"clear_readings": 2}}},
    ),
]


def case_named(prefix: str) -> Case:
    return next(c for c in CASES if c.name.startswith(prefix))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_lifecycle_sequence(case: Case) -> None:
    got = summary(run_whole(case))
    assert got == case.expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_one_reading_per_call_with_restarts_changes_nothing(case: Case) -> None:
    whole = run_whole(case)
    assert [a.alert_id for a in run_one_by_one(case)] == [a.alert_id for a in whole]


def test_alert_fields_ids_and_reasons() -> None:
    alerts = run_whole(case_named("latched, acknowledged while"))
    for a in alerts:
        assert a.config_version == "cfg-1" and a.sensor_id == "s1" and a.site == "site-1"
        assert a.rule in a.reason and a.sensor_id in a.reason
        assert Alert.model_validate_json(a.model_dump_json()) == a
    assert "acknowledged by an operator" in alerts[1].reason
    deadman = run_whole(case_named("deadman: 1 ms later"))
    assert deadman[0].channel.value == "sensor_fault" and deadman[0].value == 30.0
    assert "no reading at site-1 for 30 s (expected every 10 s, fault after 3×)" in deadman[0].reason
    esc = run_whole(case_named("escalation over time"))
    assert "held at yellow for 10 s: escalated one level; yellow → orange" in esc[1].reason


def test_ack_by_alert_id_matches_the_latest_or_opening_alert_of_the_pair() -> None:
    eng = engine_for(Case("x", [], [], alarm={"clear_mode": "latched"}))
    s1, s2 = eng.registry.index["s1"], eng.registry.index["s2"]
    alerts, state = eng.process(eng.init_state(), [s1, s2, s1], [0, 0, 1000], [2.0, 3.0, 3.0])
    opened = next(a for a in alerts if a.sensor_id == "s1" and a.level == "yellow")
    acked, state = eng.apply_actions(
        state, [OperatorAction(action="ack", target=opened.alert_id, ts_ms=2000, by="carol")]
    )
    assert [(a.sensor_id, a.event.value) for a in acked] == [("s1", "ack")]
    unknown = OperatorAction(action="ack", target="f" * 64, ts_ms=3000)
    out = eng.evaluate(state, [], [], np.empty((0, 4)), [unknown])
    assert out.alerts == [] and out.unmatched_actions == (unknown,)


def test_actions_apply_after_the_readings_stamped_at_or_before_them() -> None:
    case = Case("x", [], [])
    eng = engine_for(case)
    s1 = eng.registry.index["s1"]
    shelve = OperatorAction(action="shelve", target="s1", ts_ms=1000)
    alerts, _ = eng.process(eng.init_state(), [s1, s1, s1], [2000, 1000, 0], [3.0, 2.0, 0.0], [shelve])
    assert summary(alerts) == [tr(1000, "normal", "yellow"), (1000, "shelve", "", "yellow", "yellow")]


def test_agreement_of_two_rules_of_one_sensor_raises_both_one_level() -> None:
    reg = tiny_registry(("lift-1", "elevator_status"))
    rules = [
        echo_rule("a", ("elevator_status",), "speed_mps"),
        echo_rule("b", ("elevator_status",), "door_open"),
    ]
    eng = Engine(reg, rules=rules, lifecycle=LifecycleConfig(agreement=AgreementSettings(at_level=3)))
    vals = [[3, 0, 0, 0], [3, 3, 0, 0], [3, 0, 0, 0], [0, 0, 0, 0]]
    alerts, _ = eng.process(eng.init_state(), [0] * 4, [0, 1000, 2000, 3000], np.array(vals, float))
    assert summary(alerts) == [
        (0, "transition", "a", "normal", "orange"),
        (1000, "transition", "a", "orange", "red"),
        (1000, "transition", "b", "normal", "red"),
        (2000, "transition", "a", "red", "orange"),
        (2000, "transition", "b", "red", "normal"),
        (3000, "transition", "a", "orange", "normal"),
    ]
    assert "2 rules of this sensor at ≥ orange: a, b" in alerts[1].reason


def test_rule_alarm_defaults_apply_and_config_overrides_them() -> None:
    from detectors.lifecycle import AlarmSettings

    reg = tiny_registry(("s1", "tank_level"))
    rule = echo_rule(alarm_defaults=AlarmSettings(escalate_after_ms=(0, 10 * S, 0)))
    eng = Engine(reg, rules=[rule])
    alerts, _ = eng.process(eng.init_state(), [0, 0], [0, 10001], [2.0, 2.0])
    assert summary(alerts) == [tr(0, "normal", "yellow"), tr(10000, "yellow", "orange")]
    off = Engine(
        reg, rules=[rule], lifecycle=LifecycleConfig(rules={"echo": {"escalate_after_ms": {"yellow": 0}}})
    )
    alerts, _ = off.process(off.init_state(), [0, 0], [0, 10001], [2.0, 2.0])
    assert summary(alerts) == [tr(0, "normal", "yellow")]


def test_snapshot_mid_lifecycle_continues_identically() -> None:
    case = Case(
        "x",
        levels([0, 2, 0, 2, 2, 3, 3, 0, 2, 0, 2, 0], step_ms=3 * S),
        [],
        alarm={
            "raise_readings": 2,
            "raise_window": 3,
            "escalate_after_ms": {"yellow": 5 * S},
            "flap_transitions": 3,
            "flap_window_ms": 20 * S,
            "flap_settle_ms": 10 * S,
        },
        actions=[{"action": "shelve", "target": "s1", "ts_ms": 10_000, "until_ts_ms": 25_000}],
        params={"expected_interval_s": 2},
    )
    eng = engine_for(case)
    r, t, v = columns(case, eng)
    acts = actions_of(case)
    whole, end = eng.process(eng.init_state(), r, t, v, acts)
    first, mid = eng.process(eng.init_state(), r[:5], t[:5], v[:5], [a for a in acts if a.ts_ms < t[5]])
    restored = engine_for(case).restore(eng.snapshot(mid))
    second, end2 = eng.process(restored, r[5:], t[5:], v[5:], [a for a in acts if a.ts_ms >= t[5]])
    assert [a.alert_id for a in first + second] == [a.alert_id for a in whole]
    assert eng.snapshot(end2) == eng.snapshot(end)


def test_process_never_mutates_the_given_state() -> None:
    case = case_named("escalation over time")
    eng = engine_for(case)
    r, t, v = columns(case, eng)
    _, state = eng.process(eng.init_state(), r[:3], t[:3], v[:3])
    before = eng.snapshot(state)
    eng.process(state, r[3:], t[3:], v[3:], [OperatorAction(action="shelve", target="site-1", ts_ms=1)])
    eng.tick(state, 10**12)
    assert eng.snapshot(state) == before
