"""Memo columns (``memo_*``: sums a rule derives from its other state and keeps to save work) never change
a result: a snapshot without them (taken by a version that had none) restores and continues exactly as
the state that had them, and they are left out of the state keys."""

from __future__ import annotations

import io

import numpy as np

from detectors.base import MEMO_PREFIX, is_memo
from detectors.domain import LandslideAcceleration, default_rules
from detectors.engine import Engine
from simulators.scenario import Scenario


def _columns(sc: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = list(sc.frames())
    return (
        np.concatenate([f.rows for f in frames]),
        np.concatenate([f.ts_ms for f in frames]),
        np.concatenate([f.values for f in frames]),
    )


def _without_memos(blob: bytes) -> bytes:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        kept = {k: data[k] for k in data.files if not is_memo(k.rsplit("/", 1)[-1])}
        assert len(kept) < len(data.files), "the engine state has memo columns"
    buf = io.BytesIO()
    np.savez(buf, **kept)
    return buf.getvalue()


def test_a_snapshot_without_memos_continues_identically() -> None:
    sc = Scenario.generate(400, seed=3)
    rows, ts, values = _columns(sc)
    engine = Engine(sc.registry)
    half = rows.size // 2
    state = engine.init_state()
    for lo in range(0, half, 3_001):
        sl = slice(lo, min(lo + 3_001, half))
        _, state = engine.process(state, rows[sl], ts[sl], values[sl])
    restored = engine.restore(_without_memos(engine.snapshot(state)))
    kept = engine.restore(engine.snapshot(state))
    for lo in range(half, rows.size, 2_003):
        sl = slice(lo, lo + 2_003)
        a, kept = engine.process(kept, rows[sl], ts[sl], values[sl], in_place=True)
        b, restored = engine.process(restored, rows[sl], ts[sl], values[sl], in_place=True)
        assert [x.model_dump() for x in b] == [x.model_dump() for x in a]
    for name, st in kept.rules.items():
        for col, arr in st.items():
            if not is_memo(col):
                np.testing.assert_array_equal(restored.rules[name][col], arr, err_msg=f"{name} {col}")


def test_memos_are_not_part_of_the_state_key() -> None:
    rule = LandslideAcceleration()
    assert any(k.startswith(MEMO_PREFIX) for k in rule.init_state(1))
    blob = rule.snapshot(rule.init_state(3))
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        stripped = {k: data[k] for k in data.files if not is_memo(k)}
    buf = io.BytesIO()
    np.savez(buf, **stripped)
    back = rule.restore(buf.getvalue())
    assert set(back) == set(rule.init_state(1))
    assert all(any(is_memo(k) for k in r.init_state(1)) is (r.name in MEMO_RULES) for r in default_rules())


MEMO_RULES = {
    "landslide_tangent_angle",
    "landslide_acceleration",
    "waterlogging",
    "rainstorm",
    "antecedent_rainfall",
}
