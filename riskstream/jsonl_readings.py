"""Fast decoding of Reading v1 JSON lines into the engine's columns (rows, ts_ms, values).

Replay files are large (millions of lines) and JSON parsing, not detection, would be the bottleneck, so
lines in the canonical compact form that the simulators, gateways and ``json.dumps(r, separators=(",",
":"))`` write::

    {"v":1,"sensor_id":"hz-cg-0001","ts_ms":1782864000267,"value":1.1}
    {"v":1,"sensor_id":"el-es-0001","ts_ms":1782864000170,"values":{"speed_mps":0.0,"door_open":0.0,…}}

(channels in the kind's order) are decoded with numpy over the whole buffer: field literals are
compared at computed offsets, sensor ids are looked up by a hash of their bytes, numbers are parsed
digit by digit and converted exactly (a mantissa below 2**53 times an exact power of ten is one
correctly rounded IEEE operation, so the result equals Python's ``float()``). Any line that does not
match that form exactly (other key order, spaces, ``quality``/``unit``, long mantissas, escapes, bad
JSON) falls back to orjson plus validation of all such lines at once with the Reading v1 pydantic
``TypeAdapter``: the fast path only ever accepts lines the contract accepts, with the same values.

Lines that are not valid Reading v1 records, name a sensor missing from the registry, or whose
``value``/``values`` do not fit the sensor's kind are returned as :class:`BadLine` (line number and
reason), never raised.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import ValidationError

from riskstream.kinds import kind_spec
from riskstream.registry import Registry
from riskstream.schemas import READINGS_ADAPTER

#: value columns of the engine's batches (single-channel kinds: column 0)
VALUE_COLUMNS = 4
_TS_MAX = 7_258_118_400_000
_PREFIX = b'{"v":1,"sensor_id":"'
_TS_KEY = b'","ts_ms":'
_NUM_WINDOW = 24
_PAD = 512
_H_MUL = np.uint64(0x9E3779B97F4A7C15)
_H_MUL2 = np.uint64(0xC2B2AE3D27D4EB4F)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int  # 1-based line number in the file
    reason: str


@dataclass(slots=True)
class DecodedLines:
    """Good readings of a block of lines, in line order, and the bad lines."""

    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]
    bad: list[BadLine] = field(default_factory=list)
    lines: int = 0  # non-blank lines
    fast: int = 0
    total_lines: int = 0  # every line, blank ones included (the next block's first line number)

    def __len__(self) -> int:
        return int(self.rows.size)


class _Template:
    """The byte layout after ``"ts_ms":<int>`` for one channel layout of kinds."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        if channels:
            first = f',"values":{{"{channels[0]}":'.encode()
            self.literals = [first] + [f',"{c}":'.encode() for c in channels[1:]]
            self.end = b"}}"
        else:
            self.literals = [b',"value":']
            self.end = b"}"


