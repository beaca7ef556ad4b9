"""AlertProducer and KafkaJsonProducer against the real Kafka-protocol broker of the local stack."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from riskstream.schemas import Alert, AlertEvent, Channel, DeadLetter, DeadLetterReason
from sinks.kafka_alerts import AlertProducer, KafkaJsonProducer

if TYPE_CHECKING:
    from confluent_kafka import Message

    from riskstream.stack.testing import StackInfo

pytestmark = pytest.mark.integration

PARTITIONS = 3


def consume_all(stack: StackInfo, topic: str, expected: int, timeout_s: float = 60.0) -> list[Message]:
    """Read ``expected`` records from every partition from the start (assign: no group join to wait for)."""
    consumer = Consumer(
        stack.kafka_config(**{"group.id": stack.unique_name("t_sink_reader"), "enable.auto.commit": False})
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    got.append(msg)
    finally:
        consumer.close()
    return got


def make_alerts(n: int) -> list[Alert]:
    alerts = [
        Alert.build(
            sensor_id=f"gas-{i % 7}",
            rule="lel_high",
            previous_level="normal",
            level=("blue", "yellow", "orange", "red")[i % 4],
            ts_ms=1_700_000_000_000 + i,
            value=10.0 + i,
            area=f"area-{i % 2}",
            family="hazchem",
        )
        for i in range(n)
    ]
    alerts.append(
        Alert.build(
            sensor_id="gas-1",
            rule="stuck",
            channel=Channel.SENSOR_FAULT,
            previous_level="normal",
            level="fault",
            ts_ms=1_700_000_000_500,
            area="area-1",
        )
    )
    compound = Alert.build(
        sensor_id="",
        rule="leak_chain",
        event=AlertEvent.COMPOUND,
        previous_level="normal",
        level="red",
        ts_ms=1_700_000_001_000,
        area="area-0",
        caused_by=[alerts[0].alert_id, alerts[2].alert_id],
    )
    return [*alerts, compound]


def test_alerts_round_trip_with_keys(stack: StackInfo) -> None:
    topic = stack.new_topic("t_sink_alerts", partitions=PARTITIONS)
    producer = AlertProducer(stack.kafka_config(), topic)
    alerts = make_alerts(40)
    assert producer.send(alerts) == len(alerts)
    assert producer.flush(30) == len(alerts)
    assert producer.delivered == len(alerts)
    assert producer.in_flight == 0

    msgs = consume_all(stack, topic, len(alerts))
    received = [Alert.model_validate_json(m.value()) for m in msgs]
    assert sorted(a.alert_id for a in received) == sorted(a.alert_id for a in alerts)
    assert {a.alert_id: a for a in received} == {a.alert_id: a for a in alerts}  # every field survives
    keys = {Alert.model_validate_json(m.value()).alert_id: m.key().decode() for m in msgs}
    for a in alerts:
        assert keys[a.alert_id] == (a.area if a.event == AlertEvent.COMPOUND else a.sensor_id)
    # same key, same partition: one sensor's alerts stay in order
    by_key: dict[str, set[int]] = {}
    for m in msgs:
        by_key.setdefault(m.key().decode(), set()).add(m.partition())
    assert all(len(parts) == 1 for parts in by_key.values())
    producer.close()


def test_json_producer_for_dead_letters(stack: StackInfo) -> None:
    topic = stack.new_topic("t_sink_dlq", partitions=PARTITIONS)
    producer = KafkaJsonProducer(stack.kafka_config(), topic)
    records = [
        DeadLetter(
            reason=DeadLetterReason.NOT_JSON,
            detail=f"bad payload {i}",
            gateway_id="gw-1",
            received_ts_ms=1_700_000_000_000 + i,
            raw_b64="bm90IGpzb24=",
        )
        for i in range(10)
    ]
    for r in records:
        producer.produce("gw-1", r, headers={"source": "test"})
    assert producer.flush(30) == len(records)
    msgs = consume_all(stack, topic, len(records))
    assert sorted(DeadLetter.model_validate_json(m.value()).detail for m in msgs) == sorted(
        r.detail for r in records
    )
    assert all(m.headers() == [("source", b"test")] for m in msgs)
