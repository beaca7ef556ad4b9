"""Labelled scenario suite of the elevator family, scored by :mod:`simulators.suites.harness`.

Each lift is scripted as a sequence of physical states (speed, door, door zone, PIR) that its sensor box
reports the way vendor firmware does: a status on every change and then every ``5 s`` while moving or
serviced, or only the ``60 s`` heartbeat while parked. Incidents are labelled by the physical event
injected (a passenger shut in from t₁ to t₂, a car standing between floors, a door open while the car
moves, a silent monitor, a rough ride), with the level the rule's documented set points give for that
event, never by running a detector.

Runs:

* ``status-incidents-<seed>``: busy lifts (normal trips with every hard negative below) and, per lift,
  one incident: trapped passenger in / outside the door zone (short, > 30 min and > 60 min), a still
  passenger the PIR stops seeing, an empty car stopped between floors, door open while moving (empty,
  occupied, a car creeping away from the floor), overspeed 1.25× / 1.5× rated, heartbeat loss while
  parked or with a passenger on board;
* ``ride-incidents-<seed>``: vibration sensors whose per-period peak-to-peak comes from synthetic raw
  acceleration (256 Hz, 50 Hz mains pick-up, a 10 Hz low-pass, ISO 18738 style, see
  :mod:`detectors.domain.elevator_ride`): rough trips over the pk-pk limits (z, xy, 2× z) and trips whose
  A95 alone is over its limit;
* ``status-clean-<seed>`` and ``ride-clean-<seed>``: the hard negatives only: busy lifts with door
  re-openings, passengers waiting up to 25 s in a closed car, a passenger standing still in a car with
  the door held open, PIR flicker in parked cars, re-levelling at ≤ 0.1 m/s with the door open, brief
  stops of ≤ 20 s between floors, door switches bouncing for ≤ 2 readings during travel, lifts parked
  for many minutes on 60 s heartbeats; rides with mains pick-up in the raw signal and door slams at rest.

``python -m simulators.suites.elevator`` prints the per-rule precision/recall table
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from detectors.domain.elevator_ride import report_pkpk
from riskstream.kinds import KINDS
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Family
from simulators.registry_gen import ELEVATOR_DEFAULTS, ELEVATOR_STATUS_DEFAULTS, ELEVATOR_VIBRATION_DEFAULTS
from simulators.scenario import DEFAULT_START_TS_MS
from simulators.suites.harness import Expected, LabelledRun, evaluate, table

TRAP = "elevator_trapped_passenger"
STOPPED = "elevator_stopped_outside_zone"
DOOR = "elevator_door_open_moving"
OVERSPEED = "elevator_overspeed"
VIBRATION = "elevator_ride_vibration"
HEARTBEAT = "elevator_heartbeat_loss"
RULES = (TRAP, STOPPED, DOOR, OVERSPEED, VIBRATION, HEARTBEAT)

#: the levels the incident runs are labelled with, per rule: those each rule's documentation maps the
#: physical events to (tests/quality/test_suites.py)
EXPECTED_LEVELS: dict[str, frozenset[str]] = {
    TRAP: frozenset({"yellow", "orange", "red"}),
    STOPPED: frozenset({"yellow"}),
    DOOR: frozenset({"orange", "red"}),
    OVERSPEED: frozenset({"orange", "red"}),
    VIBRATION: frozenset({"blue", "yellow", "orange"}),
    HEARTBEAT: frozenset({"blue", "yellow"}),
}

#: status every 5 s while something happens, only the 60 s heartbeat while parked
ACTIVE_EVERY_S = 5.0
PARKED_EVERY_S = 60.0
STATUS_RUN_S = 80 * 60.0
RIDE_RUN_S = 40 * 60.0
#: raw acceleration sampling (GB/T 24474.1 / ISO 18738: ≥ 256 Hz [M]) and the box's report period
FS_HZ = 256.0
REPORT_PERIOD_S = 5.0
MAINS_HUM_MPS2 = 0.15  # 50 Hz electrical pick-up amplitude on the raw accelerometer signal

Status = tuple[float, int, int, int]  # speed_mps, door_open, in_door_zone, occupied


# --- one lift's reports ------------------------------------------------------------------------------


@dataclass
class _Lift:
    """A lift's reports as it goes through physical states (event-driven: a report on every change)."""

    sensor: Sensor
    rated: float
    rng: np.random.Generator
    offset_ms: int
    t: float = 0.0
    times: list[float] = field(default_factory=list)
    states: list[Status] = field(default_factory=list)
    _next: float = 0.0
    _last: Status | None = None

    def hold(self, seconds: float, state: Status, every: float = ACTIVE_EVERY_S) -> None:
        """Stay in ``state`` for ``seconds``: a report at once if it changed, then every ``every``."""
        end = self.t + seconds
        nxt = self.t if (state != self._last or self._next <= self.t) else self._next
        while nxt < end - 1e-6:
            self.times.append(nxt)
            self.states.append(state)
            nxt += every
        self._next, self.t, self._last = nxt, end, state

    def silence(self, seconds: float) -> None:
        """The sensor box sends nothing (power cut, link down); it reports at once when it is back."""
        self.t += seconds
        self._next, self._last = self.t, None

    def travel(self, seconds: float, occ: int, ratio: float | None = None) -> None:
        """Accelerate, cruise at ``ratio`` × rated (normal: 0.97-1.03), decelerate; door closed."""
        cruise = self.rated * (ratio if ratio is not None else self.rng.uniform(0.97, 1.03))
        self.hold(3.0, (0.5 * self.rated, 0, 0, occ))
        self.hold(seconds, (cruise, 0, 0, occ))
        self.hold(3.0, (0.3 * self.rated, 0, 0, occ))

    def idle(self, seconds: float) -> None:
        self.hold(seconds, (0.0, 0, 1, 0), every=PARKED_EVERY_S if seconds > 120 else ACTIVE_EVERY_S)

    # --- normal service, with the hard negatives ------------------------------------------------------

    def trip(self) -> None:
        """One normal passenger trip, with a random hard negative now and then."""
        u = self.rng.random
        self.hold(self.rng.uniform(4, 12), (0.0, 1, 1, 1))  # boarding
        if u() < 0.15:  # door closes, someone presses the button, it re-opens
            self.hold(3.0, (0.0, 0, 1, 1))
            self.hold(self.rng.uniform(4, 10), (0.0, 1, 1, 1))
        wait = self.rng.uniform(14, 25) if u() < 0.15 else self.rng.uniform(2, 5)  # a waiting passenger
        self.hold(wait, (0.0, 0, 1, 1))
        if u() < 0.15:  # changed their mind: door opens, they leave
            self.hold(self.rng.uniform(4, 8), (0.0, 1, 1, 1))
            self.hold(self.rng.uniform(3, 6), (0.0, 1, 1, 0))
            self.hold(3.0, (0.0, 0, 1, 0))
            return
        cruise = self.rng.uniform(4, 40)
        if u() < 0.2:  # the door switch bounces for one or two readings during travel
            first = self.rng.uniform(2, max(2.5, cruise - 10))
            self.travel_with(first, (1, self.rng.uniform(1, 9)), cruise)
        elif u() < 0.1:  # a brief halt between floors (≤ 20 s), then the trip goes on
            self.travel(cruise / 2, 1)
            self.hold(self.rng.uniform(8, 20), (0.0, 0, 0, 1))
            self.travel(cruise / 2, 1)
        else:
            self.travel(cruise, 1)
        self.hold(self.rng.uniform(3, 6), (0.0, 1, 1, 1))  # arrival, door open
        if u() < 0.2:  # re-levelling with the door open, inside the door zone
            self.hold(self.rng.uniform(1, 4), (0.1, 1, 1, 1))
        self.hold(self.rng.uniform(3, 8), (0.0, 1, 1, 0))  # alighting
        self.hold(2.0, (0.0, 0, 1, 0))

    def travel_with(self, before: float, bounce: tuple[int, float], cruise: float) -> None:
        v = self.rated * self.rng.uniform(0.97, 1.03)
        self.hold(3.0, (0.5 * self.rated, 0, 0, 1))
        self.hold(before, (v, 0, 0, 1))
        self.hold(bounce[1], (v, bounce[0], 0, 1))  # ≤ 9 s: at most two reports
        self.hold(max(1.0, cruise - before), (v, 0, 0, 1))
        self.hold(3.0, (0.3 * self.rated, 0, 0, 1))

    def parked(self) -> None:
        """Parked empty with the door closed; the PIR may flicker; or a still passenger, door held open."""
        u = self.rng.random
        if u() < 0.1:
            self.hold(self.rng.uniform(60, 300), (0.0, 1, 1, 0))  # someone stands still, holding the door
            self.hold(self.rng.uniform(3, 8), (0.0, 1, 1, 1))  # moves and steps out
            self.hold(2.0, (0.0, 0, 1, 0))
            return
        length = self.rng.uniform(20, 90) if u() < 0.7 else self.rng.uniform(300, 1200)
        if u() < 0.25:  # PIR flicker (1-8 s) in the closed empty car
            first = self.rng.uniform(5, length / 2)
            self.idle(first)
            self.hold(self.rng.uniform(1, 8), (0.0, 0, 1, 1))
            self.idle(length - first)
        else:
            self.idle(length)

    def busy_until(self, until_s: float) -> None:
        while self.t < until_s:
            if self.rng.random() < 0.55:
                self.trip()
            else:
                self.parked()

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        ts = DEFAULT_START_TS_MS + self.offset_ms + np.round(np.asarray(self.times) * 1000).astype(np.int64)
        v = np.asarray(self.states, dtype=np.float64).reshape(-1, 4)
        moving = v[:, 0] > 0
        noise = 1.0 + 0.01 * self.rng.standard_normal(v.shape[0])
        v[:, 0] = np.where(moving, np.round(v[:, 0] * noise, 3), 0.0)
        return ts, v

    def ts(self, t_s: float) -> int:
        return DEFAULT_START_TS_MS + self.offset_ms + round(t_s * 1000)


