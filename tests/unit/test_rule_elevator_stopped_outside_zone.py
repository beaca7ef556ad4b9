"""elevator_stopped_outside_zone: stopped outside the door zone ≥ 45 s → yellow (门区外停梯; field feedback:
30 s is too short) [S-code]; clears in the door zone or moving."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorStoppedOutsideZone, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW = 0, 1, 2
T0 = 1_782_864_000_000
STUCK = (0.0, 0, 0, 0)  # speed, door_open, in_door_zone, occupied
TRAVEL = (1.0, 0, 0, 0)
AT_FLOOR = (0.0, 0, 1, 0)


def run(
    times_s: Sequence[float], states: Sequence[Sequence[float]], params: Mapping[str, Any] | None = None
) -> RuleOutput:
    rule = ElevatorStoppedOutsideZone()
    state = rule.configure(rule.init_state(1), [params or {}], ["lift-1"])
    ts = T0 + np.round(np.asarray(times_s) * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(np.zeros(len(ts), dtype=np.int32), ts, np.asarray(states, float)))


@pytest.mark.parametrize(
    ("stuck_s", "level"),
    [(30.0, NORMAL), (44.999, NORMAL), (45.0, YELLOW), (45.001, YELLOW), (600.0, YELLOW)],
)
def test_timer_45_s(stuck_s: float, level: int) -> None:
    # travelling, then stopped outside the zone from t = 10 s
    times = [0.0, 5.0, *np.arange(10.0, 10.0 + stuck_s, 5.0).tolist(), 10.0 + stuck_s]
    states = [TRAVEL, TRAVEL] + [STUCK] * (len(times) - 2)
    out = run(times, states)
    assert out.levels[-1] == level
    assert out.scores[-1] == pytest.approx(stuck_s)


def test_thirty_second_stop_then_continuing_is_not_an_alarm() -> None:
    times = np.arange(0.0, 120.0, 5.0).tolist()
    states = [TRAVEL] * 4 + [STUCK] * 7 + [TRAVEL] * 3 + [AT_FLOOR] * (len(times) - 14)
    assert run(times, states).levels.max() == NORMAL


@pytest.mark.parametrize("after", [AT_FLOOR, TRAVEL, (0.0, 1, 1, 0)])
def test_clears_in_the_door_zone_or_moving(after: tuple[float, ...]) -> None:
    times = [*np.arange(0.0, 70.0, 5.0).tolist(), 70.0]
    out = run(times, [STUCK] * (len(times) - 1) + [after])
    assert out.levels[-2:].tolist() == [YELLOW, NORMAL]


def test_door_state_does_not_matter() -> None:
    times = np.arange(0.0, 50.0, 5.0).tolist()
    assert run(times, [(0.0, 1, 0, 1)] * len(times)).levels[-1] == YELLOW


def test_slow_creep_below_the_stop_speed_counts_as_stopped() -> None:
    times = np.arange(0.0, 50.0, 5.0).tolist()
    assert run(times, [(0.049, 0, 0, 0)] * len(times)).levels[-1] == YELLOW
    assert run(times, [(0.05, 0, 0, 0)] * len(times)).levels[-1] == NORMAL


def test_stale_gap_restarts_the_run() -> None:
    times = [0.0, 200.0, 240.0, 245.0]  # 200 s silence > stale_after_s 180 s
    assert run(times, [STUCK] * 4).levels.tolist() == [NORMAL, NORMAL, NORMAL, YELLOW]
    times = [0.0, 60.0, 120.0]  # 60 s firmware heartbeats: the stop is continuous
    assert run(times, [STUCK] * 3).levels.tolist() == [NORMAL, YELLOW, YELLOW]


def test_per_sensor_timer_and_bad_params() -> None:
    assert run([0.0, 59.999, 60.0], [STUCK] * 3, {"stopped_outside_s": 60}).levels.tolist() == [0, 0, YELLOW]
    rule = ElevatorStoppedOutsideZone()
    with pytest.raises(SensorParamError, match="stopped_outside_s > 0"):
        rule.configure(rule.init_state(1), [{"stopped_outside_s": 0}], ["lift-1"])


def test_reason() -> None:
    rule = ElevatorStoppedOutsideZone()
    state = rule.configure(rule.init_state(1), [{}], ["el-es-0003"])
    ts = T0 + np.array([0, 47_000, 50_000])
    out = rule.evaluate(state, Batch.of([0, 0, 0], ts, np.array([STUCK, STUCK, AT_FLOOR], float)))
    up = rule.describe(rule.context(out.state, 0, "el-es-0003", "bldg-111", 2, 0, out.measures, 1))
    assert up.startswith(
        "car stopped outside the door zone for 47 s at bldg-111 ≥ 45 s by 2 s, door closed: "
        "lift out of service"
    )
    assert up.endswith(
        "[S-code]; yellow [P]); normal → yellow [rule elevator_stopped_outside_zone, sensor el-es-0003]"
    )
    down = rule.describe(rule.context(out.state, 0, "el-es-0003", "bldg-111", 0, 2, out.measures, 2))
    assert "back in the door zone" in down and "yellow → normal" in down
