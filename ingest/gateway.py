"""MQTT -> Kafka gateway: subscribe to gateway payloads, produce readings and dead letters, at least once.

Threads:

* paho's network thread receives PUBLISH packets and only queues them (``_on_message``); it keeps the
  MQTT connection alive and reconnects on its own (persistent session, fixed client id, QoS 1).
* one worker thread owns the Kafka producer: it decodes each message (:mod:`ingest.decode`), produces
  every valid reading to the readings topic (key = sensor_id) and every dead letter to the dead-letter
  topic (key = gateway_id), polls delivery reports, and acknowledges an MQTT message (``manual_ack``)
  only once all of its records are delivered, in the order the messages arrived (MQTT requires
  in-order PUBACKs). A gateway crash therefore loses nothing: the broker redelivers every unacked
  message to the same persistent session. Duplicates after a crash are possible (at least once).

Kafka back-pressure (``BufferError``) blocks the worker, which polls until the queue drains; nothing is
dropped. A failed delivery is logged and produced again after ``retry_backoff_s``. A fatal producer
error stops the gateway (unacked messages stay with the MQTT broker).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from confluent_kafka import KafkaError, Message, Producer
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from ingest.decode import DEFAULT_MAX_BYTES, DEFAULT_TOPIC_PREFIX, DecodeResult, PayloadDecoder
from ingest.encode import dead_letter_json, reading_json
from ingest.metrics import GatewayMetrics
from riskstream.registry import Registry
from riskstream.schemas import DeadLetter, DeadLetterReason

log = logging.getLogger(__name__)

# Safe producer defaults; the caller's config overrides them (bootstrap.servers is required).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 10,
    "compression.type": "lz4",
    "client.id": "riskstream-gateway",
}

_WARN_EVERY_S = 5.0


@dataclass(slots=True)
class GatewayStats:
    """Counters of one gateway. Readings and dead letters count once Kafka acknowledged them."""

    received_messages: int = 0
    received_bytes: int = 0
    decoded_readings: int = 0
    readings_produced: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    delivery_errors: int = 0
    buffer_full_waits: int = 0
    acked_messages: int = 0
    ignored_while_stopping: int = 0
    mqtt_connects: int = 0

    @property
    def dead_letters_total(self) -> int:
        return sum(self.dead_letters.values())

    def copy(self) -> GatewayStats:
        return replace(self, dead_letters=dict(self.dead_letters))

    def summary(self) -> str:
        dead = ",".join(f"{k}={v}" for k, v in sorted(self.dead_letters.items())) or "0"
        return (
            f"messages={self.received_messages} acked={self.acked_messages} "
            f"readings={self.readings_produced} dead_letters={dead} "
            f"delivery_errors={self.delivery_errors} mqtt_connects={self.mqtt_connects}"
        )


class _Pending:
    """One MQTT message whose records are in flight to Kafka."""

    __slots__ = ("generation", "mid", "outstanding", "qos")

    def __init__(self, mid: int, qos: int, generation: int, outstanding: int) -> None:
        self.mid = mid
        self.qos = qos
        self.generation = generation
        self.outstanding = outstanding


class _AbortedError(Exception):
    """Raised inside the worker when ``stop`` gave up waiting for Kafka."""


_STOP = object()
_Item = tuple[str, bytes, int, int, int, int]  # topic, payload, mid, qos, generation, received_ts_ms


class _QuietNotConnected(logging.Filter):
    """paho logs "Client is not connected" as an error whenever its loop runs without a socket, also on
    every clean stop and during reconnect back-off; the gateway reports connection state itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_PAHO_LOG = logging.getLogger(f"{__name__}.mqtt")
