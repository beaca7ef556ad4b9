"""The fast paths of the domain rules give exactly what their plain definitions give.

Each helper is compared with a direct (slow) formulation on random inputs, including the edge cases the
fast path special-cases: no hit at all, rings that have not wrapped yet, missing history entries,
batches cut into pieces of whole sensors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from detectors.base import Batch, sequential_steps
from detectors.domain import LandslideTangentAngle, default_rules
from detectors.domain.geohazard import _ring_median
from detectors.domain.policy import highest_level
from detectors.domain.ring import NO_BIN
from detectors.domain.rule import _row_chunks


def test_highest_level_is_the_highest_true_column() -> None:
    rng = np.random.default_rng(1)
    hit = rng.random((5000, 4)) < 0.3
    hit[:16] = [[(c >> k) & 1 for k in range(4)] for c in range(16)]  # every pattern
    want = np.max(np.where(hit, np.arange(1, 5), 0), axis=1)
    got = highest_level(hit)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(highest_level(hit[:, :][::2]), want[::2])  # a strided view
    assert highest_level(np.zeros((0, 4), dtype=bool)).shape == (0,)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_row_chunks_cut_at_sensor_boundaries(size: int) -> None:
    rng = np.random.default_rng(size)
    rows = np.sort(rng.integers(0, 40, 300)).astype(np.int32)
    rows[100:180] = rows[100]  # one sensor with many readings
    rows = np.sort(rows)
    cuts = _row_chunks(rows, size)
    assert cuts[0] == 0 and cuts[-1] == rows.size
    assert all(a < b for a, b in itertools.pairwise(cuts))
    for c in cuts[1:-1]:
        assert rows[c - 1] != rows[c]  # never inside a sensor's readings


def test_one_reading_per_sensor_is_one_step() -> None:
    batch = Batch.of([5, 1, 3], [10, 20, 30], [1.0, 2.0, 3.0])
    steps = sequential_steps(batch)
    assert len(steps) == 1
    np.testing.assert_array_equal(steps[0], np.arange(3))
    two = sequential_steps(Batch.of([1, 1, 2], [10, 20, 30], [1.0, 2.0, 3.0]))
    assert [s.tolist() for s in two] == [[0, 2], [1]]


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[0], np.nan)
    for i, row in enumerate(a):
        fin = row[np.isfinite(row)]
        if fin.size:
            out[i] = np.median(fin)
    return out


@pytest.mark.parametrize("full", [False, True])
def test_ring_median_is_the_median_of_the_values_written(full: bool) -> None:
    rng = np.random.default_rng(3)
    cap, slots = 200, 16
    ring = np.full((cap, slots), np.nan)
    count = rng.integers(slots if full else 0, 3 * slots if full else slots, cap)
    for r in range(cap):
        for k in range(int(count[r])):
            ring[r, k % slots] = rng.normal()
    rows = rng.permutation(cap)[:150].astype(np.int32)
    np.testing.assert_array_equal(_ring_median(ring, rows, count[rows]), _nanmedian_rows(ring[rows]))


def test_lagged_velocity_is_the_newest_entry_of_lag_two_or_more() -> None:
    rule = LandslideTangentAngle()
    h = rule.params.history_slots
    rng = np.random.default_rng(4)
    state = rule.init_state(300)
    hb = rng.integers(100, 400, 300).astype(np.int64)
    hb[:5] = NO_BIN  # never seen: no history
    for r in range(5, 300):
        for b in rng.choice(np.arange(hb[r] - 3 * h, hb[r] + 1), size=rng.integers(0, 2 * h), replace=False):
            state["ta_h_bin"][r, b % h] = b
            state["ta_h_v"][r, b % h] = rng.normal()
    rows = rng.permutation(300).astype(np.int32)
    got = rule._lagged_velocity(state, rows, hb[rows])
    bins = state["ta_h_bin"][rows]
    with np.errstate(over="ignore"):
        cand = (bins != NO_BIN) & (bins <= (hb[rows] - 2)[:, None]) & (bins > (hb[rows] - h)[:, None])
    pick = np.argmax(np.where(cand, bins, NO_BIN), axis=1)
    want = np.where(cand.any(axis=1), state["ta_h_v"][rows, pick], np.nan)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rule", default_rules(), ids=lambda r: r.name)
def test_pieces_have_a_sensible_size(rule: object) -> None:
    assert rule.chunk_rows() >= rule.MIN_CHUNK_ROWS  # type: ignore[attr-defined]


def test_configure_reads_every_sensors_params_and_names_the_first_bad_one() -> None:
    from detectors.domain import LandslideTangentAngle, SensorParamError

    rule = LandslideTangentAngle()
    params = [{}, {"margin_deg": 12, "min_points": 5.0}, {"margin_deg": np.float64(11.5)}, {"noise": "x"}]
    state = rule.configure(rule.init_state(4), params, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(state["sp_margin_deg"], [10.0, 12.0, 11.5, 10.0])
    np.testing.assert_array_equal(state["sp_min_points"], [10.0, 5.0, 10.0, 10.0])
    for bad, where in (
        ([{"margin_deg": float("nan")}, {"min_points": 2.5}, {}], "b"),  # keys in order: min_points first
        ([{"margin_deg": True}, {}, {}], "a"),
        ([{}, {}, {"min_points": 0}], "c"),
        ([{}, {"margin_deg": "12"}, {"margin_deg": float("inf")}], "b"),
    ):
        with pytest.raises(SensorParamError, match=f"sensor {where}:"):
            rule.configure(rule.init_state(3), bad, ["a", "b", "c"])


def test_recent_point_fit_equals_the_whole_ring_fit() -> None:
    """A short-window fit over the newest-stored points gives the whole-ring fit (to rounding), also with
    late readings stored out of order and rows whose window reaches older-stored points."""
    from detectors.domain.ring import PointRing

    rng = np.random.default_rng(7)
    whole, recent = PointRing("p", 64), PointRing("p", 64, recent=16)
    state = whole.init_state(400)
    t = np.full(400, 1_800_000_000_000, dtype=np.int64)
    for step in range(150):
        rows = np.flatnonzero(rng.random(400) < 0.8).astype(np.int32)
        late = rng.random(rows.size) < 0.05
        t[rows] += rng.integers(1000, 9000, rows.size)
        ts = np.where(late, t[rows] - rng.integers(10_000, 200_000, rows.size), t[rows])
        whole.push(state, rows, ts, rng.normal(size=rows.size).cumsum() + step)
    rows = np.arange(400, dtype=np.int32)
    for window in (20_000, 60_000, 400_000):
        w = np.full(400, window, dtype=np.int64)
        a, b = whole.window_slope(state, rows, w), recent.window_slope(state, rows, w)
        np.testing.assert_array_equal(b[1], a[1])
        np.testing.assert_array_equal(b[2], a[2])
        np.testing.assert_allclose(b[0], a[0], rtol=1e-9, atol=1e-12)
        # one sensor alone gets exactly what it gets in the whole batch
        for r in (0, 17, 399):
            one = recent.window_slope(state, rows[r : r + 1], w[r : r + 1])
            np.testing.assert_array_equal(one[0], b[0][r : r + 1])


def _fit_fields(fit: object) -> list[np.ndarray]:
    return [getattr(fit, f) for f in ("slope", "sigma_slope", "points", "span_ms", "t_mean_s")]


def test_fit_memos_hold_exactly_what_a_recomputation_gives() -> None:
    """Fits read from the older bins' memos equal fits recomputed from the bins (memos cleared), equal a
    sensor fitted alone, equal the fit of the same rows without memos; with late readings, width changes
    and sensors never seen."""
    from detectors.domain.geohazard_fit import FitBins

    windows = ((0, 4), (4, 4), (0, 2), (2, 2))
    memo, plain = FitBins("f", 8, windows=windows), FitBins("f", 8)
    rng = np.random.default_rng(11)
    state = memo.init_state(300)
    t = np.full(300, 1_800_000_000_000, dtype=np.int64)
    for step in range(120):
        rows = np.flatnonzero(rng.random(300) < 0.7).astype(np.int32)
        rows = rows[rows >= 3]  # rows 0..2 never see a reading
        t[rows] += rng.integers(200, 4000, rows.size)
        late = rng.random(rows.size) < 0.05
        ts = np.where(late, t[rows] - rng.integers(1000, 30_000, rows.size), t[rows])
        width = np.where(rows % 50 == 7, 5000 if step < 60 else 4000, 3000).astype(np.int64)  # a change
        memo.push(state, rows, ts, rng.normal(size=rows.size) + 0.01 * step, width)
        every = np.arange(300, dtype=np.int32)
        got = memo.fits(state, every, windows)
        cleared = {k: v.copy() for k, v in state.items()}
        cleared[memo.memo_top_key][:] = NO_BIN
        for a, b in zip(_fit_fields(got), _fit_fields(memo.fits(cleared, every, windows)), strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(_fit_fields(got), _fit_fields(plain.fits(state, every, windows)), strict=True):
            np.testing.assert_array_equal(a, b)
        r = int(rng.integers(0, 300))
        alone = memo.fits({k: v.copy() for k, v in state.items()}, every[r : r + 1], windows)
        for a, b in zip(_fit_fields(got), _fit_fields(alone), strict=True):
            np.testing.assert_array_equal(a[r : r + 1], b)
    assert np.isnan(got.slope[:3]).all() and (got.points[:3] == 0).all()


def test_fit_against_a_direct_least_squares_fit() -> None:
    from detectors.domain.geohazard_fit import FitBins

    bins = FitBins("f", 6, windows=((0, 6),))
    state = bins.init_state(1)
    rng = np.random.default_rng(5)
    ts = 1_800_000_000_000 + np.cumsum(rng.integers(500, 3000, 200))
    x = 0.002 * (ts - ts[0]) / 1000 + rng.normal(scale=0.1, size=ts.size) + 1000.0
    row = np.array([0], dtype=np.int32)
    for i in range(ts.size):
        bins.push(state, row, ts[i : i + 1], x[i : i + 1], np.array([10_000]))
        fit = bins.fit(state, row, 0, 6)
        top = ts[i] // 10_000
        inside = (ts[: i + 1] // 10_000) > top - 6
        if inside.sum() >= 2:
            want = np.polyfit((ts[: i + 1][inside] - ts[i]) / 1000.0, x[: i + 1][inside], 1)[0]
            np.testing.assert_allclose(fit.slope[0], want, rtol=1e-7, atol=1e-12)
            assert fit.points[0] == inside.sum()
            np.testing.assert_allclose(fit.t_mean_s[0], np.mean((ts[: i + 1][inside] - ts[i]) / 1000.0))


def test_bin_ring_memos_hold_exactly_what_a_recomputation_gives() -> None:
    """Trailing sums read from the older bins' memos equal sums recomputed (memos cleared), equal a gauge
    alone, and equal direct sums of the newest bins, with late increments and long silences."""
    from detectors.domain.ring import BinRing

    widths = (1, 3, 6, 12, 20)
    memo = BinRing("r", 1000, 12, widths=widths)
    rng = np.random.default_rng(9)
    state = memo.init_state(200)
    t = np.full(200, 1_800_000_000_000, dtype=np.int64)
    added: list[tuple[int, int, float]] = []
    for _ in range(300):
        rows = np.flatnonzero(rng.random(200) < 0.6).astype(np.int32)
        rows = rows[rows >= 2]  # rows 0, 1 never see an increment
        t[rows] += np.where(rng.random(rows.size) < 0.02, 30_000, rng.integers(50, 800, rows.size))
        ts = np.where(rng.random(rows.size) < 0.05, t[rows] - rng.integers(1000, 9000, rows.size), t[rows])
        x = np.round(rng.integers(0, 3, rows.size) * 0.1, 1)
        memo.add(state, rows, ts, x)
        added += list(zip(rows.tolist(), ts.tolist(), x.tolist(), strict=True))
        every = np.arange(200, dtype=np.int32)
        got = memo.trailing_sums(state, every, widths)
        cleared = {k: v.copy() for k, v in state.items()}
        cleared[memo.memo_head_key][:] = NO_BIN
        np.testing.assert_array_equal(got, memo.trailing_sums(cleared, every, widths))
        r = int(rng.integers(0, 200))
        alone = memo.trailing_sums({k: v.copy() for k, v in state.items()}, every[r : r + 1], widths)
        np.testing.assert_array_equal(alone, got[r : r + 1])
    # direct sums: increments of bins within (head - w, head], as long as the ring held them
    head = state[memo.head_key]
    for r in (2, 50, 199):
        for j, w in enumerate(widths):
            want = 0.0
            for row, ts_, x_ in added:
                b = ts_ // 1000
                if row == r and head[r] - min(w, 12) < b <= head[r]:
                    want += x_
            np.testing.assert_allclose(got[r, j], want, atol=1e-9)
    assert (got[:2] == 0).all()


def _configure_one_by_one(rule: object, state: dict, params: list[dict], labels: list[str]) -> dict:
    """DomainRule.configure's definition: every key in order, every sensor in row order."""
    new = {k: v.copy() for k, v in state.items()}
    for key in rule.sensor_keys:  # type: ignore[attr-defined]
        for i, p in enumerate(params):
            if p and key in p:
                new[f"sp_{key}"][i] = rule._param_value(labels[i], key, p[key])  # type: ignore[attr-defined]
    rule._check_sensor_columns(new, labels)  # type: ignore[attr-defined]
    return new


