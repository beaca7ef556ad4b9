"""Row gathers and scatters of per-sensor state arrays with a few columns each, without numpy's slow path.

``a[rows]`` and ``a[rows] = values`` on an array of shape ``(capacity, k)`` go through numpy's general
fancy-indexing machinery, which costs about ten times more per row than the row copy itself when ``k``
is small (a level latch's four run counters, a rule's four run starts). :func:`take_rows` is
``np.take(a, rows, axis=0)`` (the same elements, copied row by row); :func:`put_rows` writes each row as
one opaque item of ``k`` elements' bytes. Both give exactly what the plain indexing gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def take_rows(a: NDArray[Any], rows: NDArray[np.integer]) -> NDArray[Any]:
    """``a[rows]`` for an integer index of the first axis (a new array; negative rows count from the end,
    out-of-range rows raise ``IndexError``)."""
    return np.take(a, rows, axis=0)


def put_rows(a: NDArray[Any], rows: NDArray[np.integer], values: NDArray[Any]) -> None:
    """``a[rows] = values`` for an integer index of the first axis and ``values`` of shape
    ``(len(rows),) + a.shape[1:]``; with repeated rows the last value written wins, as there."""
    values = np.asarray(values)
    if (
        a.ndim < 2
        or a.size == 0
        or not a.flags.c_contiguous
        or values.dtype != a.dtype
        or values.shape != (len(rows), *a.shape[1:])
    ):
        a[rows] = values
        return
    width = a.size // a.shape[0]  # elements per row
    item = np.dtype((np.void, a.itemsize * width))  # one row's bytes as one element
    src = np.ascontiguousarray(values).reshape(len(rows), width).view(item)
    a.reshape(a.shape[0], width).view(item)[rows] = src
