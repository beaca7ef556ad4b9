"""Reusable scratch arrays for the generic detectors' large temporaries, one set per thread.

A batch of 10,000 readings needs a few hundred kB to a few MB of temporaries (ring windows, their
deviations). Allocated and freed every batch, glibc hands that memory back to the kernel and the next
batch faults it in again, page by page: hundreds of page faults per batch, as costly as the arithmetic
itself. Keeping the largest temporaries between batches avoids it. A buffer is valid until the next
request for the same name in the same thread, so callers never return one (scores are fresh arrays)
and never hold one across calls; buffers above ``MAX_POOLED_BYTES`` are not kept.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

#: larger requests get a fresh array every time (a huge batch should not pin memory afterwards)
MAX_POOLED_BYTES = 32 << 20

_local = threading.local()


def scratch(name: str, shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """An uninitialised C-contiguous array of ``shape``, reused across calls with the same ``name``."""
    dt = np.dtype(dtype)
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    size = math.prod(dims)
    if size * dt.itemsize > MAX_POOLED_BYTES:
        return np.empty(dims, dtype=dt)
    pool: dict[tuple[str, str], NDArray[Any]] | None = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    key = (name, dt.str)
    flat = pool.get(key)
    if flat is None or flat.size < size:
        flat = pool[key] = np.empty(max(size, 1024), dtype=dt)
    return flat[:size].reshape(dims)