@pytest.mark.parametrize("rule", default_rules(), ids=lambda r: r.name)
@pytest.mark.parametrize("seed", range(6))
def test_configure_equals_one_sensor_at_a_time(rule: object, seed: int) -> None:
    """Sensors with their keys in any order and any subset, shared key sets, other keys, bad values."""
    from detectors.domain import SensorParamError
    from detectors.domain.rule import DomainRule

    rng = np.random.default_rng(seed)
    keys = list(rule.sensor_keys)  # type: ignore[attr-defined]
    shapes = [list(rng.permutation(keys)[: rng.integers(0, len(keys) + 1)]) for _ in range(4)]
    bad_values = [True, "1", float("nan"), float("inf"), 0.5, 0, None]
    params: list[dict] = []
    for _ in range(60):
        shape = shapes[rng.integers(0, 4)] if rng.random() < 0.8 else list(rng.permutation(keys)[:3])
        p: dict = {"unrelated": 1} if rng.random() < 0.3 else {}
        for key in shape:
            value = getattr(rule.params, key)  # type: ignore[attr-defined]
            p[key] = [value, float(value), np.float64(value)][rng.integers(0, 3)]
            if isinstance(value, int | float) and float(value).is_integer() and rng.random() < 0.5:
                p[key] = int(value)
        params.append(p if p or rng.random() < 0.5 else {})
    if seed % 2:  # bad values of one key at two sensors: the first row's raises, though the last one
        # shares its keys with the first sensor and the other's keys are its own
        key = keys[rng.integers(0, len(keys))]
        params[0] = {**params[0], key: getattr(rule.params, key)}  # type: ignore[attr-defined]
        params[-1] = {**params[0], key: bad_values[seed % len(bad_values)]}
        params[30] = {**params[30], key: bad_values[(seed + 1) % len(bad_values)], "other": 0}
    labels = [f"s{i}" for i in range(len(params))]
    outcomes = []
    for configure in (DomainRule.configure, _configure_one_by_one):
        try:
            got = configure(rule, rule.init_state(len(params)), params, labels)  # type: ignore[attr-defined]
            outcomes.append({k: v.tolist() for k, v in got.items() if k.startswith("sp_")})
        except SensorParamError as exc:
            outcomes.append(str(exc))
    assert repr(outcomes[0]) == repr(outcomes[1])


