"""Tail-envelope exceedance: how far a reading goes beyond the sensor's own recent extremes.

One feature stream per sensor (the raw value, or the value minus its daily profile) keeps seven numbers:

* ``count``: finite readings folded in so far;
* ``center``/``scale``: an exponentially weighted mean and mean absolute deviation (weight ``alpha``,
  a plain running mean while fewer than ``1/alpha`` readings were seen);
* ``q_hi``/``q_lo``: stochastic-gradient trackers of the upper and lower ``tail_p`` quantiles: each
  reading moves ``q_hi`` up by ``step * scale * tail_p`` when it reaches it and down by
  ``step * scale * (1 - tail_p)`` otherwise, so in equilibrium a fraction ``1 - tail_p`` of readings
  lies above it. Steps are in units of the bulk's spread, so a single huge spike moves the quantile by
  one small step only: the quantile describes the sensor's ordinary upper range, not its worst day;
* ``env_hi``/``env_lo``: the envelope of what was actually seen: the largest (smallest) reading so far,
  decaying towards the tail quantile with time constant ``tau`` readings. Right after an extreme the
  envelope sits at its level, so an immediate repeat is no news; a few ``tau`` later it is back at the
  quantile.

The exceedance of a reading ``y`` is its distance beyond the envelope in units of the envelope's
distance from the center: ``(y - env_hi) / (env_hi - center)`` above, ``(env_lo - y) / (center - env_lo)``
below, and 0 inside. It is scale free, so one threshold serves every sensor, and graded: a reading
twice as far from the center as the recent extremes scores 1. A sensor that has been perfectly flat
has a zero-width envelope (floored at ``RELATIVE_FLOOR * |center|``), so any movement is far out.

The functions work on gathered blocks (one row per reading of a vectorised step) and write in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: columns of one envelope block, in order
ENVELOPE_COLUMNS: tuple[str, ...] = ("count", "center", "scale", "q_hi", "q_lo", "env_hi", "env_lo")
COUNT, CENTER, SCALE, Q_HI, Q_LO, ENV_HI, ENV_LO = range(len(ENVELOPE_COLUMNS))

#: smallest envelope half-width, relative to the center's magnitude
RELATIVE_FLOOR = 1e-9
ABSOLUTE_FLOOR = 1e-12


@dataclass(frozen=True, slots=True)
class EnvelopeSettings:
    """The constants of one envelope (see module docstring)."""

    alpha: float
    tail_p: float
    step: float
    decay: float  # exp(-1 / tau)


def exceedance(block: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Distance of ``y`` beyond the envelope in envelope half-widths (0 inside); NaN where ``y`` is."""
    c = block[:, CENTER]
    hi, lo = block[:, ENV_HI], block[:, ENV_LO]
    floor = np.maximum(RELATIVE_FLOOR * np.abs(c), ABSOLUTE_FLOOR)
    up = (y - hi) / np.maximum(hi - c, floor)
    down = (lo - y) / np.maximum(c - lo, floor)
    out = np.maximum(np.maximum(up, down), 0.0)
    return np.where(np.isfinite(y), out, np.nan)


def learn(
    block: NDArray[np.float64], y: NDArray[np.float64], ok: NDArray[np.bool_], s: EnvelopeSettings
) -> None:
    """Fold ``y`` into the rows of ``block`` where ``ok``; the other rows stay exactly as they were."""
    count = block[:, COUNT]
    first = ok & (count == 0)
    y = np.where(ok, y, 0.0)
    c, scale = block[:, CENTER], block[:, SCALE]
    q_hi, q_lo = block[:, Q_HI], block[:, Q_LO]

    step = s.step * scale
    miss = 1.0 - s.tail_p
    new_q_hi = q_hi + step * (np.where(y >= q_hi, 1.0, 0.0) - miss)
    new_q_lo = q_lo - step * (np.where(y <= q_lo, 1.0, 0.0) - miss)
    a = np.maximum(s.alpha, 1.0 / (count + 1.0))
    new_c = c + a * (y - c)
    new_scale = scale + a * (np.abs(y - new_c) - scale)
    new_hi = np.maximum(y, np.maximum(new_q_hi, new_q_hi + (block[:, ENV_HI] - new_q_hi) * s.decay))
    new_lo = np.minimum(y, np.minimum(new_q_lo, new_q_lo + (block[:, ENV_LO] - new_q_lo) * s.decay))

    block[:, CENTER] = np.where(ok, new_c, c)
    block[:, SCALE] = np.where(ok, new_scale, scale)
    block[:, Q_HI] = np.where(first, y, np.where(ok, new_q_hi, q_hi))
    block[:, Q_LO] = np.where(first, y, np.where(ok, new_q_lo, q_lo))
    block[:, ENV_HI] = np.where(first, y, np.where(ok, new_hi, block[:, ENV_HI]))
    block[:, ENV_LO] = np.where(first, y, np.where(ok, new_lo, block[:, ENV_LO]))
    block[:, COUNT] = count + ok
