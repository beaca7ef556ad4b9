"""MQTT publisher against a fake paho client: topics, counts, bounded in-flight, acks, pacing."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from pydantic import SecretStr

from simulators.publisher import MqttPublisher, PublishError, topic_for
from simulators.scenario import Scenario


class FakeInfo:
    def __init__(self, client: FakeClient) -> None:
        self.rc = mqtt.MQTT_ERR_SUCCESS
        self._client = client
        self._published = False

    def wait_for_publish(self, timeout: float | None = None) -> None:
        if not self._client.stall:
            self._published = True
            self._client.outstanding -= 1

    def is_published(self) -> bool:
        return self._published


class FakeClient:
    def __init__(self, refuse: bool = False, stall: bool = False) -> None:
        self.refuse, self.stall = refuse, stall
        self.published: list[tuple[str, bytes, int]] = []
        self.outstanding = 0
        self.max_outstanding = 0
        self.auth: tuple[str, str | None] | None = None
        self.inflight = 0
        self.on_connect: Any = None
        self.loop = False

    def username_pw_set(self, username: str, password: str | None) -> None:
        self.auth = (username, password)

    def max_inflight_messages_set(self, n: int) -> None:
        self.inflight = n

    def connect(self, host: str, port: int, keepalive: int) -> None:
        self.target = (host, port, keepalive)

    def loop_start(self) -> None:
        self.loop = True
        rc = mqtt.ReasonCode(mqtt.PacketTypes.CONNACK, "Not authorized" if self.refuse else "Success")
        self.on_connect(self, None, {}, rc, None)

    def loop_stop(self) -> None:
        self.loop = False

    def disconnect(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes, qos: int) -> FakeInfo:
        self.published.append((topic, payload, qos))
        self.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        return FakeInfo(self)


def _publisher(client: FakeClient, **kw: Any) -> MqttPublisher:
    return MqttPublisher("127.0.0.1", 18831, client_factory=lambda _cid: client, **kw)


def test_publishes_one_message_per_gateway_per_tick_and_waits_for_acks() -> None:
    sc = Scenario.generate(n_sensors=80, duration_s=60)
    client = FakeClient()
    pub = _publisher(
        client, username="sim", password=SecretStr("s3cret"), max_inflight=5, topic_prefix="x/v1"
    )
    pub.connect()
    stats = pub.publish_ticks(sc.ticks())
    pub.close()
    assert client.auth == ("sim", "s3cret") and client.inflight == 5
    assert stats.ticks == sc.n_ticks
    assert stats.payloads == stats.acked_payloads == sc.n_ticks * len(sc.gateways) == len(client.published)
    assert stats.readings == stats.acked_readings == sc.n_readings
    assert client.outstanding == 0, "every message acknowledged before returning"
    assert client.max_outstanding <= 10, "bounded: at most max_pending (2 × max_inflight) unacknowledged"
    topics = {t for t, _, _ in client.published}
    assert topics == {topic_for("x/v1", gw) for gw in sc.gateways}
    assert {q for _, _, q in client.published} == {1}
    topic, payload, _ = client.published[0]
    body = json.loads(payload)
    assert topic == f"x/v1/{body['gateway_id']}/readings" and body["v"] == 1


def test_paced_publishing_sleeps_to_simulated_time() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    sc = Scenario.generate(n_sensors=40, duration_s=100)  # 20 ticks of 5 s
    pub = _publisher(FakeClient(), clock=lambda: now[0], sleep=sleep)
    pub.connect()
    pub.publish_ticks(sc.ticks(), speed=10.0)
    assert sum(slept) == pytest.approx((sc.n_ticks - 1) * 5.0 / 10.0)


def test_refused_connection_raises() -> None:
    with pytest.raises(PublishError, match="refused"):
        _publisher(FakeClient(refuse=True)).connect()


def test_missing_puback_raises() -> None:
    sc = Scenario.generate(n_sensors=40, duration_s=30)
    pub = _publisher(FakeClient(stall=True), max_inflight=2, ack_timeout_s=0.01)
    pub.connect()
    with pytest.raises(PublishError, match="PUBACK"):
        pub.publish_ticks(sc.ticks())