class ReadingLineDecoder:
    """Decodes blocks of Reading v1 JSON lines for the sensors of one registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        n = len(registry)
        # channel layouts per kind (a sensor's layout is its kind's), in order of first appearance
        kinds = registry.kinds.tolist()
        layouts: dict[tuple[str, ...], int] = {}
        layout_of_kind: dict[str, int] = {}
        channels_of_kind: dict[str, tuple[str, ...]] = {}
        for kind in dict.fromkeys(kinds):
            channels_of_kind[kind] = kind_spec(kind).channels
            layout_of_kind[kind] = layouts.setdefault(channels_of_kind[kind], len(layouts))
        self._layout_of = np.array([layout_of_kind[k] for k in kinds], dtype=np.int16).reshape(n)
        self._layouts = list(layouts)
        self._templates = [_Template(ch) for ch in self._layouts]
        self._channels = [channels_of_kind[k] for k in kinds]
        ids = [s.sensor_id.encode() for s in registry]
        id_len = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        longest = int(id_len.max()) if n else 1
        #: ids of at most 15 bytes are read as two 64-bit words (the word path); longer ones byte-wise
        self._word_ids = longest <= 15
        self._id_width = 16 if self._word_ids else max(8, -(-longest // 8) * 8)
        mat = np.zeros((n, self._id_width), dtype=np.uint8)
        if n:  # every id's bytes at the start of its row, in one scatter
            flat = np.frombuffer(b"".join(ids), dtype=np.uint8)
            starts = np.cumsum(id_len) - id_len
            row = np.repeat(np.arange(n), id_len)
            mat[row, np.arange(flat.size) - np.repeat(starts, id_len)] = flat
        self._id_words = mat.view(np.uint64)
        self._id_len = id_len
        #: the ids' lengths, compact: the lookup reads them at random rows
        self._id_len16 = id_len.astype(np.int16) if longest < 1 << 15 else id_len
        self._table_bits = max(4, int(np.ceil(np.log2(max(len(ids), 1) * 2))) + 1)
        table_row, _, self._probes = _hash_table(_hash(self._id_words), self._table_bits)
        self._table_row = table_row.astype(np.int32)  # half the bytes of int64: more of it stays in cache

    # --- public ------------------------------------------------------------------------------------

    def decode(self, data: bytes | memoryview, first_line: int = 1) -> DecodedLines:
        """Decode ``data`` (whole lines; the last may lack its newline). Line numbers start at
        ``first_line``; blank lines are skipped."""
        buf = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        ends = nl if (buf.size and buf[-1] == 10) else np.r_[nl, buf.size]
        starts = np.r_[0, nl + 1][: ends.size]
        ends = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))  # CRLF
        n_lines = int(ends.size)
        line_no = np.arange(first_line, first_line + n_lines, dtype=np.int64)
        nonblank = ends > starts
        rows = np.full(n_lines, -1, dtype=np.int32)
        ts = np.zeros(n_lines, dtype=np.int64)
        vals = np.full((n_lines, VALUE_COLUMNS), np.nan)
        padded = np.concatenate([buf, np.zeros(_PAD, dtype=np.uint8)])
        # no backslash in the block: no id can hold an escape (bytes: one memchr-speed search)
        escapes = b"\\" in data if isinstance(data, bytes | bytearray) else bool(np.any(buf == 92))
        ok = self._fast(padded, starts, ends, nonblank, rows, ts, vals, escapes)
        slow = np.flatnonzero(nonblank & ~ok)
        bad = self._slow(data, starts, ends, slow, line_no, rows, ts, vals)
        good = rows >= 0
        if not good.all():
            rows, ts, vals = rows[good], ts[good], vals[good]
        return DecodedLines(rows, ts, vals, bad, int(np.count_nonzero(nonblank)), int(ok.sum()), n_lines)

    # --- the vectorised path -----------------------------------------------------------------------

    def _fast(
        self,
        b: NDArray[np.uint8],
        starts: NDArray[np.int64],
        ends: NDArray[np.int64],
        nonblank: NDArray[np.bool_],
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        vals: NDArray[np.float64],
        escapes: bool = True,
    ) -> NDArray[np.bool_]:
        """Fill the columns of canonical lines; True where a line was decoded this way. ``escapes``:
        the buffer may hold a backslash (else the id escape check is skipped)."""
        ok = np.zeros(starts.size, dtype=bool)
        w = _Windows(b)
        cand = np.flatnonzero(nonblank & (ends - starts > len(_PREFIX) + 20))
        if cand.size == 0 or len(self.registry) == 0:
            return ok
        if self._word_ids:
            cand, row, p = self._head_words(w, starts, cand, escapes)
        else:
            cand, row, p = self._head_bytes(w, starts, cand)
        t, p2, good = _timestamps(w, p)
        cand, row, t, p = cand[good], row[good], t[good], p2[good]
        layout = self._layout_of[row]
        for li, tmpl in enumerate(self._templates):
            sel = np.flatnonzero(layout == li)
            if sel.size == 0:
                continue
            pos = p[sel]
            if len(tmpl.literals) == 1:  # single channel: the number runs to the line's closing brace
                lit = tmpl.literals[0]
                e = ends[cand[sel]] - 1
                g = w.matches(pos, lit) & (b[e] == 125)
                x, _, num_ok = _any_numbers(w, pos + len(lit), e - pos - len(lit))
                s_ = sel[g & num_ok]
                lines = cand[s_]
                rows[lines] = row[s_]
                ts[lines] = t[s_]
                vals[lines, 0] = x[g & num_ok]
                ok[lines] = True
                continue
            g = np.ones(sel.size, dtype=bool)
            cols = np.empty((sel.size, len(tmpl.literals)))
            for k, lit in enumerate(tmpl.literals):
                g &= w.matches(pos, lit)
                x, pos, num_ok = _any_numbers(w, pos + len(lit))
                g &= num_ok
                cols[:, k] = x
            g &= w.matches(pos, tmpl.end) & (pos + len(tmpl.end) == ends[cand[sel]])
            s = sel[g]
            lines = cand[s]
            rows[lines] = row[s]
            ts[lines] = t[s]
            vals[lines, : cols.shape[1]] = cols[g]
            ok[lines] = True
        return ok

    def _head_words(
        self, w: _Windows, starts: NDArray[np.int64], cand: NDArray[np.int64], escapes: bool = True
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
        """Prefix, sensor id (≤ 15 bytes, as two words) and the ``","ts_ms":`` key: the lines that
        have them, their registry rows and where their timestamp starts."""
        u = w.u64
        s0 = starts[cand]
        keep = (u[s0] == _PREFIX_W[0]) & (u[s0 + 8] == _PREFIX_W[1]) & (u[s0 + 12] == _PREFIX_W[2])
        cand, a = cand[keep], s0[keep] + len(_PREFIX)
        x0, x1 = u[a], u[a + 8]
        q0, q1 = _first_byte(x0, 34), _first_byte(x1, 34)
        n = np.where(q0 < 8, q0, 8 + q1)
        n0, n1 = np.minimum(n, 8), np.minimum(np.maximum(n - 8, 0), 8)
        if escapes:  # no escapes in the id
            plain = (_first_byte(x0, 92) >= n0) & ((n <= 8) | (_first_byte(x1, 92) >= n1))
        else:
            plain = np.ones(n.size, dtype=bool)
        words = np.stack([x0 & _LOW_MASK[n0], x1 & _LOW_MASK[n1]], axis=1)
        row = np.where(plain & (n >= 1) & (n <= 15), self._lookup_words(words, n), -1)
        pk = a + n
        keep = (row >= 0) & (u[pk] == _TS_KEY_W[0]) & (u[pk + 2] == _TS_KEY_W[1])
        return cand[keep], row[keep].astype(np.int32), pk[keep] + len(_TS_KEY)

    def _head_bytes(
        self, w: _Windows, starts: NDArray[np.int64], cand: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
        """:meth:`_head_words` for registries with ids longer than 15 bytes."""
        cand = cand[w.matches(starts[cand], _PREFIX)]
        id_start = starts[cand] + len(_PREFIX)
        id_win = w.at(id_start, self._id_width + 1)
        is_quote = id_win == 34
        id_len = np.where(is_quote.any(axis=1), np.argmax(is_quote, axis=1), self._id_width + 1)
        fits = (id_len >= 1) & (id_len <= self._id_width) & ~np.any(id_win == 92, axis=1)
        cand, id_start, id_len, id_win = cand[fits], id_start[fits], id_len[fits], id_win[fits]
        row = self._lookup(id_win[:, : self._id_width], id_len)
        known = row >= 0
        cand, row = cand[known], row[known]
        p = id_start[known] + id_len[known]
        keep = w.matches(p, _TS_KEY)
        return cand[keep], row[keep], p[keep] + len(_TS_KEY)

    def _lookup(self, id_bytes: NDArray[np.uint8], length: NDArray[np.int64]) -> NDArray[np.int32]:
        """Registry row of each id (-1: unknown), by a hash of its bytes, then a full comparison."""
        mat = np.where(np.arange(self._id_width) < length[:, None], id_bytes, 0).astype(np.uint8)
        return self._lookup_words(np.ascontiguousarray(mat).view(np.uint64), length)

    def _lookup_words(self, words: NDArray[np.uint64], length: NDArray[np.int64]) -> NDArray[np.int32]:
        """Registry row of each id given as zero-padded words (-1: unknown).

        The table is probed from the slot of the id's hash; each probe compares the id itself (length and
        words) with the row in the slot, until that row's id is this one or the slot is empty. Ids are
        unique, so the row whose id matches is the answer.
        """
        h = _hash(words)
        mask = (1 << self._table_bits) - 1
        slot = (h & np.uint64(mask)).astype(np.int64)
        row = np.full(h.size, -1, dtype=np.int32)
        todo = np.arange(h.size)
        for probe in range(self._probes):
            first = probe == 0  # every id is still to find: whole columns, no gathers
            cand = self._table_row[slot if first else slot[todo]]
            at = np.maximum(cand, 0)
            same = (cand >= 0) & (self._id_len16[at] == (length if first else length[todo]))
            held = np.take(self._id_words, at, axis=0)  # each candidate's words: one read per id
            for k in range(held.shape[1]):  # word by word
                same &= held[:, k] == (words[:, k] if first else words[todo, k])
            row[todo[same]] = cand[same]
            todo = todo[~same & (cand >= 0)]
            if todo.size == 0:
                break
            slot[todo] = (slot[todo] + 1) & mask
        return row

    # --- the fallback ------------------------------------------------------------------------------

    def _slow(
        self,
        data: bytes | memoryview,
        starts: NDArray[np.int64],
        ends: NDArray[np.int64],
        lines: NDArray[np.int64],
        line_no: NDArray[np.int64],
        rows: NDArray[np.int32],
        ts: NDArray[np.int64],
        vals: NDArray[np.float64],
    ) -> list[BadLine]:
        bad: list[BadLine] = []
        parsed: list[Any] = []
        where: list[int] = []
        for i in lines.tolist():
            raw = bytes(data[starts[i] : ends[i]])
            if not raw.strip():
                continue
            try:
                parsed.append(orjson.loads(raw))
            except orjson.JSONDecodeError as exc:
                bad.append(BadLine(int(line_no[i]), f"not JSON: {exc}"))
                continue
            where.append(i)
        if not parsed:
            return bad
        try:
            readings = READINGS_ADAPTER.validate_python(parsed)
            failed: dict[int, str] = {}
        except ValidationError as exc:
            failed = {}
            for err in exc.errors(include_url=False):
                k = int(err["loc"][0])
                field_name = ".".join(str(x) for x in err["loc"][1:]) or "record"
                failed.setdefault(k, f"not a Reading v1: {field_name}: {err['msg']}")
            keep = [k for k in range(len(parsed)) if k not in failed]
            readings_kept = READINGS_ADAPTER.validate_python([parsed[k] for k in keep])
            readings = [None] * len(parsed)  # type: ignore[list-item]
            for k, r in zip(keep, readings_kept, strict=True):
                readings[k] = r
        index = self.registry.index
        for k, i in enumerate(where):
            if k in failed:
                bad.append(BadLine(int(line_no[i]), failed[k]))
                continue
            r = readings[k]
            row = index.get(r.sensor_id)
            if row is None:
                bad.append(BadLine(int(line_no[i]), f"unknown sensor {r.sensor_id!r}"))
                continue
            names = self._channels[row]
            if names:
                got = r.values
                if got is None or any(n not in got for n in names):
                    bad.append(BadLine(int(line_no[i]), f"sensor {r.sensor_id} needs values {list(names)}"))
                    continue
                vals[i, : len(names)] = [got[n] for n in names]
            else:
                if r.value is None:
                    bad.append(BadLine(int(line_no[i]), f"sensor {r.sensor_id} needs a single 'value'"))
                    continue
                vals[i, 0] = r.value
            rows[i] = row
            ts[i] = r.ts_ms
        bad.sort(key=lambda x: x.line)
        return bad


#: bytes per block of :func:`iter_blocks`: about 13,000 canonical lines, so the decoder's per-line
#: arrays (a few hundred kB) stay in the CPU's L2 cache; 16 MB blocks cost a third more CPU per line
BLOCK_BYTES = 1 << 20


def iter_blocks(fh: BinaryIO, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Whole-line blocks of a binary file (the last may lack its newline). A real file is memory-mapped
    and cut at line ends; other streams are read in pieces."""
    try:
        import mmap

        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        mm = None  # not a file, or an empty one
    if mm is not None:
        start, size = 0, len(mm)
        try:
            while start < size:
                cut = mm.rfind(b"\n", start, min(start + block_bytes, size))
                if start + block_bytes >= size:
                    end = size
                elif cut >= 0:
                    end = cut + 1
                else:  # a line longer than a block: extend the block to its end
                    nxt = mm.find(b"\n", start + block_bytes)
                    end = size if nxt < 0 else nxt + 1
                yield mm[start:end]  # one copy, straight from the page cache
                start = end
        finally:
            mm.close()
        return
    rest = b""
    while True:
        chunk = fh.read(block_bytes)
        if not chunk:
            if rest:
                yield rest
            return
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        yield data[: cut + 1]
        rest = data[cut + 1 :]


