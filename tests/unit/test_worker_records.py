"""The worker's record decoder: columns for good records, a dead-letter reason for anything else."""

import json

import numpy as np

from riskstream.registry import Registry, Sensor
from riskstream.schemas import DeadLetterReason, Family
from streams.records import MAX_CHANNELS, RecordDecoder


def _registry() -> Registry:
    return Registry(
        [
            Sensor("g1", Family.HAZCHEM, "combustible_gas", "s", "a", 0.0, 0.0, "gw", "%LEL", {}),
            Sensor("e1", Family.ELEVATOR, "elevator_status", "s", "a", 0.0, 0.0, "gw", "mixed", {}),
        ]
    )


def test_good_records_become_columns_in_order() -> None:
    dec = RecordDecoder(_registry())
    cols = dec.decode(
        [
            json.dumps({"v": 1, "sensor_id": "g1", "ts_ms": 5, "value": 12.5}).encode(),
            json.dumps(
                {
                    "v": 1,
                    "sensor_id": "e1",
                    "ts_ms": 6,
                    "values": {"occupied": 1, "speed_mps": 1.5, "door_open": 0, "in_door_zone": 1},
                }
            ).encode(),
        ]
    )
    assert cols.rows.tolist() == [0, 1] and cols.ts_ms.tolist() == [5, 6]
    assert cols.values.shape == (2, MAX_CHANNELS)
    assert cols.values[0, 0] == 12.5 and np.isnan(cols.values[0, 1:]).all()
    assert cols.values[1].tolist() == [1.5, 0.0, 1.0, 1.0]  # KINDS channel order, not payload order
    assert cols.rejected == []


def test_bad_records_are_rejected_with_a_reason_and_do_not_leak_values() -> None:
    dec = RecordDecoder(_registry())
    cols = dec.decode(
        [
            b"not json",
            json.dumps({"v": 1, "sensor_id": "zz", "ts_ms": 1, "value": 1.0}).encode(),
            json.dumps({"v": 2, "sensor_id": "g1", "ts_ms": 1, "value": 1.0}).encode(),
            json.dumps({"v": 1, "sensor_id": "e1", "ts_ms": 1, "values": {"speed_mps": 9.0}}).encode(),
            b'{"v":1,"sensor_id":"g1","ts_ms":1,"value":NaN}',
            json.dumps({"v": 1, "sensor_id": "g1", "ts_ms": 7, "value": 3.0}).encode(),
        ]
    )
    assert [r.reason for r in cols.rejected] == [
        DeadLetterReason.SCHEMA,
        DeadLetterReason.UNKNOWN_SENSOR,
        DeadLetterReason.UNSUPPORTED_VERSION,
        DeadLetterReason.SCHEMA,
        DeadLetterReason.SCHEMA,
    ]
    assert cols.rows.tolist() == [0] and cols.values[0, 0] == 3.0
    assert np.isnan(cols.values[0, 1:]).all()  # the half-read elevator record left nothing behind
