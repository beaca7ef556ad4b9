"""Gateway metrics hooks, and a Prometheus adapter for them.

The gateway core calls the hook methods of :class:`GatewayMetrics` and never imports a metrics library
(design.md §7: faust's sensors). :class:`PrometheusGatewayMetrics` registers its collectors on a
``CollectorRegistry`` that the caller passes in, never on the global one at import time. No per-sensor
labels: per-sensor series belong in InfluxDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class GatewayMetrics:
    """No-op hooks; subclass and override what you need. Called from the gateway's threads."""

    def on_message_in(self, payload_bytes: int) -> None:
        """An MQTT message arrived (before decoding)."""

    def on_decoded(self, readings: int, dead_letters: int, seconds: float) -> None:
        """One message was decoded into ``readings`` valid readings and ``dead_letters`` dead letters."""

    def on_readings_delivered(self, count: int) -> None:
        """``count`` readings were acknowledged by Kafka."""

    def on_dead_letter_delivered(self, reason: str) -> None:
        """A dead letter with ``reason`` was acknowledged by Kafka."""

    def on_delivery_error(self, topic: str) -> None:
        """Kafka reported a failed delivery to ``topic``; the record is produced again."""

    def on_mqtt_acked(self, count: int) -> None:
        """``count`` MQTT messages were acknowledged to the broker (all their records are in Kafka)."""

    def on_mqtt_connection(self, connected: bool) -> None:
        """The MQTT connection went up or down."""


class PrometheusGatewayMetrics(GatewayMetrics):
    """Prometheus counters for one gateway, registered on an injected ``CollectorRegistry``."""

    def __init__(self, registry: CollectorRegistry, namespace: str = "riskstream") -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def name(n: str) -> str:
            return f"{namespace}_ingest_{n}"

        self.messages = Counter(name("mqtt_messages"), "MQTT messages received", registry=registry)
        self.bytes = Counter(name("mqtt_payload_bytes"), "MQTT payload bytes received", registry=registry)
        self.acked = Counter(
            name("mqtt_acked_messages"), "MQTT messages acknowledged after Kafka delivery", registry=registry
        )
        self.readings = Counter(name("readings"), "readings delivered to Kafka", registry=registry)
        self.dead = Counter(
            name("dead_letters"), "dead letters delivered to Kafka", ["reason"], registry=registry
        )
        self.delivery_errors = Counter(
            name("delivery_errors"), "failed Kafka deliveries (retried)", ["topic"], registry=registry
        )
        self.decode_seconds = Histogram(
            name("decode_seconds"),
            "time to decode one MQTT message",
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
            registry=registry,
        )
        self.connected = Gauge(
            name("mqtt_connected"), "1 while connected to the MQTT broker", registry=registry
        )

    def on_message_in(self, payload_bytes: int) -> None:
        self.messages.inc()
        self.bytes.inc(payload_bytes)

    def on_decoded(self, readings: int, dead_letters: int, seconds: float) -> None:
        self.decode_seconds.observe(seconds)

    def on_readings_delivered(self, count: int) -> None:
        self.readings.inc(count)

    def on_dead_letter_delivered(self, reason: str) -> None:
        self.dead.labels(reason=reason).inc()

    def on_delivery_error(self, topic: str) -> None:
        self.delivery_errors.labels(topic=topic).inc()

    def on_mqtt_acked(self, count: int) -> None:
        self.acked.inc(count)

    def on_mqtt_connection(self, connected: bool) -> None:
        self.connected.set(1 if connected else 0)
