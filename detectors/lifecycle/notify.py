"""Stage B of the alarm lifecycle: pair levels → notifications (the alert stream).

Input: the level changes of every (sensor, rule) pair from stage A (:mod:`.condition`) and of every
sensor's deadman (:mod:`.deadman`). Stage B works only on changes and operator actions, which are rare
next to readings, so it is a plain event loop in time order over per-pair arrays:

* **agreement**: when ``min_rules`` rules of one sensor are at ≥ ``at_level``, each of them is raised
  one level (the pair's *final* level; without agreement final = stage A level);
* **flapping**: ``flap_transitions`` changes of the final level within ``flap_window_ms`` emit one
  ``flapping`` alert and silence the pair until its level has been stable for ``flap_settle_ms``; then
  the current level is announced if it differs from the last one announced;
* **shelve / maintenance**: a suppressed pair keeps evaluating but announces nothing; when the
  suppression ends (unshelve, or its ``until`` passes on event time) an ``unshelve`` alert is emitted
  and then the current level, if it changed meanwhile;
* **ack**: recorded per pair (re-armed when the level rises); a latched alarm is released by stage A;
* every emitted alert carries the previous *announced* level, so the stream read alone is consistent.

State columns per pair: ``a_level``, ``final``, ``shown`` (last announced), ``flapping``, ``flap_ts``
((n, 8) last change times, newest first), ``flap_due``, ``shelved_until``, ``maint_until``, ``acked``,
``last_id`` and ``open_id`` (first 64 bits of the pair's newest alert id and of the alert that left
normal, to match acknowledgements by alert id).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import State
from detectors.lifecycle.common import FOREVER, NEVER, NO_DUE, Cause, Cow, LevelEvents, Phase, alert_id_prefix
from detectors.lifecycle.settings import MAX_FLAP_TRANSITIONS, AgreementSettings
from riskstream.schemas import AlertEvent, Channel, FaultLevel, Level, alert_id_for

_FLAP_END, _SHELVE_END, _MAINT_END = 0, 1, 2
_TIMER_COLUMNS = ((_FLAP_END, "flap_due"), (_SHELVE_END, "shelved_until"), (_MAINT_END, "maint_until"))


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One group of pairs: a rule (hazard channel), the deadman or a QARTOD check (sensor_fault channel).

    ``quiet_actions``: a shelve, maintenance or unshelve of a pair at ``normal`` is applied without an
    alert of its own (the QARTOD checks: four per sensor, which would otherwise quadruple the record
    of every action on a sensor or site); whatever it later holds back is announced as usual.
    """

    name: str
    channel: Channel
    sensor_rows: NDArray[np.int32]  # group row -> registry row
    flap_transitions: NDArray[np.int64]
    flap_window_ms: NDArray[np.int64]
    flap_settle_ms: NDArray[np.int64]
    quiet_actions: bool = False

    def label(self, level: int) -> str:
        return Level(level).label if self.channel == Channel.HAZARD else FaultLevel(level).label


@dataclass(frozen=True, slots=True)
class Emission:
    """One alert to emit; the engine adds the sensor's metadata, value and reason."""

    alert_id: str
    ts_ms: int
    phase: int
    group: int
    row: int
    event: AlertEvent
    previous: int
    level: int
    cause: int
    index: int = -1
    value: float = float("nan")
    note: str = ""
    #: position of the causing reading in the engine call's arrays (-1: a timer or an action)
    pos: int = -1


def init_state(capacity: int) -> State:
    return {
        "a_level": np.zeros(capacity, dtype=np.int8),
        "final": np.zeros(capacity, dtype=np.int8),
        "shown": np.zeros(capacity, dtype=np.int8),
        "flapping": np.zeros(capacity, dtype=np.int8),
        "flap_ts": np.full((capacity, MAX_FLAP_TRANSITIONS), NEVER, dtype=np.int64),
        "flap_due": np.full(capacity, NO_DUE, dtype=np.int64),
        "shelved_until": np.full(capacity, NO_DUE, dtype=np.int64),
        "maint_until": np.full(capacity, NO_DUE, dtype=np.int64),
        "acked": np.zeros(capacity, dtype=np.int8),
        "last_id": np.zeros(capacity, dtype=np.uint64),
        "open_id": np.zeros(capacity, dtype=np.uint64),
    }


