"""elevator_overspeed: |speed| / rated ≥ 1.2 (orange) or ≥ 1.4 (red), each sustained for
``sustain_readings`` consecutive readings; clears below ``clear_ratio`` 1.1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorOverspeed, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
RATED = 1.75


def status(speeds: Sequence[float]) -> np.ndarray:
    """elevator_status values in KINDS order: speed_mps, door_open, in_door_zone, occupied."""
    v = np.zeros((len(speeds), 4))
    v[:, 0] = speeds
    v[:, 3] = 1.0
    return v


def run(
    speeds: Sequence[float], params: Mapping[str, Any] | None = None, rows: Sequence[int] | None = None
) -> RuleOutput:
    rule = ElevatorOverspeed()
    rows = list(rows) if rows is not None else [0] * len(speeds)
    cap = max(rows) + 1
    state = rule.configure(rule.init_state(cap), [params or {}] * cap, [f"e{i}" for i in range(cap)])
    ts = 1_700_000_000_000 + 100 * np.arange(len(speeds))
    return rule.evaluate(state, Batch.of(rows, ts, status(speeds)))


def test_reads_the_speed_channel_only() -> None:
    rule = ElevatorOverspeed()
    assert rule.channel_index == 0 and rule.channels == 4
    v = status([2.5, 2.5])
    v[:, 1:] = 99.0  # door/zone/occupied channels are not speeds
    out = rule.evaluate(rule.init_state(1), Batch.of([0, 0], [0, 100], v))
    assert out.scores.tolist() == pytest.approx([2.5 / RATED] * 2)


@pytest.mark.parametrize(
    ("ratio", "level"),
    [(1.19, NORMAL), (1.2, ORANGE), (1.21, ORANGE), (1.39, ORANGE), (1.4, RED), (1.41, RED)],
)
def test_sustained_ratio_at_each_set_point(ratio: float, level: int) -> None:
    out = run([ratio * RATED, ratio * RATED])
    assert out.levels.tolist() == [NORMAL, level]  # the first reading alone never alarms


def test_one_reading_over_is_not_enough() -> None:
    assert run([1.5 * RATED, 1.0 * RATED, 1.5 * RATED, 1.0]).levels.tolist() == [NORMAL] * 4


def test_red_needs_its_own_sustain() -> None:
    # 1.3, 1.5, 1.5: orange sustained at the 2nd reading, red at the 3rd
    out = run([1.3 * RATED, 1.5 * RATED, 1.5 * RATED])
    assert out.levels.tolist() == [NORMAL, ORANGE, RED]


def test_alarm_holds_until_ratio_below_clear_ratio() -> None:
    speeds = [1.5, 1.5, 1.3, 1.15, 1.1, 1.0999, 1.3]
    out = run([r * RATED for r in speeds])
    assert out.levels.tolist() == [NORMAL, RED, RED, RED, RED, NORMAL, NORMAL]


def test_direction_does_not_matter() -> None:
    assert run([-1.25 * RATED, -1.25 * RATED]).levels.tolist() == [NORMAL, ORANGE]


def test_per_sensor_rated_speed_and_sustain() -> None:
    out = run([1.3, 1.3, 1.3], params={"rated_speed_mps": 1.0, "sustain_readings": 3})
    assert out.levels.tolist() == [NORMAL, NORMAL, ORANGE]


def test_non_finite_speed_neither_counts_nor_resets() -> None:
    out = run([1.3 * RATED, np.nan, 1.3 * RATED])
    assert out.levels.tolist() == [NORMAL, NORMAL, ORANGE]
    assert np.isnan(out.scores[1])


def test_sensors_are_isolated() -> None:
    out = run([1.5 * RATED, 1.0, 1.5 * RATED, 1.0], rows=[0, 1, 0, 1])
    assert out.levels.tolist() == [NORMAL, RED, NORMAL, NORMAL]


@pytest.mark.parametrize(
    "params",
    [{"rated_speed_mps": 0}, {"sustain_readings": 0}, {"sustain_readings": 1.5}, {"clear_ratio": 1.3}],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = ElevatorOverspeed()
    with pytest.raises(SensorParamError, match="lift-3"):
        rule.configure(rule.init_state(1), [params], ["lift-3"])


def test_reason() -> None:
    rule = ElevatorOverspeed()
    out = run([2.52, 2.52])
    ctx = rule.context(out.state, 0, "lift-3", "building-9", RED, NORMAL, out.measures, 1)
    reason = rule.describe(ctx)
    assert reason.startswith("speed 1.44 × rated at building-9 ≥ red overspeed 1.4 × rated by 0.04 × rated")
    assert "car speed 2.52 m/s, rated 1.75 m/s" in reason and "2 consecutive readings" in reason
