"""The engine's in-place path gives exactly what its pure path gives.

``Engine.evaluate(state, ...)`` never touches the state it is given; ``Engine.evaluate(state, ...,
in_place=True)`` (what replay and the stream worker run) writes the new state into the owner's arrays.
Fed the same batches in lockstep, the two must give the same alerts (every field, same order), the same
per-rule scores and levels, and the same new state, array by array, on the default scenario (default and
busy alarm lifecycle, operator actions, idle ticks) and on every family's labelled suite
(``simulators/suites``); the pure path must leave its input untouched.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import pytest

from detectors.engine import Engine, EngineState
from detectors.lifecycle import AgreementSettings, DeadmanSettings, LifecycleConfig
from riskstream.schemas import ActionKind, Alert, OperatorAction
from simulators.scenario import Scenario
from simulators.suites import elevator, gas_pipeline, geohazard, hazchem, rainfall
from simulators.suites.harness import LabelledRun

BUSY = LifecycleConfig(
    alarm={
        "raise_readings": 2,
        "raise_window": 3,
        "clear_levels": {"orange": "yellow", "red": "orange"},
        "clear_hold_ms": 10_000,
        "escalate_after_ms": {"yellow": 600_000, "orange": 600_000},
        "deescalate_step_ms": 60_000,
        "flap_transitions": 4,
        "flap_window_ms": 600_000,
        "flap_settle_ms": 120_000,
    },
    deadman=DeadmanSettings(learn_interval=True, factor=3.0),
    agreement=AgreementSettings(at_level=2),
)


def assert_engine_states_equal(got: EngineState, want: EngineState) -> None:
    """Every array of both states equal (dtype, shape, values; NaN equal to NaN), same metadata."""
    assert (got.max_ts_ms, got.n_sensors, got.identity_fingerprint, got.params_fingerprint) == (
        want.max_ts_ms,
        want.n_sensors,
        want.identity_fingerprint,
        want.params_fingerprint,
    )
    parts = [
        ("rule", got.rules, want.rules),
        ("alarm", got.alarms, want.alarms),
        ("sensor", {"-": got.sensors}, {"-": want.sensors}),
    ]
    for part, have, expect in parts:
        assert set(have) == set(expect), part
        for name in expect:
            assert set(have[name]) == set(expect[name]), (part, name)
            for col, a in expect[name].items():
                b = have[name][col]
                assert b.dtype == a.dtype and b.shape == a.shape, (part, name, col)
                np.testing.assert_array_equal(b, a, err_msg=f"{part} {name} {col}")


def deep_copy(state: EngineState) -> EngineState:
    return EngineState(
        {k: {c: a.copy() for c, a in st.items()} for k, st in state.rules.items()},
        {k: {c: a.copy() for c, a in st.items()} for k, st in state.alarms.items()},
        state.max_ts_ms,
        state.n_sensors,
        state.identity_fingerprint,
        state.params_fingerprint,
        {c: a.copy() for c, a in state.sensors.items()},
    )


def dumped(alerts: Sequence[Alert]) -> list[dict]:
    return [a.model_dump() for a in alerts]


def run_both(
    engine: Engine,
    rows: np.ndarray,
    ts_ms: np.ndarray,
    values: np.ndarray,
    cuts: Sequence[int],
    actions: dict[int, list[OperatorAction]] | None = None,
    ticks: dict[int, int] | None = None,
    check_input_every: int = 7,
    compare_states_every: int = 1,
) -> list[Alert]:
    """Both paths in lockstep over the calls ``[cuts[i], cuts[i+1])`` (with ``actions[i]``, then
    ``tick(ticks[i])``); asserts equal outputs per call and equal states every ``compare_states_every``
    calls and after the last. Every ``check_input_every``-th call also checks that the pure path left its
    input state untouched."""
    actions, ticks = actions or {}, ticks or {}
    pure, owned = engine.init_state(), engine.init_state()
    alerts: list[Alert] = []
    for i, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        acts = actions.get(i, [])
        before = deep_copy(pure) if i % check_input_every == 0 else None
        a = engine.evaluate(pure, rows[lo:hi], ts_ms[lo:hi], values[lo:hi], acts)
        b = engine.evaluate(owned, rows[lo:hi], ts_ms[lo:hi], values[lo:hi], acts, in_place=True)
        assert dumped(b.alerts) == dumped(a.alerts), f"call {i}"
        assert b.unmatched_actions == a.unmatched_actions
        assert set(b.readings) == set(a.readings)
        for name, ra in a.readings.items():
            rb = b.readings[name]
            for x, y in ((rb.index, ra.index), (rb.scores, ra.scores), (rb.levels, ra.levels)):
                np.testing.assert_array_equal(x, y, err_msg=f"call {i} rule {name}")
        if before is not None:
            assert_engine_states_equal(pure, before)  # the pure path wrote nothing it was given
        pure, owned = a.state, b.state
        alerts += a.alerts
        if i in ticks:
            ta, pure = engine.tick(pure, ticks[i])
            tb, owned = engine.tick(owned, ticks[i], in_place=True)
            assert dumped(tb) == dumped(ta), f"tick after call {i}"
            alerts += ta
        if i % compare_states_every == 0:
            assert_engine_states_equal(owned, pure)
    assert_engine_states_equal(owned, pure)
    return alerts


def scenario_columns(sc: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = list(sc.frames())
    rows = np.concatenate([f.rows for f in frames])
    ts = np.concatenate([f.ts_ms for f in frames])
    values = np.concatenate([f.values for f in frames])
    return rows, ts, values


def odd_cuts(n: int, size: int) -> list[int]:
    """Batch boundaries that do not line up with ticks (a sensor's readings span calls)."""
    return [*range(0, n, size), n]


@pytest.fixture(scope="module")
def default_scenario() -> Scenario:
    return Scenario.generate(seed=1)


def test_default_scenario_default_lifecycle(default_scenario: Scenario) -> None:
    rows, ts, values = scenario_columns(default_scenario)
    engine = Engine(default_scenario.registry)
    alerts = run_both(engine, rows, ts, values, odd_cuts(rows.size, 4_999))
    assert alerts, "the scenario's incidents must raise alerts, or the comparison proves little"


def test_default_scenario_busy_lifecycle_actions_and_ticks(default_scenario: Scenario) -> None:
    """Debounce, hysteresis, escalation, flapping, learned deadman, agreement, acks, shelving, idle ticks."""
    sc = default_scenario
    rows, ts, values = scenario_columns(sc)
    engine = Engine(sc.registry, lifecycle=BUSY)
    cuts = odd_cuts(rows.size, 7_919)
    incidents = sc.expected()
    assert len(incidents) >= 3
    first, second, third = incidents[:3]
    site = sc.registry.sensors[sc.registry.index[second.sensor_id]].site or second.sensor_id

    def act(kind: ActionKind, target: str, at: int, until: int | None = None) -> OperatorAction:
        return OperatorAction(action=kind, target=target, ts_ms=at, until_ts_ms=until, by="test")

    def call_of(t: int) -> int:
        return max(int(np.searchsorted(ts[np.array(cuts[1:]) - 1], t)), 0)

    mid = lambda inc: (inc.start_ts_ms + inc.end_ts_ms) // 2  # noqa: E731
    wanted = [
        act(ActionKind.ACK, first.sensor_id, mid(first)),
        act(ActionKind.SHELVE, site, mid(second), mid(second) + 900_000),
        act(ActionKind.MAINTENANCE, third.sensor_id, third.start_ts_ms - 5_000, third.end_ts_ms),
        act(ActionKind.UNSHELVE, third.sensor_id, mid(third)),
        act(ActionKind.ACK, "0" * 64, mid(third)),  # matches no alert: unmatched
    ]
    actions: dict[int, list[OperatorAction]] = {}
    for a in wanted:
        actions.setdefault(min(call_of(a.ts_ms), len(cuts) - 2), []).append(a)
    # a silent spell mid-run: event time jumps past every deadman deadline and escalation timer
    ticks = {len(cuts) // 2: int(ts[cuts[len(cuts) // 2 + 1] - 1]) + 3_600_000}
    alerts = run_both(engine, rows, ts, values, cuts, actions, ticks)
    events = {a.event.value for a in alerts}
    assert {"transition", "ack", "shelve", "maintenance"} <= events, events
    assert any(a.channel.value == "sensor_fault" for a in alerts)


SUITES = {
    "elevator": elevator,
    "gas_pipeline": gas_pipeline,
    "geohazard": geohazard,
    "hazchem": hazchem,
    "rainfall": rainfall,
}


def _suite_runs(name: str) -> list[LabelledRun]:
    module = SUITES[name]
    return [*module.incident_runs(seeds=(1,)), *module.clean_runs(seeds=(11,))]


@pytest.mark.parametrize("family", sorted(SUITES))
def test_family_suites(family: str) -> None:
    """Every run of the family's suite, in event-time order, in batches of 2,000 like the harness."""
    raised = 0
    for run in _suite_runs(family):
        order = np.argsort(run.ts_ms, kind="stable")
        rows, ts, values = run.rows[order], run.ts_ms[order], run.values[order]
        engine = Engine(run.registry)
        cuts = odd_cuts(rows.size, 2_000)
        alerts = run_both(engine, rows, ts, values, cuts, check_input_every=25, compare_states_every=5)
        raised += len(alerts)
    assert raised > 0


def test_pieces_of_whole_sensors_give_the_same_as_one_piece(default_scenario: Scenario) -> None:
    """``DomainRule.evaluate_in_place`` cuts a large batch into pieces of whole sensors (cache-sized); any
    cut gives the same alerts, readings and states (rules never look at other sensors)."""
    sc = default_scenario
    rows, ts, values = scenario_columns(sc)
    whole, pieces = Engine(sc.registry), Engine(sc.registry)
    for rule in whole.rules:
        rule._chunk_rows = 1 << 30  # one piece
    for rule in pieces.rules:
        rule._chunk_rows = 7  # many small pieces (fewer than MIN_CHUNK_ROWS: only set here)
    a_state, b_state = whole.init_state(), pieces.init_state()
    for lo, hi in itertools.pairwise(odd_cuts(rows.size, 20_011)):
        a = whole.evaluate(a_state, rows[lo:hi], ts[lo:hi], values[lo:hi], in_place=True)
        b = pieces.evaluate(b_state, rows[lo:hi], ts[lo:hi], values[lo:hi], in_place=True)
        assert dumped(b.alerts) == dumped(a.alerts)
        for name, ra in a.readings.items():
            np.testing.assert_array_equal(b.readings[name].scores, ra.scores)
            np.testing.assert_array_equal(b.readings[name].levels, ra.levels)
        a_state, b_state = a.state, b.state
    assert_engine_states_equal(b_state, a_state)


def test_timer_bounds_never_change_a_result(default_scenario: Scenario) -> None:
    """The timer bounds a state carries between calls (``EngineState.hints``: no whole-column scan while
    no timer can be due) give the same alerts and states as scanning every column on every call."""
    sc = default_scenario
    rows, ts, values = scenario_columns(sc)
    engine = Engine(sc.registry, lifecycle=BUSY)
    kept, fresh = engine.init_state(), engine.init_state()
    skipped = 0
    cuts = odd_cuts(rows.size, 997)
    for i, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        a = engine.evaluate(kept, rows[lo:hi], ts[lo:hi], values[lo:hi], in_place=True)
        b = engine.evaluate(dataclasses.replace(fresh, hints={}), rows[lo:hi], ts[lo:hi], values[lo:hi])
        assert dumped(a.alerts) == dumped(b.alerts), f"call {i}"
        kept, fresh = a.state, b.state
        skipped += sum(
            1 for g in kept.hints.values() for bound in g.values() if bound >= int(ts[min(hi, rows.size - 1)])
        )
        if i % 50 == 0:
            assert_engine_states_equal(kept, fresh)
    assert_engine_states_equal(kept, fresh)
    silent = int(ts[-1]) + 3_600_000  # an idle hour: every deadline passes
    ta, kept = engine.tick(kept, silent, in_place=True)
    tb, fresh = engine.tick(dataclasses.replace(fresh, hints={}), silent)
    assert dumped(ta) == dumped(tb) and any(a.channel.value == "sensor_fault" for a in ta)
    assert skipped > 0, "the bounds must actually let calls skip scans"
