"""elevator_door_open_moving: door open AND moving (≥ 0.3 m/s in the door zone, ≥ 0.05 m/s outside it),
confirmed over ≥ 10 s and ≥ 3 consecutive readings (bad door switches, [S-code]); orange, red with a
passenger inside; clears when the door closes or the car stops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorDoorOpenMoving, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, ORANGE, RED = 0, 3, 4
T0 = 1_782_864_000_000
OPEN_MOVING = (1.0, 1, 0, 0)  # speed, door_open, in_door_zone, occupied
OPEN_MOVING_OCC = (1.0, 1, 0, 1)
TRAVEL = (1.0, 0, 0, 1)


def run(
    times_s: Sequence[float], states: Sequence[Sequence[float]], params: Mapping[str, Any] | None = None
) -> RuleOutput:
    rule = ElevatorDoorOpenMoving()
    state = rule.configure(rule.init_state(1), [params or {}], ["lift-1"])
    ts = T0 + np.round(np.asarray(times_s) * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(np.zeros(len(ts), dtype=np.int32), ts, np.asarray(states, float)))


@pytest.mark.parametrize(
    ("times", "level"),
    [
        ([0.0, 5.0, 9.999], NORMAL),  # three readings, but under 10 s
        ([0.0, 5.0, 10.0], ORANGE),  # exactly 10 s over three readings
        ([0.0, 5.0, 10.001], ORANGE),
        ([0.0, 10.0], NORMAL),  # 10 s but only two readings
        ([0.0, 10.0, 11.0], ORANGE),
    ],
)
def test_confirmation_delay_and_readings(times: list[float], level: int) -> None:
    out = run(times, [OPEN_MOVING] * len(times))
    assert out.levels[-1] == level
    assert out.levels[:-1].max() == NORMAL


def test_passenger_inside_is_red_and_clears_when_the_door_closes() -> None:
    times = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    states = [OPEN_MOVING_OCC, OPEN_MOVING_OCC, OPEN_MOVING_OCC, OPEN_MOVING, OPEN_MOVING, TRAVEL]
    assert run(times, states).levels.tolist() == [NORMAL, NORMAL, RED, ORANGE, ORANGE, NORMAL]


def test_bouncing_door_switch_during_travel_is_ignored() -> None:
    times = np.arange(0.0, 120.0, 5.0).tolist()
    door = [1, 0, 0] * 8
    door[1] = 1  # even two readings in a row
    states = [(1.2, d, 0, 1) for d in door]
    assert run(times, states).levels.max() == NORMAL


@pytest.mark.parametrize(
    ("speed", "zone", "level"),
    [
        (0.2, 1, NORMAL),  # re-levelling with the door open in the door zone: allowed
        (0.299, 1, NORMAL),
        (0.3, 1, ORANGE),  # GB 7588 re-levelling limit reached
        (0.049, 0, NORMAL),  # standing still outside the zone with the door open: not moving
        (0.05, 0, ORANGE),  # any movement outside the zone
    ],
)
def test_speed_thresholds_in_and_outside_the_door_zone(speed: float, zone: int, level: int) -> None:
    times = [0.0, 5.0, 10.0]
    assert run(times, [(speed, 1, zone, 0)] * 3).levels[-1] == level


def test_stops_clear() -> None:
    times = [0.0, 5.0, 10.0, 15.0]
    states = [OPEN_MOVING] * 3 + [(0.0, 1, 1, 0)]
    assert run(times, states).levels.tolist() == [NORMAL, NORMAL, ORANGE, NORMAL]


def test_per_sensor_confirmation_and_bad_params() -> None:
    params = {"door_confirm_s": 2.0, "door_confirm_readings": 2}
    assert run([0.0, 1.999, 2.0], [OPEN_MOVING] * 3, params).levels.tolist() == [NORMAL, NORMAL, ORANGE]
    rule = ElevatorDoorOpenMoving()
    for bad in ({"door_confirm_readings": 0}, {"relevel_max_mps": 0.01}, {"door_confirm_s": -1}):
        with pytest.raises(SensorParamError, match="lift-1"):
            rule.configure(rule.init_state(1), [bad], ["lift-1"])


def test_reason() -> None:
    rule = ElevatorDoorOpenMoving()
    state = rule.configure(rule.init_state(1), [{}], ["el-es-0009"])
    ts = T0 + np.array([0, 5_000, 12_000])
    out = rule.evaluate(state, Batch.of([0, 0, 0], ts, np.array([OPEN_MOVING_OCC] * 3, float)))
    assert out.levels.tolist() == [NORMAL, NORMAL, RED]
    text = rule.describe(rule.context(out.state, 0, "el-es-0009", "bldg-120", RED, NORMAL, out.measures, 2))
    assert text.startswith(
        "door open while moving 12 s at bldg-120 ≥ confirmation delay 10 s by 2 s over 3 readings: "
        "car at 1 m/s outside the door zone, passenger inside"
    )
    assert "[S-code]" in text and text.endswith(
        "normal → red [rule elevator_door_open_moving, sensor el-es-0009]"
    )