# --- vectorised primitives -------------------------------------------------------------------------


def _hash(words: NDArray[np.uint64]) -> NDArray[np.uint64]:
    h = np.full(words.shape[0], _H_MUL2, dtype=np.uint64)
    for k in range(words.shape[1]):
        h = (h ^ words[:, k]) * _H_MUL
        h ^= h >> np.uint64(29)
    return h


def _hash_table(h: NDArray[np.uint64], bits: int) -> tuple[NDArray[np.int64], NDArray[np.uint64], int]:
    """Open-addressing table (linear probing) of registry rows by id hash; returns rows, hashes and the
    longest probe sequence. Built in rounds: every row claims its next slot, the first claimant of a
    free slot wins (rows in order), the others move one slot on. Equal hashes of different ids are
    both kept (ids are compared after the lookup)."""
    size = 1 << bits
    rows = np.full(size, -1, dtype=np.int64)
    hashes = np.zeros(size, dtype=np.uint64)
    pending = np.arange(h.size)
    slot = (h & np.uint64(size - 1)).astype(np.int64)
    probes = 0
    while pending.size:
        probes += 1
        want = slot[pending]
        free = rows[want] < 0
        _, first = np.unique(want[free], return_index=True)
        winners = pending[free][first]
        rows[slot[winners]] = winners
        hashes[slot[winners]] = h[winners]
        placed = np.zeros(h.size, dtype=bool)
        placed[winners] = True
        pending = pending[~placed[pending]]
        slot[pending] = (slot[pending] + 1) & (size - 1)
    return rows, hashes, max(probes, 1)


