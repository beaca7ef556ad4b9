"""Data-quality faults go through stage B of the alarm lifecycle like every other pair: shelve and
maintenance silence them (and announce what changed when they end), acknowledgements are recorded,
flapping is suppressed when configured, and the pairs' state survives a snapshot. Exact sequences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from detectors.engine import Engine, EngineState
from detectors.lifecycle.settings import LifecycleConfig
from detectors.lifecycle.testing import echo_rule, tiny_registry
from riskstream.schemas import ActionKind, Alert, OperatorAction

S = 1000
MIN = 60 * S
OK, BAD = 0.5, 130.0  # tank_level span is 0..125 %: 130 fails the QARTOD gross range test


def engine(lifecycle: LifecycleConfig | None = None) -> Engine:
    return Engine(
        tiny_registry(("s1", "tank_level", {}), ("s2", "tank_level", {})),
        "cfg-1",
        rules=[echo_rule()],
        lifecycle=lifecycle,
    )


def feed(
    eng: Engine,
    state: EngineState,
    readings: list[tuple[int, str, float]],
    actions: list[OperatorAction] = (),  # type: ignore[assignment]
) -> tuple[list[Alert], EngineState]:
    rows = np.array([eng.registry.index[s] for _, s, _ in readings], dtype=np.int32)
    ts = np.array([t for t, _, _ in readings], dtype=np.int64)
    values = np.array([v for _, _, v in readings])
    return eng.process(state, rows, ts, values, actions)


def seen(alerts: list[Alert]) -> list[tuple[int, str, str, str, str, str]]:
    return [(a.ts_ms, a.sensor_id, a.rule, a.event.value, a.previous_level, a.level) for a in alerts]


def act(
    kind: ActionKind, target: str, ts_ms: int, until_ts_ms: int | None = None, **kw: Any
) -> OperatorAction:
    return OperatorAction(action=kind, target=target, ts_ms=ts_ms, until_ts_ms=until_ts_ms, **kw)


GR = "qartod_gross_range"


def test_maintenance_silences_faults_and_announces_the_state_when_it_ends() -> None:
    eng = engine()
    st = eng.init_state()
    alerts, st = feed(
        eng,
        st,
        [(0, "s1", OK), (0, "s2", OK), (1 * MIN, "s1", BAD), (1 * MIN, "s2", BAD), (2 * MIN, "s1", OK)],
        [act(ActionKind.MAINTENANCE, "s1", 30 * S, until_ts_ms=5 * MIN, by="tech")],
    )
    # s1 is in maintenance: its fault and recovery are silent; s2 is not. The action is recorded on
    # s1's hazard pair; its check pairs at normal take it without an alert each
    assert seen(alerts) == [
        (30 * S, "s1", "echo", "maintenance", "normal", "normal"),
        (1 * MIN, "s2", GR, "transition", "normal", "fault"),
    ]
    # a fault still open when the window ends is announced when it ends
    alerts, st = feed(eng, st, [(4 * MIN, "s1", BAD), (6 * MIN, "s1", BAD)])
    assert seen(alerts) == [
        (5 * MIN, "s1", "echo", "unshelve", "normal", "normal"),
        (5 * MIN, "s1", GR, "transition", "normal", "fault"),
    ]


def test_a_fault_that_cleared_during_the_shelve_is_not_announced() -> None:
    """Shelved at normal, faulted and recovered while shelved, unshelved at normal: nothing to say."""
    eng = engine()
    st = eng.init_state()
    alerts, st = feed(
        eng,
        st,
        [(0, "s1", OK), (1 * MIN, "s1", BAD), (2 * MIN, "s1", OK)],
        [act(ActionKind.SHELVE, "s1", 30 * S, until_ts_ms=10 * MIN)],
    )
    assert [x for x in seen(alerts) if x[2] == GR] == []
    alerts, st = feed(eng, st, [(3 * MIN, "s1", OK)], [act(ActionKind.UNSHELVE, "s1", 3 * MIN)])
    assert [x for x in seen(alerts) if x[2] == GR] == []


def test_acknowledging_a_fault_by_its_alert_id_is_recorded_on_the_stream() -> None:
    eng = engine()
    alerts, st = feed(eng, eng.init_state(), [(0, "s1", OK), (1 * MIN, "s1", BAD)])
    fault = next(a for a in alerts if a.rule == GR)
    alerts, st = eng.apply_actions(st, [act(ActionKind.ACK, fault.alert_id, 2 * MIN, by="op")])
    assert seen(alerts) == [(2 * MIN, "s1", GR, "ack", "fault", "fault")]
    # acknowledging the sensor reaches its open fault only, not its checks that are normal
    alerts, st = eng.apply_actions(st, [act(ActionKind.ACK, "s1", 3 * MIN)])
    assert [x[2] for x in seen(alerts)] == [GR]


def test_flapping_faults_are_reported_once_when_configured() -> None:
    cfg = LifecycleConfig(
        rules={GR: {"flap_transitions": 4, "flap_window_ms": 10 * MIN, "flap_settle_ms": 5 * MIN}}
    )
    eng = engine(cfg)
    values = [OK, BAD, OK, BAD, OK, BAD, OK]
    readings = [(k * MIN, "s1", v) for k, v in enumerate(values)]
    alerts, st = feed(eng, eng.init_state(), readings)
    assert [x for x in seen(alerts) if x[2] == GR] == [
        (1 * MIN, "s1", GR, "transition", "normal", "fault"),
        (2 * MIN, "s1", GR, "transition", "fault", "normal"),
        (3 * MIN, "s1", GR, "transition", "normal", "fault"),
        (4 * MIN, "s1", GR, "flapping", "fault", "normal"),
    ]
    # settled for 5 min at normal after the last change (6 min): nothing more to announce
    alerts, st = feed(eng, st, [(12 * MIN, "s1", OK)])
    assert [x for x in seen(alerts) if x[2] == GR] == []


def test_without_actions_the_fault_stream_is_the_transitions() -> None:
    eng = engine()
    alerts, _ = feed(eng, eng.init_state(), [(0, "s1", OK), (1 * MIN, "s1", BAD), (2 * MIN, "s1", OK)])
    assert seen(alerts) == [
        (1 * MIN, "s1", GR, "transition", "normal", "fault"),
        (2 * MIN, "s1", GR, "transition", "fault", "normal"),
    ]
    assert "QARTOD gross range" in alerts[0].reason and alerts[0].value == BAD


def test_a_fault_open_when_shelved_is_recorded_and_held_back() -> None:
    eng = engine()
    alerts, st = feed(eng, eng.init_state(), [(0, "s1", OK), (1 * MIN, "s1", BAD)])
    alerts, st = feed(eng, st, [(3 * MIN, "s1", OK)], [act(ActionKind.SHELVE, "s1", 2 * MIN, 10 * MIN)])
    assert [x for x in seen(alerts) if x[2] == GR] == [(2 * MIN, "s1", GR, "shelve", "fault", "fault")]
    # the recovery while shelved is announced when the shelve expires
    alerts, st = feed(eng, st, [(11 * MIN, "s1", OK)])
    assert [x for x in seen(alerts) if x[2] == GR] == [
        (10 * MIN, "s1", GR, "unshelve", "fault", "fault"),
        (10 * MIN, "s1", GR, "transition", "fault", "normal"),
    ]


def test_a_shelved_fault_pair_survives_a_snapshot() -> None:
    eng = engine()
    _, st = feed(eng, eng.init_state(), [(0, "s1", OK)], [act(ActionKind.SHELVE, "s1", 30 * S)])
    restored = eng.restore(eng.snapshot(st))
    alerts, _ = feed(eng, restored, [(1 * MIN, "s1", BAD)])
    assert [x for x in seen(alerts) if x[2] == GR] == []


@pytest.mark.parametrize("name", ["deadman", GR, "qartod_spike"])
def test_sensor_fault_rule_names_are_reserved(name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        Engine(tiny_registry(("s1", "tank_level", {})), "1", rules=[echo_rule(name=name)])
