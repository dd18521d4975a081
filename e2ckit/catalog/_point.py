"""One monitor or control point: its address, its byte layout and how to read it.

A :class:`Point` is built from one row of ``points.csv``; nothing about a particular
point lives in code. What lives here are the *rules* shared by all points:

* the data types (``DTYPES``) and their byte layouts, all big-endian on the wire (§1);
* the FEMC status byte that trails every FEMC "standard" monitor reply (§7);
* sentinels: raw values that are not readings (``-1.0`` sensor absent,
  ``0xFFFFFFFF`` minimum on-time elapsed), declared per point in the data;
* limits: ``ok`` / ``warn`` / ``alarm`` from the point's warn and alarm bounds.

:meth:`Point.decode` never raises for bad bytes: a reading it cannot trust comes back
with ``value=None`` and a ``status``/``note`` saying why, so one odd reply cannot break
a sweep of the array. :meth:`Point.encode` is its inverse (the simulator serves replies
with it) and does raise :class:`~e2ckit.errors.ValidationError` for values that cannot
be carried.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from e2ckit.errors import Failure, ValidationError
from e2ckit.names import ANTENNA_RE, FAMILIES
from e2ckit.wire.frames import REPLY_DATA_AT, REPLY_DLEN_AT, reply_data

__all__ = ["CATALOG_PROBLEM", "DTYPES", "FEMC_STATUS", "Decoded", "Point", "bound_state", "parse_antenna"]

#: The kind of error (the text before the first colon of ``Decoded.error`` and of a tidy
#: row's ``error``) for a reply that does not fit its catalog entry: a problem of the
#: catalog, not of the hardware (issue #17).
CATALOG_PROBLEM = "catalog"

#: FEMC status byte (§7), signed. 0 is a good reading; every negative code is not.
FEMC_STATUS: dict[int, str] = {
    0: "ok",
    -1: "hardware communication error",
    -2: "not installed",
    # the firmware also answers −3 in maintenance mode and while its asynchronous
    # monitoring is off, and for a solenoid valve whose read-back differs from the command
    -3: "blocked: hardware state, interlock, maintenance mode or async monitoring off",
    -4: "warning",
    -5: "conversion error",
    -6: "read again",
    -7: "hardware in error state",
    -10: "error range",
    -11: "warning range",
    -12: "undefined RCA",
    -13: "action taken",
    -14: "action taken",
    -15: "not implemented",
}

# dtype -> (kind, struct format of the field or None, default reply size in bytes)
#   int/float: a big-endian number at byte offset ``byte`` of the reply
#   bit:       one bit (``byte``.``bit``) of the reply, value 0/1
#   flags:     the whole reply as a big-endian unsigned integer; labels name bits "B.b"
#   version:   2 or 3 bytes, major.minor[.patch]
#   esn:       8-byte 1-wire serial number; bytes: any 1..8 bytes, shown as hex
#   ds18s20:   AMBSI ambient temperature (§5), 4 bytes, either byte order
#   can_error: AMBSI CAN error word (§5): u16 error count, 0, last error code
DTYPES: dict[str, tuple[str, str | None, int | None]] = {
    "u8": ("int", ">B", 1),
    "i8": ("int", ">b", 1),
    "u16": ("int", ">H", 2),
    "i16": ("int", ">h", 2),
    "u32": ("int", ">I", 4),
    "i32": ("int", ">i", 4),
    "u64": ("int", ">Q", 8),
    "f32": ("float", ">f", 4),
    "f64": ("float", ">d", 8),
    "bit": ("bit", None, 1),
    "flags": ("flags", None, 2),
    "version": ("version", None, 3),
    "esn": ("esn", None, 8),
    "bytes": ("bytes", None, None),
    "ds18s20": ("ds18s20", None, 4),
    "can_error": ("can_error", None, 4),
}



def parse_antenna(antenna: object) -> str:
    """The family (``"DV"``) of an antenna name such as ``"DV01"``, ``"dv01"`` or
    ``"dv01-e2c"``; anything else is a :class:`ValidationError`."""
    if not isinstance(antenna, str):
        raise ValidationError(f"antenna must be a name like 'DV01', got {antenna!r}")
    return _family(antenna)


@functools.lru_cache(maxsize=1024)
def _family(antenna: str) -> str:
    # remembered: a sweep asks for the channel of every point on every antenna
    name = antenna.strip().upper()
    if name in FAMILIES:  # an endpoint's family, for an E2C that is no antenna
        return name
    if name.endswith("-E2C"):
        name = name[:-4]
    m = ANTENNA_RE.match(name)
    if not m:
        raise ValidationError(
            f"antenna {antenna!r} is not an ALMA antenna name (CMnn, DAnn, DVnn or PMnn)"
        )
    return m.group(1)


class Decoded(NamedTuple):
    """One decoded reply.

    ``value`` is a float, or None when there is no good number (bad status, sentinel,
    wrong length, or a point that is text by nature such as a version); ``text`` is what
    to show; ``status`` is ``"ok"`` or why the reading is not good; ``note`` adds detail;
    ``limit`` is ``ok``/``warn``/``alarm``/``unavailable``; ``raw`` the reply bytes;
    ``error`` is None, or ``"catalog: bad length: FEMC.X expects 3 bytes, got 5"`` when the
    reply does not fit the point's catalog entry (a catalog problem, not a hardware fault).

    A named tuple (immutable, attributes as above): a sweep or a logger decodes
    thousands a second, and a frozen dataclass costs several times as much to make.
    """

    value: float | None
    text: str
    status: str = "ok"
    note: str | None = None
    limit: str = "ok"
    raw: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the reply was a good reading (it may still be outside its limits)."""
        return self.status == "ok"