class _Windows:
    """Fixed-width byte windows of a padded buffer, gathered by start position without index matrices."""

    def __init__(self, padded: NDArray[np.uint8]) -> None:
        self._b = padded
        self._views: dict[int, NDArray[np.uint8]] = {}
        #: the 8 bytes starting at every position, as a little-endian uint64 (unaligned view, no copy)
        self.u64: NDArray[np.uint64] = np.ndarray(
            (padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,)
        )

    @property
    def b(self) -> NDArray[np.uint8]:
        return self._b

    def at(self, pos: NDArray[np.int64], width: int) -> NDArray[np.uint8]:
        view = self._views.get(width)
        if view is None:
            view = self._views[width] = np.lib.stride_tricks.sliding_window_view(self._b, width)
        return view[pos]

    def matches(self, pos: NDArray[np.int64], literal: bytes) -> NDArray[np.bool_]:
        """Whether ``literal`` is at each position (the buffer is padded past the data).

        Compared 8 bytes at a time as 64-bit words (the last word overlapping the one before), not byte
        by byte: one comparison per word instead of a row-wise reduction per position.
        """
        n = len(literal)
        if n < 8:
            lit = np.frombuffer(literal, dtype=np.uint8)
            return np.all(self.at(pos, lit.size) == lit, axis=1)
        offsets = [*range(0, n - 7, 8)]
        if offsets[-1] != n - 8:
            offsets.append(n - 8)
        ok = self.u64[pos + offsets[0]] == _word(literal[offsets[0] : offsets[0] + 8])
        for k in offsets[1:]:
            ok &= self.u64[pos + k] == _word(literal[k : k + 8])
        return ok


