"""``riskstream ack|shelve|unshelve|maintenance``: the action JSON, times and durations, producing."""

from __future__ import annotations

import argparse
import json
from typing import Any, ClassVar

import pytest

from riskstream.cli import build_parser, main
from riskstream.commands import actions as actions_cmd
from riskstream.schemas import OperatorAction


def dry(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--dry-run", "--by", "op-7"]) == 0
    out = capsys.readouterr().out.strip()
    OperatorAction.model_validate_json(out)  # the control-topic contract
    return json.loads(out)


def test_dry_run_prints_the_action(capsys: pytest.CaptureFixture[str]) -> None:
    got = dry(capsys, "ack", "hz-cg-0001", "--note", "crew on site", "--ts-ms", "1000")
    assert got == {
        "v": 1,
        "action": "ack",
        "target": "hz-cg-0001",
        "until_ts_ms": None,
        "by": "op-7",
        "note": "crew on site",
        "ts_ms": 1000,
    }


@pytest.mark.parametrize(
    ("argv", "until"),
    [
        (["shelve", "s-1", "--for", "2h"], 1000 + 7_200_000),
        (["shelve", "s-1", "--for", "90s"], 1000 + 90_000),
        (["shelve", "s-1", "--for", "30min"], 1000 + 1_800_000),
        (["shelve", "s-1"], None),  # until unshelved
        (["maintenance", "site-9", "--until", "2026-07-01T18:00Z"], 1_782_928_800_000),
        (["maintenance", "site-9", "--until", "1782928800000"], 1_782_928_800_000),
        (["unshelve", "site-9"], None),
    ],
)
def test_windows(capsys: pytest.CaptureFixture[str], argv: list[str], until: int | None) -> None:
    got = dry(capsys, *argv, "--ts-ms", "1000")
    assert got["action"] == argv[0] and got["target"] == argv[1] and got["until_ts_ms"] == until


def test_now_is_the_default_time(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    before = int(time.time() * 1000)
    got = dry(capsys, "ack", "s-1")
    assert before <= got["ts_ms"] <= int(time.time() * 1000)


@pytest.mark.parametrize(
    "argv",
    [
        ["maintenance", "site-9"],  # a maintenance window needs an end
        ["shelve", "s-1", "--for", "soon"],
        ["shelve", "s-1", "--until", "tomorrow"],
        ["shelve", "s-1", "--for", "1h", "--until", "1"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2


def test_a_window_ending_before_it_starts_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shelve", "s-1", "--until", "500", "--ts-ms", "1000", "--dry-run"]) == 2
    assert "ends before it starts" in capsys.readouterr().err


class FakeMessage:
    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 41


class FakeProducer:
    sent: ClassVar[list[tuple[str, bytes, bytes]]] = []
    config: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any], fail: bool = False) -> None:
        FakeProducer.config = config
        self.fail = fail
        self._cb = None

    def produce(self, topic: str, key: bytes, value: bytes, on_delivery: Any) -> None:
        FakeProducer.sent.append((topic, key, value))
        self._cb = on_delivery

    def flush(self, timeout: float) -> int:
        assert self._cb is not None
        self._cb("broker down" if self.fail else None, FakeMessage())
        return 0


def test_produces_to_the_control_topic_keyed_by_target(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["shelve", "hz-cg-0001", "--for", "1h", "--ts-ms", "5", "--by", "op"])
    FakeProducer.sent = []
    assert actions_cmd.run(args, producer_factory=FakeProducer) == 0
    [(topic, key, value)] = FakeProducer.sent
    assert topic == "riskstream.control" and key == b"hz-cg-0001"
    action = OperatorAction.model_validate_json(value)
    assert (action.action.value, action.until_ts_ms, action.by) == ("shelve", 3_600_005, "op")
    assert FakeProducer.config["acks"] == "all" and FakeProducer.config["enable.idempotence"] is True
    assert "sent to riskstream.control [0] @ 41" in capsys.readouterr().out


def test_delivery_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    args: argparse.Namespace = build_parser().parse_args(["ack", "s-1", "--ts-ms", "5"])
    code = actions_cmd.run(args, producer_factory=lambda cfg: FakeProducer(cfg, fail=True))
    assert code == 1 and "broker down" in capsys.readouterr().err
