"""Derived conditions: states the hardware works out from several points (issue #17).

The first one is the FEMC's 30 K interlock on the LO power amplifiers: the firmware
(ALMA-FEMC ``paChannel.c``) refuses PA drain-voltage commands unless TEMP0 (4K cryocooler)
or TEMP5 (15K cryocooler) reads a valid value below 30 K. No single sensor's limit can say
that — a warm TEMP5 with an unreadable TEMP0 blocks the PAs, a warm TEMP3 does not — so it
is a condition over readings, kept as data in ``derived.csv``:

==============  ==========================================================================
name            ``LRU.CONDITION``; must not be a point name
inputs          point names joined by ``|``
rule            ``all_at_or_above``: true when every input is invalid or ≥ ``threshold``;
                false when some input is valid and below it; unknown otherwise (an input
                with no reading at all: the E2C or the node did not answer)
threshold       the bound, in the inputs' unit
valid_low/high  a reading is valid only strictly between these (the firmware's sanity
                check) and with a good status (no negative FEMC status, no sentinel)
true_label,     the text shown when the condition holds / does not hold
false_label
limit           the limit state while it holds (``alarm`` or ``warn``); ``ok`` otherwise
unit            unit of the condition's value (usually empty: 1 true, 0 false)
limit_source,   where the rule comes from; description: one line for people
source,
description
==============  ==========================================================================

:meth:`Derived.evaluate` takes readings as ``{point: (value, status) or None}`` so that a
sweep's tidy rows, a logged dataset or a future ``alarms()``/``diagnose()`` can all use it;
:func:`tidy_rows` adds the conditions to one antenna's tidy rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from e2ckit.catalog._point import Decoded

__all__ = ["RULES", "Derived", "tidy_rows"]

#: the rules a derived condition may use
RULES = ("all_at_or_above",)

Reading = tuple[float | None, str] | None


@dataclass(frozen=True)
class Derived:
    """One derived condition, as a row of ``derived.csv`` describes it."""

    name: str
    inputs: tuple[str, ...]
    rule: str
    threshold: float
    valid_low: float | None = None
    valid_high: float | None = None
    true_label: str = "TRUE"
    false_label: str = "FALSE"
    limit: str = "alarm"
    unit: str = ""
    limit_source: str = ""
    source: str = ""
    description: str = ""

    def _valid(self, reading: tuple[float | None, str]) -> bool:
        value, status = reading
        if status != "ok" or value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.valid_low is not None and not value > self.valid_low:
            return False
        return self.valid_high is None or value < self.valid_high

    def evaluate(self, readings: Mapping[str, Reading]) -> Decoded:
        """The condition from ``readings`` (``{input point: (value, status)}``; None or
        absent: no reading). ``value`` 1.0 holds, 0.0 does not, None unknown."""
        below, no_reading, parts = [], [], []
        for name in self.inputs:
            reading = readings.get(name)
            short = name.split(".", 1)[-1]
            if reading is None:
                no_reading.append(name)
                parts.append(f"{short}: no reading")
            elif not self._valid(reading):
                parts.append(f"{short}: invalid ({reading[1] if reading[1] != 'ok' else reading[0]})")
            else:
                value = float(reading[0])  # type: ignore[arg-type]
                if value < self.threshold:
                    below.append(name)
                parts.append(f"{short} {value:g} {'<' if value < self.threshold else '>='} {self.threshold:g}")
        note = "; ".join(parts)
        if below:
            return Decoded(0.0, self.false_label, "ok", note, "ok", b"")
        if no_reading:
            status = "unknown: no reading of " + ", ".join(no_reading)
            return Decoded(None, "unknown", status, note, "unavailable", b"")
        return Decoded(1.0, self.true_label, "ok", note, self.limit, b"")


def tidy_rows(derived: Iterable[Derived], antenna: str, rows: Sequence[Any], make: Callable[..., Any]) -> list[Any]:
    """Rows for every condition whose inputs are all among one antenna's tidy ``rows``
    (objects with the :class:`~e2ckit.api.TidyRow` fields), made by ``make`` with those
    fields: time of the latest input, no raw bytes, no latency of its own. None when no
    input has a reading at all (an antenna that is down gets no condition rows)."""
    by_point = {r.point: r for r in rows}
    out = []
    for d in derived:
        got = [by_point.get(name) for name in d.inputs]
        if any(r is None for r in got):
            continue  # not every input was read: the condition is not part of this sweep
        readings: dict[str, Reading] = {}
        for name, r in zip(d.inputs, got, strict=True):
            if r.error is not None and r.error == r.error:  # no reading (None/NaN: none)
                readings[name] = None
            else:
                value = None if r.value is None or math.isnan(r.value) else float(r.value)
                readings[name] = (value, r.status)
        if all(v is None for v in readings.values()):
            continue  # nothing read (the E2C is down...): the inputs' error rows say it all
        dec = d.evaluate(readings)
        value = math.nan if dec.value is None else dec.value
        time = max(r.time for r in got)
        out.append(make(time, antenna, d.name, value, dec.text, d.unit, dec.status, dec.limit, None, None, math.nan))
    return out