# --- incidents (each returns its labels) -------------------------------------------------------------

Incident = Callable[[_Lift], list[Expected]]


def _label(lift: _Lift, rule: str, level: str, t0: float, t1: float, what: str) -> Expected:
    return Expected(lift.sensor.sensor_id, rule, level, lift.ts(t0), lift.ts(t1), what)


def _trap_level(seconds: float, outside: bool) -> str:
    """The level the documented set points give a trap of ``seconds`` (45 s / 30 s, 30 min, 60 min)."""
    sp = ELEVATOR_STATUS_DEFAULTS
    if seconds >= sp["rescue_red_s"]:
        return "red"
    if outside or seconds >= sp["rescue_orange_s"]:
        return "orange"
    return "yellow"


def trapped_in_zone(minutes: float, still: bool = False, every: float = ACTIVE_EVERY_S) -> Incident:
    def make(lift: _Lift) -> list[Expected]:
        lift.hold(lift.rng.uniform(5, 10), (0.0, 1, 1, 1))  # boards, the door closes, the car never leaves
        t0, length = lift.t, minutes * 60
        if still:  # the PIR sees the passenger for 20 s, then a motionless person
            lift.hold(20.0, (0.0, 0, 1, 1))
            lift.hold(length - 20.0, (0.0, 0, 1, 0), every=every)
        else:
            lift.hold(length, (0.0, 0, 1, 1), every=every)
        t1 = lift.t
        lift.hold(10.0, (0.0, 1, 1, 1))  # released: door open at the floor
        lift.hold(5.0, (0.0, 1, 1, 0))
        lift.hold(2.0, (0.0, 0, 1, 0))
        what = f"passenger shut in at a floor for {minutes:g} min" + (
            " (PIR loses him after 20 s)" if still else ""
        )
        return [_label(lift, TRAP, _trap_level(length, False), t0, t1, what)]

    return make


