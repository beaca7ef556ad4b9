"""Builds a DetectWorker from settings: the only place that turns config into live connections."""

from __future__ import annotations

import socket

from confluent_kafka import Producer

from detectors.engine import Engine
from riskstream.alarm_config import load_alarm_config
from riskstream.registry import Registry
from riskstream.settings import RiskstreamSettings
from sinks.influx import make_influx_sink
from sinks.kafka_alerts import AlertProducer
from streams.checkpoint import StateStore
from streams.worker import DetectWorker, WorkerHooks, consumer_config


def producer_config(settings: RiskstreamSettings) -> dict[str, object]:
    """Idempotent, fully acknowledged producer settings shared by alerts and dead letters."""
    cfg: dict[str, object] = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    }
    cfg.update(settings.kafka.extra)
    return cfg


def build_worker(
    settings: RiskstreamSettings, registry: Registry, hooks: WorkerHooks | None = None
) -> DetectWorker:
    k = settings.kafka
    d = settings.detect
    lifecycle, version = None, d.config_version
    if d.alarm_config is not None:
        alarm = load_alarm_config(d.alarm_config)
        lifecycle, version = alarm.lifecycle, alarm.config_version or version
    sink = make_influx_sink(settings.influx)
    return DetectWorker(
        consumer_conf=consumer_config(
            k.bootstrap_servers,
            k.group_id,
            k.session_timeout_ms,
            k.heartbeat_interval_ms,
            {"group.instance.id": k.instance_id or f"{k.group_id}@{socket.gethostname()}", **k.extra},
        ),
        readings_topic=k.topics.readings,
        deadletter_topic=k.topics.deadletter,
        registry=registry,
        engine=Engine(registry, config_version=version, lifecycle=lifecycle),
        influx=sink,
        alerts=AlertProducer(producer_config(settings), k.topics.alerts),
        deadletter_producer=Producer(producer_config(settings)),
        max_batch=settings.detect.max_batch,
        poll_timeout_s=settings.detect.poll_timeout_s,
        hooks=hooks,
        state_store=StateStore(
            bootstrap_servers=k.bootstrap_servers,
            topic=k.topics.state,
            owner=k.group_id,
            producer_extra=dict(k.extra),
        ),
        checkpoint_interval_s=d.checkpoint_interval_s,
        control_topic=k.topics.control,
        idle_after_s=d.idle_after_s,
        idle_grace_ms=int(d.idle_grace_s * 1000),
    )
