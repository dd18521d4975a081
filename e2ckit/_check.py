"""Argument checks shared by the public entry points: one wording for one mistake."""

from __future__ import annotations

import math
from collections.abc import Iterable

from e2ckit.errors import ValidationError

#: The longest timeout, deadline or interval accepted, in seconds (about 31 years):
#: past ~9.2e9 s the socket, threading and time_t conversions raise OverflowError.
MAX_SECONDS = 1e9


def name_list(value: object, field: str, expected: str, *, commas: bool = False) -> list[str]:
    """``value`` as a list of names: one name, or any iterable of them.

    ``commas`` also splits ``"DV01,CM03"``. Anything else raises ValidationError
    naming ``field`` and what was ``expected``.
    """
    if isinstance(value, str):
        return value.split(",") if commas else [value]
    if isinstance(value, Iterable):
        return list(value)
    raise ValidationError(f"{field} must be {expected}; got {value!r}")


def positive_seconds(field: str, value: object) -> float:
    """A finite, positive number of seconds (not a bool, not a string), at most MAX_SECONDS."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{field} must be a positive number of seconds, got {value!r}")
    if value > MAX_SECONDS:
        raise ValidationError(f"{field} must be a positive number of seconds up to {MAX_SECONDS:g}, got {value!r}")
    return float(value)


def whole_number(field: str, value: object, unit: str) -> int:
    """An int of at least 1 (not a bool, not a float): a count of ``unit``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{field} must be a whole number of {unit}, at least 1; got {value!r}")
    return value