_PAHO_LOG.addFilter(_QuietNotConnected())


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Gateway:
    """Bridge gateway payloads from MQTT to Kafka with dead-letter handling (see module docstring).

    Use :meth:`run` in a process of its own, or :meth:`start` / :meth:`stop` next to other components.
    ``stats`` holds live counters; ``metrics`` receives hook calls (see :mod:`ingest.metrics`).
    """

    def __init__(
        self,
        *,
        registry: Registry,
        mqtt_host: str,
        mqtt_port: int,
        kafka_config: Mapping[str, Any],
        mqtt_username: str | None = None,
        mqtt_password: SecretStr | None = None,
        mqtt_client_id: str = "riskstream-gateway",
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        qos: int = 1,
        keepalive_s: int = 30,
        readings_topic: str = "riskstream.readings",
        deadletter_topic: str = "riskstream.deadletter",
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
        inbox_size: int = 1000,
        flush_timeout_s: float = 30.0,
        retry_backoff_s: float = 1.0,
        metrics: GatewayMetrics | None = None,
        clock_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        if "bootstrap.servers" not in kafka_config:
            raise ValueError("kafka_config needs 'bootstrap.servers'")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos}")
        self.registry = registry
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.mqtt_username = mqtt_username
        self.mqtt_password = mqtt_password
        self.mqtt_client_id = mqtt_client_id
        self.topic_prefix = topic_prefix.rstrip("/")
        self.subscription = f"{self.topic_prefix}/+/readings"
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.kafka_config: dict[str, Any] = {**PRODUCER_DEFAULTS, **dict(kafka_config)}
        self.readings_topic = readings_topic
        self.deadletter_topic = deadletter_topic
        self.inbox_size = inbox_size
        self.flush_timeout_s = flush_timeout_s
        self.retry_backoff_s = retry_backoff_s
        self.metrics = metrics or GatewayMetrics()
        self.clock_ms = clock_ms
        self.decoder = PayloadDecoder(registry, self.topic_prefix, max_bytes=max_payload_bytes)
        self.stats = GatewayStats()

        self._lock = threading.Lock()  # guards _generation against acks racing a reconnect
        self._generation = 0
        self._accepting = False
        self._abort = False
        self._running = False
        self._fatal: KafkaError | None = None
        self._crashed: Exception | None = None
        self._subscribed = threading.Event()
        self._connected = False
        self._inbox: queue.Queue[Any] = queue.Queue(inbox_size)
        self._pending: deque[_Pending] = deque()
        self._retries: deque[tuple[float, str, bytes | None, bytes, Callable[..., None]]] = deque()
        self._client: mqtt.Client | None = None
        self._producer: Producer | None = None
        self._worker: threading.Thread | None = None
        self._reported_readings = 0
        self._last_warn = 0.0
        self._suppressed_warnings = 0

    @classmethod
    def from_settings(cls, settings: Any, registry: Registry, **kwargs: Any) -> Gateway:
        """Build from a ``riskstream.settings.RiskstreamSettings`` (explicit object, no env reads)."""
        m, k = settings.mqtt, settings.kafka
        kafka_config = {"bootstrap.servers": k.bootstrap_servers, **k.extra}
        return cls(
            registry=registry,
            mqtt_host=m.host,
            mqtt_port=m.port,
            mqtt_username=m.username or None,
            mqtt_password=m.password,
            mqtt_client_id=m.client_id,
            topic_prefix=m.topic_prefix,
            qos=m.qos,
            keepalive_s=m.keepalive_s,
            kafka_config=kafka_config,
            readings_topic=k.topics.readings,
            deadletter_topic=k.topics.deadletter,
            **kwargs,
        )

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def failed(self) -> KafkaError | Exception | None:
        """What stopped the gateway on its own (a fatal Kafka error or a worker crash), if anything."""
        return self._fatal or self._crashed

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until the broker acknowledged the subscription (tests, demos)."""
        return self._subscribed.wait(timeout_s)

    def start(self) -> None:
        """Connect (in the background, retrying) and start processing; returns immediately."""
        if self._running:
            raise RuntimeError("gateway already started")
        self._running = True
        self._accepting = True
        self._abort = False
        self._fatal = None
        self._crashed = None
        self._inbox = queue.Queue(self.inbox_size)
        self._pending.clear()
        self._retries.clear()
        self._producer = Producer(
            {
                **self.kafka_config,
                "error_cb": self._on_kafka_error,
                "logger": logging.getLogger(f"{__name__}.kafka"),
            }
        )
        self._client = self._make_client()
        self._client.connect_async(self.mqtt_host, self.mqtt_port, keepalive=self.keepalive_s)
        self._client.loop_start()
        self._worker = threading.Thread(target=self._work, name="riskstream-gateway-kafka", daemon=True)
        self._worker.start()
        log.info(
            "gateway started: mqtt %s:%d %s as %r -> kafka %s (%s, %s)",
            self.mqtt_host,
            self.mqtt_port,
            self.subscription,
            self.mqtt_client_id,
            self.kafka_config.get("bootstrap.servers"),
            self.readings_topic,
            self.deadletter_topic,
        )

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop consuming, deliver and acknowledge what was received, flush, disconnect.

        Messages still unacknowledged when ``timeout_s`` (default ``flush_timeout_s``) runs out stay
        with the MQTT broker and are redelivered to the next session.
        """
        if not self._running:
            return
        timeout_s = self.flush_timeout_s if timeout_s is None else timeout_s
        self._accepting = False
        worker = self._worker
        if worker is not None and worker.is_alive():
            deadline = time.monotonic() + timeout_s
            while worker.is_alive():
                try:
                    self._inbox.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    if time.monotonic() > deadline:
                        break
            worker.join(max(0.0, deadline - time.monotonic()) + 1.0)
            if worker.is_alive():
                log.warning(
                    "Kafka did not confirm all records within %.1f s; leaving them unacked", timeout_s
                )
                self._abort = True
                worker.join(5.0)
        client = self._client
        if client is not None:
            client.disconnect()  # queued PUBACKs go out before DISCONNECT
            client.loop_stop()
        producer = self._producer
        if producer is not None and not (worker is not None and worker.is_alive()):
            if self._pending or self._retries:
                producer.purge()  # undelivered records: their MQTT messages stay unacked at the broker
            self._producer = None
        self._connected = False
        self._subscribed.clear()
        self._running = False
        log.info("gateway stopped: %s", self.stats.summary())

    def run(
        self,
        duration_s: float | None = None,
        *,
        stats_every_s: float | None = None,
        on_stats: Callable[[GatewayStats], None] | None = None,
    ) -> int:
        """Run until SIGINT/SIGTERM (main thread only), ``duration_s`` or a fatal Kafka error.

        Returns 0 after a normal stop, 1 after a fatal Kafka error or a crash of the worker thread.
        """
        stop_event = threading.Event()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():

            def _handler(signum: int, frame: FrameType | None) -> None:
                log.info("signal %d: stopping the gateway", signum)
                stop_event.set()

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, _handler)
        self.start()
        try:
            start = time.monotonic()
            next_stats = start + stats_every_s if stats_every_s else float("inf")
            while not stop_event.is_set() and self.failed is None:
                now = time.monotonic()
                if duration_s is not None and now - start >= duration_s:
                    break
                if now >= next_stats:
                    next_stats = now + (stats_every_s or 0.0)
                    if on_stats is not None:
                        on_stats(self.stats.copy())
                wake = min(next_stats, start + duration_s if duration_s is not None else float("inf"))
                stop_event.wait(max(0.01, min(0.5, wake - now)))
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if self.failed is not None else 0

    # --- MQTT side (paho network thread) --------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.mqtt_client_id,
            clean_session=False,  # persistent session: the broker keeps QoS 1 messages while we are away
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.mqtt_username:
            password = self.mqtt_password.get_secret_value() if self.mqtt_password else None
            client.username_pw_set(self.mqtt_username, password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.enable_logger(_PAHO_LOG)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning(
                "MQTT broker %s:%d refused the connection: %s", self.mqtt_host, self.mqtt_port, reason
            )
            return
        with self._lock:
            self._generation += 1
        self._connected = True
        self.stats.mqtt_connects += 1
        self.metrics.on_mqtt_connection(True)
        log.info(
            "MQTT connected to %s:%d (session present: %s)",
            self.mqtt_host,
            self.mqtt_port,
            getattr(flags, "session_present", "?"),
        )
        client.subscribe(self.subscription, qos=self.qos)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._warn("cannot reach the MQTT broker at %s:%d; retrying", self.mqtt_host, self.mqtt_port)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("MQTT broker refused the subscription to %s: %s", self.subscription, reasons)
            return
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._lock:
            self._generation += 1  # pending acks belong to the old connection: never send them now
        self._subscribed.clear()
        if self._connected:
            self.metrics.on_mqtt_connection(False)
        self._connected = False
        if self._accepting:
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            payload = msg.payload
            self.stats.received_messages += 1
            self.stats.received_bytes += len(payload)
            self.metrics.on_message_in(len(payload))
            if not self._accepting:  # stopping: leave it unacked, the broker redelivers it later
                self.stats.ignored_while_stopping += 1
                return
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = msg._topic.decode("utf-8", "backslashreplace")
            item: _Item = (topic, payload, msg.mid, msg.qos, self._generation, self.clock_ms())
            while True:
                try:
                    self._inbox.put(item, timeout=0.2)
                    return
                except queue.Full:
                    if not self._accepting:
                        self.stats.ignored_while_stopping += 1
                        return
        except Exception:  # an exception here would kill paho's network thread
            log.exception("error while receiving an MQTT message")

    # --- Kafka side (worker thread) -------------------------------------------------------------------

    def _work(self) -> None:
        producer = self._producer
        assert producer is not None
        try:
            while self._fatal is None:
                busy = bool(self._pending or self._retries)
                try:
                    item = self._inbox.get_nowait() if busy else self._inbox.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if item is _STOP:
                    break
                if item is not None:
                    self._process(item)
                    producer.poll(0)
                elif busy:
                    producer.poll(0.005)
                self._service()
            # Stopping: everything received before the stop marker was produced; wait for Kafka.
            deadline = time.monotonic() + self.flush_timeout_s
            while (self._pending or self._retries) and time.monotonic() < deadline and not self._abort:
                producer.poll(0.05)
                self._service()
                if self._fatal is not None:
                    break
        except _AbortedError:
            pass
        except Exception as exc:
            log.exception("gateway worker failed; unacked MQTT messages stay with the broker")
            self._crashed = exc
        finally:
            producer.flush(0)
            self._service_metrics()
            if self._pending:
                log.warning("%d MQTT message(s) left unacked; the broker redelivers them", len(self._pending))

    def _process(self, item: _Item) -> None:
        topic, payload, mid, qos, generation, received_ts_ms = item
        t0 = time.perf_counter()
        try:
            result = self.decoder.decode(payload, topic, received_ts_ms)
        except Exception as exc:  # a decoder bug must not wedge the ack order: keep the bytes
            log.exception("decoder failed on a message from %s", topic)
            result = DecodeResult(gateway_id=None)
            result.dead.append(
                self.decoder._dead(
                    DeadLetterReason.SCHEMA, f"decoder error: {exc!r}", None, topic, received_ts_ms, payload
                )
            )
        self.metrics.on_decoded(len(result.readings), len(result.dead), time.perf_counter() - t0)
        self.stats.decoded_readings += len(result.readings)
        entry = _Pending(mid, qos, generation, len(result.readings) + len(result.dead))
        self._pending.append(entry)
        on_reading = partial(self._on_delivery, entry, None)
        produce = self._produce
        topic_r = self.readings_topic
        for r in result.readings:
            produce(topic_r, r.sensor_id.encode(), reading_json(r), on_reading)
        for d in result.dead:
            self._produce_dead(d, entry)

    def _produce_dead(self, dead: DeadLetter, entry: _Pending) -> None:
        key = dead.gateway_id.encode() if dead.gateway_id else None
        cb = partial(self._on_delivery, entry, dead.reason.value)
        self._produce(self.deadletter_topic, key, dead_letter_json(dead), cb)

    def _produce(self, topic: str, key: bytes | None, value: bytes, cb: Callable[..., None]) -> None:
        producer = self._producer
        assert producer is not None
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=cb)
                return
            except BufferError:  # local queue full: wait for deliveries, never drop
                self.stats.buffer_full_waits += 1
                producer.poll(0.1)
                self._ack_ready()
                if self._abort or self._fatal is not None:
                    raise _AbortedError from None

    def _on_delivery(
        self, entry: _Pending, dead_reason: str | None, err: KafkaError | None, msg: Message
    ) -> None:
        if err is not None:
            self.stats.delivery_errors += 1
            self.metrics.on_delivery_error(msg.topic() or "")
            self._warn("Kafka delivery to %s failed: %s; producing it again", msg.topic(), err)
            again = partial(self._on_delivery, entry, dead_reason)
            due = time.monotonic() + self.retry_backoff_s
            self._retries.append((due, msg.topic() or "", msg.key(), msg.value() or b"", again))
            return
        entry.outstanding -= 1
        if dead_reason is None:
            self.stats.readings_produced += 1
        else:
            self.stats.dead_letters[dead_reason] = self.stats.dead_letters.get(dead_reason, 0) + 1
            self.metrics.on_dead_letter_delivered(dead_reason)

    def _on_kafka_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("fatal Kafka producer error, stopping the gateway: %s", err)
            self._fatal = err
            return
        self._warn("Kafka: %s", err)

    def _service(self) -> None:
        if self._retries:
            now = time.monotonic()
            while self._retries and self._retries[0][0] <= now:
                _, topic, key, value, cb = self._retries.popleft()
                self._produce(topic, key, value, cb)
        self._ack_ready()
        self._service_metrics()

    def _service_metrics(self) -> None:
        delta = self.stats.readings_produced - self._reported_readings
        if delta:
            self._reported_readings += delta
            self.metrics.on_readings_delivered(delta)

    def _ack_ready(self) -> None:
        """Acknowledge, in arrival order, every message whose records are all in Kafka."""
        pending = self._pending
        if not pending:
            return
        client = self._client
        acked = 0
        with self._lock:
            generation = self._generation
            while pending:
                head = pending[0]
                if head.generation != generation:
                    pending.popleft()  # its connection is gone; the broker redelivers it
                    continue
                if head.outstanding > 0:
                    break
                pending.popleft()
                if head.qos > 0 and client is not None:
                    client.ack(head.mid, head.qos)
                acked += 1
        if acked:
            self.stats.acked_messages += acked
            self.metrics.on_mqtt_acked(acked)

    def _warn(self, fmt: str, *args: Any) -> None:
        """Rate-limited warning: a broker outage fails thousands of records at once."""
        now = time.monotonic()
        if now - self._last_warn >= _WARN_EVERY_S:
            suffix = (
                f" ({self._suppressed_warnings} similar warnings suppressed)"
                if self._suppressed_warnings
                else ""
            )
            log.warning(fmt + suffix, *args)
            self._last_warn = now
            self._suppressed_warnings = 0
        else:
            self._suppressed_warnings += 1
