"""canonical_json equals json.dumps(sort_keys, compact, default=str) byte for byte, whichever writer runs."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import canonical_json as cj


def reference(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def both(doc: Any) -> tuple[bytes | str, bytes | str]:
    out = []
    for write in (cj.canonical_json, reference):
        try:
            out.append(write(doc))
        except (TypeError, ValueError) as exc:
            out.append(type(exc).__name__)
    return out[0], out[1]


PLAIN = [
    {"b": 1, "a": 2.5, "c": "x", "d": None, "e": True, "f": [1, {"z": -0.0, "y": 0.0}]},
    [{"first_alarm_lel": 25.0, "gas": "propane"}, {}, {"rated_speed_mps": 1.75, "sustain_readings": 2}],
    {"tiny": 1e-4, "big": 9999999999999998.0, "neg": -123456.789, "int": -(2**63) + 1, "q": 'say "hi" \\'},
]
OTHER = [
    {"small": 9.999999999999999e-05},  # below 1e-4: written with an exponent
    {"large": 1e16},
    {"nan": math.nan, "inf": math.inf},
    {"huge": 2**63, "huger": -(2**70)},
    {"text": "café"},  # non-ASCII
    {"del": "x\x7f"},  # DEL: escaped by the standard library only
    {"ctl": "a\nb\x01"},  # control characters (escaped alike, but not printable: not taken)
    {"ключ": 1},
    {1: "int key"},
    {"t": (1, 2), "when": dt.date(2026, 7, 1)},  # a tuple, a value only default=str can write
    {"s": {1, 2}},
]


@pytest.mark.parametrize("doc", PLAIN + OTHER)
def test_equals_the_standard_library(doc: Any) -> None:
    fast, slow = both(doc)
    assert fast == slow


@pytest.mark.parametrize("doc", PLAIN)
def test_plain_documents_take_orjson(doc: Any) -> None:
    assert cj._written_alike(doc)


@pytest.mark.parametrize("doc", OTHER)
def test_other_documents_take_the_standard_library(doc: Any) -> None:
    assert not cj._written_alike(doc)


documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.floats()
    | st.floats(min_value=1e-4, max_value=1e16)
    | st.text(max_size=5)
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=500, deadline=None)
@given(documents)
def test_generated_documents(doc: Any) -> None:
    fast, slow = both(doc)
    assert fast == slow
