"""Which detectors the shared conformance suite runs (found automatically), and helpers to test them.

The hook: a concrete :class:`detectors.base.Detector` subclass anywhere under the ``detectors``
package declares the instances to test with a classmethod::

    @classmethod
    def conformance_examples(cls) -> Sequence[Detector]:
        return (cls(MyParams()), cls(MyParams(window=3, min_count=1)))

Give at least one instance that warms up within ~10 readings per sensor, so the warm code paths are
exercised too. :func:`conformance_cases` imports every module of the package, collects every concrete
subclass and returns its examples. A class without the classmethod is still tested when its parameter
type (the ``P`` of ``Detector[P]``) is a dataclass whose fields all have defaults: it is built as
``cls(P())``. Anything else is listed by :func:`uncovered_detector_classes`, and the suite fails
naming it, so no detector silently escapes. Returning an empty sequence opts a class out explicitly
(only for concrete helpers that are not detectors in their own right).

The helpers below (:func:`make_stream`, :func:`run_chunks`, :func:`assert_states_equal`) are what
tests/contract/test_detector_conformance.py and tests/property/test_detector_properties.py use; they
ship with the package so the author of a new detector can run the same checks on it. Kept a plain
module with no I/O imports.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import itertools
import pkgutil
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

import detectors
from detectors.base import Batch, Detector, State
from detectors.generic import Cusum, EwmaZ, FlatLine, Gap, RateOfChange, RobustZ, Spike, StaticLimits

#: The generic detectors, in the order the docs and the benchmark list them.
GENERIC_DETECTORS: tuple[type[Detector[Any]], ...] = (
    StaticLimits,
    RateOfChange,
    RobustZ,
    EwmaZ,
    Cusum,
    FlatLine,
    Gap,
    Spike,
)

#: Modules not to import while discovering (none yet; e.g. a module that needs an optional extra).
SKIP_MODULES: frozenset[str] = frozenset()


def iter_detector_modules(package: ModuleType = detectors) -> Iterator[ModuleType]:
    """Import and yield every module of ``package`` (recursively). Import errors propagate."""
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
        if info.name in SKIP_MODULES:
            continue
        yield importlib.import_module(info.name)


def concrete_detector_classes() -> list[type[Detector[Any]]]:
    """Every non-abstract Detector subclass defined under the ``detectors`` package, sorted by path."""
    for _ in iter_detector_modules():
        pass
    found: dict[str, type[Detector[Any]]] = {}
    stack: list[type[Any]] = [Detector]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not inspect.isabstract(sub) and sub.__module__.startswith("detectors."):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return [found[k] for k in sorted(found)]


def _params_type(cls: type[Any]) -> type[Any] | None:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is not None and issubclass(typing.get_origin(base), Detector):
                args = typing.get_args(base)
                if args and isinstance(args[0], type):
                    return args[0]
    return None


def examples_of(cls: type[Detector[Any]]) -> list[Detector[Any]] | None:
    """The instances to test for ``cls``, or None when it declares none and has no default params."""
    hook = getattr(cls, "conformance_examples", None)
    if hook is not None:
        return list(hook())
    params_type = _params_type(cls)
    if params_type is not None and dataclasses.is_dataclass(params_type):
        try:
            return [cls(params_type())]
        except TypeError:
            return None
    return None


def uncovered_detector_classes() -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in concrete_detector_classes() if examples_of(c) is None]


def conformance_cases() -> list[tuple[str, Detector[Any]]]:
    """``(test id, detector)`` for every example of every discovered detector."""
    cases: list[tuple[str, Detector[Any]]] = []
    for cls in concrete_detector_classes():
        for i, det in enumerate(examples_of(cls) or ()):
            cases.append((f"{cls.__module__.removeprefix('detectors.')}.{cls.__qualname__}[{i}]", det))
    return cases


@dataclass(frozen=True, slots=True)
class Stream:
    """Readings in arrival (time) order, to be cut into batches."""

    rows: NDArray[np.int32]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.rows.size)

    def batch(self, start: int = 0, stop: int | None = None) -> Batch:
        sl = slice(start, stop)
        return Batch.of(self.rows[sl], self.ts_ms[sl], self.values[sl])

    def only_rows(self, keep: NDArray[np.bool_]) -> Stream:
        return Stream(self.rows[keep], self.ts_ms[keep], self.values[keep])


def make_stream(
    rng: np.random.Generator,
    n_sensors: int,
    per_sensor: int,
    channels: int = 0,
    start_ts_ms: int = 1_700_000_000_000,
    non_finite_fraction: float = 0.0,
) -> Stream:
    """Noisy readings with steps, repeats (flat runs) and spikes; strictly increasing timestamps."""
    n = n_sensors * per_sensor
    rows = rng.permutation(np.repeat(np.arange(n_sensors, dtype=np.int32), per_sensor))
    ts = start_ts_ms + np.cumsum(rng.integers(1, 2_000, size=n, dtype=np.int64))
    base = rng.normal(0.0, 1.0, size=n)
    base = np.where(rng.random(n) < 0.3, np.round(base, 0), base)  # repeats -> flat runs
    base = np.where(rng.random(n) < 0.05, base * 20.0, base)  # spikes
    base += np.where(rows % 2 == 0, 0.0, 5.0)  # sensors at different levels
    if non_finite_fraction:
        bad = rng.random(n) < non_finite_fraction
        base[bad] = rng.choice(np.array([np.nan, np.inf, -np.inf]), size=int(bad.sum()))
    values = channel_values(base, channels)
    return Stream(rows, ts, values)


def channel_values(base: NDArray[np.float64], channels: int) -> NDArray[np.float64]:
    """``base`` as single-channel ``(n,)`` values, or spread over ``channels`` columns."""
    if not channels:
        return base.astype(np.float64)
    return base[:, None] + 0.5 * np.arange(channels, dtype=np.float64)[None, :]


def stream_order(stream: Stream, start: int = 0, stop: int | None = None) -> NDArray[np.int64]:
    """For ``stream.batch(start, stop)``: the stream position (minus ``start``) of each batch reading."""
    sl = slice(start, stop)
    return np.lexsort((stream.ts_ms[sl], stream.rows[sl])).astype(np.int64)


def run_chunks(
    detector: Detector[Any], state: State, stream: Stream, bounds: Sequence[int] = ()
) -> tuple[NDArray[np.float64], State]:
    """Feed ``stream`` cut at ``bounds`` (ascending positions) batch by batch; scores in stream order."""
    scores = np.full(len(stream), np.nan, dtype=np.float64)
    edges = [0, *[b for b in bounds if 0 < b < len(stream)], len(stream)]
    for start, stop in itertools.pairwise(edges):
        if stop <= start:
            continue
        batch_scores, state = detector.step(state, stream.batch(start, stop))
        scores[start + stream_order(stream, start, stop)] = batch_scores
    return scores, state


def assert_states_equal(a: State, b: State, rows: NDArray[np.integer] | slice = slice(None)) -> None:
    """Same keys, dtypes and trailing shapes, and equal values (NaN equal to NaN) on ``rows``."""
    assert sorted(a) == sorted(b), f"state keys differ: {sorted(a)} vs {sorted(b)}"
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype, f"{k}: dtype {x.dtype} vs {y.dtype}"
        assert x.shape[1:] == y.shape[1:], f"{k}: shape {x.shape} vs {y.shape}"
        np.testing.assert_array_equal(x[rows], y[rows], err_msg=f"state column {k!r} differs")
