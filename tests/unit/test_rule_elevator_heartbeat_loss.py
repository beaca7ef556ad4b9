"""elevator_heartbeat_loss: no status within 3 × the 60 s firmware heartbeat [S-code] → blue; yellow when
the last status before the silence showed a passenger in a closed car; evaluated when the next reading
arrives; holds until the monitor has reported for one heartbeat interval again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorHeartbeatLoss, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW = 0, 1, 2
T0 = 1_782_864_000_000
IDLE = (0.0, 0, 1, 0)  # speed, door_open, in_door_zone, occupied
RIDING = (1.0, 0, 0, 1)


def run(
    times_s: Sequence[float], states: Sequence[Sequence[float]], params: Mapping[str, Any] | None = None
) -> RuleOutput:
    rule = ElevatorHeartbeatLoss()
    state = rule.configure(rule.init_state(1), [params or {}], ["lift-1"])
    ts = T0 + np.round(np.asarray(times_s) * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(np.zeros(len(ts), dtype=np.int32), ts, np.asarray(states, float)))


@pytest.mark.parametrize(
    ("gap_s", "level"), [(120.0, NORMAL), (179.999, NORMAL), (180.0, BLUE), (180.001, BLUE)]
)
def test_three_heartbeats(gap_s: float, level: int) -> None:
    out = run([0.0, 60.0, 60.0 + gap_s, 120.0 + gap_s], [IDLE] * 4)
    assert out.levels.tolist() == [NORMAL, NORMAL, level, NORMAL]
    assert np.isnan(out.scores[0]) and out.scores[2] == pytest.approx(gap_s)


def test_level_holds_for_one_heartbeat_after_the_silence() -> None:
    times = [0.0, 200.0, 205.0, 259.999, 260.0, 265.0]
    out = run(times, [IDLE] * len(times))
    assert out.levels.tolist() == [NORMAL, BLUE, BLUE, BLUE, NORMAL, NORMAL]
    # a second silence during the hold starts a new one
    times = [0.0, 200.0, 230.0, 430.0, 470.0, 490.0]
    out = run(times, [IDLE] * len(times))
    assert out.levels.tolist() == [NORMAL, BLUE, BLUE, BLUE, BLUE, NORMAL]


def test_silence_with_a_passenger_shut_in_is_yellow() -> None:
    assert run([0.0, 5.0, 300.0], [RIDING, RIDING, IDLE]).levels.tolist() == [NORMAL, NORMAL, YELLOW]
    # door open at the last status: the passenger could walk out
    assert run([0.0, 5.0, 300.0], [RIDING, (0.0, 1, 1, 1), IDLE]).levels[-1] == BLUE


def test_any_reading_is_a_sign_of_life() -> None:
    nan = (np.nan,) * 4
    out = run([0.0, 150.0, 300.0], [IDLE, nan, IDLE])
    assert out.levels.tolist() == [NORMAL, NORMAL, NORMAL]
    assert out.scores[1:].tolist() == [150.0, 150.0]


def test_late_reading_changes_nothing() -> None:
    rule = ElevatorHeartbeatLoss()
    state = rule.configure(rule.init_state(1), [{}], ["lift-1"])
    first = rule.evaluate(state, Batch.of([0], [T0 + 100_000], np.array([IDLE], float)))
    late = rule.evaluate(first.state, Batch.of([0], [T0], np.array([IDLE], float)))
    assert np.isnan(late.scores[0]) and late.levels[0] == NORMAL
    assert late.state["newest_ts"][0] == T0 + 100_000


def test_per_sensor_interval_and_bad_params() -> None:
    params = {"heartbeat_s": 10.0, "heartbeat_loss_factor": 2.0}
    assert run([0.0, 19.999, 39.999], [IDLE] * 3, params).levels.tolist() == [NORMAL, NORMAL, BLUE]
    rule = ElevatorHeartbeatLoss()
    for bad in ({"heartbeat_s": 0}, {"heartbeat_loss_factor": 0.5}):
        with pytest.raises(SensorParamError, match="lift-1"):
            rule.configure(rule.init_state(1), [bad], ["lift-1"])


def test_reason() -> None:
    rule = ElevatorHeartbeatLoss()
    state = rule.configure(rule.init_state(1), [{}], ["el-es-0002"])
    ts = T0 + np.array([0, 250_000, 255_000, 310_000])
    out = rule.evaluate(state, Batch.of([0] * 4, ts, np.array([RIDING, IDLE, IDLE, IDLE], float)))
    assert out.levels.tolist() == [NORMAL, YELLOW, YELLOW, NORMAL]
    up = rule.describe(rule.context(out.state, 0, "el-es-0002", "bldg-102", YELLOW, NORMAL, out.measures, 1))
    assert up.startswith(
        "no status from the lift monitor for 4 min 10 s at bldg-102 ≥ 3 × 1 min heartbeat = 3 min "
        "by 1 min 10 s"
    )
    assert "passenger in a closed car" in up and "[S-code]" in up
    down = rule.describe(
        rule.context(out.state, 0, "el-es-0002", "bldg-102", NORMAL, YELLOW, out.measures, 3)
    )
    assert "reporting regularly again at bldg-102 for 1 min: 55 s since its previous status" in down
    assert "yellow → normal" in down