def trapped_outside_zone(minutes: float, every: float = ACTIVE_EVERY_S) -> Incident:
    def make(lift: _Lift) -> list[Expected]:
        lift.hold(lift.rng.uniform(5, 10), (0.0, 1, 1, 1))
        lift.hold(3.0, (0.0, 0, 1, 1))
        lift.travel(lift.rng.uniform(3, 10), 1)
        t0, length = lift.t, minutes * 60
        lift.hold(length, (0.0, 0, 0, 1), every=every)  # stuck between floors with the passenger
        t1 = lift.t
        lift.hold(6.0, (0.2, 0, 0, 1))  # rescuer moves the car to a floor
        lift.hold(4.0, (0.0, 0, 1, 1))
        lift.hold(10.0, (0.0, 1, 1, 1))
        lift.hold(5.0, (0.0, 1, 1, 0))
        lift.hold(2.0, (0.0, 0, 1, 0))
        what = f"car stuck between floors for {minutes:g} min with a passenger"
        return [
            _label(lift, TRAP, _trap_level(length, True), t0, t1, what),
            _label(lift, STOPPED, "yellow", t0, t1, what),
        ]

    return make


def stopped_outside_empty(lift: _Lift) -> list[Expected]:
    lift.hold(3.0, (0.0, 0, 1, 0))
    lift.travel(lift.rng.uniform(3, 10), 0)
    t0 = lift.t
    lift.hold(lift.rng.uniform(60, 300), (0.0, 0, 0, 0))
    t1 = lift.t
    lift.travel(lift.rng.uniform(3, 10), 0)
    lift.hold(2.0, (0.0, 0, 1, 0))
    return [
        _label(lift, STOPPED, "yellow", t0, t1, "empty car stopped between floors (safety circuit fault)")
    ]


