"""The Reading v1 JSON-lines decoder of ``riskstream replay``: fast path equals the contract's parse."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from detectors.lifecycle.testing import tiny_registry
from riskstream.jsonl_readings import ReadingLineDecoder, iter_blocks

REG = tiny_registry(
    ("gas-1", "combustible_gas"), ("lift-1", "elevator_status"), ("vib-1", "elevator_vibration")
)
LIFT = {"speed_mps": 1.5, "door_open": 0.0, "in_door_zone": 1.0, "occupied": 1.0}


def line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(*lines: bytes) -> tuple[list[tuple[int, int, list[float]]], list[tuple[int, str]], int]:
    d = ReadingLineDecoder(REG).decode(b"\n".join(lines) + b"\n")
    got = []
    for r, t, v in zip(d.rows.tolist(), d.ts_ms.tolist(), d.values.tolist(), strict=True):
        got.append((r, t, [x for x in v if not math.isnan(x)]))
    return got, [(b.line, b.reason) for b in d.bad], d.fast


def test_canonical_lines_take_the_fast_path() -> None:
    got, bad, fast = decode(
        line({"v": 1, "sensor_id": "gas-1", "ts_ms": 1782864000267, "value": 12.5}),
        line({"v": 1, "sensor_id": "lift-1", "ts_ms": 5, "values": LIFT}),
        line({"v": 1, "sensor_id": "vib-1", "ts_ms": 6, "values": {"z_pkpk": 0.01, "xy_pkpk": -0.0}}),
    )
    assert bad == [] and fast == 3
    assert got == [(0, 1782864000267, [12.5]), (1, 5, [1.5, 0.0, 1.0, 1.0]), (2, 6, [0.01, -0.0])]
    assert math.copysign(1.0, got[2][2][1]) == -1.0


def test_other_spellings_fall_back_to_the_contract_parser() -> None:
    got, bad, fast = decode(
        json.dumps({"v": 1, "sensor_id": "gas-1", "ts_ms": 7, "value": 1.25}).encode(),  # spaces
        line({"ts_ms": 8, "value": 2, "sensor_id": "gas-1", "v": 1}),  # key order, int value
        line({"v": 1, "sensor_id": "gas-1", "ts_ms": 9, "value": 3.5, "quality": 1, "unit": "%LEL"}),
        line({"v": 1, "sensor_id": "gas-1", "ts_ms": 10, "value": 1e-05}),  # exponent
        line({"v": 1, "sensor_id": "gas-1", "ts_ms": 11, "value": 0.1 + 0.2}),  # 17 significant digits
        line({"v": 1, "sensor_id": "lift-1", "ts_ms": 12, "values": dict(reversed(LIFT.items()))}),
        b'{"v":1,"sensor_id":"gas-1","ts_ms":13,"value":4.0}\r',
    )
    assert bad == [] and fast == 2  # the compact line and the CRLF one
    assert [g[1:] for g in got] == [
        (7, [1.25]),
        (8, [2.0]),
        (9, [3.5]),
        (10, [1e-05]),
        (11, [0.1 + 0.2]),
        (12, [1.5, 0.0, 1.0, 1.0]),
        (13, [4.0]),
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"value":01}', "not JSON"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"value":1.}', "not JSON"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"value":.5}', "not JSON"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"value":1', "not JSON"),
        (b"garbage", "not JSON"),
        (b'{"v":2,"sensor_id":"gas-1","ts_ms":1,"value":1}', "not a Reading v1: v"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":-1,"value":1}', "not a Reading v1: ts_ms"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"value":1e999}', "infinity"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1}', "not a Reading v1"),
        (b'{"v":1,"sensor_id":"gas-9","ts_ms":1,"value":1}', "unknown sensor 'gas-9'"),
        (b'{"v":1,"sensor_id":"gas-1","ts_ms":1,"values":{"a":1}}', "needs a single 'value'"),
        (b'{"v":1,"sensor_id":"lift-1","ts_ms":1,"value":1}', "needs values"),
        (b'{"v":1,"sensor_id":"lift-1","ts_ms":1,"values":{"speed_mps":1}}', "needs values"),
        (b'{"v":1,"sensor_id":"gas\\u002d1","ts_ms":1,"value":1}', ""),  # an escape: valid, slow path
    ],
)
def test_bad_lines_are_reported_with_their_line_number(raw: bytes, reason: str) -> None:
    good = line({"v": 1, "sensor_id": "gas-1", "ts_ms": 0, "value": 1.0})
    got, bad, _ = decode(good, b"", raw, good)
    if not reason:
        assert bad == [] and len(got) == 3
        return
    assert len(got) == 2 and len(bad) == 1
    assert bad[0][0] == 3 and reason in bad[0][1], bad


def test_fast_values_equal_python_floats() -> None:
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.normal(0, 1e3, 3000), np.round(rng.normal(0, 50, 3000), 3), [0.0, -0.0, 1e15]])
    lines = [line({"v": 1, "sensor_id": "gas-1", "ts_ms": i, "value": float(x)}) for i, x in enumerate(xs)]
    d = ReadingLineDecoder(REG).decode(b"\n".join(lines))
    assert d.bad == [] and d.fast > 5000
    assert d.values[:, 0].tobytes() == np.asarray(xs, dtype=np.float64).tobytes()
    assert d.ts_ms.tolist() == list(range(xs.size))


def short_number_texts(rng: np.random.Generator, n: int) -> list[str]:
    """Decimal texts of 1..9 characters: signs, integer parts, fractions, leading zeros (valid or not)."""
    out = []
    for _ in range(n):
        digits = "".join(rng.choice(list("0123456789"), size=int(rng.integers(1, 9))))
        if rng.random() < 0.6 and len(digits) > 1:
            cut = int(rng.integers(0, len(digits) + 1))
            digits = digits[:cut] + "." + digits[cut:]
        if rng.random() < 0.3:
            digits = "-" + digits
        out.append(digits)
    return out


def test_short_numbers_equal_python_floats_and_invalid_ones_are_refused() -> None:
    edge = [
        "0",
        "-0",
        "-0.0",
        "0.5",
        "10",
        "99999999",
        "-1234567",
        "1234567.8",
        "0.000001",
        "1.",
        ".5",
        "-.5",
    ]
    texts = [*short_number_texts(np.random.default_rng(11), 4000), *edge, "00", "-", "1-2", "1..2"]
    lines = [f'{{"v":1,"sensor_id":"gas-1","ts_ms":{i},"value":{t}}}'.encode() for i, t in enumerate(texts)]
    lifts = [
        f'{{"v":1,"sensor_id":"lift-1","ts_ms":{i},"values":{{"speed_mps":{t},"door_open":0,"in_door_zone":1,'
        f'"occupied":{t}}}}}'.encode()
        for i, t in enumerate(texts)
    ]
    for block in (lines, lifts):
        d = ReadingLineDecoder(REG).decode(b"\n".join(block))
        got = dict(zip(d.ts_ms.tolist(), d.values[:, 0].tolist(), strict=True))
        bad = {b.line - 1 for b in d.bad}
        for i, t in enumerate(texts):
            try:
                want = json.loads(t)
            except json.JSONDecodeError:
                assert i in bad, t
                continue
            assert (
                i not in bad and got[i] == float(want) and math.copysign(1, got[i]) == math.copysign(1, want)
            ), t
        assert d.fast > 2000


def test_blocks_split_only_at_line_ends_and_count_lines(tmp_path: Path) -> None:
    lines = [line({"v": 1, "sensor_id": "gas-1", "ts_ms": i, "value": i / 3}) for i in range(1000)]
    lines[500] = line(
        {"v": 1, "sensor_id": "gas-1", "ts_ms": 500, "value": 1.0, "unit": "x" * 30} | {"pad": "y" * 900}
    )
    data = b"\n".join(lines) + b"\n\n" + b"junk"
    dec = ReadingLineDecoder(REG)
    ts, bad = [], []
    for source in (io.BytesIO(data), tmp_path / "r.jsonl"):
        if isinstance(source, Path):
            source.write_bytes(data)
        ts, bad, first = [], [], 1
        with source.open("rb") if isinstance(source, Path) else source as fh:
            for block in iter_blocks(fh, block_bytes=777):
                d = dec.decode(block, first)
                first += d.total_lines
                ts += d.ts_ms.tolist()
                bad += [(b.line, b.reason[:8]) for b in d.bad]
        assert ts == list(range(1000)) and bad == [(1002, "not JSON")]


@pytest.mark.parametrize("crowded", [False, True])
@pytest.mark.parametrize("long_ids", [False, True])
def test_id_lookup_finds_every_sensor_and_only_those(crowded: bool, long_ids: bool) -> None:
    """Every registry id maps to its row, any other id (a prefix, an extension, one byte off, empty) to
    -1; also with a table just larger than the registry, whose probe sequences run long."""
    from riskstream.jsonl_readings import _hash, _hash_table

    stem = "a-very-long-sensor-id-" if long_ids else "s"
    ids = [f"{stem}{i}" for i in range(300)] + ["x", "xy", "abcdefgh", "abcdefghijklmno"]
    reg = tiny_registry(*((sid, "combustible_gas") for sid in ids))
    dec = ReadingLineDecoder(reg)
    if crowded:  # 512 slots for 304 ids: long runs of occupied slots
        dec._table_bits = 9
        table_row, _, dec._probes = _hash_table(_hash(dec._id_words), 9)
        dec._table_row = table_row.astype(np.int32)
    others = ["", f"{stem}3000", f"{stem}30x", f"{stem}", "abcdefghi", "abcdefghijklmn", "y", "xyz"]
    queries = ids + others
    width = dec._id_width
    mat = np.zeros((len(queries), width), dtype=np.uint8)
    for i, q in enumerate(queries):
        raw = q.encode()[:width]
        mat[i, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    length = np.array([len(q.encode()) for q in queries], dtype=np.int64)
    got = dec._lookup_words(np.ascontiguousarray(mat).view(np.uint64), length)
    want = [reg.index.get(q, -1) if len(q.encode()) <= width else -1 for q in queries]
    assert got.tolist() == want