_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True
_NUMCHAR = _DIGIT.copy()
_NUMCHAR[[45, 46]] = True  # '-' '.'; exponents are left to the fallback


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text.ljust(8, b"\0")[:8], "little"))


_PREFIX_W = (_word(_PREFIX[0:8]), _word(_PREFIX[8:16]), _word(_PREFIX[12:20]))
_TS_KEY_W = (_word(_TS_KEY[0:8]), _word(_TS_KEY[2:10]))
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_NIBBLES_HI = np.uint64(0xF0F0F0F0F0F0F0F0)
_ZEROS = np.uint64(0x3030303030303030)
_SIXES = np.uint64(0x0606060606060606)
_LOW_MASK = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_TS_DIGITS = 13  # epoch milliseconds from 2001-09-09 to 2286-11-20


def _first_byte(x: NDArray[np.uint64], byte: int) -> NDArray[np.int64]:
    """Index (0..7) of the first byte equal to ``byte`` in each little-endian word, 8 if none."""
    t = x ^ (_ONES * np.uint64(byte))
    z = (t - _ONES) & ~t & _HIGHS  # the lowest flagged byte is exact (borrows only run upwards)
    low = z & (~z + np.uint64(1))  # 0x80 << 8k: its float exponent is 8k + 7
    exponent = (np.maximum(low, 1).astype(np.float64).view(np.int64) >> 52) - 1023
    return np.where(z == 0, 8, (exponent - 7) >> 3)