def door_open_while_moving(occupied: bool) -> Incident:
    def make(lift: _Lift) -> list[Expected]:
        occ = int(occupied)
        lift.hold(6.0, (0.0, 1, 1, occ))
        lift.hold(3.0, (0.0, 0, 1, occ))
        lift.hold(3.0, (0.5 * lift.rated, 0, 0, occ))
        t0 = lift.t
        lift.hold(lift.rng.uniform(15, 30), (lift.rated * 0.6, 1, 0, occ))  # door contact bridged, door open
        t1 = lift.t
        lift.hold(5.0, (0.3 * lift.rated, 0, 0, occ))
        lift.hold(5.0, (0.0, 1, 1, occ))
        lift.hold(5.0, (0.0, 1, 1, 0))
        lift.hold(2.0, (0.0, 0, 1, 0))
        who = "a passenger inside" if occupied else "the car empty"
        return [
            _label(
                lift, DOOR, "red" if occupied else "orange", t0, t1, f"car travels with the door open, {who}"
            )
        ]

    return make


def creeping_away(lift: _Lift) -> list[Expected]:
    """Unintended car movement: the brake slips at a floor with the door open, the car creeps away."""
    lift.hold(6.0, (0.0, 1, 1, 0))
    lift.hold(4.0, (0.1, 1, 1, 0))  # still inside the door zone (looks like re-levelling)
    t0 = lift.t
    lift.hold(lift.rng.uniform(20, 40), (0.1, 1, 0, 0))
    t1 = lift.t
    lift.hold(lift.rng.uniform(60, 180), (0.0, 1, 0, 0))  # comes to rest between floors, door open
    t2 = lift.t
    lift.hold(8.0, (0.2, 0, 0, 0))
    lift.hold(2.0, (0.0, 0, 1, 0))
    return [
        _label(lift, DOOR, "orange", t0, t1, "car creeps away from the floor with the door open (UCM)"),
        _label(lift, STOPPED, "yellow", t1, t2, "after creeping, the car rests between floors"),
    ]


