"""Deadman per sensor: a sensor silent for longer than factor × its expected interval is a sensor fault.

The ``sensor_fault`` channel (levels normal/fault) never raises a hazard colour. A sensor is watched
once its expected interval is known: the registry's ``expected_interval_s``, or (with
``DeadmanSettings.learn_interval``) the median of its last :data:`DEADMAN_GAPS` gaps between readings.
Sensors never seen are not watched (a worker's registry covers sensors of other partitions too).

Timing (see :mod:`detectors.lifecycle.common`): with the last reading at L the fault is due at
``D = L + ceil(factor × interval)``; it fires (alert stamped D) once event time is past D, so a
reading stamped exactly D keeps the sensor healthy. A later reading of the sensor clears the fault
(alert stamped with that reading). A sensor that was silent longer than allowed between two readings
of one batch gets both alerts, exactly as if the batch had been cut at the silence. Readings older
than the sensor's newest, or repeating its time, are ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.lifecycle.common import NEVER, NO_DUE, Cause, Cow, EventBuffer, LevelEvents, Phase
from detectors.lifecycle.settings import DEADMAN_GAPS

_K = DEADMAN_GAPS
_MEDIAN = _K // 2


@dataclass(frozen=True, slots=True)
class DeadmanSettingsArrays:
    """Per registry row: expected interval from params (0 = none), factor (0 = off); learning on/off."""

    interval_ms: NDArray[np.int64]
    factor: NDArray[np.float64]
    learn: bool
    #: key of the earliest-deadline bound in a state's hints; unique per settings object, since the bound
    #: depends on these settings, not only on the state
    hint_key: str = field(default_factory=lambda: f"deadman-deadline-{uuid.uuid4().hex}")
    #: whether any sensor is watched (computed once: every call asks)
    active: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "active", bool(np.any(self.watched)))

    @property
    def watched(self) -> NDArray[np.bool_]:
        """Sensors the deadman may fault (those with a known or learnable interval and a factor > 0)."""
        return (self.factor > 0) & ((self.interval_ms > 0) | self.learn)

    def interval(self, rows: NDArray[np.int32], learned: NDArray[np.int64]) -> NDArray[np.int64]:
        param = self.interval_ms[rows]
        return np.where(param > 0, param, learned if self.learn else 0)

    def deadline(
        self, rows: NDArray[np.int32], last: NDArray[np.int64], interval: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        return last + np.ceil(self.factor[rows] * interval).astype(np.int64)


class Deadman:
    """State keys (per registry row): ``dm_last_ts`` (newest reading), ``dm_gaps`` ((n, 5) last gaps,
    newest first), ``dm_ngaps`` (how many are real, ≤ 5), ``dm_learned_ms`` (their median, 0 until 5),
    ``fault`` (int8 0/1)."""

    LAYOUT = "deadman-v1"

    @staticmethod
    def init_state(capacity: int) -> State:
        return {
            "dm_last_ts": np.full(capacity, NEVER, dtype=np.int64),
            "dm_gaps": np.zeros((capacity, _K), dtype=np.int64),
            "dm_ngaps": np.zeros(capacity, dtype=np.int32),
            "dm_learned_ms": np.zeros(capacity, dtype=np.int64),
            "fault": np.zeros(capacity, dtype=np.int8),
        }

    def apply(
        self,
        c: Cow,
        cfg: DeadmanSettingsArrays,
        rows: NDArray[np.int32],
        ts_ms: NDArray[np.int64],
        now_ms: int,
    ) -> LevelEvents:
        """Readings of a batch (any order) and the event time after it; ``c`` is written in place.

        A clear event's ``index`` is the position in ``rows`` of the reading that cleared it."""
        if not cfg.active:
            return LevelEvents.empty()
        ev = EventBuffer()
        if rows.size:
            self._readings(c, cfg, rows, ts_ms, ev)
        bound = c.hints.get(cfg.hint_key)
        if bound is not None and bound >= now_ms:  # no deadline can be due: no scan of every sensor
            return ev.freeze()
        last, fault = c["dm_last_ts"], c["fault"]
        seen = np.flatnonzero((fault == 0) & (last != NEVER)).astype(np.int32)
        c.hints[cfg.hint_key] = NO_DUE
        if seen.size:
            interval = cfg.interval(seen, c["dm_learned_ms"][seen])
            deadline = cfg.deadline(seen, last[seen], interval)
            armed = (cfg.factor[seen] > 0) & (interval > 0)
            hit = armed & (deadline < now_ms)
            later = deadline[armed & ~hit]
            if later.size:  # the earliest deadline still ahead: the next call scans only once it is due
                c.hints[cfg.hint_key] = int(later.min())
            if hit.any():
                r = seen[hit]
                c.put("fault", r, 1)
                ev.add(
                    r,
                    deadline[hit],
                    0,
                    1,
                    Cause.DEADMAN,
                    Phase.TIMER,
                    -1,
                    (deadline[hit] - last[r]).astype(float),
                )
        return ev.freeze()

    def _readings(
        self,
        c: Cow,
        cfg: DeadmanSettingsArrays,
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        ev: EventBuffer,
    ) -> None:
        if ts.size > 1 and np.all(ts[1:] >= ts[:-1]):
            order = np.argsort(rows, kind="stable")
        else:
            order = np.lexsort((ts, rows))
        r, t = rows[order], ts[order]
        first = np.r_[True, r[1:] != r[:-1]]
        last_state = c["dm_last_ts"][r]
        prev = np.where(first, last_state, np.maximum(np.r_[NEVER, t[:-1]], last_state))
        keep = t > prev
        r, t, prev, src = r[keep], t[keep], prev[keep], order[keep]
        n = r.size
        if n == 0:
            return
        first = np.r_[True, r[1:] != r[:-1]]
        starts = np.flatnonzero(first)
        occ = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        has_gap = prev != NEVER
        gap = np.where(has_gap, t - np.where(has_gap, prev, 0), 0)
        ring = c["dm_gaps"][r]
        ngaps_state = c["dm_ngaps"][r]
        # gaps known before each reading: the state's plus this batch's earlier ones of the same row
        missing_first = (~has_gap[starts]).astype(np.int64)
        earlier = np.maximum(occ - np.repeat(missing_first, np.diff(np.r_[starts, n])), 0)
        known_before = ngaps_state + earlier
        before = _window(gap, ring, occ, np.arange(n), include_self=False)
        learned_before = np.where(known_before >= _K, np.partition(before, _MEDIAN, axis=1)[:, _MEDIAN], 0)
        interval = cfg.interval(r, learned_before)
        deadline = cfg.deadline(r, np.where(has_gap, prev, 0), interval)
        silent = has_gap & (cfg.factor[r] > 0) & (interval > 0) & (t > deadline)
        was_faulted = first & (c["fault"][r] == 1)
        new_fault = silent & ~was_faulted
        clear = new_fault | was_faulted
        # per row in time order: [fault at the deadline, clear at the reading] for each silence
        f_idx, c_idx = np.flatnonzero(new_fault), np.flatnonzero(clear)
        if f_idx.size or c_idx.size:
            nf, nc = f_idx.size, c_idx.size
            rows_ev = np.r_[r[f_idx], r[c_idx]]
            ts_ev = np.r_[deadline[f_idx], t[c_idx]]
            silence = np.r_[deadline[f_idx] - prev[f_idx], t[c_idx] - prev[c_idx]].astype(np.float64)
            o = np.lexsort((ts_ev, rows_ev))
            ev.add(
                rows_ev[o],
                ts_ev[o],
                np.r_[np.zeros(nf, np.int8), np.ones(nc, np.int8)][o],
                np.r_[np.ones(nf, np.int8), np.zeros(nc, np.int8)][o],
                np.r_[np.full(nf, Cause.DEADMAN, np.int8), np.full(nc, Cause.RESUMED, np.int8)][o],
                np.r_[np.full(nf, Phase.TIMER, np.int8), np.full(nc, Phase.READING, np.int8)][o],
                np.r_[np.full(nf, -1, np.int64), src[c_idx]][o],
                silence[o],
            )
        last = np.flatnonzero(np.r_[r[1:] != r[:-1], True])
        lr = r[last]
        after = _window(gap, ring, occ, last, include_self=True)
        n_after = np.minimum(ngaps_state[last] + earlier[last] + has_gap[last], _K).astype(np.int32)
        c.put("dm_gaps", lr, after)
        c.put("dm_ngaps", lr, n_after)
        c.put(
            "dm_learned_ms", lr, np.where(n_after >= _K, np.partition(after, _MEDIAN, axis=1)[:, _MEDIAN], 0)
        )
        c.put("dm_last_ts", lr, t[last])
        c.put("fault", lr, 0)
        bound = c.hints.get(cfg.hint_key)
        if bound is not None:  # the sensors that reported have new deadlines: keep the bound below them
            interval = cfg.interval(lr, c["dm_learned_ms"][lr])
            armed = (cfg.factor[lr] > 0) & (interval > 0)
            if armed.any():
                deadline = cfg.deadline(lr[armed], t[last][armed], interval[armed])
                c.hints[cfg.hint_key] = min(bound, int(deadline.min()))


def _window(
    gap: NDArray[np.int64],
    ring: NDArray[np.int64],
    occ: NDArray[np.int64],
    j: NDArray[np.int64],
    include_self: bool,
) -> NDArray[np.int64]:
    """(len(j), 5) gaps newest first for readings ``j``: this batch's gaps of the same row before the
    reading (or up to and including it), then the state's ring (``ring`` is per reading)."""
    out = np.empty((j.size, _K), dtype=np.int64)
    shift = 0 if include_self else 1
    oj = occ[j]
    for i in range(_K):
        back = oj - shift - i  # occurrence of the reading whose gap goes in column i
        ring_pos = -back - 1  # else: position in the state's ring (0 = newest)
        from_ring = np.where(ring_pos < _K, ring[j, np.clip(ring_pos, 0, _K - 1)], 0)
        out[:, i] = np.where(back >= 0, gap[np.maximum(j - shift - i, 0)], from_ring)
    return out
