"""Every domain rule on streams that cross its levels: one batch, one reading at a time and uneven
chunks give the same levels, scores and state; inputs are never mutated; sensors are isolated."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from detectors.base import Batch, State
from detectors.domain import DomainRule, default_rules

N_SENSORS = 4
PER_SENSOR = 80
T0 = 1_700_000_000_000


def _gas(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.clip(np.cumsum(rng.normal(0.8, 6.0, n)), 0, 100)


def _rain(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.6, rng.exponential(4.0, n), 0.0)


def _elevator(rng: np.random.Generator, n: int) -> np.ndarray:
    # runs of 5 readings at one speed band: normal, just over 1.2× or over 1.4× rated (1.75 m/s)
    band = np.repeat(rng.choice([1.0, 2.2, 2.6], size=n // 5 + 1, p=[0.5, 0.25, 0.25]), 5)[:n]
    speed = band + rng.normal(0.0, 0.03, n)
    v = np.zeros((n, 4))
    v[:, 0] = speed
    return v


def _landslide(rng: np.random.Generator, n: int) -> np.ndarray:
    rate = np.where(np.arange(n) < n // 2, 1.0, np.geomspace(1, 40, n))
    return 500 + np.cumsum(rate / 60.0) + rng.normal(0, 0.005, n)


def _pipeline(rng: np.random.Generator, n: int) -> np.ndarray:
    rate = np.repeat(rng.uniform(-2, 20, n // 10 + 1), 10)[:n]  # kPa/min, piecewise
    return 300 - np.cumsum(rate * 5 / 60) + rng.normal(0, 0.05, n)


STREAMS: dict[str, tuple[Callable[[np.random.Generator, int], np.ndarray], int, dict]] = {
    # rule name: (values, reading interval in ms, per-sensor params)
    "gas_two_stage": (_gas, 1_000, {}),
    "rainstorm": (_rain, 300_000, {}),
    "elevator_overspeed": (_elevator, 200, {}),
    "landslide_tangent_angle": (_landslide, 60_000, {"v_bar_mm_per_h": 1.0}),
    "pipeline_pressure_drop": (_pipeline, 5_000, {}),
}
RULES = {r.name: r for r in default_rules()}


def stream(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interleaved readings of N_SENSORS sensors in arrival (time) order."""
    make, every_ms, _ = STREAMS[name]
    rng = np.random.default_rng(seed)
    rows, ts, vals = [], [], []
    for s in range(N_SENSORS):
        rows.append(np.full(PER_SENSOR, s))
        ts.append(T0 + np.arange(PER_SENSOR) * every_ms + rng.integers(0, every_ms // 4, PER_SENSOR))
        vals.append(make(rng, PER_SENSOR))
    r, t, v = np.concatenate(rows), np.concatenate(ts), np.concatenate(vals)
    order = np.argsort(t, kind="stable")
    return r[order], t[order], v[order]


def cold(rule: DomainRule) -> State:
    params = STREAMS[rule.name][2]
    return rule.configure(
        rule.init_state(N_SENSORS), [params] * N_SENSORS, [f"s{i}" for i in range(N_SENSORS)]
    )


def run_cut(rule: DomainRule, cuts: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray, State]:
    """Levels and scores in arrival order, feeding the stream cut at ``cuts``."""
    r, t, v = stream(rule.name, seed)
    levels = np.zeros(r.size, dtype=np.int8)
    scores = np.zeros(r.size)
    state = cold(rule)
    for a, b in itertools.pairwise([0, *cuts, r.size]):
        order = np.lexsort((t[a:b], r[a:b]))
        out = rule.evaluate(state, Batch.of(r[a:b], t[a:b], v[a:b]))
        levels[a + order] = out.levels
        scores[a + order] = out.scores
        state = out.state
    return levels, scores, state


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_streams_cross_levels(name: str) -> None:
    levels, _, _ = run_cut(RULES[name], [])
    assert len(set(levels.tolist())) >= 3, "the test stream should exercise several levels"


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_one_batch_equals_one_reading_at_a_time_and_uneven_chunks(name: str) -> None:
    rule = RULES[name]
    n = N_SENSORS * PER_SENSOR
    whole = run_cut(rule, [])
    singles = run_cut(rule, list(range(1, n)))
    chunks = run_cut(rule, [5, 6, 77, 200, 201, 202, 290])
    for other in (singles, chunks):
        np.testing.assert_array_equal(whole[0], other[0])
        np.testing.assert_array_equal(whole[1], other[1])
        assert sorted(whole[2]) == sorted(other[2])
        for k in whole[2]:
            np.testing.assert_array_equal(whole[2][k], other[2][k], err_msg=k)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_evaluate_never_mutates_state_or_batch(name: str) -> None:
    rule = RULES[name]
    r, t, v = stream(name)
    _, _, warm = run_cut(rule, [], seed=1)
    before = {k: a.copy() for k, a in warm.items()}
    batch = Batch.of(r, t + 10**9, v)
    values_before = batch.values.copy()
    out = rule.evaluate(warm, batch)
    for k in before:
        np.testing.assert_array_equal(warm[k], before[k], err_msg=k)
        # learned columns are new arrays; the sp_* set points, never written by a batch, may be shared
        assert out.state[k] is not warm[k] or k.startswith("sp_"), k
    np.testing.assert_array_equal(batch.values, values_before)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_evaluate_in_place_gives_what_evaluate_gives(name: str) -> None:
    """The owner's path writes into the state it is given and returns it; same outputs as the pure one."""
    rule = RULES[name]
    r, t, v = stream(name)
    _, _, warm = run_cut(rule, [], seed=1)
    batch = Batch.of(r, t + 10**9, v)
    want = rule.evaluate(warm, batch)
    owned = {k: a.copy() for k, a in warm.items()}
    got = rule.evaluate_in_place(owned, batch)
    assert got.state is owned
    np.testing.assert_array_equal(got.scores, want.scores)
    np.testing.assert_array_equal(got.levels, want.levels)
    for k, a in want.state.items():
        np.testing.assert_array_equal(owned[k], a, err_msg=k)
    for k, a in want.measures.extra.items():
        np.testing.assert_array_equal(got.measures.extra[k], a, err_msg=k)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_sensor_sees_the_same_levels_with_or_without_the_others(name: str) -> None:
    rule = RULES[name]
    r, t, v = stream(name)
    both = rule.evaluate(cold(rule), Batch.of(r, t, v))
    mine = r == 2
    alone = rule.evaluate(cold(rule), Batch.of(r[mine], t[mine], v[mine]))
    np.testing.assert_array_equal(both.levels[np.sort(r) == 2], alone.levels)  # batches sort by row
    np.testing.assert_array_equal(both.scores[np.sort(r) == 2], alone.scores)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_snapshot_round_trip_continues_identically(name: str) -> None:
    rule = RULES[name]
    _, _, warm = run_cut(rule, [], seed=2)
    restored = rule.restore(rule.snapshot(warm))
    r, t, v = stream(name, seed=3)
    batch = Batch.of(r, t + 10**8, v)
    a, b = rule.evaluate(warm, batch), rule.evaluate(restored, batch)
    np.testing.assert_array_equal(a.levels, b.levels)
    np.testing.assert_array_equal(a.scores, b.scores)