def overspeed(ratio: float) -> Incident:
    def make(lift: _Lift) -> list[Expected]:
        lift.hold(6.0, (0.0, 1, 1, 1))
        lift.hold(3.0, (0.0, 0, 1, 1))
        lift.hold(3.0, (0.5 * lift.rated, 0, 0, 1))
        t0 = lift.t
        lift.hold(12.0, (ratio * lift.rated, 0, 0, 1))
        t1 = lift.t
        lift.hold(3.0, (0.3 * lift.rated, 0, 0, 1))
        lift.hold(5.0, (0.0, 1, 1, 1))
        lift.hold(5.0, (0.0, 1, 1, 0))
        lift.hold(2.0, (0.0, 0, 1, 0))
        sp = ELEVATOR_DEFAULTS
        level = "red" if ratio >= sp["red_ratio"] else "orange"
        return [_label(lift, OVERSPEED, level, t0, t1, f"governor fault: car at {ratio:g}× rated for 12 s")]

    return make


def heartbeat_lost(with_passenger: bool) -> Incident:
    def make(lift: _Lift) -> list[Expected]:
        if with_passenger:  # power cut in mid-trip, the monitor goes down too
            lift.hold(6.0, (0.0, 1, 1, 1))
            lift.hold(3.0, (0.0, 0, 1, 1))
            lift.hold(5.0, (lift.rated, 0, 0, 1))
        else:
            lift.hold(10.0, (0.0, 0, 1, 0))
        t0 = lift.t
        lift.silence(lift.rng.uniform(240, 900))
        t1 = lift.t
        lift.hold(10.0, (0.0, 0, 1, 0))  # back: parked empty at a floor
        what = "monitor silent" + (
            " with a passenger in the closed car" if with_passenger else " while parked"
        )
        return [_label(lift, HEARTBEAT, "yellow" if with_passenger else "blue", t0, t1, what)]

    return make


STATUS_INCIDENTS: tuple[tuple[str, Incident], ...] = (
    ("trap-floor-3min", trapped_in_zone(3)),
    ("trap-floor-still-8min", trapped_in_zone(8, still=True)),
    ("trap-floor-40min", trapped_in_zone(40, every=PARKED_EVERY_S)),
    ("trap-floor-65min", trapped_in_zone(65, every=PARKED_EVERY_S)),
    ("trap-between-5min", trapped_outside_zone(5)),
    ("trap-between-62min", trapped_outside_zone(62, every=PARKED_EVERY_S)),
    ("stopped-between-empty", stopped_outside_empty),
    ("door-open-moving-empty", door_open_while_moving(False)),
    ("door-open-moving-occupied", door_open_while_moving(True)),
    ("creeping-away", creeping_away),
    ("overspeed-1.25", overspeed(1.25)),
    ("overspeed-1.5", overspeed(1.5)),
    ("heartbeat-parked", heartbeat_lost(False)),
    ("heartbeat-passenger", heartbeat_lost(True)),
)


# --- registries ----------------------------------------------------------------------------------------


def _sensor(sensor_id: str, kind: str, site: str, params: dict[str, float | str]) -> Sensor:
    spec = KINDS[kind]
    return Sensor(sensor_id, Family.ELEVATOR, kind, site, "lijia", 29.66, 106.55, "gw-el", spec.unit, params)


def _status_sensor(i: int, rng: np.random.Generator) -> tuple[Sensor, float]:
    rated = float(rng.choice([1.0, 1.5, 1.75, 2.5]))
    params: dict[str, float | str] = {
        **ELEVATOR_DEFAULTS,
        **ELEVATOR_STATUS_DEFAULTS,
        "rated_speed_mps": rated,
    }
    return _sensor(f"el-es-{i + 1:04d}", "elevator_status", f"bldg-{101 + i // 2}", params), rated


