"""Alert producer without a broker: keys, encoding, and loud failures when deliveries fail or time out."""

from __future__ import annotations

import json

import pytest

from riskstream.schemas import Alert, AlertEvent
from sinks.errors import SinkBackpressureError, SinkError
from sinks.kafka_alerts import AlertProducer, KafkaJsonProducer, alert_key

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1: every delivery fails


def make_alert(**kw: object) -> Alert:
    fields: dict[str, object] = {
        "sensor_id": "gnss-7",
        "rule": "velocity",
        "previous_level": "normal",
        "level": "yellow",
        "ts_ms": 1_700_000_000_000,
        "area": "Hill 3",
    }
    fields.update(kw)
    return Alert.build(**fields)


def test_alert_key_sensor_or_area() -> None:
    assert alert_key(make_alert()) == "gnss-7"
    assert alert_key(make_alert(event=AlertEvent.COMPOUND)) == "Hill 3"
    assert alert_key(make_alert(event=AlertEvent.COMPOUND, area="")) == "gnss-7"


def test_failed_deliveries_raise_sink_error() -> None:
    producer = AlertProducer(
        {"bootstrap.servers": UNREACHABLE, "message.timeout.ms": 300}, "riskstream.alerts"
    )
    assert producer.send([make_alert(), make_alert(ts_ms=1_700_000_000_001)]) == 2
    with pytest.raises(SinkError, match="2 record") as info:
        producer.flush(10)
    assert not isinstance(info.value, SinkBackpressureError)
    assert producer.delivered == 0
    # the failure was reported once; a later flush with nothing queued is clean
    assert producer.flush(1) == 0


def test_flush_timeout_is_backpressure() -> None:
    producer = KafkaJsonProducer({"bootstrap.servers": UNREACHABLE, "message.timeout.ms": 5000}, "t")
    producer.produce("k", {"a": 1})
    with pytest.raises(SinkBackpressureError) as info:
        producer.flush(0.2)
    assert info.value.retry_after_s == 0.2
    assert producer.in_flight == 1


def test_repr_hides_config_secrets() -> None:
    producer = KafkaJsonProducer(
        {
            "bootstrap.servers": UNREACHABLE,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "svc",
            "sasl.password": "kafka-pw-do-not-leak",
        },
        "riskstream.deadletter",
    )
    text = repr(producer)
    assert "riskstream.deadletter" in text and UNREACHABLE in text
    assert "kafka-pw-do-not-leak" not in text


def test_json_encoding_of_values() -> None:
    from sinks.kafka_alerts import _encode

    alert = make_alert()
    assert json.loads(_encode(alert)) == json.loads(alert.model_dump_json())
    assert _encode({"x": "合肥"}) == '{"x":"合肥"}'.encode()
    assert _encode(b"raw") == b"raw"
    assert _encode("text") == b"text"


def test_empty_topic_rejected() -> None:
    with pytest.raises(ValueError):
        KafkaJsonProducer({"bootstrap.servers": UNREACHABLE}, "")
