"""Kafka reading records -> columnar arrays for the detector engine.

The gateway already validated every reading, but the worker trusts nothing it did not check itself:
a record that is not a Reading v1 of a registered sensor is returned as a rejected record (with a
dead-letter reason) instead of stopping the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import orjson
from numpy.typing import NDArray

from riskstream.kinds import KINDS
from riskstream.registry import Registry
from riskstream.schemas import DeadLetterReason

#: widest channel layout of any kind: single-channel kinds use column 0, unused columns are NaN
MAX_CHANNELS = max(max(len(k.channels), 1) for k in KINDS.values())


@dataclass(slots=True)
class Rejected:
    raw: bytes
    reason: DeadLetterReason
    detail: str


@dataclass(slots=True)
class Columns:
    """One consumed batch, columnar: registry rows, reading times and values (n, MAX_CHANNELS)."""

    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]
    rejected: list[Rejected] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.rows.size)


class RecordDecoder:
    """Decodes Reading v1 JSON records of the sensors in one registry."""

    def __init__(self, registry: Registry) -> None:
        self._index = registry.index
        # per registry row: the channel names of its kind ("" for single-channel kinds)
        self._channels: list[tuple[str, ...]] = [s.spec.channels for s in registry]

    def decode(self, payloads: list[bytes]) -> Columns:
        n = len(payloads)
        rows = np.empty(n, dtype=np.int32)
        ts = np.empty(n, dtype=np.int64)
        vals = np.full((n, MAX_CHANNELS), np.nan, dtype=np.float64)
        rejected: list[Rejected] = []
        index, channels = self._index, self._channels
        j = 0
        for raw in payloads:
            try:
                rec = orjson.loads(raw)  # 3x faster than json; rejects NaN, which no valid reading has
                row = index.get(rec["sensor_id"])
                if row is None:
                    rejected.append(
                        Rejected(raw, DeadLetterReason.UNKNOWN_SENSOR, f"sensor {rec['sensor_id']!r}")
                    )
                    continue
                if rec.get("v") != 1:
                    rejected.append(
                        Rejected(raw, DeadLetterReason.UNSUPPORTED_VERSION, f"v={rec.get('v')!r}")
                    )
                    continue
                ts[j] = int(rec["ts_ms"])
                names = channels[row]
                if names:
                    got = rec["values"]
                    for c, name in enumerate(names):
                        vals[j, c] = float(got[name])
                else:
                    vals[j, 0] = float(rec["value"])
                rows[j] = row
                j += 1
            except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
                vals[j] = np.nan  # a half-written multi-channel row must not leak into the next record
                rejected.append(Rejected(raw, DeadLetterReason.SCHEMA, f"not a Reading v1 record: {exc!r}"))
        return Columns(rows[:j], ts[:j], vals[:j], rejected)
