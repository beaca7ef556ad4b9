"""The canonical JSON text of a document (keys sorted, no spaces) that the engine fingerprints.

``canonical_json(doc)`` is ``json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)``
encoded as UTF-8. orjson writes the same bytes about seven times faster for the documents sensor params
are made of, so it is used when every value of the document is one it writes identically:

* ``dict`` (keys ``str``, printable ASCII) and ``list``; ``None``, ``bool``;
* ``int`` of magnitude below 2**63 (orjson refuses larger ones);
* ``float`` that is 0 or of magnitude in [1e-4, 1e16): there both write the shortest round-trip digits
  without an exponent (outside it the exponent is written ``1e-05`` by one and ``1e-5`` by the other;
  NaN and infinities are ``NaN``/``Infinity`` in one and ``null`` in the other);
* ``str`` of printable ASCII (the standard library escapes every other character as ``\\uXXXX``).

Anything else (other types, subclasses, tuples, non-ASCII text) takes ``json.dumps``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_INT_LIMIT = 1 << 63


def canonical_json(doc: Any) -> bytes:
    """``json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()``."""
    if _written_alike(doc):
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def _written_alike(doc: Any) -> bool:
    """Whether orjson writes ``doc`` exactly as the standard library does (see the module docstring)."""
    todo = [doc]
    keys_ok: set[str] = set()  # keys already checked (documents of one registry share a few)
    while todo:
        node = todo.pop()
        kind = type(node)
        if kind is dict:
            if not keys_ok.issuperset(node):
                for key in node:
                    if type(key) is not str or not (key.isascii() and key.isprintable()):
                        return False
                keys_ok.update(node)
            items = node.values()
        elif kind is list:
            items = node
        else:
            items = (node,)
        for v in items:
            kind = type(v)
            if kind is float:
                if not (v == 0.0 or 1e-4 <= abs(v) < 1e16):  # NaN fails both
                    return False
            elif kind is str:
                if not (v.isascii() and v.isprintable()):
                    return False
            elif kind is int:
                if not -_INT_LIMIT < v < _INT_LIMIT:
                    return False
            elif kind is dict or kind is list:
                todo.append(v)
            elif v is not None and kind is not bool:
                return False
    return True
