"""Argument checks shared by the public entry points: one wording for one mistake."""

from __future__ import annotations

import math
from collections.abc import Iterable

from e2ckit.errors import ValidationError
from e2ckit.names import default_deadline

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


def timing(timeout: object, deadline: object, concurrency: object = None, *, option: str = "") -> tuple[float, float]:
    """The one timing rule, for every entry point (the API, the transport, the logger's
    defaults, the CLI): checked ``(timeout, deadline)``, the deadline defaulting to
    2 × timeout + 0.5 s; ``concurrency`` checked too when given. ``option`` prefixes the
    names in the message (``"--"`` for the CLI's ``--timeout``)."""
    t = positive_seconds(f"{option}timeout", timeout)
    d = default_deadline(t) if deadline is None else positive_seconds(f"{option}deadline", deadline)
    if concurrency is not None:
        whole_number(f"{option}concurrency", concurrency, "antennas")
    return t, d


def whole_number(field: str, value: object, unit: str) -> int:
    """An int of at least 1 (not a bool, not a float): a count of ``unit``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{field} must be a whole number of {unit}, at least 1; got {value!r}")
    return value


def host_name(field: str, value: object) -> str:
    """A host name or address: a non-empty str without spaces."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValidationError(f"{field} must be a host name or address (str), got {value!r}")
    return value.strip()


def int_list(field: str, value: object, low: int, high: int) -> list[int]:
    """An iterable of ints in ``low..high`` (not one int, not a string)."""
    if isinstance(value, (str, bytes, int)) or not isinstance(value, Iterable):
        raise ValidationError(f"{field} must be a list of integers {low}..{high}, got {value!r}")
    out = list(value)
    for v in out:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValidationError(f"{field} must be a list of integers {low}..{high}, got {v!r} in it")
    return out


def instance(field: str, value: object, kind: type, expected: str) -> None:
    """``value`` is a ``kind`` (or None, meaning the default)."""
    if value is not None and not isinstance(value, kind):
        raise ValidationError(f"{field} must be {expected}, got {type(value).__name__}")
