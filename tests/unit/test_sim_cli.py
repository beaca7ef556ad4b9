"""``riskstream simulate`` writes a reproducible labelled scenario."""

from __future__ import annotations

import json
from pathlib import Path

from riskstream.cli import main
from riskstream.registry import Registry
from simulators.scenario import Scenario


def test_simulate_write_and_registry_out(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    reg_out = tmp_path / "reg.csv"
    rc = main(["simulate", "--sensors", "150", "--seed", "4", "--duration-s", "1500", "--write", str(out),
               "--registry-out", str(reg_out), "--verify"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "verify: ok" in text and "incident" in text
    reg = Registry.load(reg_out)
    assert len(reg) == 150
    expected = Scenario(reg, seed=4, duration_s=1500).expected()
    written = json.loads((out / "incidents.json").read_text())
    assert [i.to_json() for i in expected] == written
    n_lines = sum(1 for _ in (out / "readings.jsonl").open())
    assert n_lines == 150 * 300


def test_simulate_rejects_bad_arguments(capsys) -> None:
    assert main(["simulate", "--sensors", "150", "--tick-ms", "0", "--write", "x"]) == 2
    assert main(["simulate", "--sensors", "3", "--write", "x"]) == 1
    assert "at least" in capsys.readouterr().err
