"""detectors.rows: row gathers and scatters equal plain ``a[rows]`` / ``a[rows] = values``."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.rows import put_rows, take_rows

SHAPES = [(7,), (7, 1), (7, 4), (7, 3, 2), (7, 0)]
DTYPES = [np.int8, np.int32, np.int64, np.float64, np.bool_, np.uint64]


def sample(shape: tuple[int, ...], dtype: type, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(-100, 100, shape).astype(dtype)
    if dtype is np.float64 and a.size:
        a.flat[0], a.flat[-1] = np.nan, -0.0  # NaN and signed zero survive byte-wise copies
    return a


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "rows",
    [[0, 3, 6], [6, 0, 2, 2], [-1, -7], [], list(range(7))],
    ids=["some", "repeat", "neg", "none", "all"],
)
def test_take_and_put_equal_plain_indexing(shape: tuple[int, ...], dtype: type, rows: list[int]) -> None:
    idx = np.array(rows, dtype=np.int32)
    a = sample(shape, dtype, 1)
    np.testing.assert_array_equal(take_rows(a, idx), a[idx])
    values = sample((len(rows), *shape[1:]), dtype, 2)
    if len(set(rows)) < len(rows):  # repeated rows: the last value wins, as with plain indexing
        values[:] = values[-1]
    want, got = a.copy(), a.copy()
    want[idx] = values
    put_rows(got, idx, values)
    assert got.tobytes() == want.tobytes()


def test_put_falls_back_for_views_other_dtypes_and_broadcasts() -> None:
    base = sample((6, 8), np.int32, 3)
    idx = np.array([1, 4], dtype=np.int64)
    cases = [
        (base[:, ::2], sample((2, 4), np.int32, 4)),  # not contiguous
        (base.copy(), sample((2, 8), np.int64, 5)),  # another dtype: converted as plain indexing does
        (base.copy(), np.int32(9)),  # a scalar broadcast
        (base.copy(), sample((1, 8), np.int32, 6)),  # a row broadcast
    ]
    for a, values in cases:
        want, got = a.copy(), a
        want[idx] = values
        put_rows(got, idx, values)
        np.testing.assert_array_equal(got, want)


def test_out_of_range_rows_raise() -> None:
    a = sample((3, 4), np.int32, 7)
    with pytest.raises(IndexError):
        take_rows(a, np.array([3]))
    with pytest.raises(IndexError):
        put_rows(a, np.array([3]), a[:1])
