"""Detector state checkpoints on the Kafka state topic, located through the committed offsets.

A checkpoint is the engine snapshot, compressed and cut into chunks that fit a Kafka record, all
produced to one partition of the state topic. For every readings partition ``i`` the worker owns,
a small pointer record (where the chunks are) goes to state partition ``i``, and the worker commits,
in the same commit as its readings offsets, the offset of that pointer record as the group's offset
for (state topic, ``i``). Restoring reads exactly the committed pointer, then exactly the chunks it
names: nothing depends on the broker's end offsets, which the local broker reports wrongly, nor on
commit metadata, which it drops (design.md §6, ADR 0004). So the state topic needs at least as many
partitions as the readings topic.

Chunk and pointer keys alternate between two slots per owner, so on a compacted topic the next
checkpoint can never overwrite the records the committed offsets still point at.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

CHUNK_BYTES = 900_000  # below the 1 MB default record size limit


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read back intact."""


@dataclass(frozen=True, slots=True)
class SnapshotLocation:
    topic: str
    partition: int
    offset: int  # offset of the first chunk
    chunks: int
    snapshot_id: str  # sha256 of the compressed blob: identifies and verifies it

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SnapshotLocation:
        return cls(**json.loads(raw))


class StateStore:
    """Writes and reads engine snapshots on the state topic (explicit connection settings)."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        owner: str,
        partition: int = 0,
        producer_extra: dict[str, Any] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        timeout_s: float = 30.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self.owner = owner
        self.partition = partition
        self._chunk_bytes = chunk_bytes
        self._timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.max.bytes": max(1_000_000, chunk_bytes + 10_000),
                **(producer_extra or {}),
            }
        )
        self._generation = 0

    def save(self, blob: bytes, partitions: list[int]) -> dict[int, int]:
        """Store ``blob`` for the given readings partitions; returns partition -> pointer offset.

        The chunks go to the state partition of the lowest readings partition; one pointer record per
        readings partition goes to the state partition of the same number. Waits for every ack.
        """
        if not partitions:
            return {}
        packed = zlib.compress(blob, 1)
        sid = hashlib.sha256(packed).hexdigest()
        parts = [packed[i : i + self._chunk_bytes] for i in range(0, len(packed), self._chunk_bytes)] or [b""]
        slot = self._generation % 2
        self._generation += 1
        home = min(partitions)
        chunk_offsets = self._produce_all(
            [
                (home, f"{self.owner}|{slot}|{i}", part, {"snapshot_id": sid, "chunk": str(i)})
                for i, part in enumerate(parts)
            ]
        )
        loc = SnapshotLocation(self.topic, home, min(chunk_offsets), len(parts), sid)
        pointer_offsets = self._produce_all(
            [(p, f"{self.owner}|ptr|{p}|{slot}", loc.to_json(), {"pointer": str(p)}) for p in partitions]
        )
        return dict(zip(partitions, pointer_offsets, strict=True))

    def _produce_all(self, records: list[tuple[int, str, bytes, dict[str, str]]]) -> list[int]:
        offsets: dict[int, int] = {}
        errors: list[str] = []
        for n, (partition, key, value, headers) in enumerate(records):

            def on_delivery(err: Any, msg: Any, n: int = n) -> None:
                if err is not None:
                    errors.append(str(err))
                else:
                    offsets[n] = msg.offset()

            self._producer.produce(
                self.topic,
                key=key.encode(),
                value=value,
                partition=partition,
                headers=headers,
                on_delivery=on_delivery,
            )
            self._producer.poll(0)
        remaining = self._producer.flush(self._timeout_s)
        if remaining or errors or len(offsets) != len(records):
            raise CheckpointError(f"state records not delivered: {remaining} pending, errors {errors[:3]}")
        return [offsets[n] for n in range(len(records))]

    def locate(self, partition: int, pointer_offset: int) -> SnapshotLocation:
        """The snapshot location held by the pointer record at exactly ``pointer_offset``."""
        for headers, value in self._read(partition, pointer_offset, 1):
            if headers.get("pointer") == str(partition):
                return SnapshotLocation.from_json(value)
        raise CheckpointError(f"no state pointer at {self.topic}[{partition}]@{pointer_offset}")

    def load(self, loc: SnapshotLocation) -> bytes:
        """Read exactly the chunks at ``loc`` and verify them against the snapshot id."""
        chunks: dict[int, bytes] = {}
        for headers, value in self._read(loc.partition, loc.offset, loc.chunks, snapshot_id=loc.snapshot_id):
            chunks[int(headers["chunk"])] = value
        if len(chunks) != loc.chunks:
            raise CheckpointError(f"state snapshot at {loc} incomplete: {len(chunks)} of {loc.chunks} chunks")
        packed = b"".join(chunks[i] for i in range(loc.chunks))
        if hashlib.sha256(packed).hexdigest() != loc.snapshot_id:
            raise CheckpointError(f"state snapshot at {loc} does not match its id")
        return zlib.decompress(packed)

    def _read(
        self, partition: int, offset: int, count: int, snapshot_id: str | None = None
    ) -> list[tuple[dict[str, str], bytes]]:
        """``count`` records from ``offset`` on (only those of ``snapshot_id`` when given)."""
        consumer = Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": f"{self.owner}-restore",
                "enable.auto.commit": False,
                "fetch.message.max.bytes": max(1_048_576, self._chunk_bytes + 10_000),
            }
        )
        out: list[tuple[dict[str, str], bytes]] = []
        try:
            consumer.assign([TopicPartition(self.topic, partition, offset)])
            deadline = time.monotonic() + self._timeout_s
            while len(out) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                headers = {k: v.decode() for k, v in (msg.headers() or [])}
                if snapshot_id is not None and headers.get("snapshot_id") != snapshot_id:
                    continue
                out.append((headers, msg.value() or b""))
        except KafkaException as exc:
            raise CheckpointError(f"cannot read {self.topic}[{partition}]@{offset}: {exc}") from exc
        finally:
            consumer.close()
        return out

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
