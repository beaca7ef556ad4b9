"""``riskstream replay``: files in, Alert v1 lines out, through exactly the engine a worker runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from detectors.engine import Engine
from detectors.lifecycle import LifecycleConfig
from detectors.lifecycle.testing import tiny_registry
from riskstream.cli import main
from riskstream.schemas import Alert, OperatorAction

T0 = 1_782_864_000_000
CONFIG = """
config_version = "bt-7"

[alarm]
clear_readings = 2

[alarm.rules.gas_two_stage]
raise_readings = 2
raise_window = 3
escalate_after_ms = { orange = 60000 }

[deadman]
factor = 3.0
"""


def write_inputs(tmp: Path) -> tuple[Path, Path, Path, Path, list[dict]]:
    reg = tiny_registry(
        ("gas-1", "combustible_gas", {"expected_interval_s": 10}),
        ("gas-2", "combustible_gas"),
        ("tox-1", "toxic_gas", {"gas": "H2S"}),
    )
    reg_path = tmp / "registry.csv"
    reg.save(reg_path)
    readings = []
    for i, x in enumerate([5, 30, 30, 55, 58, 60, 61, 62, 62, 62, 40, 10, 5, 5]):
        readings.append({"v": 1, "sensor_id": "gas-1", "ts_ms": T0 + i * 10_000, "value": float(x)})
        readings.append({"v": 1, "sensor_id": "gas-2", "ts_ms": T0 + i * 10_000 + 1, "value": x / 2})
    readings.append({"v": 1, "sensor_id": "gas-2", "ts_ms": T0 + 400_000, "value": 1.0})
    lines = [json.dumps(r, separators=(",", ":")) for r in readings]
    random.Random(3).shuffle(lines)  # any order
    lines.insert(4, "this is not json")
    lines.insert(9, json.dumps({"v": 1, "sensor_id": "nope", "ts_ms": T0, "value": 1}))
    inp = tmp / "readings.jsonl"
    inp.write_text("\n".join(lines) + "\n")
    actions = [
        {
            "v": 1,
            "action": "ack",
            "target": "gas-1",
            "ts_ms": T0 + 75_000,
            "by": "ops-1",
            "note": "crew sent",
        },
        {"v": 1, "action": "shelve", "target": "gas-2", "ts_ms": T0 + 15_000, "until_ts_ms": T0 + 45_000},
    ]
    act = tmp / "actions.jsonl"
    act.write_text("\n".join(json.dumps(a) for a in actions) + "\n{broken\n")
    cfg = tmp / "alarms.toml"
    cfg.write_text(CONFIG)
    return reg_path, inp, act, cfg, readings


def test_replay_writes_the_engines_alerts_and_reports_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_path, inp, act, cfg, readings = write_inputs(tmp_path)
    out = tmp_path / "out" / "alerts.jsonl"
    args = ["--registry", str(reg_path), "--input", str(inp), "--output", str(out), "--config", str(cfg)]
    code = main(["replay", *args, "--actions", str(act), "--batch", "7"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"{inp}:5: skipped: not JSON" in err
    assert f"{inp}:10: skipped: unknown sensor 'nope'" in err
    assert f"{act}:3: skipped: not JSON" in err
    assert "29 readings from 31 lines (2 bad), 2 actions (0 unmatched, 1 bad lines)" in err
    got = [Alert.model_validate_json(x) for x in out.read_text().splitlines()]

    # the same readings, sorted, through the engine in one call
    from riskstream.alarm_config import load_alarm_config
    from riskstream.registry import Registry

    reg = Registry.load(reg_path)
    conf = load_alarm_config(cfg)
    eng = Engine(reg, "bt-7", lifecycle=conf.lifecycle)
    readings.sort(key=lambda r: r["ts_ms"])
    rows = [reg.index[r["sensor_id"]] for r in readings]
    ts = [r["ts_ms"] for r in readings]
    vals = np.array([r["value"] for r in readings])
    actions = [
        OperatorAction(**a) for a in json.loads("[" + ",".join(act.read_text().splitlines()[:2]) + "]")
    ]
    want, _ = eng.process(eng.init_state(), rows, ts, vals, actions)
    assert [a.alert_id for a in got] == [a.alert_id for a in want]
    assert {a.config_version for a in got} == {"bt-7"}
    events = {a.event.value for a in got}
    assert {"transition", "ack", "shelve", "unshelve"} <= events
    assert any(a.channel.value == "sensor_fault" for a in got)  # gas-1 stops reporting, gas-2 goes on


def test_replay_without_config_uses_the_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg_path, inp, _, _, _ = write_inputs(tmp_path)
    out = tmp_path / "alerts.jsonl"
    assert (
        main(["replay", "--registry", str(reg_path), "--input", str(inp), "--output", str(out), "--quiet"])
        == 0
    )
    got = [Alert.model_validate_json(x) for x in out.read_text().splitlines()]
    assert got and {a.config_version for a in got} == {"1"}
    assert {a.event.value for a in got} == {"transition"}
    eng = Engine(tiny_registry(("gas-1", "combustible_gas")), lifecycle=LifecycleConfig())
    assert eng.lifecycle == LifecycleConfig()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"registry": "missing.csv"}, "cannot read sensor registry"),
        ({"config": "[alarm]\nraise_readings = 0\n"}, "raise_readings"),
        ({"config": "[alarm.rules.no_such_rule]\nclear_readings = 2\n"}, "no_such_rule"),
        ({"config": "[surprise]\n"}, "unknown section"),
    ],
)
def test_unusable_inputs_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    reg_path, inp, _, cfg, _ = write_inputs(tmp_path)
    if "registry" in change:
        reg_path = tmp_path / change["registry"]
    if "config" in change:
        cfg.write_text(change["config"])
    out = tmp_path / "alerts.jsonl"
    code = main(
        [
            "replay",
            "--registry",
            str(reg_path),
            "--input",
            str(inp),
            "--output",
            str(out),
            "--config",
            str(cfg),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
