"""Kafka producers for JSON records: the alert topic, and any other JSON topic (e.g. the dead-letter path).

Both wrap one ``confluent_kafka.Producer`` with ``enable.idempotence=True``, ``acks=all`` and a small
linger (the caller's ``config`` wins). ``send``/``produce`` only queue; :meth:`KafkaJsonProducer.flush`
waits for the broker's acknowledgement of everything queued and raises :class:`SinkError` if any
delivery failed (or :class:`SinkBackpressureError` if some are still in flight at the timeout), so a
worker commits its input offsets only after its alerts are durably on the topic.

Alerts carry deterministic ids (``alert_id``), so the repeats a replay produces can be dropped by
consumers (at-least-once delivery, design.md §5).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel

from riskstream.schemas import Alert, AlertEvent
from sinks.errors import SinkBackpressureError, SinkError

log = logging.getLogger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
}

_MAX_ERRORS_KEPT = 20


def _encode(value: BaseModel | Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class KafkaJsonProducer:
    """Produce JSON records to one topic and account for every delivery (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any], topic: str) -> None:
        if not topic:
            raise ValueError("topic must not be empty")
        self.topic = topic
        self._bootstrap = str(config.get("bootstrap.servers", ""))
        self._producer = Producer({**PRODUCER_DEFAULTS, **config})
        self.delivered = 0
        self.failed = 0
        self._errors: list[str] = []

    def __repr__(self) -> str:
        # The config may hold SASL passwords: show only what identifies the destination.
        name = type(self).__name__
        return f"{name}(bootstrap={self._bootstrap!r}, topic={self.topic!r}, in_flight={self.in_flight})"

    @property
    def in_flight(self) -> int:
        """Records queued or sent but not yet acknowledged."""
        return len(self._producer)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self._errors) < _MAX_ERRORS_KEPT:
            key = msg.key()
            self._errors.append(f"{msg.topic()} key={key!r}: {err.str()}")

    def produce(
        self,
        key: str | bytes | None,
        value: BaseModel | Mapping[str, Any] | bytes | str,
        *,
        headers: Mapping[str, str | bytes] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record (a pydantic model or mapping is encoded as JSON). Waits if the queue is full."""
        payload = _encode(value)
        kwargs: dict[str, Any] = {"key": key, "value": payload, "on_delivery": self._on_delivery}
        if headers:
            kwargs["headers"] = list(headers.items())
        if timestamp_ms is not None:
            kwargs["timestamp"] = int(timestamp_ms)
        while True:
            try:
                self._producer.produce(self.topic, **kwargs)
                break
            except BufferError:
                # Queue full: serve delivery reports until there is room (bounded by message.timeout.ms).
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait until every queued record is acknowledged; return how many were delivered in total.

        Raises :class:`SinkBackpressureError` when records are still in flight after ``timeout_s``
        (call flush again later), :class:`SinkError` when any delivery failed since the last flush.
        """
        remaining = self._producer.flush(timeout_s)
        if self._errors or self.failed:
            errors, self._errors = self._errors, []
            failed, self.failed = self.failed, 0
            raise SinkError(
                f"{failed} record(s) to {self.topic} failed: " + "; ".join(errors),
                detail=errors[0] if errors else "",
            )
        if remaining > 0:
            raise SinkBackpressureError(
                f"{remaining} record(s) to {self.topic} not acknowledged after {timeout_s} s",
                retry_after_s=timeout_s,
            )
        return self.delivered

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (errors are logged, not raised) and drop the producer."""
        try:
            self.flush(timeout_s)
        except SinkError as exc:
            log.warning("%r closed with undelivered records: %s", self, exc)


def alert_key(alert: Alert) -> str:
    """Kafka key of an alert: its area for compound alerts (falls back to the sensor), else its sensor."""
    if alert.event == AlertEvent.COMPOUND and alert.area:
        return alert.area
    return alert.sensor_id


class AlertProducer(KafkaJsonProducer):
    """Alerts v1 to the alert topic: key = sensor_id (area for compound alerts), value = the alert's JSON.

    The record timestamp is the produce time, not ``ts_ms``: a replay of old readings must not make
    the broker's time-based retention delete the alerts it raises.
    """

    def send(self, alerts: Iterable[Alert]) -> int:
        """Queue alerts; return how many were queued. Call :meth:`flush` before committing offsets."""
        n = 0
        for alert in alerts:
            self.produce(alert_key(alert), alert.model_dump_json().encode())
            n += 1
        return n