def _run(
    name: str, sensors: list[Sensor], cols: list[tuple[np.ndarray, np.ndarray]], labels: list[Expected]
) -> LabelledRun:
    rows = np.concatenate([np.full(ts.size, i, dtype=np.int32) for i, (ts, _) in enumerate(cols)])
    ts = np.concatenate([c[0] for c in cols])
    values = np.full((ts.size, 4), np.nan)
    at = 0
    for t, v in cols:
        values[at : at + t.size, : v.shape[1]] = v
        at += t.size
    order = np.argsort(ts, kind="stable")
    return LabelledRun(name, Registry(sensors), rows[order], ts[order], values[order], labels)


def status_run(seed: int, incidents: bool = True) -> LabelledRun:
    """One lift per incident of :data:`STATUS_INCIDENTS` (or as many clean lifts), busy before and after."""
    rng = np.random.default_rng([seed, 0xE1E])
    sensors, cols, labels = [], [], []
    for i, (_, incident) in enumerate(STATUS_INCIDENTS):
        sensor, rated = _status_sensor(i, rng)
        lift = _Lift(sensor, rated, np.random.default_rng([seed, i]), int(rng.integers(0, 1000)))
        if incidents:
            lift.busy_until(rng.uniform(60, 600))
            labels += incident(lift)
        lift.busy_until(STATUS_RUN_S)
        sensors.append(sensor)
        cols.append(lift.columns())
    return _run(f"status-{'incidents' if incidents else 'clean'}-{seed}", sensors, cols, labels)


# --- ride vibration from raw acceleration ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ride:
    """One trip of a vibration sensor: vibration amplitudes (m/s², half the pk-pk) and frequency."""

    start_s: float
    end_s: float
    z_amp: float
    xy_amp: float
    hz: float


def _raw_axis(
    rides: list[_Ride], axis: str, slams: list[float], rng: np.random.Generator, run_s: float
) -> np.ndarray:
    # one period of lead-in and lead-out, dropped after filtering: the zero-phase filter's edges
    t = np.arange(-REPORT_PERIOD_S, run_s + REPORT_PERIOD_S, 1.0 / FS_HZ)
    x = 0.002 * rng.standard_normal(t.size) + MAINS_HUM_MPS2 * np.sin(
        2 * np.pi * 50.0 * t + rng.uniform(0, 6)
    )
    for r in rides:
        on = (t >= r.start_s) & (t < r.end_s)
        ramp = np.clip(np.minimum(t[on] - r.start_s, r.end_s - t[on]), 0, 1.0)  # 1 s in and out
        amp = r.z_amp if axis == "z" else r.xy_amp
        hz = r.hz if axis == "z" else r.hz * 1.3
        wobble = 1.0 + 0.03 * np.sin(2 * np.pi * 0.2 * t[on])
        x[on] += amp * ramp * wobble * np.sin(2 * np.pi * hz * (t[on] - r.start_s))
    if axis == "z":
        for s in slams:  # door slam at rest: a 0.3 s 8 Hz burst inside one report period
            on = (t >= s) & (t < s + 0.3)
            x[on] += 0.22 * np.sin(2 * np.pi * 8.0 * (t[on] - s))
    return x


def _normal_rides(rng: np.random.Generator, run_s: float, busy_until: float | None = None) -> list[_Ride]:
    rides, t = [], rng.uniform(10, 40)
    stop = run_s - 60 if busy_until is None else busy_until
    while t < stop:
        length = rng.uniform(12, 45)
        rides.append(
            _Ride(t, t + length, rng.uniform(0.035, 0.06), rng.uniform(0.02, 0.035), rng.uniform(2, 6))
        )
        t += length + rng.uniform(25, 90)
    return rides