class Notifier:
    """Runs stage B over the groups' copy-on-write states (one :class:`Cow` per group)."""

    def __init__(
        self,
        groups: Sequence[GroupSpec],
        sensor_ids: Sequence[str],
        agreement: AgreementSettings,
        pairs_of_sensor: dict[int, list[tuple[int, int]]],
    ) -> None:
        self.groups = tuple(groups)
        self.sensor_ids = sensor_ids
        self.agreement = agreement
        self.pairs_of_sensor = pairs_of_sensor if agreement.enabled else {}

    # --- the event loop ----------------------------------------------------------------------------

    def run(
        self,
        cows: Sequence[Cow],
        events: Sequence[LevelEvents | None],
        now_ms: int,
        positions: Sequence[NDArray[np.int64] | None] = (),
    ) -> list[Emission]:
        """Apply the groups' level changes in time order, firing suppression/flapping timers due
        before ``now_ms`` in between. Returns the emissions in processing order.

        ``positions[g]`` maps group ``g``'s event ``index`` to the position of the reading in the
        caller's stream: changes at one time are processed (and reported) in the order of the
        readings that caused them, so one sensor's readings sharing a timestamp keep their order
        whatever the batches."""
        self._cows, self._now, self._out, self._pos = cows, now_ms, [], -1
        self._heap: list[tuple[int, int, int, int, int]] = []
        items: list[tuple[int, ...]] = []
        seq = 0
        for g, ev in enumerate(events):
            if ev is None or not len(ev):
                continue
            sensors = self.groups[g].sensor_rows[ev.row].tolist()
            where = positions[g] if g < len(positions) else None
            if where is None or where.size == 0:
                pos = np.full(len(ev), -1, dtype=np.int64)
            else:
                pos = np.where(ev.index >= 0, where[np.maximum(ev.index, 0)], -1)
            pos_list = pos.tolist()
            for k, (row, ts, prev, lvl, cause, phase, index) in enumerate(
                zip(
                    ev.row.tolist(),
                    ev.ts_ms.tolist(),
                    ev.previous.tolist(),
                    ev.level.tolist(),
                    ev.cause.tolist(),
                    ev.phase.tolist(),
                    ev.index.tolist(),
                    strict=True,
                )
            ):
                items.append(
                    (
                        ts,
                        phase,
                        sensors[k],
                        pos_list[k],
                        g,
                        seq,
                        row,
                        prev,
                        lvl,
                        cause,
                        index,
                        float(ev.value[k]),
                    )
                )
                seq += 1
        items.sort()
        for g, c in enumerate(cows):
            for kind, col in _TIMER_COLUMNS:
                due = c[col]
                for row in c.due_before(col, now_ms).tolist():
                    self._push(int(due[row]), kind, g, row)
        i = 0
        while i < len(items) or self._heap:
            if self._heap and (i == len(items) or self._heap[0][0] < items[i][0]):
                self._pos = -1
                self._timer(*heapq.heappop(self._heap))
                continue
            ts, phase, _sensor, self._pos, g, _seq, row, _prev, lvl, cause, index, value = items[i]
            i += 1
            self._level(g, row, ts, phase, lvl, cause, index, value)
        out, self._out = self._out, []
        return out

    def _push(self, due: int, kind: int, g: int, row: int) -> None:
        if due < self._now:
            heapq.heappush(self._heap, (due, kind, int(self.groups[g].sensor_rows[row]), g, row))

    def _level(
        self, g: int, row: int, ts: int, phase: int, level: int, cause: int, index: int, value: float
    ) -> None:
        c = self._cows[g]
        c.w("a_level")[row] = level
        sensor = int(self.groups[g].sensor_rows[row])
        pairs = self.pairs_of_sensor.get(sensor) if self.groups[g].channel == Channel.HAZARD else None
        if not pairs:
            if level != int(c["final"][row]):
                self._change(g, row, ts, phase, level, cause, index, value)
            return
        at, need = self.agreement.at_level, self.agreement.min_rules
        levels = [int(self._cows[g2]["a_level"][r2]) for g2, r2 in pairs]
        agreeing = [self.groups[g2].name for (g2, _), lv in zip(pairs, levels, strict=True) if lv >= at]
        bonus = len(agreeing) >= need
        note = f"{len(agreeing)} rules of this sensor at ≥ {Level(at).label}: {', '.join(agreeing)}"
        for (g2, r2), lv in zip(pairs, levels, strict=True):
            final = min(lv + 1, 4) if bonus and lv >= at else lv
            if final == int(self._cows[g2]["final"][r2]):
                continue
            own = (g2, r2) == (g, row)
            if own and final == level:
                self._change(g2, r2, ts, phase, final, cause, index, value)
            else:
                self._change(g2, r2, ts, phase, final, Cause.AGREEMENT, index if own else -1, value, note)

    def _suppressed(self, c: Cow, row: int) -> bool:
        return int(c["shelved_until"][row]) != NO_DUE or int(c["maint_until"][row]) != NO_DUE

    def _change(
        self,
        g: int,
        row: int,
        ts: int,
        phase: int,
        final: int,
        cause: int,
        index: int = -1,
        value: float = float("nan"),
        note: str = "",
    ) -> None:
        spec, c = self.groups[g], self._cows[g]
        c.w("final")[row] = final
        k = int(spec.flap_transitions[row])
        if k:
            ring = c.w("flap_ts")
            ring[row, 1:] = ring[row, :-1].copy()
            ring[row, 0] = ts
            settle_due = ts + int(spec.flap_settle_ms[row])
            if c["flapping"][row]:
                c.w("flap_due")[row] = settle_due
                self._push(settle_due, _FLAP_END, g, row)
                return
            recent = int(np.count_nonzero(ring[row, :k] > ts - int(spec.flap_window_ms[row])))
            if recent >= k:
                c.w("flapping")[row] = 1
                c.w("flap_due")[row] = settle_due
                self._push(settle_due, _FLAP_END, g, row)
                if not self._suppressed(c, row):
                    self._announce(g, row, ts, phase, AlertEvent.FLAPPING, final, cause, index, value, note)
                return
        if self._suppressed(c, row) or int(c["shown"][row]) == final:
            return
        self._announce(g, row, ts, phase, AlertEvent.TRANSITION, final, cause, index, value, note)

    def _announce(
        self,
        g: int,
        row: int,
        ts: int,
        phase: int,
        event: AlertEvent,
        level: int,
        cause: int,
        index: int = -1,
        value: float = float("nan"),
        note: str = "",
    ) -> None:
        """Emit a level announcement (transition or flapping) from the shown level to ``level``."""
        c = self._cows[g]
        shown = int(c["shown"][row])
        alert_id = self._emit(g, row, ts, phase, event, shown, level, cause, index, value, note)
        prefix = np.uint64(alert_id_prefix(alert_id))
        c.w("shown")[row] = level
        c.w("last_id")[row] = prefix
        if shown == 0 and level > 0:
            c.w("open_id")[row] = prefix
        if level > shown:
            c.w("acked")[row] = 0

    def _emit(
        self,
        g: int,
        row: int,
        ts: int,
        phase: int,
        event: AlertEvent,
        previous: int,
        level: int,
        cause: int,
        index: int = -1,
        value: float = float("nan"),
        note: str = "",
    ) -> str:
        spec = self.groups[g]
        sensor_id = self.sensor_ids[int(spec.sensor_rows[row])]
        alert_id = alert_id_for(
            sensor_id, spec.name, spec.channel.value, ts, spec.label(previous), spec.label(level), event.value
        )
        self._out.append(
            Emission(
                alert_id, ts, phase, g, row, event, previous, level, cause, index, value, note, self._pos
            )
        )
        return alert_id

    # --- timers ------------------------------------------------------------------------------------

    def _timer(self, due: int, kind: int, _sensor: int, g: int, row: int) -> None:
        c = self._cows[g]
        col = _TIMER_COLUMNS[kind][1]
        if int(c[col][row]) != due:
            return  # moved or cancelled since it was queued
        c.w(col)[row] = NO_DUE
        if kind == _FLAP_END:
            c.w("flapping")[row] = 0
            c.w("flap_ts")[row] = NEVER
            self._catch_up(g, row, due, Phase.TIMER, Cause.FLAP_END)
            return
        shown = int(c["shown"][row])
        note = "shelve expired" if kind == _SHELVE_END else "maintenance window ended"
        if self._records_action(g, shown):
            event = AlertEvent.UNSHELVE
            self._emit(g, row, due, Phase.TIMER, event, shown, shown, Cause.UNSUPPRESS, note=note)
        self._catch_up(g, row, due, Phase.TIMER, Cause.UNSUPPRESS)

    def _records_action(self, g: int, shown: int) -> bool:
        """Whether a shelve, maintenance or unshelve of a pair showing ``shown`` gets an alert of its own."""
        return bool(shown) or not self.groups[g].quiet_actions

    def _catch_up(self, g: int, row: int, ts: int, phase: int, cause: int) -> None:
        """Announce the current level if nothing silences the pair and it differs from the shown one."""
        c = self._cows[g]
        if self._suppressed(c, row) or c["flapping"][row]:
            return
        final = int(c["final"][row])
        if final != int(c["shown"][row]):
            self._announce(g, row, ts, phase, AlertEvent.TRANSITION, final, cause)

    # --- operator actions --------------------------------------------------------------------------

    def act(
        self,
        cows: Sequence[Cow],
        event: AlertEvent,
        pairs: Sequence[tuple[int, int]],
        ts_ms: int,
        until_ts_ms: int | None,
        note: str,
        now_ms: int,
    ) -> list[Emission]:
        """Apply one operator action to ``pairs`` (already resolved from its target) at ``ts_ms``."""
        self._cows, self._now, self._out, self._heap, self._pos = cows, now_ms, [], [], -1
        until = FOREVER if until_ts_ms is None else int(until_ts_ms)
        for g, row in pairs:
            c = cows[g]
            shown = int(c["shown"][row])
            if event == AlertEvent.ACK:
                c.w("acked")[row] = 1
            elif event == AlertEvent.SHELVE:
                c.w("shelved_until")[row] = until
            elif event == AlertEvent.MAINTENANCE:
                c.w("maint_until")[row] = until
            elif event == AlertEvent.UNSHELVE:
                c.w("shelved_until")[row] = NO_DUE
                c.w("maint_until")[row] = NO_DUE
            if self._records_action(g, shown):
                self._emit(g, row, ts_ms, Phase.ACTION, event, shown, shown, Cause.UNSUPPRESS, note=note)
            if event == AlertEvent.UNSHELVE:
                self._catch_up(g, row, ts_ms, Phase.ACTION, Cause.UNSUPPRESS)
        out, self._out = self._out, []
        return out
