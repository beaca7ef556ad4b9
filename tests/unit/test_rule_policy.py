"""The shared level latch (persistence + hysteresis) and the per-sensor rings of the domain rules."""

from __future__ import annotations

import numpy as np

from detectors.domain.policy import LevelLatch, LevelThresholds, highest_level
from detectors.domain.ring import BinRing, PointRing

NAN = np.nan


def latch_run(
    measures: list[float],
    set_points: list[float],
    clear_points: list[float],
    sustain: float = 1,
    valid: list[bool] | None = None,
    gate: list[list[bool]] | None = None,
) -> list[int]:
    """Levels of one sensor fed ``measures`` one reading at a time."""
    state = LevelLatch.init_state(1)
    rows = np.array([0], dtype=np.int32)
    thr = LevelThresholds(np.array([set_points]), np.array([clear_points]), np.array([float(sustain)]))
    out = []
    for i, m in enumerate(measures):
        ok = np.array([True if valid is None else valid[i]])
        g = None if gate is None else np.array([gate[i]])
        out.append(int(LevelLatch.apply_step(state, rows, np.full((1, 4), m), thr, ok, g)[0]))
    return out


def test_highest_level_ignores_gaps() -> None:
    hit = np.array([[False, True, True, False], [True, False, False, False], [False] * 4, [True] * 4])
    assert highest_level(hit).tolist() == [3, 1, 0, 4]


def test_plain_thresholds_without_hysteresis_or_persistence() -> None:
    levels = latch_run([0, 1, 2, 3, 4, 2.5, 0.5], [1, 2, 3, 4], [1, 2, 3, 4])
    assert levels == [0, 1, 2, 3, 4, 2, 0]


def test_persistence_counts_consecutive_readings_per_level() -> None:
    levels = latch_run([3, 3, 1, 3, 3, 3, 4, 4, 4], [1, 2, 3, 4], [1, 2, 3, 4], sustain=3)
    # level 1's run continues through the dip to 1 (still ≥ 1); the runs of levels 2 and 3 restart
    assert levels == [0, 0, 1, 1, 1, 3, 3, 3, 4]


def test_hysteresis_holds_and_steps_down_through_held_levels() -> None:
    sp, cp = [10, 20, 30, 40], [8, 18, 28, 38]
    assert latch_run([35, 29, 28, 27.9, 17.9, 8, 7.9], sp, cp) == [3, 3, 3, 2, 1, 1, 0]


def test_nan_set_point_means_the_level_is_unused() -> None:
    assert latch_run([100, 5], [NAN, NAN, 1, 2], [NAN, NAN, 1, 2]) == [4, 4]
    assert latch_run([1.5, 0.5], [NAN, NAN, 1, 2], [NAN, NAN, 1, 2]) == [3, 0]


def test_nan_measure_clears_and_invalid_reading_changes_nothing() -> None:
    sp = [1, 2, 3, 4]
    assert latch_run([3, NAN], sp, sp) == [3, 0]
    assert latch_run([3, 0, 3], sp, sp, sustain=2, valid=[True, False, True]) == [0, 0, 3]


def test_gate_blocks_raising_but_not_holding() -> None:
    sp, cp = [1, 2, 3, 3], [1, 2, 2.5, 2.5]
    gate = [[True, True, True, False], [True, True, True, True], [True, True, True, False]]
    assert latch_run([3, 3.5, 3.2], sp, cp, gate=gate) == [3, 4, 4]


def test_set_points_hit_despite_floating_point_rounding() -> None:
    assert latch_run([2.45 / 1.75], [NAN, NAN, 1.2, 1.4], [NAN, NAN, 1.1, 1.1]) == [4]
    assert latch_run([1.4 * (1 - 1e-6)], [NAN, NAN, 1.2, 1.4], [NAN, NAN, 1.1, 1.1]) == [3]