def _fmt_number(value: float, fmt: str, integral: bool) -> str:
    if fmt:
        return format(value, fmt)
    if integral:
        return str(int(value))
    return format(value, ".4g")


@dataclass(frozen=True)
class Point:
    """A monitor or control point, as one row of ``points.csv`` describes it.

    ``channel_rule`` is ``"1"`` (fixed), ``"DA:2|DV:2|CM:3|PM:3"`` (by antenna family)
    or ``"*"`` for a template that applies to any node (``template=True``, ``node``
    None; make a concrete point with :meth:`Catalog.node_point`). ``size`` is the reply
    length without the FEMC status byte (None: any length 1..8). ``byte``/``bit`` select
    a field when several points read the same reply. Physical value = raw·scale + offset.
    ``enum`` is ``((raw, label), ...)``; for ``flags`` the keys are ``"B.b"`` strings.
    ``sentinels`` is ``((raw, is_error, label), ...)``.
    """

    name: str
    lru: str
    node: int | None
    rca: int
    dtype: str
    kind: str = "monitor"
    channel_rule: str = "*"
    size: int | None = None
    byte: int = 0
    bit: int = 0
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    fmt: str = ""
    enum: tuple[tuple[Any, str], ...] = ()
    femc_status: bool = False
    sentinels: tuple[tuple[float, bool, str], ...] = ()
    nominal_low: float | None = None
    nominal_high: float | None = None
    warn_low: float | None = None
    warn_high: float | None = None
    alarm_low: float | None = None
    alarm_high: float | None = None
    limit_source: str = ""
    source: str = ""
    description: str = ""
    template: bool = False
    #: a short name for plots and reports ("4K stage"); "" when the catalog gives none
    label: str = ""
    _channels: tuple[tuple[str, int], ...] = field(default=(), repr=False, compare=False)
    #: what :meth:`decode` needs, worked out once: (reply size, value kind, unpack
    #: function, enum labels by raw value, whether the value is scaled)
    _dec: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)
    #: the function behind sample_reply(), made once (see _make_sampler)
    _sampler: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_channels", _parse_channel_rule(self.channel_rule))
        kind, fmt, _ = DTYPES.get(self.dtype, ("", None, None))
        unpack = struct.Struct(fmt).unpack_from if fmt else None
        labels = dict(self.enum) if kind in ("int", "float", "bit") else {}
        scaled = self.scale != 1.0 or bool(self.offset)
        object.__setattr__(self, "_dec", (self.reply_size, kind, unpack, labels, scaled))
        # the plain number case of sample_reply(): a fixed-size int or float field inside the reply
        plain = unpack is not None and self.size is not None and self.byte + struct.calcsize(fmt) <= self.size  # type: ignore[arg-type]
        object.__setattr__(self, "_sampler", self._make_sampler(plain))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled (and copied) as its constructor arguments: the decoder worked out in
        # __post_init__ holds struct methods and closures, which do not pickle, and is
        # made again on the other side.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init))

    # -- addressing ----------------------------------------------------------------

    @property
    def channel(self) -> int | None:
        """The CAN channel when it does not depend on the antenna, else None."""
        if len(self._channels) == 1 and self._channels[0][0] == "":
            return self._channels[0][1]
        return None

    @property
    def nominal(self) -> tuple[float | None, float | None]:
        """(low, high) of normal operation, either end None when not known."""
        return (self.nominal_low, self.nominal_high)

    @property
    def enum_labels(self) -> dict[Any, str]:
        """The enum (or flag) labels as a dict."""
        return dict(self.enum)

    def channel_for(self, antenna: str) -> int:
        """The CAN channel of this point on ``antenna`` (``"DV01"`` → 2 for CMPR).

        A bad antenna name, a family the rule does not cover, or a template point
        (which has no node) raise :class:`ValidationError`.
        """
        family = parse_antenna(antenna)
        if self.template:
            raise ValidationError(
                f"{self.name} is a template for any node; make a concrete point with "
                f"catalog.node_point({self.name.split('.')[-1]!r}, channel, node)"
            )
        for fam, ch in self._channels:
            if fam in ("", family):
                return ch
        raise ValidationError(f"{self.name} has no channel for {family} antennas (rule {self.channel_rule})")

    # -- sizes ---------------------------------------------------------------------

    @property
    def _kind(self) -> str:
        return DTYPES[self.dtype][0]

    @property
    def reply_size(self) -> int | None:
        """Bytes of a whole reply, the FEMC status byte included (None: variable)."""
        if self.size is None:
            return None
        return self.size + (1 if self.femc_status else 0)

    # -- limits --------------------------------------------------------------------

    def limit_state(self, value: float | None) -> str:
        """``"alarm"`` beyond an alarm bound, ``"warn"`` beyond a warn bound, else
        ``"ok"``; ``"unavailable"`` for None or NaN. Bounds are exclusive. The catalog's
        bounds alone: :func:`e2ckit.catalog.limits.judge` adds a site file's and the
        expected states, with this same comparison (:func:`bound_state`)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "unavailable"
        return bound_state(value, self.warn_low, self.warn_high, self.alarm_low, self.alarm_high)[0]

    # -- decoding ------------------------------------------------------------------

    def decode(self, data: bytes) -> Decoded:
        """Decode a reply's data bytes. Never raises for bad data (see module doc)."""
        raw = data if type(data) is bytes else bytes(data)
        want = self._dec[0]
        if self.femc_status and len(raw) == 1 and raw[0] > 127 and want != 1:
            # The status byte alone: the FEMC answered before any handler set a value
            # (maintenance mode, a module not installed; firmware can.c sendCANMessage).
            status = raw[0] - 256
            label = FEMC_STATUS.get(status, "unknown FEMC status")
            return self._bad(raw, f"{label} ({status})", f"FEMC status byte {status} (0x{raw[0]:02X}) with no value")
        if want is not None and len(raw) != want:
            return self._bad_length(raw, f"{want} bytes")
        if want is None and not 1 <= len(raw) - (1 if self.femc_status else 0) <= 8:
            return self._bad_length(raw, "1 to 8 data bytes" + (" + status byte" if self.femc_status else ""))
        body = raw
        note = None
        if self.femc_status:
            # [value bytes][status: i8] -- a negative status means no good reading (§7)
            body, status = raw[:-1], raw[-1]
            if status > 127:
                status -= 256
                label = FEMC_STATUS.get(status, "unknown FEMC status")
                return self._bad(raw, f"{label} ({status})", f"FEMC status byte {status} (0x{status & 0xFF:02X})")
            if status > 0:
                note = f"unexpected positive FEMC status byte {status}"
        try:
            return self._decode_body(body, raw, note)
        except (struct.error, IndexError, ValueError) as exc:  # belt and braces
            return self._bad(raw, "undecodable", str(exc))

    def sample_reply(self, reply: bytes) -> tuple[float | None, str]:
        """``(value, status)`` of a whole 13-byte monitor reply with no E2C error, as
        :meth:`decode` gives them for its data (value as a float), without the display
        text and limit state: what a logger stores, for the cost of one unpack when the
        reply is a good plain number (read in place, its data never cut out)."""
        return self._sampler(reply)

    @property
    def reply_sampler(self) -> Callable[[bytes], tuple[float | None, str]]:
        """The function behind :meth:`sample_reply`, for a caller that calls it
        thousands of times a second (the logger): one call less each time."""
        return self._sampler

    def _make_sampler(self, plain: bool) -> Callable[[bytes], tuple[float | None, str]]:
        want, _, unpack, _, scaled = self._dec
        sentinel_raws = frozenset(s for s, _, _ in self.sentinels)
        memo: dict[bytes, tuple[float | None, str]] = {}  # the other cases, by reply bytes
        decode = self.decode

        def other(reply: bytes) -> tuple[float | None, str]:
            # Sentinels, status bytes, versions, flags, bits: the same few replies
            # cycle after cycle, so each is decoded once.
            key = reply if type(reply) is bytes else bytes(reply)
            out = memo.get(key)
            if out is None:
                d = decode(reply_data(key))
                out = (None if d.value is None else float(d.value)), d.status
                if len(memo) >= 256:
                    memo.clear()
                memo[key] = out
            return out

        if not plain:
            return other
        # The reply is read in place at the codec's offsets (a call to reply_dlen or
        # reply_data per sample would cost more than the unpack): the value is at
        # data[byte] and a FEMC status byte, if any, is the last data byte. x - x == 0
        # is false only for NaN and infinities.
        dlen_at, at, scale, offset = REPLY_DLEN_AT, REPLY_DATA_AT + self.byte, self.scale, self.offset
        if self.femc_status:
            status_at = REPLY_DATA_AT - 1 + want

            def femc_number(reply: bytes) -> tuple[float | None, str]:
                if reply[dlen_at] == want and reply[status_at] < 128:
                    x = unpack(reply, at)[0]
                    if x - x == 0 and x not in sentinel_raws:
                        return (x * scale + offset if scaled else float(x)), "ok"
                return other(reply)

            return femc_number

        def number(reply: bytes) -> tuple[float | None, str]:
            if reply[dlen_at] == want:
                x = unpack(reply, at)[0]
                if x - x == 0 and x not in sentinel_raws:
                    return (x * scale + offset if scaled else float(x)), "ok"
            return other(reply)

        return number

    @staticmethod
    def _bad(raw: bytes, status: str, note: str | None) -> Decoded:
        return Decoded(None, status, status, note, "unavailable", raw)

    def _bad_length(self, raw: bytes, expected: str) -> Decoded:
        """A reply whose length does not fit this entry: a catalog problem (issue #17)."""
        detail = f"{self.name} expects {expected}, got {len(raw)}"
        return Decoded(
            None, "bad length", "bad length", f"expected {expected}, got {len(raw)}", "unavailable", raw,
            Failure(CATALOG_PROBLEM, f"bad length: {detail}").text,
        )  # fmt: skip

    def _decode_body(self, body: bytes, raw: bytes, note: str | None) -> Decoded:
        _, kind, unpack, labels, scaled = self._dec
        if kind in ("int", "float", "bit"):
            if kind == "bit":
                x: float = (body[self.byte] >> self.bit) & 1
            else:
                x = unpack(body, self.byte)[0]
            for s_raw, is_error, label in self.sentinels:
                if x == s_raw:
                    shown = f"0x{int(x):X}" if kind == "int" and x > 9 else repr(x)
                    n = f"{label} (raw {shown})"
                    if is_error:
                        return Decoded(None, label, label, n, "unavailable", raw)
                    return Decoded(None, label, "ok", n, "ok", raw)
            if kind == "float" and not math.isfinite(x):
                return Decoded(None, "not a number", "not a number", f"raw {x!r}", "unavailable", raw)
            value = x * self.scale + self.offset if scaled else float(x)
            if labels:
                label = labels.get(int(x))
                if label is None:
                    label = f"unknown ({int(x)})"
                    note = (note + "; " if note else "") + f"{int(x)} is not a known state"
                return Decoded(float(value), label, "ok", note, self.limit_state(value), raw)
            text = _fmt_number(value, self.fmt, kind != "float" and not scaled)
            return Decoded(float(value), text, "ok", note, self.limit_state(value), raw)
        if kind == "flags":
            x = int.from_bytes(body, "big")
            n = len(body)
            names = [label for key, label in self.enum if _flag_set(body, key)]
            unnamed = x & ~_flag_mask(self.enum, n)
            if unnamed:
                names.append(f"other bits 0x{unnamed:0{2 * n}X}")
            return Decoded(float(x), ", ".join(names) or "none", "ok", note, self.limit_state(x), raw)
        if kind == "version":
            return Decoded(None, ".".join(str(b) for b in body), "ok", note, "ok", raw)
        if kind in ("esn", "bytes"):
            return Decoded(None, "0x" + body.hex().upper(), "ok", note, "ok", raw)
        if kind == "ds18s20":
            c = ds18s20_celsius(body)
            if c is None:
                return Decoded(None, "bad reading", "bad reading", "DS18S20 count_per_c is 0", "unavailable", raw)
            if body[0] not in (0x00, 0xFF):
                note = (note + "; " if note else "") + "little-endian"
            return Decoded(c, _fmt_number(c, self.fmt or ".2f", False), "ok", note, self.limit_state(c), raw)
        if kind == "can_error":
            # [error count: u16][0][last error code: u8]
            count, _zero, code = struct.unpack(">HBB", body)
            text = f"{count} errors, last code 0x{code:02X}"
            return Decoded(float(count), text, "ok", note, self.limit_state(count), raw)
        raise ValueError(f"unknown dtype {self.dtype}")  # unreachable: the loader checks

    # -- encoding ------------------------------------------------------------------

    def encode(self, value: Any, status: int = 0, *, base: bytes | None = None) -> bytes:
        """Reply (or control payload) bytes for a physical ``value``; the inverse of
        :meth:`decode`. Appends the FEMC status byte when the point has one. Sentinel raw
        values (``-1.0``, ``0xFFFFFFFF``) pass through unscaled. ``base`` is an existing
        reply to write this point's field into (for points sharing one reply: ACU
        temperatures, LORR status bits); enum points also take their label.
        """
        if not self.femc_status and status:
            raise ValidationError(f"{self.name} has no FEMC status byte; status must be 0, got {status}")
        if not -128 <= int(status) <= 127:
            raise ValidationError(f"FEMC status must fit a signed byte, got {status}")
        body = self._encode_body(value, base)
        if self.femc_status:
            body += struct.pack(">b", int(status))
        return body

    def _blank(self, base: bytes | None, n: int) -> bytearray:
        if base is None:
            return bytearray(n)
        b = bytearray(base[:n])
        if len(b) != n:
            raise ValidationError(f"{self.name}: base reply must have {n} bytes, got {len(base)}")
        return b

    def _encode_body(self, value: Any, base: bytes | None) -> bytes:
        kind = self._kind
        size = self.size
        if kind in ("int", "float", "bit"):
            if isinstance(value, str) and self.enum:
                by_label = {label.upper(): k for k, label in self.enum}
                if value.upper() not in by_label:
                    raise ValidationError(f"{self.name}: {value!r} is not one of {sorted(by_label)}")
                value = by_label[value.upper()]
            if value is None:
                value = 0
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, (int, float)):
                raise ValidationError(f"{self.name} encodes a number, got {value!r}")
            is_sentinel = any(value == s for s, _, _ in self.sentinels)
            exact = is_sentinel or (self.scale == 1.0 and not self.offset)
            x = value if exact else (value - self.offset) / self.scale  # ints stay exact
            buf = self._blank(base, size or 0)
            if kind == "bit":
                if round(x) not in (0, 1):
                    raise ValidationError(f"{self.name} is one bit: 0 or 1, got {value!r}")
                mask = 1 << self.bit
                buf[self.byte] = (buf[self.byte] | mask) if round(x) else (buf[self.byte] & ~mask)
                return bytes(buf)
            fmt = DTYPES[self.dtype][1]
            if kind == "int":
                if isinstance(x, float) and not math.isfinite(x):
                    raise ValidationError(f"{self.name} cannot carry {value!r}")
                x = round(x)
            try:
                struct.pack_into(fmt, buf, self.byte, x)  # type: ignore[arg-type]
            except (struct.error, OverflowError) as exc:
                raise ValidationError(f"{self.name} ({self.dtype}) cannot carry {value!r}: {exc}") from None
            return bytes(buf)
        if kind == "flags":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << (8 * size):  # type: ignore[operator]
                raise ValidationError(f"{self.name}: flags are an int of {size} bytes, got {value!r}")
            return value.to_bytes(size, "big")  # type: ignore[arg-type]
        if kind == "version":
            parts = value.split(".") if isinstance(value, str) else value
            try:
                nums = [int(p) for p in parts]
            except (TypeError, ValueError):
                raise ValidationError(f"{self.name}: a version is (major, minor, patch), got {value!r}") from None
            if len(nums) != size or not all(0 <= n <= 255 for n in nums):
                raise ValidationError(f"{self.name}: a version of {size} numbers 0..255, got {value!r}")
            return bytes(nums)
        if kind in ("esn", "bytes"):
            if isinstance(value, str):
                value = bytes.fromhex(value.removeprefix("0x").removeprefix("0X"))
            if not isinstance(value, (bytes, bytearray)):
                raise ValidationError(f"{self.name} encodes bytes, got {value!r}")
            ok = len(value) == size if size is not None else 1 <= len(value) <= 8
            if not ok:
                raise ValidationError(f"{self.name}: expected {size or '1..8'} bytes, got {len(value)}")
            return bytes(value)
        if kind == "ds18s20":
            return ds18s20_encode(float(value), self.name)
        if kind == "can_error":
            count, zero, code = (value, 0, 0) if isinstance(value, int) else tuple(value)
            try:
                return struct.pack(">HBB", count, zero, code)
            except struct.error as exc:
                raise ValidationError(f"{self.name}: bad CAN error word {value!r}: {exc}") from None
        raise ValidationError(f"unknown dtype {self.dtype}")


