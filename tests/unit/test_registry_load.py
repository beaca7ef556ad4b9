"""Registry.load's fast paths equal the general ones: records read by position as csv.DictReader reads
them, and params parsed through orjson exactly as ``json.loads`` parses them."""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream import registry
from riskstream.registry import COLUMNS, Registry, RegistryError, Sensor, json_loads

HEADER = ",".join(COLUMNS)
GAS = 'g{i},hazchem,combustible_gas,site {i},north,29.7,106.6,gw-1,%LEL,"{{""first_alarm_lel"":2{i}}}"'


def dict_reader_load(path: Path) -> list[Sensor]:
    """The general path: csv.DictReader's dicts, numbered as it yields them."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if [c for c in COLUMNS if c not in (reader.fieldnames or [])]:
            raise RegistryError("missing column(s)")
        return [registry._parse_row(row, path, line) for line, row in enumerate(reader, start=2)]


def fields(sensors: list[Sensor]) -> list[str]:
    """Every field of every sensor, NaN-safe and type-exact (repr keeps int 1 apart from float 1.0)."""
    return [repr([getattr(s, f) for f in Sensor.__slots__]) for s in sensors]


def outcome(load: Any, path: Path) -> tuple[str, Any]:
    try:
        return "ok", fields(load(path))
    except RegistryError as exc:
        return "error", str(exc)


@pytest.mark.parametrize(
    "body",
    [
        "\n".join(GAS.format(i=i) for i in range(5)),
        # blank records are skipped and not numbered, so the error names the 3rd record's line (4)
        f"{GAS.format(i=1)}\n\n{GAS.format(i=2)}\ng3,hazchem,combustible_gas,s,a,x,1,g,u,{{}}",
        # a short record (missing fields None: unit falls back to the kind's) and a long one
        f"{GAS.format(i=1)}\ng2,hazchem,combustible_gas,s,a,1,2,gw\n{GAS.format(i=3)},extra,more",
        # a short record missing params, lat and lon
        "g1,hazchem,combustible_gas,s,a",
        # empty lat/lon/params/unit, quoted field with a newline and a comma, CRLF line ends
        'g1,hazchem,combustible_gas,"tank farm,\n3",a,,,gw,,\r\ng2,hazchem,combustible_gas,s,a,1,1,g,u, \r\n',
        # errors of each kind, first problem of the record wins
        "g1,nope,rain_gauge,s,a,x,1,g,u,[1]",
        "g1,hazchem,rain_gauge,s,a,1,1,g,u,{}",
        'g1,hazchem,combustible_gas,s,a,1,1,g,u,"[1]"',
        'g1,hazchem,combustible_gas,s,a,1,1,g,u,"{""a"":"',
        " ,hazchem,combustible_gas,s,a,1,1,g,u,{}",
        "g1,hazchem,combustible_gas,s,a,1,1,g,u,{},more",
    ],
)
def test_load_equals_dict_reader(tmp_path: Path, body: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n" + body + "\n", encoding="utf-8", newline="")
    assert outcome(Registry.load, path) == outcome(dict_reader_load, path)


def test_reordered_repeated_and_extra_columns(tmp_path: Path) -> None:
    # columns in another order, an extra one, and "site" twice: the last one counts, as in a dict
    header = "params,kind,site,extra,sensor_id,family,area,lat,lon,gateway_id,unit,site"
    rows = [
        '"{""first_alarm_lel"":20}",combustible_gas,first,x,g1,hazchem,north,1,2,gw,u,second',
        "{},combustible_gas,first,x,g2,hazchem,north,1,2,gw,u",  # short: the second site is None
    ]
    path = tmp_path / "r.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    got = Registry.load(path).sensors
    assert fields(got) == fields(dict_reader_load(path))
    assert [s.site for s in got] == ["second", ""]


@pytest.mark.parametrize("text", ["", "\n", "sensor_id,family\n"])
def test_missing_columns(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(RegistryError, match="missing column"):
        Registry.load(path)


def same_json(a: Any, b: Any) -> bool:
    """Equal, with equal types all the way down (1 vs 1.0 vs True differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def parse_both(text: str) -> tuple[tuple[str, Any], tuple[str, Any]]:
    out = []
    for load in (json_loads, json.loads):
        try:
            out.append(("ok", load(text)))
        except json.JSONDecodeError as exc:
            out.append(("error", exc.msg))
    return out[0], out[1]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"b":2.5,"c":"x","d":null,"e":true,"f":[1,{"g":-0.0}]}',
        '{"a":1,"a":2}',  # duplicate keys: the last wins
        '{"big":18446744073709551616,"neg":-9223372036854775809,"u64":18446744073709551615}',
        '{"deep":[[{"x":123456789012345678901234567890}]]}',
        '{"f":1e19,"g":9223372036854775808.0,"h":-9.3e18}',  # huge floats that are floats
        '{"nan":NaN,"inf":Infinity,"m":-Infinity,"over":1e400}',
        '{"s":"\\ud800","t":"\\ud83d\\ude00"}',  # a lone surrogate escape, a pair
        '{"long":0.30000000000000000000000000001,"tiny":2.4703282292062328e-324,"z":-0}',
        "123456789012345678901234567890",
        "[1, 2 ,3]",
        '"text"',
        "",
        "{",
        '{"a":01}',
        '{"a":1}x',
        '{"a":"\x01"}',
    ],
)
def test_json_loads_equals_stdlib(text: str) -> None:
    fast, general = parse_both(text)
    assert fast[0] == general[0]
    assert same_json(fast[1], general[1]) if fast[0] == "ok" else fast[1] == general[1]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans())
def test_json_loads_equals_stdlib_on_generated_documents(doc: Any, ascii_only: bool) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    fast, general = parse_both(text)
    assert fast[0] == general[0] == "ok"
    assert same_json(fast[1], general[1])


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][-+]?[0-9]{1,3})?", fullmatch=True))
def test_json_loads_equals_stdlib_on_numbers(number: str) -> None:
    fast, general = parse_both('{"x":' + number + "}")
    assert fast[0] == general[0] == "ok"
    assert same_json(fast[1], general[1])


@pytest.mark.parametrize("was_on", [True, False])
@pytest.mark.parametrize("body", [GAS.format(i=1), "g1,nope,combustible_gas,s,a,1,1,g,u,{}"])
def test_load_leaves_the_garbage_collector_as_it_was(tmp_path: Path, was_on: bool, body: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n" + body + "\n")
    (gc.enable if was_on else gc.disable)()
    try:
        with contextlib.suppress(RegistryError):
            Registry.load(path)
        assert gc.isenabled() == was_on
    finally:
        gc.enable()


def test_rows_of_kind_are_the_rows_whose_kind_it_is() -> None:
    from detectors.lifecycle.testing import tiny_registry

    kinds = ["rain_gauge", "combustible_gas", "rain_gauge", "tank_level", "combustible_gas", "rain_gauge"]
    reg = tiny_registry(*((f"s{i}", k) for i, k in enumerate(kinds)))
    for kind in [*set(kinds), "crack_meter", "no such kind"]:
        got = reg.rows_of_kind(kind)
        assert got.dtype == np.int32
        assert got.tolist() == np.flatnonzero(reg.kinds == kind).tolist()
    reg.rows_of_kind("rain_gauge")[:] = 99  # a new array each time
    assert reg.rows_of_kind("rain_gauge").tolist() == [0, 2, 5]