def test_take_cells_equals_two_index_fancy_indexing() -> None:
    from detectors.domain.ring import take_cells

    rng = np.random.default_rng(5)
    for points in (16, 64, 12):
        a = rng.normal(size=(300, points))
        rows = rng.choice(300, 120, replace=True).astype(np.int32)  # repeated rows too
        head = rng.integers(0, points, rows.size).astype(np.int32)
        back = head[:, None] - 1 - np.arange(16)[None, :]  # negative before wrapping
        if points & (points - 1) == 0:  # a power of two: the mask the recent fit uses is the modulo
            np.testing.assert_array_equal(back & (points - 1), back % points)
        slots = back % points
        want = a[rows[:, None], slots]
        np.testing.assert_array_equal(take_cells(a, rows, slots), want)
        np.testing.assert_array_equal(take_cells(np.asfortranarray(a), rows, slots), want)


def test_lowest_recent_reads_only_the_slots_some_row_uses() -> None:
    """The lowest of the last ``count`` readings equals the definition over the whole ring (counts from
    1 to beyond the ring, NaN readings, rings that have not wrapped, a NaN count)."""
    from detectors.domain import WellMethane

    rule = WellMethane()
    ring = rule.ring
    rng = np.random.default_rng(11)
    state = ring.init_state(200)
    rows = np.arange(200, dtype=np.int32)
    for step in range(40):
        some = np.flatnonzero(rng.random(200) < 0.7).astype(np.int32)
        x = rng.normal(size=some.size)
        x[rng.random(some.size) < 0.05] = np.nan
        ring.push(state, some, np.full(some.size, step * 1000, dtype=np.int64), x)
        for counts in (rng.integers(1, 5, 200), rng.integers(1, ring.points + 3, 200), np.full(200, 2)):
            count = counts.astype(np.float64)
            if step % 7 == 0:
                count[3] = np.nan
            back = np.arange(ring.points)
            slots = (state[ring.head_key][:, None] - 1 - back[None, :]) % ring.points
            recent = state[ring.x_key][rows[:, None], slots]
            use = back[None, :] < count[:, None]
            low = np.where(use, recent, np.inf).min(axis=1)
            want = np.where(~np.isnan(np.where(use, recent, 0.0)).any(axis=1), low, np.nan)
            np.testing.assert_array_equal(rule._lowest_recent(state, rows, count), want)


