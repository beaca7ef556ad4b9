"""The detector worker's Prometheus adapter (streams/metrics.py), on a fresh CollectorRegistry each test."""

from __future__ import annotations

import json
import math
import socket
import urllib.request
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from detectors.engine import Engine
from riskstream.registry import Registry, Sensor
from riskstream.schemas import Alert, Channel, Family
from sinks.testing import MemoryInfluxSink
from streams.metrics import ALERT_LEVELS, PrometheusWorkerMetrics, serve_metrics
from streams.worker import DetectWorker, WorkerHooks

NOW_S = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = NOW_S) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def alert(level: str, ts_ms: int = 1, channel: Channel = Channel.HAZARD, previous: str = "normal") -> Alert:
    return Alert.build(
        sensor_id="s-1", rule="r", level=level, previous_level=previous, ts_ms=ts_ms, channel=channel
    )


def value(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


def test_counters_follow_batches(reg: CollectorRegistry) -> None:
    m = PrometheusWorkerMetrics(reg, clock_s=Clock())
    m.on_batch(100, [alert("yellow"), alert("red", 2), alert("red", 3)], 2, 0.02)
    m.on_batch(50, [], 0, 0.3)
    assert value(reg, "riskstream_worker_readings_total") == 150
    assert value(reg, "riskstream_worker_rejected_total") == 2
    assert value(reg, "riskstream_worker_batches_total") == 2
    assert value(reg, "riskstream_worker_alerts_total", level="red") == 2
    assert value(reg, "riskstream_worker_alerts_total", level="yellow") == 1
    assert value(reg, "riskstream_worker_alerts_total", level="orange") == 0
    assert value(reg, "riskstream_worker_batch_seconds_count") == 2
    assert value(reg, "riskstream_worker_batch_seconds_sum") == pytest.approx(0.32)
    assert value(reg, "riskstream_worker_batch_seconds_bucket", le="0.025") == 1
    assert value(reg, "riskstream_worker_batch_seconds_bucket", le="0.5") == 2


def test_every_alert_level_exists_from_zero(reg: CollectorRegistry) -> None:
    PrometheusWorkerMetrics(reg)
    for level in ("normal", "blue", "yellow", "orange", "red", "fault"):
        assert level in ALERT_LEVELS
        assert value(reg, "riskstream_worker_alerts_total", level=level) == 0


def test_sensor_fault_alerts_count_under_their_level(reg: CollectorRegistry) -> None:
    m = PrometheusWorkerMetrics(reg)
    m.on_batch(1, [alert("fault", channel=Channel.SENSOR_FAULT)], 0, 0.001)
    assert value(reg, "riskstream_worker_alerts_total", level="fault") == 1


def test_event_time_lag_is_computed_at_scrape_time(reg: CollectorRegistry) -> None:
    clock = Clock()
    m = PrometheusWorkerMetrics(reg, clock_s=clock)
    m.on_batch(10, [], 0, 0.01)
    m.on_commit(4.5)  # newest reading was 4.5 s old at commit
    assert value(reg, "riskstream_worker_event_time_lag_seconds") == pytest.approx(4.5)
    assert value(reg, "riskstream_worker_newest_event_timestamp_seconds") == pytest.approx(NOW_S - 4.5)
    clock.t += 60  # worker stalls: the lag keeps growing instead of freezing
    assert value(reg, "riskstream_worker_event_time_lag_seconds") == pytest.approx(64.5)
    m.on_batch(10, [], 0, 0.01)
    m.on_commit(1.0)
    assert value(reg, "riskstream_worker_event_time_lag_seconds") == pytest.approx(1.0)


def test_lag_is_unknown_until_a_reading_was_processed(reg: CollectorRegistry) -> None:
    m = PrometheusWorkerMetrics(reg, clock_s=Clock())
    lag = value(reg, "riskstream_worker_event_time_lag_seconds")
    assert lag is not None and math.isnan(lag)
    m.on_batch(0, [], 3, 0.01)  # only rejected records: the worker reports lag 0, which means "unknown"
    m.on_commit(0.0)
    lag = value(reg, "riskstream_worker_event_time_lag_seconds")
    assert lag is not None and math.isnan(lag)


def test_never_registers_on_the_global_registry() -> None:
    PrometheusWorkerMetrics(CollectorRegistry())  # the module is imported and used: still nothing global
    assert not any(n.startswith("riskstream_worker") for n in REGISTRY._names_to_collectors)


def test_two_workers_in_one_process_get_separate_registries() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    ma, _ = PrometheusWorkerMetrics(a), PrometheusWorkerMetrics(b)
    ma.on_batch(7, [], 0, 0.01)
    assert value(a, "riskstream_worker_readings_total") == 7
    assert value(b, "riskstream_worker_readings_total") == 0


def test_no_per_sensor_labels(reg: CollectorRegistry) -> None:
    m = PrometheusWorkerMetrics(reg)
    m.on_batch(3, [alert("blue"), alert("orange", 2)], 1, 0.01)
    m.on_commit(1.0)
    labels = {k for metric in reg.collect() for s in metric.samples for k in s.labels}
    assert labels <= {"level", "le"}
    names = {metric.name for metric in reg.collect()}
    assert names == {
        "riskstream_worker_readings",
        "riskstream_worker_alerts",
        "riskstream_worker_rejected",
        "riskstream_worker_batches",
        "riskstream_worker_batch_seconds",
        "riskstream_worker_event_time_lag_seconds",
        "riskstream_worker_newest_event_timestamp_seconds",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_metrics_exports_and_warns_when_the_port_is_taken(
    reg: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    PrometheusWorkerMetrics(reg).on_batch(5, [], 0, 0.01)
    port = _free_port()
    assert serve_metrics(reg, port) is True
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    assert "riskstream_worker_readings_total 5.0" in body
    assert serve_metrics(CollectorRegistry(), port) is False  # taken: warn and carry on
    assert any("metrics exporter not started" in r.getMessage() for r in caplog.records)


# --- the real worker calls the hooks ------------------------------------------------------------------


class _Msg:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "riskstream.readings"


class _Consumer:
    """Enough of confluent_kafka.Consumer for a checkpoint with nothing assigned."""

    def assignment(self) -> list[Any]:
        return []

    def position(self, partitions: list[Any]) -> list[Any]:
        return []

    def commit(self, **_kw: Any) -> None:
        raise AssertionError("nothing to commit")


class _Flushable:
    def send(self, alerts: list[Alert]) -> None:
        pass

    def produce(self, *_a: Any, **_kw: Any) -> None:
        pass

    def flush(self, *_a: Any) -> int:
        return 0


def test_detect_worker_reports_through_the_hooks(reg: CollectorRegistry) -> None:
    registry = Registry(
        [
            Sensor(
                f"p-{i}", Family.GAS_PIPELINE, "pipeline_pressure", "st", "ar", 30.0, 120.0, "gw", "kPa", {}
            )
            for i in range(3)
        ]
    )
    now_ms = int(NOW_S * 1000)
    hooks: WorkerHooks = PrometheusWorkerMetrics(reg, clock_s=lambda: now_ms / 1000)
    worker = DetectWorker(
        consumer_conf={},
        readings_topic="r",
        deadletter_topic="d",
        registry=registry,
        engine=Engine(registry),
        influx=MemoryInfluxSink(),
        alerts=_Flushable(),  # type: ignore[arg-type]
        deadletter_producer=_Flushable(),  # type: ignore[arg-type]
        hooks=hooks,
        clock_ms=lambda: now_ms,
    )
    worker._consumer = _Consumer()  # type: ignore[assignment]  # no broker in a unit test
    newest = now_ms - 2_500
    msgs = [
        _Msg(
            json.dumps(
                {"v": 1, "sensor_id": f"p-{i % 3}", "ts_ms": newest - 1000 * i, "value": 300.0}
            ).encode()
        )
        for i in range(6)
    ]
    msgs.append(_Msg(b"not json"))
    worker.process(msgs)  # type: ignore[arg-type]
    assert value(reg, "riskstream_worker_readings_total") == 6
    assert value(reg, "riskstream_worker_rejected_total") == 1
    assert value(reg, "riskstream_worker_batches_total") == 1
    assert value(reg, "riskstream_worker_batch_seconds_count") == 1
    assert value(reg, "riskstream_worker_event_time_lag_seconds") == pytest.approx(2.5)