def bound_state(
    value: float, warn_low: float | None, warn_high: float | None, alarm_low: float | None, alarm_high: float | None
) -> tuple[str, str | None]:
    """(``ok``/``warn``/``alarm``, the bound crossed: ``"alarm_high"``, ``"warn_low"``... or
    None) of a good value against exclusive bounds, alarm first: the one comparison of a
    reading against its bounds, used by ``Point.decode`` and :func:`e2ckit.catalog.limits.judge`."""
    if alarm_high is not None and value > alarm_high:
        return "alarm", "alarm_high"
    if alarm_low is not None and value < alarm_low:
        return "alarm", "alarm_low"
    if warn_high is not None and value > warn_high:
        return "warn", "warn_high"
    if warn_low is not None and value < warn_low:
        return "warn", "warn_low"
    return "ok", None


def ds18s20_celsius(body: bytes) -> float | None:
    """°C from 4 DS18S20 bytes (None when count_per_c is 0).

    Layout: [temp: i16 half degrees][count_remain: u8][count_per_c: u8]. AMBSIs send
    either byte order: big-endian when the first byte is 0x00 or 0xFF (the sign byte of
    a small i16), else little-endian (§5).
    °C = (temp >> 1) − 0.25 + (count_per_c − count_remain) / count_per_c
    """
    order = ">" if body[0] in (0x00, 0xFF) else "<"
    temp, remain, per_c = struct.unpack(order + "hBB", body)
    if per_c == 0:
        return None
    return (temp >> 1) - 0.25 + (per_c - remain) / per_c