def test_all_finite_rows_equals_a_row_wise_all() -> None:
    from detectors.domain.elevator_common import _all_finite_rows

    rng = np.random.default_rng(13)
    for cols in (1, 2, 4, 5):
        v = rng.normal(size=(300, cols))
        v[rng.random(v.shape) < 0.05] = np.nan
        v[rng.random(v.shape) < 0.02] = -np.inf
        for a in (v, np.asfortranarray(v), v[::2], np.zeros((0, cols))):
            np.testing.assert_array_equal(_all_finite_rows(a), np.isfinite(a).all(axis=1))


@pytest.mark.parametrize("name", ["elevator_trapped_passenger", "elevator_door_open_moving"])
def test_elevator_step_of_the_whole_batch_equals_the_stepwise_path(name: str) -> None:
    """One reading per car (the step is the batch) gives what the same readings give when another car's
    two readings make the batch take the stepwise path."""
    rule = next(r for r in default_rules() if r.name == name)
    rng = np.random.default_rng(17)
    n = 60
    one, two = rule.init_state(n + 1), rule.init_state(n + 1)
    rows = np.arange(n, dtype=np.int32)
    for call in range(30):
        ts = call * 5000 + rng.integers(0, 1000, n).astype(np.int64)
        v = np.stack(
            [rng.choice([0.0, 0.0, 1.5], n), rng.random(n) < 0.3, rng.random(n) < 0.7, rng.random(n) < 0.5],
            axis=1,
        ).astype(np.float64)
        v[rng.random(n) < 0.03, 0] = np.nan
        got = rule.evaluate_in_place(one, Batch(rows, ts, v))
        extra_rows = np.r_[rows, n, n].astype(np.int32)
        extra = Batch(extra_rows, np.r_[ts, ts[:2]].astype(np.int64), np.r_[v, v[:2]])
        want = rule.evaluate_in_place(two, extra)
        np.testing.assert_array_equal(got.levels, want.levels[:n])
        np.testing.assert_array_equal(got.scores, want.scores[:n])
        np.testing.assert_array_equal(got.measures.per_level, want.measures.per_level[:n])
        np.testing.assert_array_equal(got.measures.valid, want.measures.valid[:n])
        for k in got.measures.extra:
            np.testing.assert_array_equal(got.measures.extra[k], want.measures.extra[k][:n])
        for k in one:
            np.testing.assert_array_equal(one[k][:n], two[k][:n])
