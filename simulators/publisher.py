"""Publish scenario ticks to MQTT like a fleet of field gateways (paho-mqtt 2.x, QoS 1 by default).

One BatchPayload v1 per gateway per tick on ``<topic_prefix>/<gateway_id>/readings``. Publishing runs
as fast as the broker acknowledges, or paced to a multiple of real time (``speed=1`` is real time).
In-flight messages are bounded twice: paho's ``max_inflight_messages_set`` limits unacknowledged
QoS 1 messages on the wire, and the publisher itself waits for the oldest PUBACK once
``max_pending`` messages are queued, so memory stays flat however long the scenario. ``publish_ticks``
returns only after every message was acknowledged (``wait_for_publish``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

DEFAULT_TOPIC_PREFIX = "riskstream/v1"


class PublishError(RuntimeError):
    """The broker refused the connection, or a message was not acknowledged in time."""


class _MessageInfo(Protocol):
    rc: int

    def wait_for_publish(self, timeout: float | None = None) -> None: ...

    def is_published(self) -> bool: ...


@dataclass(slots=True)
class PublishStats:
    """Counters of one publishing run; ``acked_*`` count messages whose PUBACK arrived."""

    payloads: int = 0
    readings: int = 0
    bytes: int = 0
    acked_payloads: int = 0
    acked_readings: int = 0
    ticks: int = 0
    last_tick_ts_ms: int = 0
    elapsed_s: float = 0.0

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.elapsed_s if self.elapsed_s > 0 else 0.0


def topic_for(topic_prefix: str, gateway_id: str) -> str:
    return f"{topic_prefix.rstrip('/')}/{gateway_id}/readings"


class MqttPublisher:
    """A connected MQTT client that publishes gateway payloads and waits for their acknowledgements.

    ``client_factory`` builds the paho client (tests pass a fake); by default a paho 2.x client with
    ``CallbackAPIVersion.VERSION2``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        qos: int = 1,
        client_id: str = "riskstream-simulator",
        keepalive_s: int = 30,
        max_inflight: int = 200,
        max_pending: int | None = None,
        connect_timeout_s: float = 10.0,
        ack_timeout_s: float = 60.0,
        client_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        if max_inflight < 1:
            raise ValueError("max_inflight must be ≥ 1")
        self.host, self.port = host, port
        self.topic_prefix = topic_prefix
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.max_inflight = max_inflight
        self.max_pending = max_pending if max_pending is not None else 2 * max_inflight
        self.connect_timeout_s = connect_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self._clock, self._sleep = clock, sleep
        factory = client_factory or _paho_client
        self.client = factory(client_id)
        if username:
            self.client.username_pw_set(username, password.get_secret_value() if password else None)
        self.client.max_inflight_messages_set(max_inflight)
        self._connected = threading.Event()
        self._connect_rc: Any = None
        self.client.on_connect = self._on_connect
        self._pending: deque[tuple[_MessageInfo, int]] = deque()
        self._loop_started = False

    # --- connection ---------------------------------------------------------------------------------

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any = None
    ) -> None:
        self._connect_rc = reason_code
        self._connected.set()

    def connect(self) -> None:
        """Connect and start paho's network thread; raises :class:`PublishError` when refused."""
        try:
            self.client.connect(self.host, self.port, keepalive=self.keepalive_s)
        except OSError as exc:
            raise PublishError(f"cannot reach MQTT broker {self.host}:{self.port}: {exc}") from exc
        self.client.loop_start()
        self._loop_started = True
        if not self._connected.wait(self.connect_timeout_s):
            self.close()
            raise PublishError(f"no CONNACK from {self.host}:{self.port} within {self.connect_timeout_s:g} s")
        rc = self._connect_rc
        failed = getattr(rc, "is_failure", None)
        if (failed if failed is not None else bool(rc)) is True:
            self.close()
            raise PublishError(f"MQTT broker {self.host}:{self.port} refused the connection: {rc}")

    def close(self) -> None:
        if self._loop_started:
            self.client.disconnect()
            self.client.loop_stop()
            self._loop_started = False

    def __enter__(self) -> MqttPublisher:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- publishing ---------------------------------------------------------------------------------

    def publish_raw(
        self, topic: str, payload: bytes, stats: PublishStats | None = None, readings: int = 0
    ) -> None:
        """Publish one message (bounded: waits for the oldest PUBACK when too many are pending)."""
        while len(self._pending) >= self.max_pending:
            self._ack_oldest(stats)
        info = self.client.publish(topic, payload, qos=self.qos)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_AGAIN):
            raise PublishError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        self._pending.append((info, readings))
        if stats is not None:
            stats.payloads += 1
            stats.readings += readings
            stats.bytes += len(payload)

    def _ack_oldest(self, stats: PublishStats | None) -> None:
        info, readings = self._pending.popleft()
        try:
            info.wait_for_publish(self.ack_timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise PublishError(f"message not acknowledged: {exc}") from exc
        if not info.is_published():
            raise PublishError(f"no PUBACK within {self.ack_timeout_s:g} s (broker stalled or gone)")
        if stats is not None:
            stats.acked_payloads += 1
            stats.acked_readings += readings

    def flush(self, stats: PublishStats | None = None) -> None:
        """Wait until every published message was acknowledged."""
        while self._pending:
            self._ack_oldest(stats)

    def publish_ticks(
        self,
        ticks: Iterable[tuple[int, dict[str, dict[str, Any]]]],
        *,
        speed: float | None = None,
        progress: Callable[[PublishStats], None] | None = None,
        progress_every_s: float = 2.0,
    ) -> PublishStats:
        """Publish every tick's payloads; ``speed`` paces simulated time at ``speed`` × real time.

        Returns after all messages were acknowledged; ``progress`` is called every ``progress_every_s``
        and once at the end.
        """
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        stats = PublishStats()
        start = self._clock()
        next_report = start + progress_every_s
        first_ts: int | None = None
        for ts_ms, payloads in ticks:
            if first_ts is None:
                first_ts = ts_ms
            if speed is not None:
                due = start + (ts_ms - first_ts) / 1000.0 / speed
                delay = due - self._clock()
                if delay > 0:
                    self._sleep(delay)
            for gateway_id, payload in payloads.items():
                raw = json.dumps(payload, separators=(",", ":")).encode()
                self.publish_raw(
                    topic_for(self.topic_prefix, gateway_id), raw, stats, len(payload["readings"])
                )
            stats.ticks += 1
            stats.last_tick_ts_ms = ts_ms
            now = self._clock()
            if progress is not None and now >= next_report:
                stats.elapsed_s = now - start
                progress(stats)
                next_report = now + progress_every_s
        self.flush(stats)
        stats.elapsed_s = self._clock() - start
        if progress is not None:
            progress(stats)
        return stats


def _paho_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