def test_bin_ring_sums_and_moves_on() -> None:
    ring = BinRing("r", bin_ms=10, bins=6)
    state = ring.init_state(2)
    rows = np.array([0, 1], dtype=np.int32)
    ring.add(state, rows, np.array([0, 5]), np.array([1.0, 2.0]))
    ring.add(state, rows, np.array([25, 5]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(ring.trailing_sums(state, rows, (1, 3, 6)), [[3, 4, 4], [6, 6, 6]])
    ring.add(state, rows[:1], np.array([59]), np.array([5.0]))  # bin 5: bins 0..5 still held
    np.testing.assert_array_equal(ring.trailing_sums(state, rows[:1], (6,)), [[9]])
    ring.add(state, rows[:1], np.array([60]), np.array([0.0]))  # bin 6: bin 0 drops out
    np.testing.assert_array_equal(ring.trailing_sums(state, rows[:1], (6,)), [[8]])
    ring.add(state, rows[:1], np.array([5]), np.array([7.0]))  # too late for the ring: dropped
    np.testing.assert_array_equal(ring.trailing_sums(state, rows[:1], (6,)), [[8]])
    ring.add(state, rows[:1], np.array([1000]), np.array([1.0]))  # far ahead: everything cleared
    np.testing.assert_array_equal(ring.trailing_sums(state, rows[:1], (6,)), [[1]])


def test_point_ring_slope_window_and_wrap() -> None:
    ring = PointRing("p", points=5)
    state = ring.init_state(1)
    row = np.array([0], dtype=np.int32)
    for i in range(8):  # x = 2 per second; the ring keeps the last 5 readings
        ring.push(state, row, np.array([i * 1000]), np.array([2.0 * i]))
    slope, n, span = ring.window_slope(state, row, np.array([10_000]))
    assert n.tolist() == [5] and span.tolist() == [4000]
    np.testing.assert_allclose(slope, [2.0])
    _, n, span = ring.window_slope(state, row, np.array([3000]))  # window (4 s, 7 s]: readings 5, 6, 7
    assert n.tolist() == [3] and span.tolist() == [2000]
    slope, n, _ = ring.window_slope(state, row, np.array([1]))
    assert n.tolist() == [1] and np.isnan(slope[0])


def test_latch_step_equals_its_definition_sensor_by_sensor() -> None:
    """Many sensors at once (any current level and runs, NaN points, invalid readings, gates) get what
    the definition gives one sensor at a time: raised = highest level whose run reached the sustain
    count, held = highest level at or below the current one whose clear point the measure holds."""
    from detectors.domain.policy import _RUN_CAP, _lowered

    rng = np.random.default_rng(3)
    cap, m = 400, 250
    for trial in range(20):
        state = LevelLatch.init_state(cap)
        state[LevelLatch.LEVEL][:] = rng.integers(0, 5, cap)
        state[LevelLatch.RUN][:] = rng.choice([0, 1, 2, 5, int(_RUN_CAP)], (cap, 4))
        before = {k: v.copy() for k, v in state.items()}
        rows = np.sort(rng.choice(cap, m, replace=False)).astype(np.int32)
        sp = np.sort(rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], (m, 4)), axis=1)
        sp[rng.random((m, 4)) < 0.15] = NAN
        cp = sp - rng.choice([0.0, 0.5], (m, 4))
        measure = rng.choice([0.0, 1.0, 1.5, 2.5, 3.0, 4.5, 6.0, NAN], (m, 4))
        sustain = rng.choice([1.0, 2.0, 3.0], m)
        valid = rng.random(m) > 0.1
        gate = None if trial % 2 else rng.random((m, 4)) > 0.2
        got = LevelLatch.apply_step(state, rows, measure, LevelThresholds(sp, cp, sustain), valid, gate)
        low_sp, low_cp = _lowered(sp), _lowered(cp)
        for i, r in enumerate(rows.tolist()):
            cur, run = int(before[LevelLatch.LEVEL][r]), before[LevelLatch.RUN][r].tolist()
            over = [
                bool(measure[i, k] >= low_sp[i, k]) and (gate is None or bool(gate[i, k])) for k in range(4)
            ]
            new_run = [min(run[k] + 1, int(_RUN_CAP)) if over[k] else 0 for k in range(4)]
            raised = max([k + 1 for k in range(4) if new_run[k] >= sustain[i]], default=0)
            held = max([k + 1 for k in range(4) if measure[i, k] >= low_cp[i, k] and cur >= k + 1], default=0)
            want_level, want_run = (max(raised, held), new_run) if valid[i] else (cur, run)
            assert int(got[i]) == want_level
            assert int(state[LevelLatch.LEVEL][r]) == want_level
            assert state[LevelLatch.RUN][r].tolist() == want_run
        untouched = np.setdiff1d(np.arange(cap), rows)
        for k in state:
            np.testing.assert_array_equal(state[k][untouched], before[k][untouched])