#: rough trips: (name, z half-amplitude, xy half-amplitude, rule level); pk-pk ≈ 2 × amplitude
ROUGH_RIDES: tuple[tuple[str, float, float, str], ...] = (
    ("z-over-max", 0.19, 0.04, "yellow"),  # ≈ 0.38 m/s² > 0.30
    ("xy-over-max", 0.05, 0.125, "yellow"),  # xy ≈ 0.25 > 0.20
    ("z-twice-max", 0.36, 0.05, "orange"),  # ≈ 0.72 ≥ 2 × 0.30
    ("z-a95-only", 0.125, 0.04, "blue"),  # ≈ 0.25: A95 over 0.20, max under 0.30
    ("xy-a95-only", 0.05, 0.085, "blue"),  # xy ≈ 0.17: A95 over 0.15, max under 0.20
)


def ride_run(seed: int, incidents: bool = True) -> LabelledRun:
    """Vibration sensors: normal rides (and door slams); one rough ride each in the incident run."""
    sensors, cols, labels = [], [], []
    params: dict[str, float | str] = dict(ELEVATOR_VIBRATION_DEFAULTS)
    for i, (name, z_amp, xy_amp, level) in enumerate(ROUGH_RIDES):
        sensor = _sensor(f"el-ev-{i + 1:04d}", "elevator_vibration", f"bldg-{201 + i}", params)
        r = np.random.default_rng([seed, 100 + i])
        rides = _normal_rides(r, RIDE_RUN_S)
        if incidents:  # replace a ride in the middle by the rough one, 30-45 s long
            k = len(rides) // 2
            start = rides[k].start_s
            rough = _Ride(start, start + r.uniform(30, 45), z_amp, xy_amp, r.uniform(2, 6))
            rides = [x for x in rides if x.end_s < start - 20 or x.start_s > rough.end_s + 20]
            rides = sorted([*rides, rough], key=lambda x: x.start_s)
            labels.append(
                Expected(
                    sensor.sensor_id,
                    VIBRATION,
                    level,
                    _period_ts(i, rough.start_s),
                    _period_ts(i, rough.end_s + REPORT_PERIOD_S),
                    f"rough ride ({name}): z ≈ {2 * z_amp:.2f}, xy ≈ {2 * xy_amp:.2f} m/s² pk-pk",
                )
            )
        slams = _slams(rides, r)
        z = report_pkpk(_raw_axis(rides, "z", slams, r, RIDE_RUN_S), FS_HZ, REPORT_PERIOD_S)[1:-1]
        xy = report_pkpk(_raw_axis(rides, "xy", slams, r, RIDE_RUN_S), FS_HZ, REPORT_PERIOD_S)[1:-1]
        ts = np.array([_period_ts(i, (k + 1) * REPORT_PERIOD_S) for k in range(z.size)], dtype=np.int64)
        sensors.append(sensor)
        cols.append((ts, np.round(np.stack([z, xy], axis=1), 3)))
    return _run(f"ride-{'incidents' if incidents else 'clean'}-{seed}", sensors, cols, labels)


def _period_ts(i: int, t_s: float) -> int:
    return DEFAULT_START_TS_MS + 37 * i + round(t_s * 1000)


def _slams(rides: list[_Ride], rng: np.random.Generator) -> list[float]:
    """Door slams in the middle of a report period, at least 10 s from any ride."""
    out = []
    for a, b in itertools.pairwise(rides):
        if b.start_s - a.end_s > 40 and rng.random() < 0.5:
            period = int((a.end_s + 15) // REPORT_PERIOD_S) + 1
            out.append(period * REPORT_PERIOD_S + 2.0)
    return out


# --- the suite ---------------------------------------------------------------------------------------


def incident_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[LabelledRun]:
    return [run for s in seeds for run in (status_run(s), ride_run(s))]


def clean_runs(seeds: tuple[int, ...] = (11, 12)) -> list[LabelledRun]:
    return [run for s in seeds for run in (status_run(s, incidents=False), ride_run(s, incidents=False))]


def suite() -> list[LabelledRun]:
    return incident_runs() + clean_runs()


def main() -> None:
    scores = evaluate(suite())
    print(table({k: v for k, v in scores.items() if k in RULES}))


if __name__ == "__main__":
    main()
