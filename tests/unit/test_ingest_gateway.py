"""ingest.gateway without network: ack only after Kafka delivery, in arrival order; retries; keys; metrics.

A fake producer holds produced records until the test delivers them; a fake MQTT client records acks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from ingest.gateway import Gateway, GatewayStats
from ingest.metrics import GatewayMetrics, PrometheusGatewayMetrics
from riskstream.registry import Registry, Sensor
from riskstream.schemas import DeadLetter, Family, Reading
from riskstream.settings import load_settings

TS = 1_700_000_000_000
TOPIC = "riskstream/v1/gw-1/readings"


class FakeError:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class FakeMsg:
    def __init__(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._t, self._k, self._v = topic, key, value

    def topic(self) -> str:
        return self._t

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes:
        return self._v


class FakeProducer:
    def __init__(self, buffer_errors: int = 0) -> None:
        self.records: list[tuple[str, bytes | None, bytes, Any]] = []
        self.undelivered: list[int] = []
        self.buffer_errors = buffer_errors
        self.polls = 0

    def produce(self, topic: str, value: bytes, key: bytes | None, on_delivery: Any) -> None:
        if self.buffer_errors:
            self.buffer_errors -= 1
            raise BufferError("queue full")
        self.undelivered.append(len(self.records))
        self.records.append((topic, key, value, on_delivery))

    def poll(self, timeout: float = 0) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float = 0) -> int:
        return len(self.undelivered)

    def deliver(self, index: int, error: str | None = None) -> None:
        topic, key, value, cb = self.records[index]
        self.undelivered.remove(index)
        cb(FakeError(error) if error else None, FakeMsg(topic, key, value))

    def deliver_all(self) -> None:
        for i in list(self.undelivered):
            self.deliver(i)


class FakeClient:
    def __init__(self) -> None:
        self.acks: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> int:
        self.acks.append((mid, qos))
        return 0


class RecordingMetrics(GatewayMetrics):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _add(self, name: str, n: int = 1) -> None:
        self.calls[name] = self.calls.get(name, 0) + n

    def on_message_in(self, payload_bytes: int) -> None:
        self._add("messages")

    def on_readings_delivered(self, count: int) -> None:
        self._add("readings", count)

    def on_dead_letter_delivered(self, reason: str) -> None:
        self._add(f"dead:{reason}")

    def on_delivery_error(self, topic: str) -> None:
        self._add("delivery_errors")

    def on_mqtt_acked(self, count: int) -> None:
        self._add("acked", count)


@pytest.fixture
def registry() -> Registry:
    return Registry(
        [
            Sensor(f"p-{i}", Family.GAS_PIPELINE, "pipeline_pressure", "s", "a", 0.0, 0.0, "gw-1", "kPa", {})
            for i in range(5)
        ]
    )


def make_gateway(registry: Registry, producer: FakeProducer, **kw: Any) -> tuple[Gateway, FakeClient]:
    gw = Gateway(
        registry=registry,
        mqtt_host="127.0.0.1",
        mqtt_port=1,
        kafka_config={"bootstrap.servers": "127.0.0.1:1"},
        readings_topic="r",
        deadletter_topic="d",
        retry_backoff_s=0.0,
        **kw,
    )
    client = FakeClient()
    gw._producer = producer  # type: ignore[assignment]
    gw._client = client  # type: ignore[assignment]
    gw._generation = 1
    return gw, client


def payload(*sensors: str, bad: int = 0) -> bytes:
    readings: list[Any] = [
        {"v": 1, "sensor_id": s, "ts_ms": TS + i, "value": i} for i, s in enumerate(sensors)
    ]
    readings += [{"v": 1, "sensor_id": "p-0", "ts_ms": "never", "value": 1}] * bad
    return json.dumps({"v": 1, "gateway_id": "gw-1", "readings": readings}).encode()


def item(raw: bytes, mid: int, qos: int = 1, generation: int = 1) -> tuple[str, bytes, int, int, int, int]:
    return (TOPIC, raw, mid, qos, generation, TS + 500)


def test_acks_wait_for_delivery_and_keep_arrival_order(registry: Registry) -> None:
    producer = FakeProducer()
    gw, client = make_gateway(registry, producer)
    gw._process(item(payload("p-0", "p-1"), mid=11))
    gw._process(item(payload("p-2"), mid=12))
    gw._service()
    assert client.acks == []
    producer.deliver(2)  # the second message is complete first ...
    gw._service()
    assert client.acks == []  # ... but MQTT needs PUBACKs in arrival order
    producer.deliver(0)
    gw._service()
    assert client.acks == []  # one record of the first message still in flight
    producer.deliver(1)
    gw._service()
    assert client.acks == [(11, 1), (12, 1)]
    assert gw.stats.readings_produced == 3 and gw.stats.acked_messages == 2


def test_records_keys_and_values(registry: Registry) -> None:
    producer = FakeProducer()
    gw, _ = make_gateway(registry, producer)
    gw._process(item(payload("p-3", "ghost", bad=1), mid=1))
    topics = [(t, k) for t, k, _, _ in producer.records]
    assert topics == [("r", b"p-3"), ("d", b"gw-1"), ("d", b"gw-1")]
    assert Reading.model_validate_json(producer.records[0][2]) == Reading(sensor_id="p-3", ts_ms=TS, value=0)
    dead = [DeadLetter.model_validate_json(v) for t, _, v, _ in producer.records if t == "d"]
    assert [d.reason.value for d in dead] == ["unknown_sensor", "invalid_reading"]
    assert all(d.received_ts_ms == TS + 500 and d.mqtt_topic == TOPIC for d in dead)


def test_dead_letter_without_gateway_has_no_key(registry: Registry) -> None:
    producer = FakeProducer()
    gw, client = make_gateway(registry, producer)
    gw._process(("elsewhere/readings", b"{}", 5, 1, 1, TS))
    assert [(t, k) for t, k, _, _ in producer.records] == [("d", None)]
    producer.deliver_all()
    gw._service()
    assert client.acks == [(5, 1)]
    assert gw.stats.dead_letters == {"topic": 1}


def test_failed_delivery_is_produced_again_and_acked_only_after_success(registry: Registry) -> None:
    producer = FakeProducer()
    metrics = RecordingMetrics()
    gw, client = make_gateway(registry, producer, metrics=metrics)
    gw._process(item(payload("p-0", "p-1"), mid=7))
    producer.deliver(0)
    producer.deliver(1, error="broker down")
    gw._service()  # re-produces record 1 as record 2
    assert client.acks == []
    assert len(producer.records) == 3 and producer.records[2][:3] == producer.records[1][:3]
    producer.deliver(2)
    gw._service()
    assert client.acks == [(7, 1)]
    assert gw.stats.delivery_errors == 1 and gw.stats.readings_produced == 2
    assert metrics.calls["delivery_errors"] == 1 and metrics.calls["readings"] == 2


def test_full_producer_queue_waits_and_drops_nothing(registry: Registry) -> None:
    producer = FakeProducer(buffer_errors=3)
    gw, client = make_gateway(registry, producer)
    gw._process(item(payload("p-0", "p-1", "p-2"), mid=3))
    assert [k for _, k, _, _ in producer.records] == [b"p-0", b"p-1", b"p-2"]
    assert gw.stats.buffer_full_waits == 3 and producer.polls >= 3
    producer.deliver_all()
    gw._service()
    assert client.acks == [(3, 1)]


def test_messages_of_a_lost_connection_are_never_acked(registry: Registry) -> None:
    producer = FakeProducer()
    gw, client = make_gateway(registry, producer)
    gw._process(item(payload("p-0"), mid=1, generation=1))
    gw._generation = 3  # disconnect + reconnect: mid 1 now means nothing (the broker redelivers it)
    gw._process(item(payload("p-1"), mid=1, generation=3))
    producer.deliver_all()
    gw._service()
    assert client.acks == [(1, 1)]
    assert gw.stats.acked_messages == 1 and gw.stats.readings_produced == 2  # the records still count


def test_qos0_messages_need_no_ack_and_qos2_are_acked_with_qos2(registry: Registry) -> None:
    producer = FakeProducer()
    gw, client = make_gateway(registry, producer)
    gw._process(item(payload("p-0"), mid=0, qos=0))
    gw._process(item(payload("p-1"), mid=9, qos=2))
    producer.deliver_all()
    gw._service()
    assert client.acks == [(9, 2)]


def test_metrics_hooks_and_stats(registry: Registry) -> None:
    producer = FakeProducer()
    metrics = RecordingMetrics()
    gw, _ = make_gateway(registry, producer, metrics=metrics)
    gw._process(item(payload("p-0", "p-1", "ghost", bad=2), mid=1))
    producer.deliver_all()
    gw._service()
    assert metrics.calls == {"readings": 2, "dead:unknown_sensor": 1, "dead:invalid_reading": 2, "acked": 1}
    snap = gw.stats.copy()
    assert snap.dead_letters == {"unknown_sensor": 1, "invalid_reading": 2} and snap.dead_letters_total == 3
    assert "readings=2" in snap.summary()
    snap.dead_letters["x"] = 1
    assert "x" not in gw.stats.dead_letters


def test_prometheus_adapter_uses_the_injected_registry() -> None:
    reg = CollectorRegistry()
    m = PrometheusGatewayMetrics(reg)
    m.on_message_in(100)
    m.on_readings_delivered(5)
    m.on_dead_letter_delivered("not_json")
    m.on_dead_letter_delivered("not_json")
    m.on_mqtt_connection(True)
    assert reg.get_sample_value("riskstream_ingest_readings_total") == 5
    assert reg.get_sample_value("riskstream_ingest_mqtt_payload_bytes_total") == 100
    assert reg.get_sample_value("riskstream_ingest_dead_letters_total", {"reason": "not_json"}) == 2
    assert reg.get_sample_value("riskstream_ingest_mqtt_connected") == 1
    PrometheusGatewayMetrics(CollectorRegistry())  # a second gateway in the same process is fine


def test_from_settings_maps_every_field(registry: Registry) -> None:
    s = load_settings(
        mqtt={"host": "mq", "port": 1884, "username": "u", "password": "pw", "client_id": "c", "qos": 2},
        kafka={
            "bootstrap_servers": "k:9",
            "extra": {"linger.ms": 50},
            "topics": {"readings": "R", "deadletter": "D"},
        },
    )
    gw = Gateway.from_settings(s, registry)
    assert (gw.mqtt_host, gw.mqtt_port, gw.mqtt_username, gw.mqtt_client_id, gw.qos) == (
        "mq",
        1884,
        "u",
        "c",
        2,
    )
    assert isinstance(gw.mqtt_password, SecretStr) and gw.mqtt_password.get_secret_value() == "pw"
    assert (gw.readings_topic, gw.deadletter_topic) == ("R", "D")
    assert gw.kafka_config["bootstrap.servers"] == "k:9" and gw.kafka_config["linger.ms"] == 50
    assert gw.kafka_config["enable.idempotence"] is True and gw.kafka_config["acks"] == "all"
    assert "pw" not in repr(gw.mqtt_password)
    assert gw.subscription == "riskstream/v1/+/readings"


def test_constructor_rejects_missing_bootstrap(registry: Registry) -> None:
    with pytest.raises(ValueError, match=r"bootstrap\.servers"):
        Gateway(registry=registry, mqtt_host="h", mqtt_port=1, kafka_config={})


def test_stats_summary_is_one_line() -> None:
    s = GatewayStats(received_messages=3, dead_letters={"topic": 1})
    assert "\n" not in s.summary() and "topic=1" in s.summary()
