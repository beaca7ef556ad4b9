"""read_readings: the decoded readings in stable ts_ms order, with each reading's values, across many
blocks of a file in any order (the values are placed block by block, not taken from one copy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.lifecycle.testing import tiny_registry
from riskstream.commands import replay
from riskstream.jsonl_readings import ReadingLineDecoder, iter_blocks

REG = tiny_registry(("g1", "combustible_gas"), ("g2", "combustible_gas"), ("lift", "elevator_status"))


def lines(seed: int, n: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ts = int(rng.integers(0, n // 4 + 1))  # many ties
        sid = ["g1", "g2", "lift"][int(rng.integers(0, 3))]
        rec: dict = {"v": 1, "sensor_id": sid, "ts_ms": ts}
        if sid == "lift":
            rec["values"] = {"speed_mps": i / 10, "door_open": 0.0, "in_door_zone": 1.0, "occupied": 0.0}
        else:
            rec["value"] = round(i / 7, 3)
        out.append(json.dumps(rec, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("block_bytes", [64, 700, 1 << 20])
def test_sorted_columns_equal_a_stable_sort_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, block_bytes: int
) -> None:
    data = lines(seed, 300)
    path = tmp_path / "r.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(replay, "iter_blocks", lambda fh: iter_blocks(fh, block_bytes))
    with path.open("rb") as fh:
        got = replay.read_readings(fh, REG)
    whole = ReadingLineDecoder(REG).decode(data)
    order = np.argsort(whole.ts_ms, kind="stable")
    assert got.rows.tolist() == whole.rows[order].tolist()
    assert got.ts_ms.tolist() == whole.ts_ms[order].tolist()
    assert got.values.tobytes() == whole.values[order].tobytes()  # NaN padding included