def _all_digits(x: NDArray[np.uint64]) -> NDArray[np.bool_]:
    """Whether all 8 bytes of each word are ASCII digits."""
    return ((x & _NIBBLES_HI) == _ZEROS) & (((x + _SIXES) & _NIBBLES_HI) == _ZEROS)


def _parse8(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The number written by 8 ASCII digits (first digit in the lowest byte)."""
    x = x - _ZEROS
    x = (x * np.uint64(10) + (x >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x * np.uint64(100) + (x >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return (x * np.uint64(10000) + (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _timestamps(
    w: _Windows, pos: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """``ts_ms`` integers at ``pos``: 13 digits in-register, any other length digit by digit."""
    u, b = w.u64, w.b
    x0, x1 = u[pos], u[pos + 5]
    d13 = _all_digits(x0) & _all_digits(x1) & (b[pos] != 48) & ~_DIGIT[b[pos + _TS_DIGITS]]
    low5 = ((x1 - _ZEROS) & ~np.uint64(0xFFFFFF)) + _ZEROS  # digits 8..12, three leading zeros
    value = (_parse8(x0) * np.uint64(100_000) + _parse8(low5)).astype(np.int64)
    end = pos + _TS_DIGITS
    ok = d13.copy()
    other = np.flatnonzero(~d13)
    if other.size:
        v2, e2, ok2 = _integers(w, pos[other])
        value[other], end[other], ok[other] = v2, e2, ok2
    return value, end, ok & (value <= _TS_MAX)


_DOT_TO_ZERO = np.uint64(0x30 - 0x2E)
_POW10_F = 10.0 ** np.arange(8)


def _short_numbers(
    w: _Windows, pos: NDArray[np.int64], length: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """JSON numbers ``-?(0|[1-9][0-9]*)(.[0-9]+)?`` of at most 8 characters, parsed in-register from the
    word at ``pos``; the number ends at ``,`` or ``}`` unless ``length`` is given. The mantissa (≤ 8
    digits) and the power of ten are exact, so the one division rounds correctly (= Python's float()).
    Numbers this cannot take are not ok (the caller parses them another way)."""
    x = w.u64[pos]
    if length is None:  # the terminator must be inside the word
        n = np.minimum(_first_byte(x, 44), _first_byte(x, 125))
        ok = (n >= 1) & (n <= 7)
    else:
        n = np.minimum(np.maximum(length, 0), 8)
        ok = (length >= 1) & (length <= 8)
    neg = (x & np.uint64(0xFF)) == np.uint64(45)
    body = np.where(neg, x >> np.uint64(8), x)
    m = n - neg  # characters after the sign
    m_mask = _LOW_MASK[np.minimum(np.maximum(m, 0), 8)]  # the bytes of the number
    body &= m_mask
    dot = _first_byte(body | ~m_mask & _ZEROS, 46)  # '.' within the number
    has_dot = dot < m
    shift_dot = (np.where(has_dot, dot, 0) * 8).astype(np.uint64)
    plain = np.where(has_dot, body + (_DOT_TO_ZERO << shift_dot), body)  # '.' -> '0' for the check
    filled = plain | (_ZEROS & ~m_mask)
    ok &= (m >= 1) & _all_digits(filled)
    int_len = np.where(has_dot, dot, m)
    first = body & np.uint64(0xFF)
    ok &= (int_len >= 1) & ~((first == np.uint64(48)) & (int_len > 1))  # a digit first, no leading zero
    frac = np.where(has_dot, m - dot - 1, 0)
    ok &= ~has_dot | (frac >= 1)
    # the digits without the dot, then right-aligned behind leading zeros for the 8-digit parse
    low = body & _LOW_MASK[np.minimum(np.maximum(int_len, 0), 8)]
    high = body >> ((np.minimum(int_len + 1, 7) * 8).astype(np.uint64))
    digits = np.where(has_dot, low | (high << shift_dot), body)
    ndig = np.minimum(np.maximum(int_len + frac, 1), 8)
    pad = ((8 - ndig) * 8).astype(np.uint64)
    aligned = np.where(ndig == 8, digits, (digits << pad) | (_ZEROS & _LOW_MASK[8 - ndig]))
    mant = _parse8(aligned).astype(np.float64)
    value = mant / _POW10_F[np.minimum(np.maximum(frac, 0), 7)]
    value = np.where(neg & (has_dot | (mant != 0)), -value, value)  # "-0" is the integer 0, not -0.0
    return value, pos + n, ok


def _any_numbers(
    w: _Windows, pos: NDArray[np.int64], length: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Numbers at ``pos``: short ones in-register, the others character by character."""
    value, end, ok = _short_numbers(w, pos, length)
    other = np.flatnonzero(~ok)
    if other.size:
        v2, e2, ok2 = _numbers(w, pos[other], None if length is None else length[other])
        value[other], end[other], ok[other] = v2, e2, ok2
    return value, end, ok


def _span(win: NDArray[np.uint8], charset: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the leading run of ``charset`` characters in each window (its width if all are)."""
    outside = ~charset[win]
    return np.where(outside.any(axis=1), np.argmax(outside, axis=1), win.shape[1])


def _integers(
    w: _Windows, pos: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Non-negative JSON integers at ``pos`` (1..18 digits, no leading zero): value, end, ok."""
    if pos.size == 0:
        return np.empty(0, dtype=np.int64), pos, np.empty(0, dtype=bool)
    win = w.at(pos, _NUM_WINDOW)
    n = _span(win, _DIGIT)
    ok = (n >= 1) & (n <= 18) & ~((n > 1) & (win[:, 0] == 48))
    width = int(n[ok].max()) if ok.any() else 1
    text = np.where(np.arange(width) < n[:, None], win[:, :width], 0).astype(np.uint8)
    value = np.where(ok, np.ascontiguousarray(text).view(f"S{width}").ravel(), b"0").astype(np.int64)
    return value, pos + n, ok


def _numbers(
    w: _Windows, pos: NDArray[np.int64], length: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """JSON numbers ``-?(0|[1-9][0-9]*)(.[0-9]+)?`` at ``pos``: value, end, ok. Numbers with an exponent
    or longer than the window are not ok (their line takes the fallback). The conversion is numpy's
    correctly rounded string-to-double, so values equal Python's ``float()``."""
    if pos.size == 0:
        return np.empty(0), pos, np.empty(0, dtype=bool)
    win = w.at(pos, _NUM_WINDOW)
    if length is None:
        n = _span(win, _NUMCHAR)
        ok = (n >= 1) & (n < _NUM_WINDOW)
    else:  # the caller knows where the number ends: its characters must all be number characters
        n = np.clip(length, 0, _NUM_WINDOW - 1)
        ok = (length >= 1) & (length < _NUM_WINDOW) & (_span(win, _NUMCHAR) >= n)
    width = max(int(n[ok].max()) if ok.any() else 1, 2)
    text = np.where(np.arange(width) < n[:, None], win[:, :width], 0).astype(np.uint8)
    neg = text[:, 0] == 45
    first = np.where(neg, text[:, 1], text[:, 0])
    second = np.where(neg, win[:, 2], win[:, 1])
    last = win[np.arange(pos.size), np.maximum(n - 1, 0)]
    dots = (text == 46).sum(axis=1)
    minus = (text == 45).sum(axis=1)
    ok &= _DIGIT[first] & _DIGIT[last] & (dots <= 1) & (minus == neg)
    ok &= ~((first == 48) & _DIGIT[second] & (n > 1 + neg))  # no leading zero
    ok &= ~(neg & (text[:, 1] == 46))  # "-.5"
    value = np.where(ok[:, None], text, np.frombuffer(b"0".ljust(width, b"\0"), dtype=np.uint8))
    out = np.ascontiguousarray(value).view(f"S{width}").ravel().astype(np.float64)
    out[(out == 0) & (dots == 0)] = 0.0  # "-0" is the integer 0 (JSON parsers give int 0), not -0.0
    return out, pos + n, ok
