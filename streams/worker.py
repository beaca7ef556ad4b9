"""The detector worker: Kafka readings in batches -> engine -> InfluxDB points and Kafka alerts.

Delivery is at least once (design.md §5): offsets are committed only after the InfluxDB sink and the
alert producer have both flushed. InfluxDB points are idempotent (same series and timestamp) and
alert ids are deterministic, so a crash between flush and commit only repeats work.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from pydantic import ValidationError

from detectors.base import StateKeyMismatchError
from detectors.engine import Engine, EngineState
from riskstream.registry import Registry
from riskstream.schemas import Alert, DeadLetter, DeadLetterReason, Level, OperatorAction
from sinks.influx import InfluxSink, SinkBackpressureError
from sinks.kafka_alerts import AlertProducer
from sinks.line_protocol import SensorTags, alert_line, reading_lines, sensor_lines
from streams.checkpoint import CheckpointError, StateStore
from streams.records import Columns, RecordDecoder, Rejected

log = logging.getLogger(__name__)


class WorkerHooks(Protocol):
    """Observer of the worker (metrics adapters implement it; the core imports no metrics library)."""

    def on_batch(self, readings: int, alerts: list[Alert], rejected: int, duration_s: float) -> None: ...

    def on_commit(self, event_time_lag_s: float) -> None: ...


@dataclass
class WorkerStats:
    """Running totals, read by the demo's live summary from another thread."""

    readings: int = 0
    rejected: int = 0
    checkpoints: int = 0
    restored_from: str = ""
    batches: int = 0
    commits: int = 0
    points_written: int = 0
    alerts_by_level: Counter[str] = field(default_factory=Counter)
    last_alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=50))
    newest_ts_ms: int = 0


def consumer_config(
    bootstrap_servers: str,
    group_id: str,
    session_timeout_ms: int = 6000,
    heartbeat_interval_ms: int = 1000,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka settings for the worker: manual commits, start from the oldest uncommitted record."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": heartbeat_interval_ms,
        "fetch.min.bytes": 1,
        "queued.max.messages.kbytes": 65536,
    }
    cfg.update(extra or {})
    return cfg


