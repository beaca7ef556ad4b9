"""Stage A of the alarm lifecycle: one rule's per-reading levels → the pair's alarm level, vectorised.

Per (sensor, rule) pair, in the order of that sensor's readings (see docs/alarms/state-machine.md):

* **raise** level k when the reading is at ≥ k, ``raise_readings`` of the last ``raise_window`` readings
  were at ≥ k and the run at ≥ k has lasted ``raise_hold_ms`` (debounce);
* **hold** level k ≤ the condition while readings stay at ≥ ``clear_levels[k-1]``; leave it after
  ``clear_readings`` consecutive readings below that spanning ``clear_hold_ms`` (hysteresis):
  ``cond = max(highest raised level, highest held level)``;
* **latch** (``clear_mode = latched``): a rise of the condition latches its level until acknowledged;
* **escalate**: a pair whose target has stayed at its level for ``escalate_after_ms[level]`` goes one
  level up (the escalation lasts while the condition stays at ≥ the level it started from);
* **de-escalate**: when the target falls below the level, step down one level per
  ``deescalate_step_ms`` (0: at once).

``target = max(cond, latch, escalation)``; the level follows the target (up at once). Readings a rule
flags invalid are skipped. Timers fire on event time (module :mod:`detectors.lifecycle.common`). When
every pair of a rule passes levels through unchanged the machine takes a vectorised fast path.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.lifecycle.common import (
    NEVER,
    NO_DUE,
    Cause,
    Cow,
    EventBuffer,
    LevelEvents,
    Phase,
    highest_level,
    row_steps,
)
from detectors.lifecycle.settings import MAX_RAISE_WINDOW, PairSettings

_LEVELS = np.arange(1, 5, dtype=np.int8)
_ONE16 = np.uint16(1)
#: the last M readings' bits, M = 0..16
_WINDOW_MASK = np.array([(1 << m) - 1 for m in range(MAX_RAISE_WINDOW + 1)], dtype=np.uint16)
#: set bits of every uint16 (numpy < 2 has no bitwise_count)
_POPCOUNT16 = sum((np.arange(1 << 16) >> b) & 1 for b in range(16)).astype(np.uint8)


class ConditionMachine:
    """Stage A state of one rule's pairs (kind-local rows). State keys:

    ``level`` (int8, the pair's alarm level), ``since_ts_ms`` (int64, when it took that level),
    ``cond``/``latch``/``esc``/``esc_floor``/``target`` (int8), ``due_ts_ms`` (int64, next timer),
    ``hist`` ((n, 4) uint16: per level, whether each of the last 16 readings was at ≥ it, newest in bit
    0), ``above_ts``/``below_ts``
    ((n, 4) int64, start of the current run at ≥ k / below k's clear level) and ``below_n`` ((n, 4)).
    """

    LAYOUT = "condition-v1"

    @staticmethod
    def init_state(capacity: int) -> State:
        return {
            "level": np.zeros(capacity, dtype=np.int8),
            "since_ts_ms": np.full(capacity, NEVER, dtype=np.int64),
            "cond": np.zeros(capacity, dtype=np.int8),
            "latch": np.zeros(capacity, dtype=np.int8),
            "esc": np.zeros(capacity, dtype=np.int8),
            "esc_floor": np.zeros(capacity, dtype=np.int8),
            "target": np.zeros(capacity, dtype=np.int8),
            "due_ts_ms": np.full(capacity, NO_DUE, dtype=np.int64),
            "hist": np.zeros((capacity, 4), dtype=np.uint16),
            "above_ts": np.full((capacity, 4), NEVER, dtype=np.int64),
            "below_ts": np.full((capacity, 4), NEVER, dtype=np.int64),
            "below_n": np.zeros((capacity, 4), dtype=np.int32),
        }

    # --- public ------------------------------------------------------------------------------------

    def apply(
        self,
        c: Cow,
        cfg: PairSettings,
        rows: NDArray[np.int32],
        ts_ms: NDArray[np.int64],
        levels: NDArray[np.int8],
        valid: NDArray[np.bool_],
        now_ms: int,
    ) -> LevelEvents:
        """Apply readings sorted by (row, ts_ms), then fire every timer due before ``now_ms``.

        ``c`` is written in place (a copy-on-write view the caller owns). Returns the level changes.
        """
        ev = EventBuffer()
        keep = np.flatnonzero(valid)
        r, t, x = rows[keep], ts_ms[keep], levels[keep].astype(np.int8)
        if cfg.pass_through:
            self._pass_through(c, r, t, x, keep, ev)
        else:
            for step in row_steps(r):
                rr, tt = r[step], t[step]
                self._fire(c, cfg, rr, tt, ev)
                self._reading(c, cfg, rr, tt, x[step], keep[step], ev)
        if not cfg.pass_through:
            cand = c.due_before("due_ts_ms", now_ms)
            if cand.size:
                self._fire(c, cfg, cand, np.full(cand.size, now_ms, dtype=np.int64), ev)
        return ev.freeze()

    def release_latch(self, c: Cow, cfg: PairSettings, rows: NDArray[np.int32], ts_ms: int) -> LevelEvents:
        """An acknowledgement at ``ts_ms``: latched levels of ``rows`` are released."""
        ev = EventBuffer()
        rows = rows[c["latch"][rows] > 0]
        if rows.size:
            c.put("latch", rows, 0)
            t = np.full(rows.size, ts_ms, dtype=np.int64)
            self._settle(c, cfg, rows, t, c["level"][rows], Cause.ACK, Phase.ACTION, -1, ev)
        return ev.freeze()

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _pass_through(
        c: Cow,
        r: NDArray[np.int32],
        t: NDArray[np.int64],
        x: NDArray[np.int8],
        index: NDArray[np.int64],
        ev: EventBuffer,
    ) -> None:
        n = r.size
        if n == 0:
            return
        if n == 1 or bool(np.all(r[1:] != r[:-1])):  # one reading per pair: no run to follow
            prev = c["level"][r]
            changed = np.flatnonzero(x != prev)
            rc, tc = r[changed], t[changed]
            ev.add(rc, tc, prev[changed], x[changed], Cause.READING, Phase.READING, index[changed])
            for key in ("level", "cond", "target"):
                c.put(key, r, x)
            if changed.size:
                c.put("since_ts_ms", rc, tc)
            return
        same = np.r_[False, r[1:] == r[:-1]]
        prev = np.where(same, np.r_[np.int8(0), x[:-1]], c["level"][r]).astype(np.int8)
        changed = np.flatnonzero(x != prev)
        ev.add(
            r[changed], t[changed], prev[changed], x[changed], Cause.READING, Phase.READING, index[changed]
        )
        last = np.flatnonzero(np.r_[r[1:] != r[:-1], True])
        for key in ("level", "cond", "target"):
            c.put(key, r[last], x[last])
        if changed.size:
            cr = r[changed]
            last_change = changed[np.r_[cr[1:] != cr[:-1], True]]
            c.put("since_ts_ms", r[last_change], t[last_change])

    def _reading(
        self,
        c: Cow,
        cfg: PairSettings,
        rows: NDArray[np.int32],
        t: NDArray[np.int64],
        x: NDArray[np.int8],
        index: NDArray[np.int64],
        ev: EventBuffer,
    ) -> None:
        """One reading per row: debounce and hysteresis give the new condition, then settle."""
        tc = t[:, None]
        above = x[:, None] >= _LEVELS
        if cfg.any_debounce:
            # per level, one bit per reading (newest = bit 0): was it at ≥ that level?
            hist = (c["hist"][rows] << _ONE16) | above.astype(np.uint16)
            c.put("hist", rows, hist)
            window = _WINDOW_MASK[cfg.raise_window[rows]][:, None]
            enough = _POPCOUNT16[hist & window] >= cfg.raise_readings[rows][:, None]
        else:
            enough = above
        old_above = c["above_ts"][rows]
        above_ts = np.where(above, np.where(old_above == NEVER, tc, old_above), NEVER)
        c.put("above_ts", rows, above_ts)
        held_ms = tc - np.where(above, above_ts, tc)
        raised = above & enough & (held_ms >= cfg.raise_hold_ms[rows][:, None])

        below = x[:, None] < cfg.clear_levels[rows]
        old_below = c["below_ts"][rows]
        below_ts = np.where(below, np.where(old_below == NEVER, tc, old_below), NEVER)
        below_n = np.where(below, np.minimum(c["below_n"][rows] + 1, 1 << 30), 0).astype(np.int32)
        c.put("below_ts", rows, below_ts)
        c.put("below_n", rows, below_n)
        below_ms = tc - np.where(below, below_ts, tc)
        cleared = (
            below
            & (below_n >= cfg.clear_readings[rows][:, None])
            & (below_ms >= cfg.clear_hold_ms[rows][:, None])
        )
        cond = c["cond"][rows]
        held = (cond[:, None] >= _LEVELS) & ~cleared
        new_cond = np.maximum(highest_level(raised), highest_level(held))
        latch = c["latch"][rows]
        new_latch = np.where(cfg.latched[rows] & (new_cond > cond), np.maximum(latch, new_cond), latch)
        c.put("cond", rows, new_cond)
        c.put("latch", rows, new_latch.astype(np.int8))
        self._settle(c, cfg, rows, t, c["level"][rows], Cause.READING, Phase.READING, index, ev)

    def _fire(
        self, c: Cow, cfg: PairSettings, rows: NDArray[np.int32], limit: NDArray[np.int64], ev: EventBuffer
    ) -> None:
        """Fire the timers of ``rows`` due before ``limit`` (per row), repeatedly (chains)."""
        while rows.size:
            due = c["due_ts_ms"][rows]
            hit = due < limit
            if not hit.any():
                return
            rows, limit, t = rows[hit], limit[hit], due[hit]
            level, target = c["level"][rows], c["target"][rows]
            up = target >= level
            start = level.copy()
            if up.any():
                ru = rows[up]
                floor = c["esc_floor"][ru]
                c.put("esc_floor", ru, np.where(floor == 0, level[up], floor))
                c.put("esc", ru, np.minimum(level[up] + 1, 4))
            start[~up] = level[~up] - 1
            cause = np.where(up, Cause.ESCALATION, Cause.DEESCALATION).astype(np.int8)
            self._settle(c, cfg, rows, t, start, cause, Phase.TIMER, -1, ev)

    @staticmethod
    def _settle(
        c: Cow,
        cfg: PairSettings,
        rows: NDArray[np.int32],
        t: NDArray[np.int64],
        start: NDArray[np.int8],
        cause: int | NDArray[np.int8],
        phase: int,
        index: int | NDArray[np.int64],
        ev: EventBuffer,
    ) -> None:
        """Level follows the target from ``start`` (the level, or one below on a de-escalation step)."""
        base = np.maximum(c["cond"][rows], c["latch"][rows])
        esc, floor = c["esc"][rows], c["esc_floor"][rows]
        gone = (esc > 0) & (base < floor)
        if gone.any():
            esc = np.where(gone, 0, esc).astype(np.int8)
            c.put("esc", rows, esc)
            c.put("esc_floor", rows, np.where(gone, 0, floor))
        target = np.maximum(base, esc)
        step_ms = cfg.deescalate_step_ms[rows]
        new = np.where(target > start, target, np.where((target < start) & (step_ms == 0), target, start))
        new = new.astype(np.int8)
        before = c["level"][rows]
        changed = new != before
        relation_before = np.sign(c["target"][rows].astype(np.int16) - before)
        relation_now = np.sign(target.astype(np.int16) - new)
        recompute = changed | (relation_before != relation_now)
        esc_ms = cfg.escalate_after_ms[rows, new]
        due = np.where(
            (target == new) & (esc_ms > 0),
            t + esc_ms,
            np.where((target < new) & (step_ms > 0), t + step_ms, NO_DUE),
        )
        c.put("due_ts_ms", rows, np.where(recompute, due, c["due_ts_ms"][rows]))
        c.put("target", rows, target)
        if changed.any():
            idx = np.flatnonzero(changed)
            c.put("level", rows[idx], new[idx])
            c.put("since_ts_ms", rows[idx], t[idx])
            cause_a = np.broadcast_to(np.asarray(cause, dtype=np.int8), rows.shape)[idx]
            index_a = np.broadcast_to(np.asarray(index, dtype=np.int64), rows.shape)[idx]
            ev.add(rows[idx], t[idx], before[idx], new[idx], cause_a, phase, index_a)
