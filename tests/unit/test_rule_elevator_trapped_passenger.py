"""elevator_trapped_passenger: occupied + door closed + stopped ≥ 45 s in the door zone (yellow) or ≥ 30 s
outside it (orange) [S-code firmware timers]; presence debounce 10 s; nobody appears or disappears in a
closed car; clears on door open in the door zone; rescue overdue orange at 30 min, red at 60 min."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from detectors.base import Batch
from detectors.domain import ElevatorTrappedPassenger, SensorParamError
from detectors.domain.rule import RuleOutput

NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)
T0 = 1_782_864_000_000

# (speed_mps, door_open, in_door_zone, occupied)
BOARD = (0.0, 1, 1, 1)  # door open at a floor, passenger stepping in
SHUT_IN_ZONE = (0.0, 0, 1, 1)
SHUT_OUTSIDE = (0.0, 0, 0, 1)
RIDE = (1.0, 0, 0, 1)
EMPTY_CLOSED = (0.0, 0, 1, 0)
OPEN_AT_FLOOR = (0.0, 1, 1, 1)


def run(
    times_s: Sequence[float],
    states: Sequence[tuple[float, float, float, float]],
    params: Mapping[str, Any] | None = None,
    rule: ElevatorTrappedPassenger | None = None,
) -> RuleOutput:
    rule = rule or ElevatorTrappedPassenger()
    state = rule.configure(rule.init_state(1), [params or {}], ["lift-1"])
    ts = T0 + np.round(np.asarray(times_s) * 1000).astype(np.int64)
    return rule.evaluate(state, Batch.of(np.zeros(len(ts), dtype=np.int32), ts, np.asarray(states, float)))


def trap(shut_state: tuple[float, ...], last_s: float, every_s: float = 1.0) -> tuple[list[float], list]:
    """Boarding reading at t=0 (door open, PIR on), then shut in from t=5 s up to ``last_s``."""
    times = [0.0, *np.arange(5.0, last_s, every_s).tolist(), last_s]
    return times, [BOARD] + [shut_state] * (len(times) - 1)


@pytest.mark.parametrize(
    ("last_s", "level"),
    [(49.0, NORMAL), (49.999, NORMAL), (50.0, YELLOW), (50.001, YELLOW)],  # shut in since t = 5 s
)
def test_in_zone_timer_45_s(last_s: float, level: int) -> None:
    times, states = trap(SHUT_IN_ZONE, last_s)
    out = run(times, states)
    assert out.levels[-1] == level
    assert out.levels[np.asarray(times) < 50.0].max() == NORMAL
    assert out.scores[-1] == pytest.approx(last_s - 5.0)


@pytest.mark.parametrize(("last_s", "level"), [(34.999, NORMAL), (35.0, ORANGE), (35.001, ORANGE)])
def test_outside_zone_timer_30_s_is_orange(last_s: float, level: int) -> None:
    assert run(*trap(SHUT_OUTSIDE, last_s)).levels[-1] == level


def test_release_needs_door_open_in_the_door_zone() -> None:
    times, states = trap(SHUT_OUTSIDE, 60.0, every_s=5.0)
    outside_open = (0.0, 1, 0, 1)  # door forced open between floors: still not a release
    moved_to_floor = (0.3, 0, 1, 1)  # rescuer moves the car to a floor, door still closed
    times += [65.0, 70.0, 75.0, 80.0, 85.0]
    states += [outside_open, (0.0, 0, 0, 1), moved_to_floor, SHUT_IN_ZONE, OPEN_AT_FLOOR]
    out = run(times, states)
    assert out.levels[-6:].tolist() == [ORANGE, ORANGE, ORANGE, ORANGE, ORANGE, NORMAL]
    assert out.scores[-1] == 0.0


def test_trap_that_leaves_the_door_zone_stays_orange() -> None:
    times, states = trap(SHUT_IN_ZONE, 55.0, every_s=5.0)
    times += [60.0, 65.0, 70.0]
    states += [(0.5, 0, 0, 1), (0.0, 0, 1, 1), OPEN_AT_FLOOR]  # car creeps out of the zone and back
    out = run(times, states)
    assert out.levels[-5:].tolist() == [YELLOW, YELLOW, ORANGE, ORANGE, NORMAL]


@pytest.mark.parametrize(
    ("last_s", "level"),
    [(1804.999, YELLOW), (1805.0, ORANGE), (3604.999, ORANGE), (3605.0, RED), (3900.0, RED)],
)
def test_rescue_overdue_escalation_on_event_time(last_s: float, level: int) -> None:
    # trap began at t = 5 s (door closed, car still, passenger in): 30 min → orange, 60 min → red
    out = run(*trap(SHUT_IN_ZONE, last_s, every_s=60.0))
    assert out.levels[-1] == level
    assert out.levels.max() == level


def test_escalation_from_outside_zone_orange_to_red() -> None:
    times, states = trap(SHUT_OUTSIDE, 3605.0, every_s=60.0)
    out = run(times, states)
    assert out.levels[-1] == RED
    assert sorted(set(out.levels.tolist())) == [NORMAL, ORANGE, RED]


def test_presence_must_last_the_debounce() -> None:
    # PIR sees the passenger for 9 s from boarding, then a still passenger: never confirmed
    short = [0.0, 5.0, 9.0, *np.arange(10.0, 120.0, 5.0).tolist()]
    states = [BOARD, SHUT_IN_ZONE, SHUT_IN_ZONE] + [(0.0, 0, 1, 0)] * (len(short) - 3)
    assert run(short, states).levels.max() == NORMAL
    # seen for exactly 10 s: confirmed, and the still passenger stays inside the closed car
    states = [BOARD, SHUT_IN_ZONE, SHUT_IN_ZONE, SHUT_IN_ZONE] + [(0.0, 0, 1, 0)] * (len(short) - 4)
    out = run(short, states)
    assert out.levels.max() == YELLOW
    assert out.levels[-1] == YELLOW  # PIR reads empty, but nobody can leave a closed car


def test_nobody_appears_in_a_closed_empty_car() -> None:
    # parked empty with the door closed; the PIR then flickers and even stays on for 2 minutes
    times = np.arange(0.0, 300.0, 5.0)
    occ = np.zeros(times.size)
    occ[[6, 9, 10]] = 1
    occ[20:44] = 1
    states = [(0.0, 0, 1, o) for o in occ]
    out = run(times.tolist(), states)
    assert out.levels.max() == NORMAL


def test_monitor_start_with_a_passenger_already_inside_counts() -> None:
    # cold state: nobody knows whether the door was open before, so the presence run may be an entry
    times = np.arange(0.0, 60.0, 5.0).tolist()
    assert run(times, [SHUT_IN_ZONE] * len(times)).levels[-1] == YELLOW


def test_a_long_silence_forgets_the_passenger() -> None:
    # confirmed passenger riding; then no report for 200 s (> stale_after_s 180 s); then a still,
    # closed, empty-looking car: the door may have opened meanwhile, so no trap
    ride = [0.0, 5.0, 10.0, 15.0]
    states = [BOARD, RIDE, RIDE, RIDE]
    after = np.arange(215.0, 400.0, 5.0).tolist()
    out = run(ride + after, states + [(0.0, 0, 1, 0)] * len(after))
    assert out.levels.max() == NORMAL
    # a 100 s silence keeps him: the car has stood closed since, he is still inside
    after = np.arange(115.0, 300.0, 5.0).tolist()
    out = run(ride + after, states + [(0.0, 0, 1, 0)] * len(after))
    assert out.levels.max() == YELLOW


def test_door_reopening_restarts_the_timer() -> None:
    times = [0.0, 5.0, 25.0, 40.0, 45.0, 50.0, 94.999, 95.0]
    states = [BOARD, SHUT_IN_ZONE, SHUT_IN_ZONE, SHUT_IN_ZONE, OPEN_AT_FLOOR] + [SHUT_IN_ZONE] * 3
    out = run(times, states)
    assert out.levels.tolist() == [NORMAL] * 7 + [YELLOW]  # shut 35 s, door reopens, shut again from 50 s


def test_moving_car_is_not_a_trap() -> None:
    times = np.arange(0.0, 300.0, 5.0).tolist()
    assert run(times, [BOARD] + [RIDE] * (len(times) - 1)).levels.max() == NORMAL


def test_per_sensor_timers() -> None:
    params = {"trap_in_zone_s": 20.0, "rescue_orange_s": 60.0, "rescue_red_s": 120.0}
    out = run(*trap(SHUT_IN_ZONE, 125.0, every_s=5.0), params=params)
    first = {lvl: 5.0 * int(np.argmax(out.levels >= lvl)) for lvl in (YELLOW, ORANGE, RED)}
    assert first == {YELLOW: 25.0, ORANGE: 65.0, RED: 125.0}


@pytest.mark.parametrize(
    "params",
    [
        {"trap_in_zone_s": 0},
        {"rescue_orange_s": 4000, "rescue_red_s": 3600},
        {"presence_debounce_s": -1},
        {"stopped_below_mps": 0},
        {"stale_after_s": "x"},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    rule = ElevatorTrappedPassenger()
    with pytest.raises(SensorParamError, match="lift-1"):
        rule.configure(rule.init_state(1), [params], ["lift-1"])


def test_reasons_and_alert_values() -> None:
    from detectors.engine import Engine
    from riskstream.kinds import KINDS
    from riskstream.registry import Registry, Sensor

    spec = KINDS["elevator_status"]
    reg = Registry(
        [Sensor("el-es-0007", spec.family, "elevator_status", "bldg-104", "lijia", 29.6, 106.5, "g", "", {})]
    )
    eng = Engine(reg)
    times, states = trap(SHUT_IN_ZONE, 1805.0, every_s=60.0)
    times, states = [*times, 1810.0], [*states, OPEN_AT_FLOOR]
    ts = T0 + (np.asarray(times) * 1000).astype(np.int64)
    alerts, _ = eng.process(
        eng.init_state(), np.zeros(len(ts), dtype=np.int32), ts, np.asarray(states, float)
    )
    mine = [a for a in alerts if a.rule == "elevator_trapped_passenger"]
    assert [(a.previous_level, a.level) for a in mine] == [
        ("normal", "yellow"),
        ("yellow", "orange"),
        ("orange", "normal"),
    ]
    y, o, n = mine
    assert y.reason.startswith(
        "passenger trapped 1 min at bldg-104: car stopped in the door zone (平层关人), door closed, occupied "
        "≥ in-door-zone timer 45 s by 15 s"
    )
    assert "[S-code]" in y.reason and "[rule elevator_trapped_passenger, sensor el-es-0007]" in y.reason
    assert y.value == 60.0
    assert "≥ rescue-overdue orange 30 min by 0 s" in o.reason and "96333" in o.reason
    assert o.value == 1800.0
    assert n.reason.startswith("passenger released at bldg-104 after 30 min 5 s trapped")
    assert n.value == 1805.0


def test_batch_cuts_do_not_matter() -> None:
    rng = np.random.default_rng(3)
    rule = ElevatorTrappedPassenger()
    n_cars, per = 4, 150
    rows = np.repeat(np.arange(n_cars), per)
    ts = T0 + np.tile(np.arange(per) * 5000, n_cars) + rows * 7
    v = np.zeros((rows.size, 4))
    # random dwell segments of the four typical states, some long enough to trap
    choices = np.array([BOARD, SHUT_IN_ZONE, SHUT_OUTSIDE, RIDE, EMPTY_CLOSED, OPEN_AT_FLOOR], float)
    seg = np.repeat(rng.integers(0, len(choices), rows.size // 10 + 1), 10)[: rows.size]
    v[:] = choices[seg]
    order = np.argsort(ts, kind="stable")
    rows, ts, v = rows[order], ts[order], v[order]
    cold = rule.configure(rule.init_state(n_cars), [{}] * n_cars, [f"c{i}" for i in range(n_cars)])

    def feed(cuts: list[int]) -> tuple[np.ndarray, dict]:
        levels = np.zeros(rows.size, dtype=np.int8)
        state = cold
        for a, b in itertools.pairwise([0, *cuts, rows.size]):
            out = rule.evaluate(state, Batch.of(rows[a:b], ts[a:b], v[a:b]))
            levels[a + np.lexsort((ts[a:b], rows[a:b]))] = out.levels
            state = out.state
        return levels, state

    whole, ws = feed([])
    assert whole.max() >= ORANGE
    for cuts in (list(range(1, rows.size)), [3, 50, 51, 400]):
        levels, st = feed(cuts)
        np.testing.assert_array_equal(levels, whole)
        for k in ws:
            np.testing.assert_array_equal(st[k], ws[k], err_msg=k)