def ds18s20_encode(celsius: float, name: str = "ds18s20", *, little_endian: bool = False) -> bytes:
    """DS18S20 bytes for ``celsius`` with count_per_c = 16, exact to 1/16 °C; big-endian
    unless ``little_endian`` (the i16's low byte first, as some real AMBSIs send it).

    Decoding gives whole − 0.25 + k/16 with whole = temp >> 1 and k = 16 − count_remain
    in 0..15, so whole = floor(c + 0.25) and k = round((c + 0.25 − whole)·16).
    Limited to the sensor's −55..125 °C, where the big-endian i16's first byte is 0x00
    or 0xFF and the byte-order rule of §5 picks it up again.
    """
    if not math.isfinite(celsius) or not -55.0 <= celsius <= 125.0:
        raise ValidationError(f"{name}: a DS18S20 reads −55..125 °C, got {celsius!r}")
    whole = math.floor(celsius + 0.25)
    k = round((celsius + 0.25 - whole) * 16)
    if k == 16:
        whole, k = whole + 1, 0
    half_bit = 1 if celsius - math.floor(celsius) >= 0.5 else 0  # ignored by the decoder
    return struct.pack("<hBB" if little_endian else ">hBB", (whole << 1) | half_bit, 16 - k, 16)


def _flag_set(body: bytes, key: str) -> bool:
    byte, bit = (int(x) for x in key.split("."))
    return byte < len(body) and bool((body[byte] >> bit) & 1)


def _flag_mask(enum: tuple[tuple[Any, str], ...], n: int) -> int:
    mask = 0
    for key, _ in enum:
        byte, bit = (int(x) for x in key.split("."))
        mask |= 1 << (8 * (n - 1 - byte) + bit)
    return mask


def _parse_channel_rule(rule: str) -> tuple[tuple[str, int], ...]:
    """``"1"`` → (("", 1),); ``"DA:2|DV:2"`` → (("DA", 2), ("DV", 2)); ``"*"`` → ()."""
    rule = rule.strip()
    if rule == "*":
        return ()
    out = []
    for part in rule.split("|"):
        fam, sep, ch = part.strip().rpartition(":")
        fam = fam.strip().upper() if sep else ""
        if fam and fam not in FAMILIES:
            raise ValidationError(f"channel rule {rule!r}: unknown antenna family {fam!r}")
        try:
            out.append((fam, int(ch, 0)))
        except ValueError:
            raise ValidationError(f"channel rule {rule!r}: {ch!r} is not a channel number") from None
    return tuple(out)
