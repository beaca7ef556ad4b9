"""Protocol-level health probes: a port being open is not enough, the service must answer.

Each probe returns ``None`` when healthy, or a short reason (never containing a password).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from .processes import port_accepts

_log = logging.getLogger(__name__)


def http_get_status(url: str, timeout_s: float) -> int | None:
    """HTTP status of a GET, or None when the server cannot be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def probe_http(url: str, expected: int, timeout_s: float = 2.0) -> str | None:
    status = http_get_status(url, timeout_s)
    if status == expected:
        return None
    return "not reachable" if status is None else f"HTTP {status} from {url}, expected {expected}"


def influx_query(base_url: str, query: str, timeout_s: float = 5.0) -> dict[str, object]:
    """POST an InfluxQL statement to a 1.x ``/query`` endpoint; raises RuntimeError on any error."""
    data = urllib.parse.urlencode({"q": query}).encode()
    req = urllib.request.Request(base_url.rstrip("/") + "/query", data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise RuntimeError(f"InfluxDB answered HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RuntimeError(f"InfluxDB query failed: {exc}") from exc
    for result in body.get("results", []):
        if "error" in result:
            raise RuntimeError(f"InfluxDB error: {result['error']}")
    return body


@dataclass(frozen=True)
class MqttLogin:
    """Outcome of an MQTT connect: ``ok`` and the broker's reason (or the connection error)."""

    ok: bool
    reason: str
    reason_value: int | None = None


def mqtt_login(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    timeout_s: float = 3.0,
) -> MqttLogin:
    """Connect (MQTT 3.1.1), wait for CONNACK, disconnect. ``username=None`` tries anonymously."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    result: dict[str, object] = {}

    def on_connect(client: object, userdata: object, flags: object, rc: object, props: object) -> None:
        result["rc"] = rc

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"riskstream-probe-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv311,
    )
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        return MqttLogin(False, f"cannot connect: {exc.strerror or exc}")
    deadline = time.monotonic() + timeout_s
    try:
        while "rc" not in result and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS and "rc" not in result:
                return MqttLogin(False, "connection closed before CONNACK")
    finally:
        client.disconnect()
        client.loop(timeout=0.05)
    rc = result.get("rc")
    if rc is None:
        return MqttLogin(False, "no CONNACK")
    value = getattr(rc, "value", None)
    failed = bool(getattr(rc, "is_failure", False))
    return MqttLogin(not failed, str(rc), int(value) if value is not None else None)


def probe_mqtt(host: str, port: int, username: str, password: str) -> str | None:
    login = mqtt_login(host, port, username, password)
    return None if login.ok else f"login refused: {login.reason}"


def kafka_admin(bootstrap: str) -> object:
    """An AdminClient whose librdkafka log goes to Python logging instead of stderr."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "logger": _log})


def probe_kafka(host: str, port: int, timeout_s: float = 3.0) -> str | None:
    if not port_accepts(host, port):
        return "port closed"
    from confluent_kafka import KafkaException

    admin = kafka_admin(f"{host}:{port}")
    try:
        admin.list_topics(timeout=timeout_s)  # type: ignore[attr-defined]
    except KafkaException as exc:
        return f"metadata request failed: {exc}"
    return None
