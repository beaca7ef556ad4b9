"""QualityChannel.run gives the same flags, fault changes and state whatever order of sensors it is
handed (the engine's kind order) and however it cuts the batch into pieces of whole sensors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from detectors.lifecycle.common import Cow
from detectors.lifecycle.testing import tiny_registry
from detectors.quality import QualityChannel, QualityResult
from detectors.quality import channel as quality_channel
from detectors.quality.channel import _open_fault, sensor_pieces

TIGHT = {"roc_limit_per_s": 0.05, "flat_suspect_n": 3, "flat_fail_n": 4, "flat_suspect_s": None}
SPECS: list[Any] = [
    ("g1", "combustible_gas", {"span_max": 60, **TIGHT}),
    ("p1", "tank_pressure", {"flat_tolerance": 0.5, "flat_fail_s": None, **TIGHT}),
    ("r1", "rain_gauge"),
    ("g2", "combustible_gas", {"spike_suspect": 1.0, "spike_fail": 3.0, **TIGHT}),
    ("l1", "tank_level", {"span_min": None}),
    ("p2", "tank_pressure", TIGHT),
    ("g3", "combustible_gas"),
]


def batches(seed: int, calls: int = 6) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Calls of mixed sensors: several readings each, repeated timestamps, NaN, stuck and wild values."""
    rng = np.random.default_rng(seed)
    # first a tank level outside its span (gross range fault) and back, every other check passing
    rows = np.array([4, 4, 4], dtype=np.int32)
    out = [(rows, np.array([0, 60_000, 120_000], dtype=np.int64), np.array([0.5, 130.0, 0.6]))]
    t0 = 180_000
    for _ in range(calls):
        n = int(rng.integers(0, 40))
        rows = rng.integers(0, len(SPECS), n).astype(np.int32)
        ts = t0 + rng.integers(0, 30, n).astype(np.int64) * 1000  # duplicates and any order
        values = np.round(rng.choice([0.0, 1.0, 5.0, 30.0, 70.0, -3.0], n) + rng.normal(0, 0.2, n), 1)
        values[rng.random(n) < 0.3] = 1.0  # stuck values for the flat line
        values[rng.random(n) < 0.1] = math.nan
        out.append((rows, ts, values))
        t0 += 30_000
    return out


