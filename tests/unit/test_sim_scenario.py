"""Scenarios: payload contract, labelled incidents that really cross their bands, files on disk.

The per-rule checks here recompute each rule's measure on the raw readings with the plainest possible
code (a polyfit, a sum, a max), independently of simulators.oracle and of the detectors.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from riskstream.kinds import KINDS
from riskstream.registry import Registry
from riskstream.schemas import READINGS_ADAPTER, BatchPayload, Family, Level, Reading
from simulators.scenario import DEFAULT_START_TS_MS, Incident, Scenario, load_incidents


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.generate()  # the default: 400 sensors, 40 min, 5 s ticks, seed 1


@pytest.fixture(scope="module")
def series(scenario: Scenario) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """sensor_id -> (ts_ms, values[:, 4]) from the published payloads themselves."""
    ts: dict[str, list[int]] = {}
    vals: dict[str, list[list[float]]] = {}
    for _, payloads in scenario.ticks():
        for p in payloads.values():
            for r in p["readings"]:
                ts.setdefault(r["sensor_id"], []).append(r["ts_ms"])
                v = list(r["values"].values()) if "values" in r else [r["value"]]
                vals.setdefault(r["sensor_id"], []).append(v + [math.nan] * (4 - len(v)))
    return {k: (np.array(ts[k]), np.array(vals[k])) for k in ts}


def test_defaults(scenario: Scenario) -> None:
    assert scenario.start_ts_ms == DEFAULT_START_TS_MS == 1_782_864_000_000  # 2026-07-01T00:00Z
    assert scenario.tick_ms == 5000 and scenario.n_ticks == 480
    assert scenario.n_readings == 480 * len(scenario.registry)


def test_payloads_follow_the_wire_contract(scenario: Scenario) -> None:
    gateways = {s.gateway_id for s in scenario.registry}
    for n_ticks, (ts_ms, payloads) in enumerate(scenario.ticks(), start=1):
        assert set(payloads) == gateways, "one payload per gateway per tick"
        seen = Counter()
        for gw, p in payloads.items():
            raw = json.dumps(p, allow_nan=False)  # finite numbers only
            batch = BatchPayload.model_validate_json(raw)
            assert batch.gateway_id == gw and batch.v == 1
            readings = READINGS_ADAPTER.validate_python(batch.readings)
            for r in readings:
                s = scenario.registry.get(r.sensor_id)
                assert s is not None and s.gateway_id == gw
                channels = KINDS[s.kind].channels
                if channels:
                    assert r.value is None and r.values is not None and tuple(r.values) == channels
                else:
                    assert r.values is None and r.value is not None
                assert ts_ms <= r.ts_ms < ts_ms + scenario.tick_ms
                seen[r.sensor_id] += 1
        assert len(seen) == len(scenario.registry) and set(seen.values()) == {1}
        if n_ticks == 3:
            break


def test_incidents_cover_every_rule_and_family(scenario: Scenario) -> None:
    incidents = scenario.expected()
    by_rule = Counter((i.rule, i.expected_level) for i in incidents)
    assert by_rule == Counter(
        {(r, lv): 1 for r, lvs in {
            "gas_two_stage": ("blue", "yellow", "orange", "red"),
            "pipeline_pressure_drop": ("blue", "yellow", "orange", "red"),
            "landslide_tangent_angle": ("yellow", "orange", "red"),
            "rainstorm": ("orange", "red"),
            "elevator_overspeed": ("orange", "red"),
        }.items() for lv in lvs}
    )  # fmt: skip
    sensors = [i.sensor_id for i in incidents]
    assert len(set(sensors)) == len(sensors), "each incident on its own sensor"
    families = {scenario.registry.get(s).family for s in sensors}  # type: ignore[union-attr]
    assert families == set(Family)
    for i in incidents:
        assert scenario.start_ts_ms <= i.start_ts_ms < i.end_ts_ms <= scenario.end_ts_ms
        assert i.description
    # a few % of each rule's sensors, never most of them
    for kinds in (("combustible_gas",), ("pipeline_pressure",), ("rain_gauge",), ("elevator_status",)):
        n_kind = sum(1 for s in scenario.registry if s.kind in kinds)
        n_inc = sum(1 for s in sensors if scenario.registry.get(s).kind in kinds)  # type: ignore[union-attr]
        assert n_inc <= 0.2 * n_kind
    slide = [scenario.registry.get(s) for s in sensors if s.startswith("gh-")]
    assert {s.kind for s in slide} == {"gnss_displacement", "crack_meter"}  # type: ignore[union-attr]


def test_no_incidents_when_asked(scenario: Scenario) -> None:
    assert Scenario(scenario.registry, with_incidents=False).expected() == []


def test_short_run_only_plans_what_fits() -> None:
    short = Scenario.generate(n_sensors=200, duration_s=600)
    rules = {i.rule for i in short.expected()}
    assert "landslide_tangent_angle" not in rules  # needs ≥ 12 min of acceleration
    assert {i.rule for i in short.expected()} >= {"gas_two_stage", "elevator_overspeed"}


def test_long_run_adds_yellow_and_blue_rainstorms() -> None:
    long = Scenario.generate(n_sensors=600, duration_s=10.5 * 3600, tick_ms=60_000)
    rain = sorted(i.expected_level for i in long.expected() if i.rule == "rainstorm")
    assert rain == ["blue", "orange", "red", "yellow"]


def _window(series: dict, inc: Incident) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts, vals = series[inc.sensor_id]
    inside = (ts >= inc.start_ts_ms) & (ts <= inc.end_ts_ms)
    return ts, vals, inside


def _slope_per_s(ts: np.ndarray, x: np.ndarray) -> float:
    return float(np.polyfit((ts - ts[0]) / 1000.0, x, 1)[0])


def test_each_incident_crosses_its_band(scenario: Scenario, series: dict) -> None:
    reg = scenario.registry
    for inc in scenario.expected():
        s = reg.get(inc.sensor_id)
        assert s is not None
        ts, vals, inside = _window(series, inc)
        x = vals[:, 0]
        outside = ~inside
        p = s.params
        lv = inc.level
        if inc.rule == "gas_two_stage":
            pre, first, second = (
                p["prealarm_ratio"] * p["first_alarm_lel"],
                p["first_alarm_lel"],
                p["second_alarm_lel"],
            )
            bands = {Level.BLUE: (pre, first), Level.YELLOW: (first, second), Level.ORANGE: (second, 100),
                     Level.RED: (second, 100)}  # fmt: skip
            lo, hi = bands[lv]
            assert lo + 2 < x.max() < hi - 2, inc
            above = x >= second
            rising = np.r_[False, x[1:] > x[:-1]]
            if lv == Level.RED:
                assert (above & rising).any(), "red needs a rising reading at/above the 2nd alarm"
            else:
                assert not (above & rising).any(), "orange must never rise at/above the 2nd alarm"
            assert x[outside].max() < pre / 2
        elif inc.rule == "rainstorm":
            total = x[inside].sum()
            # the whole burst falls within 3 h: 3 h sum = total
            assert inc.end_ts_ms - inc.start_ts_ms <= 3 * 3600 * 1000
            if lv == Level.RED:
                assert total >= p["red_3h_mm"] + 10
            else:
                assert p["orange_3h_mm"] + 10 <= total <= p["red_3h_mm"] - 10
        elif inc.rule == "elevator_overspeed":
            ratio = x / p["rated_speed_mps"]
            over = {Level.ORANGE: p["orange_ratio"], Level.RED: p["red_ratio"]}[lv]
            run = np.convolve(ratio >= over, np.ones(2, dtype=int), mode="valid")
            assert run.max() == 2, "two consecutive readings above the level's ratio"
            if lv == Level.ORANGE:
                assert ratio.max() < p["red_ratio"] - 0.05
            assert ratio[outside].max() <= 1.05 + 1e-9
        elif inc.rule == "landslide_tangent_angle":
            # full fit window inside the plateau: the 2nd third of the incident
            span = inc.end_ts_ms - inc.start_ts_ms
            mid = (ts >= inc.start_ts_ms + span * 0.35) & (ts <= inc.start_ts_ms + span * 0.65)
            v = _slope_per_s(ts[mid], x[mid]) * 3600
            alpha = math.degrees(math.atan(v / p["v_bar_mm_per_h"]))
            bands = {Level.YELLOW: (55, 80), Level.ORANGE: (80, 85), Level.RED: (85, 90)}
            lo, hi = bands[lv]
            assert lo + 1 < alpha < hi - 0.5, (inc, alpha)
            for calm in (ts < inc.start_ts_ms, ts > inc.end_ts_ms):  # constant velocity around it
                if calm.sum() and np.ptp(ts[calm]) >= 600_000:
                    v0 = _slope_per_s(ts[calm], x[calm]) * 3600
                    assert v0 == pytest.approx(p["v_bar_mm_per_h"], rel=0.15)
        elif inc.rule == "pipeline_pressure_drop":
            # the first minutes of the incident: a linear fall
            drop = (ts >= inc.start_ts_ms + 10_000) & (ts <= inc.start_ts_ms + 130_000)
            rate = -_slope_per_s(ts[drop], x[drop]) * 60 / p["nominal_kpa"] * 100
            bands = {Level.BLUE: (0.5, 1), Level.YELLOW: (1, 2), Level.ORANGE: (2, 5), Level.RED: (5, 100)}
            lo, hi = bands[lv]
            assert lo * 1.1 < rate < hi * 0.9, (inc, rate)
        else:
            pytest.fail(f"unknown rule {inc.rule}")


def test_write_files(tmp_path: Path) -> None:
    sc = Scenario.generate(n_sensors=60, duration_s=300)
    files = sc.write(tmp_path / "out")
    assert Registry.load(files.registry).sensors == sc.registry.sensors
    lines = files.readings.read_text().splitlines()
    assert len(lines) == files.n_readings == sc.n_readings
    parsed = [Reading.model_validate_json(line) for line in lines[:500]]
    assert parsed[0].ts_ms >= sc.start_ts_ms and parsed[0].v == 1
    assert load_incidents(files.incidents) == sc.expected()
    meta = json.loads(files.scenario.read_text())
    assert meta["n_readings"] == sc.n_readings and meta["seed"] == sc.seed
    # the files hold exactly what the ticks publish
    published = [r for _, ps in sc.ticks() for p in ps.values() for r in p["readings"]]
    assert sorted(json.dumps(r, sort_keys=True) for r in published) == sorted(
        json.dumps(json.loads(line), sort_keys=True) for line in lines
    )