class DetectWorker:
    """Consumes readings, runs the detector engine, writes points and alerts, then commits."""

    def __init__(
        self,
        *,
        consumer_conf: dict[str, Any],
        readings_topic: str,
        deadletter_topic: str,
        registry: Registry,
        engine: Engine,
        influx: InfluxSink,
        alerts: AlertProducer,
        deadletter_producer: Producer,
        max_batch: int = 10_000,
        poll_timeout_s: float = 0.2,
        hooks: WorkerHooks | None = None,
        state_store: StateStore | None = None,
        checkpoint_interval_s: float = 5.0,
        control_topic: str | None = None,
        idle_after_s: float = 10.0,
        idle_grace_ms: int = 30_000,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._consumer_conf = consumer_conf
        self._readings_topic = readings_topic
        self._deadletter_topic = deadletter_topic
        self.registry = registry
        self.engine = engine
        self._influx = influx
        self._alerts = alerts
        self._dlq = deadletter_producer
        self._max_batch = max_batch
        self._poll_timeout_s = poll_timeout_s
        self._hooks = hooks
        self._clock_ms = clock_ms
        self._decoder = RecordDecoder(registry)
        self._tags = SensorTags(registry)
        self._layouts = _ChannelLayouts(registry)
        self.state = engine.init_state()
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._store = state_store
        self._control_topic = control_topic
        # operator actions wait until a reading stamped after them arrives (then the engine orders
        # them among the readings exactly as replay does); their offsets hold back the control commit
        self._pending_actions: list[tuple[OperatorAction, TopicPartition]] = []
        self._idle_after_s = idle_after_s
        self._idle_grace_ms = idle_grace_ms
        self._last_reading = time.monotonic()
        self._checkpoint_interval_s = checkpoint_interval_s
        self._last_checkpoint = time.monotonic()
        self._uncommitted = False

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect, subscribe and write the sensor metadata points (for map panels)."""
        self._influx.add(sensor_lines(self.registry, self._clock_ms()))
        self._influx.flush()
        self._consumer = Consumer(self._consumer_conf)
        topics = [self._readings_topic] + ([self._control_topic] if self._control_topic else [])
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    @property
    def pending_actions(self) -> int:
        """Operator actions received but waiting for a reading stamped after them."""
        return len(self._pending_actions)

    def stop(self) -> None:
        self._stop.set()

    def run(self, duration_s: float | None = None) -> None:
        """Process until :meth:`stop` or ``duration_s`` elapses; always closes the consumer."""
        if self._consumer is None:
            self.start()
        assert self._consumer is not None
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stop.is_set() and (deadline is None or time.monotonic() < deadline):
                msgs = self._consumer.consume(self._max_batch, self._poll_timeout_s)
                if msgs:
                    self.process(msgs)
                elif time.monotonic() - self._last_reading >= self._idle_after_s:
                    self.idle_tick()
        finally:
            self.close()

    def close(self) -> None:
        if self._consumer is not None:
            try:
                if self._uncommitted:
                    self._checkpoint()
            finally:
                self._consumer.close()
                self._consumer = None
        try:
            self._alerts.flush()
            self._dlq.flush(10)
        finally:
            self._influx.close()

    # --- one batch ---------------------------------------------------------------------------------

    def process(self, msgs: list[Message]) -> None:
        started = time.perf_counter()
        payloads: list[bytes] = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            value = m.value()
            if value is None:
                continue
            if m.topic() == self._control_topic:
                self._hold_action(m, value)
            else:
                payloads.append(value)
        cols = self._decoder.decode(payloads)
        actions = self._release_actions(int(cols.ts_ms.max()) if len(cols) else None)
        if not len(cols) and not actions and not cols.rejected:
            return
        if len(cols):
            self._last_reading = time.monotonic()
        # in place: the worker owns its state, and a failure before the commit crashes the worker, which
        # then restarts from the last checkpoint's snapshot, so no half-applied state is ever committed
        alerts, new_state = self.engine.process(
            self.state, cols.rows, cols.ts_ms, cols.values, actions, in_place=True
        )
        self._emit(cols, alerts, new_state)
        self._account(cols, alerts, time.perf_counter() - started)

    def idle_tick(self) -> None:
        """Wall-clock fallback for a worker that has gone idle: fire deadman, escalation and expiry timers.

        Event time moves to now minus a grace that covers normal ingest lag, so a late reading is not
        mistaken for silence; actions stamped before that point are applied after the timers.
        """
        self._last_reading = time.monotonic()
        alerts, state = self.engine.tick(self.state, self._clock_ms() - self._idle_grace_ms, in_place=True)
        actions = self._release_actions(state.max_ts_ms + 1)
        if actions:
            more, state = self.engine.apply_actions(state, actions, in_place=True)
            alerts = alerts + more
        if alerts or actions:
            empty = self._decoder.decode([])
            self._emit(empty, alerts, state)
            self._account(empty, alerts, 0.0)

    def _emit(self, cols: Columns, alerts: list[Alert], new_state: EngineState) -> None:
        self._write_points(cols, alerts)
        self._send_dead_letters(cols.rejected)
        self._flush_sinks()
        self.state = new_state
        self._uncommitted = True
        if self._store is None or time.monotonic() - self._last_checkpoint >= self._checkpoint_interval_s:
            self._checkpoint()

    def _hold_action(self, m: Message, value: bytes) -> None:
        try:
            action = OperatorAction.model_validate_json(value)
        except ValidationError as exc:
            self._send_dead_letters(
                [Rejected(value, DeadLetterReason.SCHEMA, f"not an OperatorAction: {exc}")]
            )
            return
        self._pending_actions.append((action, TopicPartition(m.topic(), m.partition(), m.offset())))

    def _release_actions(self, after_ts_ms: int | None) -> list[OperatorAction]:
        """Pending actions stamped strictly before ``after_ts_ms`` (the newest reading), in ts order."""
        if after_ts_ms is None or not self._pending_actions:
            return []
        ready = [(a, tp) for a, tp in self._pending_actions if a.ts_ms < after_ts_ms]
        self._pending_actions = [(a, tp) for a, tp in self._pending_actions if a.ts_ms >= after_ts_ms]
        ready.sort(key=lambda x: x[0].ts_ms)
        return [a for a, _ in ready]

    def _write_points(self, cols: Columns, alerts: list[Alert]) -> None:
        for channels, mask in self._layouts.split(cols.rows):
            vals = cols.values[mask, : len(channels)] if channels else cols.values[mask, 0]
            self._influx.add(reading_lines(self._tags, cols.rows[mask], cols.ts_ms[mask], vals, channels))
        if alerts:
            self._influx.add([alert_line(a, a.level_num) for a in alerts])
            self._alerts.send(alerts)

    def _send_dead_letters(self, rejected: list[Rejected]) -> None:
        now = self._clock_ms()
        for r in rejected:
            dl = DeadLetter(
                reason=r.reason,
                detail=f"worker: {r.detail}",
                received_ts_ms=now,
                raw_b64=base64.b64encode(r.raw).decode(),
            )
            self._dlq.produce(self._deadletter_topic, value=dl.model_dump_json().encode())
        if rejected:
            log.warning("dead-lettered %d records the worker could not read", len(rejected))

    def _flush_sinks(self) -> None:
        """Block until both sinks hold everything; back-pressure pauses instead of dropping."""
        while True:
            try:
                self._influx.flush()
                break
            except SinkBackpressureError as exc:
                log.warning("InfluxDB back-pressure, pausing %.1f s: %s", exc.retry_after_s, exc)
                self._pause(exc.retry_after_s)
        self._alerts.flush()
        remaining = self._dlq.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} dead-letter records not delivered")

    def _pause(self, seconds: float) -> None:
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        self._consumer.pause(assignment)
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end and not self._stop.is_set():
                self._consumer.poll(0.1)  # keeps group membership alive; paused, so returns nothing
        finally:
            self._consumer.resume(assignment)

    def _checkpoint(self) -> None:
        """Commit the consumed offsets; with a state store, together with where the state snapshot is.

        Sinks were flushed after every batch, so everything before these offsets is durable.
        """
        assert self._consumer is not None
        positions = [tp for tp in self._consumer.position(self._consumer.assignment()) if tp.offset >= 0]
        held: dict[tuple[str, int], int] = {}
        for _, tp in self._pending_actions:
            key = (tp.topic, tp.partition)
            held[key] = min(held.get(key, tp.offset), tp.offset)
        positions = [
            TopicPartition(
                tp.topic, tp.partition, min(tp.offset, held.get((tp.topic, tp.partition), tp.offset))
            )
            for tp in positions
        ]
        readings = sorted({tp.partition for tp in positions if tp.topic == self._readings_topic})
        if readings and self._store is not None:
            pointers = self._store.save(self.engine.snapshot(self.state), readings)
            positions += [TopicPartition(self._store.topic, p, off) for p, off in pointers.items()]
        try:
            if positions:
                self._consumer.commit(offsets=positions, asynchronous=False)
        except KafkaException as exc:
            # nothing consumed since the last commit (e.g. right after a rebalance) is not an error
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise
        self._uncommitted = False
        self._last_checkpoint = time.monotonic()
        self.stats.commits += 1
        if self._store is not None and positions:
            self.stats.checkpoints += 1

    # --- rebalance ---------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Restore the state snapshot that the group's committed pointers for these partitions name."""
        if self._store is None or not partitions:
            return
        store = self._store
        wanted = [
            TopicPartition(store.topic, tp.partition) for tp in partitions if tp.topic == self._readings_topic
        ]
        if not wanted:
            return
        committed = [tp for tp in consumer.committed(wanted, timeout=30) if tp.offset >= 0]
        if not committed:
            log.info("no state checkpoint for %d readings partition(s): starting cold", len(wanted))
            return
        try:
            locations = {store.locate(tp.partition, tp.offset) for tp in committed}
            # one worker wrote them all unless the group changed shape; the newest holds the most history
            loc = max(locations, key=lambda x: (x.offset, x.partition))
            if len(locations) > 1:
                log.warning(
                    "partitions point at %d different checkpoints; restoring the newest", len(locations)
                )
            self.state = self.engine.restore(store.load(loc))
        except (CheckpointError, StateKeyMismatchError) as exc:
            # rules or registry changed since the checkpoint (or it is unreadable): start cold, loudly
            log.warning("cannot restore detector state, starting cold: %s", exc)
            return
        self.stats.restored_from = f"{loc.topic}[{loc.partition}]@{loc.offset}"
        log.info("restored detector state from %s (%d chunk(s))", self.stats.restored_from, loc.chunks)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Checkpoint before the partitions go to another worker."""
        if self._uncommitted and self._consumer is not None:
            self._checkpoint()

    def _account(self, cols: Columns, alerts: list[Alert], duration_s: float) -> None:
        s = self.stats
        s.readings += len(cols)
        s.rejected += len(cols.rejected)
        s.batches += 1
        s.points_written += len(cols) + len(alerts)
        for a in alerts:
            s.alerts_by_level[a.level] += 1
            s.last_alerts.append(a)
        if len(cols):
            s.newest_ts_ms = max(s.newest_ts_ms, int(cols.ts_ms.max()))
        if self._hooks is not None:
            self._hooks.on_batch(len(cols), alerts, len(cols.rejected), duration_s)
            lag = (self._clock_ms() - s.newest_ts_ms) / 1000 if s.newest_ts_ms else 0.0
            self._hooks.on_commit(lag)


class _ChannelLayouts:
    """Groups registry rows by their kind's channel layout, for writing InfluxDB fields."""

    def __init__(self, registry: Registry) -> None:
        layouts: dict[tuple[str, ...], int] = {}
        ids = np.empty(len(registry), dtype=np.int16)
        for i, s in enumerate(registry):
            ids[i] = layouts.setdefault(s.spec.channels, len(layouts))
        self._ids = ids
        self._layouts = list(layouts)

    def split(self, rows: np.ndarray) -> list[tuple[tuple[str, ...], np.ndarray]]:
        if rows.size == 0:
            return []
        ids = self._ids[rows]
        return [(self._layouts[i], ids == i) for i in np.unique(ids)]


def level_counts(stats: WorkerStats) -> dict[str, int]:
    """Alerts by level in colour order (for summaries)."""
    return {lv.label: stats.alerts_by_level.get(lv.label, 0) for lv in Level}