def run_all(order_of: Any, piece: int, seed: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(quality_channel, "PIECE_READINGS", piece)
    reg = tiny_registry(*SPECS)
    ch = QualityChannel(reg)
    cow = Cow(ch.init_state(len(reg)), owned=True)
    seen: list[Any] = []
    for rows, ts, values in batches(seed):
        res: QualityResult = ch.run(cow, rows, ts, values, order_of(rows, ts))
        seen.append(
            (
                res.flags.tolist(),
                res.withheld.tolist(),
                res.suspect.tolist(),
                repr(res.changes),  # repr: NaN measures compare equal
                {k: repr(cow[k].tolist()) for k in cow.state()},
            )
        )
    return seen


def expected_changes(
    res: QualityResult, fault: dict[tuple[int, int], int], rows: np.ndarray, ts: np.ndarray
) -> list[tuple[int, int, int, int, int, int]]:
    """The transitions, one reading at a time: normal -> fault on a flag 3 or 4, back on a flag 1."""
    out = []
    for pos in np.lexsort((ts, rows)).tolist():
        for check, flag in enumerate(res.flags[pos].tolist()):
            key = (int(rows[pos]), check)
            cur = fault.get(key, 0)
            new = 1 if flag >= 3 else 0 if flag == 1 else cur
            if new != cur:
                out.append((pos, key[0], check, cur, new, flag))
            fault[key] = new
    return sorted(out)


def test_fault_changes_follow_the_flags_reading_by_reading() -> None:
    reg = tiny_registry(*SPECS)
    ch = QualityChannel(reg)
    cow = Cow(ch.init_state(len(reg)), owned=True)
    fault: dict[tuple[int, int], int] = {}
    for rows, ts, values in batches(3):
        res = ch.run(cow, rows, ts, values)
        got = [(c.pos, c.row, c.check, c.previous, c.level, c.flag) for c in res.changes]
        assert got == expected_changes(res, fault, rows, ts)


def reversed_rows(rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Each sensor's readings together in time order (stable), sensors in descending row order."""
    return np.lexsort((ts, -rows.astype(np.int64)))


@pytest.mark.parametrize("seed", range(8))
def test_any_sensor_order_and_any_pieces_give_the_same_result(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = run_all(lambda r, t: None, 1 << 30, seed, monkeypatch)
    changes = " ".join(call[3] for call in reference)
    assert "previous=0" in changes and "previous=1" in changes  # faults open and close
    for piece in (1, 3, 8):
        assert run_all(reversed_rows, piece, seed, monkeypatch) == reference
        assert run_all(lambda r, t: None, piece, seed, monkeypatch) == reference


@pytest.mark.parametrize("seed", range(20))
def test_sensor_pieces_cut_only_between_sensors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = np.repeat(rng.permutation(30), rng.integers(1, 6, 30)).astype(np.int32)[: rng.integers(0, 80)]
    size = int(rng.integers(1, 12))
    pieces = sensor_pieces(rows, size)
    assert [a for a, _ in pieces] == [0, *(b for _, b in pieces[:-1])]  # consecutive
    assert pieces[-1][1] == rows.size and all(b > a for a, b in pieces if rows.size)
    for a, _ in pieces[1:]:
        assert rows[a] != rows[a - 1]
    if rows.size > 2 * size:
        assert len(pieces) > 1


def test_open_fault_of_a_copy_and_of_a_strided_view_agree() -> None:
    fault = np.zeros((6, 8), dtype=np.int8)
    fault[1, 0] = fault[2, 3] = fault[4, 5] = 1
    view = fault[:, ::2]  # not contiguous: the general path
    rows = np.array([0, 1, 2, 3, 4, 5, 2], dtype=np.int32)
    want = [False, True, False, False, False, False, False]
    assert _open_fault(view, rows).tolist() == want
    assert _open_fault(np.ascontiguousarray(view), rows).tolist() == want
    assert _open_fault(np.ascontiguousarray(fault[:, :4]), rows).tolist() == [
        False,
        True,
        True,
        False,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("clean", [True, False])
@pytest.mark.parametrize("seed", range(5))
def test_one_reading_per_sensor_equals_the_stepwise_path(seed: int, clean: bool) -> None:
    """A batch with one reading per sensor (flagged in place, one step; ``clean``: every reading finite
    and in span, so nothing is compressed out) gets the flags and state it gets when another sensor's
    two readings, one of them NaN, make the same batch take the stepwise path with compressions."""
    from detectors.base import Batch
    from detectors.quality import QartodQuality, QualityParams
    from detectors.quality.tables import KindQuality

    rng = np.random.default_rng(seed)
    det = QartodQuality(QualityParams(defaults=KindQuality(span_min=0.0, span_max=60.0, roc_limit_per_s=0.5)))
    n = 50
    one, two = det.init_state(n + 1), det.init_state(n + 1)
    rows = np.arange(n, dtype=np.int32)
    choices = [1.0, 1.0, 30.0, 2.0] if clean else [1.0, 1.0, 30.0, 70.0, -1.0]
    for call in range(6):
        ts = np.full(n, call * 10_000, dtype=np.int64) + rng.integers(0, 3000, n)
        values = rng.choice(choices, n)
        if not clean:
            values[rng.random(n) < 0.1] = np.nan
        got = det.flags_in_place(one, Batch(rows, ts, values))
        extra = Batch(
            np.r_[rows, n, n].astype(np.int32), np.r_[ts, ts[:2]].astype(np.int64), np.r_[values, np.nan, 2.0]
        )
        want = det.flags_in_place(two, extra)
        np.testing.assert_array_equal(got.flags, want.flags[:n])
        np.testing.assert_array_equal(got.measures, want.measures[:n])
        for k in one:
            np.testing.assert_array_equal(one[k][:n], two[k][:n])
