"""The catalog: points, groups, node names and the expected inventory, loaded from CSV.

Six kinds of CSV file, told apart by their header (so a user file can be any of them):

* points   (``name,...,node,rca,dtype,...``): one row per monitor or control point;
* groups   (``group,member,description``): named lists of points, groups or templates;
* nodes    (``first,last,abbrev,name``): node id ranges → LRU names (§6);
* inventory (``families,channel,first,last,abbrev``): what an antenna should report;
* derived  (``name,inputs,rule,...``): conditions over several points (``_derived.py``);
* families (``family,index,key,label``): the members of a family of points (the 8 FEPS
  rails, the 10 cartridge bands), so that one points row with ``each`` makes a point per
  member (see :func:`_expand`). A families file must be loaded before the rows using it.

Every row is validated; a bad one raises :class:`ValidationError` naming the file, the
line and the field. Lines whose first field starts with ``#`` are comments. Names and
addresses must be unique across all loaded files (an address is node, RCA, field, kind).

A groups member may be a pattern with ``*`` (``FEPS.OVER_VOLT_*``): every monitor point whose
name matches, in catalog order.

Points columns (only name, channel, node, rca, dtype and source are required):

==============  ==========================================================================
name            ``LRU.POINT`` (letters, digits, ``_``); unique, case-insensitively
kind            ``monitor`` (default) or ``control``
lru             LRU abbreviation (default: the part of the name before the dot)
channel         ``1``; ``DA:2|DV:2|CM:3|PM:3`` by antenna family; ``*`` for a template
node, rca       integers (``0x`` allowed); node 0..0x7FE, rca 0..0x3FFFF; node ``*`` for templates
dtype           u8 i8 u16 i16 u32 i32 u64 f32 f64 (big-endian), bit, flags, version, esn,
                bytes, ds18s20, can_error (see ``_point.DTYPES``)
size            reply bytes without the FEMC status byte (default: the dtype's size)
byte, bit       where this point's field sits in the reply (several points may share one)
unit            physical unit after scaling (``K``, ``°C``, ``MPa``, ``mbar``...)
scale, offset   physical = raw·scale + offset (default 1, 0)
format          Python format spec for the text (``.2f``, ``.2e``)
enum            ``0=CLOSED;1=OPEN`` (flags: ``0.0=DCM locked;0.1=...``, byte.bit)
femc_status     yes when a signed FEMC status byte trails the value (§7)
sentinels       raw values that are not readings: ``-1.0=sensor absent``; a label starting
                ``info:`` is information, not a failure (``0xFFFFFFFF=info:minimum on-time elapsed``)
nominal_*       normal operating range (documentation, no effect on ``limit``)
warn_*, alarm_* bounds; beyond them the limit state is ``warn`` / ``alarm``
limit_source    where the limits come from (firmware, flag, inferred)
source          where the address and decoding come from: ICD, firmware, public code,
                simulated, inferred
description     one line for people
label           a short name for plots and reports ("4K stage"); optional
each            optional: a family (``rail``) or two joined by ``|`` (``band|pdch``): the
                row is a pattern making one point per member (per pair of members);
                ``{rail}``, ``{rail_label}`` and ``{rail_n}`` (index + 1) in name,
                description, label and limit_source are replaced by the member's key,
                label and number
step            with ``each``: RCA increment per member index (``1``; ``0x10|2`` for two
                families); the member's RCA is ``rca + index·step`` summed over families
==============  ==========================================================================
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import fnmatch
import io
import math
import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2ckit.catalog._derived import RULES, Derived
from e2ckit.catalog._point import DTYPES, Point, _parse_channel_rule, parse_antenna
from e2ckit.errors import ValidationError
from e2ckit.names import MAX_CHANNEL, MAX_NODE, MAX_RCA
from e2ckit.usertext import read_user_text

__all__ = ["Catalog", "Group", "NodeInfo", "load_files"]

POINT_COLUMNS = (
    "name", "kind", "lru", "channel", "node", "rca", "dtype", "size", "byte", "bit", "unit",
    "scale", "offset", "format", "enum", "femc_status", "sentinels", "nominal_low",
    "nominal_high", "warn_low", "warn_high", "alarm_low", "alarm_high", "limit_source",
    "source", "description", "label",
)  # fmt: skip
#: optional columns of a points file that make a family of points from one row
FAMILY_COLUMNS = ("each", "step")
SOURCES = ("ICD", "firmware", "public code", "simulated", "inferred")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+$")
_NODE_POINT_RE = re.compile(r"^([A-Za-z0-9?]+)\[(?:(\d+):)?0x([0-9A-Fa-f]+)\]\.([A-Za-z0-9_]+)$")


@dataclass(frozen=True)
class NodeInfo:
    """Which LRU a node id belongs to: ``abbrev`` (``"FEMC"``) and full ``name``."""

    abbrev: str
    name: str


@dataclass(frozen=True)
class Group:
    """A named list of members (point names, template names or other groups).

    ``dynamic`` groups contain templates and are expanded per antenna from its node
    listing (:meth:`Catalog.expand`); static ones resolve to fixed points.
    """

    name: str
    members: tuple[str, ...]
    description: str = ""
    dynamic: bool = False


@dataclass(frozen=True)
class _NodeRange:
    first: int
    last: int
    info: NodeInfo


@dataclass(frozen=True)
class _InventoryRow:
    families: tuple[str, ...]  # empty: every family
    channel: int
    first: int
    last: int
    abbrev: str


# -- CSV reading ------------------------------------------------------------------------


class _Rows:
    """Rows of one CSV file as (line number, {column: text}); comments and blanks skipped."""

    def __init__(self, label: str, text: str) -> None:
        self.label = label
        reader = csv.reader(io.StringIO(text))
        self.header: list[str] = []
        self.rows: list[tuple[int, dict[str, str]]] = []
        for fields in reader:
            line = reader.line_num
            if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
                continue
            if not self.header:
                self.header = [f.strip() for f in fields]
                continue
            if len(fields) > len(self.header):
                extra = [f for f in fields[len(self.header) :] if f.strip()]
                if extra:
                    raise ValidationError(f"{label}:{line}: {len(fields)} fields, header has {len(self.header)}")
            row = {h: (fields[i].strip() if i < len(fields) else "") for i, h in enumerate(self.header)}
            self.rows.append((line, row))

    def error(self, line: int, fieldname: str, message: str) -> ValidationError:
        return ValidationError(f"{self.label}:{line}: field {fieldname!r}: {message}")


def _int(rows: _Rows, line: int, row: dict[str, str], key: str, low: int, high: int, default: int | None = None) -> int | None:
    text = row.get(key, "")
    if text == "":
        return default
    try:
        value = int(text, 0)
    except ValueError:
        raise rows.error(line, key, f"{text!r} is not an integer") from None
    if not low <= value <= high:
        raise rows.error(line, key, f"{text} is outside {low:#x}..{high:#x}")
    return value


def _float(rows: _Rows, line: int, row: dict[str, str], key: str, default: float | None = None) -> float | None:
    text = row.get(key, "")
    if text == "":
        return default
    try:
        value = float(int(text, 0)) if text.lower().startswith(("0x", "-0x")) else float(text)
    except ValueError:
        raise rows.error(line, key, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise rows.error(line, key, f"{text!r} is not a finite number")
    return value


def _bool(rows: _Rows, line: int, row: dict[str, str], key: str) -> bool:
    text = row.get(key, "").lower()
    if text in ("", "0", "no", "false", "n"):
        return False
    if text in ("1", "yes", "true", "y"):
        return True
    raise rows.error(line, key, f"{row[key]!r} is not yes/no")


def _enum(rows: _Rows, line: int, text: str, flags: bool) -> tuple[tuple[Any, str], ...]:
    """``0=CLOSED;1=OPEN`` (or ``0.0=DCM locked;0.1=...`` for flags)."""
    if not text:
        return ()
    out: list[tuple[Any, str]] = []
    for item in text.split(";"):
        key, sep, label = item.partition("=")
        key, label = key.strip(), label.strip()
        if not sep or not label:
            raise rows.error(line, "enum", f"{item!r} is not KEY=LABEL")
        try:
            if flags:
                b, bit = (int(x) for x in key.split("."))
                if not (0 <= b < 8 and 0 <= bit < 8):
                    raise ValueError
                k: Any = f"{b}.{bit}"
            else:
                k = int(key, 0)
        except ValueError:
            want = "BYTE.BIT" if flags else "an integer"
            raise rows.error(line, "enum", f"key {key!r} is not {want}") from None
        if k in dict(out):
            raise rows.error(line, "enum", f"key {key!r} appears twice")
        out.append((k, label))
    return tuple(out)


def _sentinels(rows: _Rows, line: int, text: str) -> tuple[tuple[float, bool, str], ...]:
    """``-1.0=sensor absent;0xFFFFFFFF=info:minimum on-time elapsed``; ``info:`` marks a
    sentinel that is information (status ok) rather than a failed reading."""
    if not text:
        return ()
    out = []
    for item in text.split(";"):
        key, sep, label = item.partition("=")
        key, label = key.strip(), label.strip()
        if not sep or not label:
            raise rows.error(line, "sentinels", f"{item!r} is not VALUE=LABEL")
        try:
            value = float(int(key, 0)) if key.lower().startswith(("0x", "-0x")) else float(key)
        except ValueError:
            raise rows.error(line, "sentinels", f"{key!r} is not a number") from None
        info = label.startswith("info:")
        out.append((value, not info, label.removeprefix("info:").strip()))
    return tuple(out)


def _point_row(rows: _Rows, line: int, row: dict[str, str]) -> Point:
    name = row.get("name", "")
    if not _NAME_RE.match(name):
        raise rows.error(line, "name", f"{name!r} is not LRU.POINT (letters, digits, _)")
    kind = row.get("kind", "") or "monitor"
    if kind not in ("monitor", "control"):
        raise rows.error(line, "kind", f"{kind!r} is not monitor or control")
    dtype = row.get("dtype", "")
    if dtype not in DTYPES:
        raise rows.error(line, "dtype", f"{dtype!r} is not one of {', '.join(DTYPES)}")
    dkind, fmt, default_size = DTYPES[dtype]
    rule, template, node, rca = _point_address(rows, line, row)
    byte, bit, size = _point_layout(rows, line, row, dtype, dkind, default_size)
    scale, fmt_spec, enum, femc, sentinels = _point_decoding(rows, line, row, kind, dtype, dkind, size)
    source = row.get("source", "")
    if source not in SOURCES:
        raise rows.error(line, "source", f"{source!r} is not one of {', '.join(SOURCES)}")
    limits = _point_limits(rows, line, row)
    return Point(
        name=name,
        lru=row.get("lru", "") or name.split(".")[0],
        node=node,
        rca=rca,
        dtype=dtype,
        kind=kind,
        channel_rule=rule,
        size=size,
        byte=byte,  # type: ignore[arg-type]
        bit=bit,  # type: ignore[arg-type]
        unit=row.get("unit", ""),
        scale=scale,  # type: ignore[arg-type]
        offset=_float(rows, line, row, "offset", 0.0),  # type: ignore[arg-type]
        fmt=fmt_spec,
        enum=enum,
        femc_status=femc,
        sentinels=sentinels,
        limit_source=row.get("limit_source", ""),
        source=source,
        description=row.get("description", ""),
        label=row.get("label", ""),
        template=template,
        **limits,
    )


def _point_address(rows: _Rows, line: int, row: dict[str, str]) -> tuple[str, bool, int | None, int]:
    """A catalog row's channel rule, whether it is a template, its node and RCA (checked)."""
    rule = row.get("channel", "")
    if not rule:
        raise rows.error(line, "channel", "missing (a number, FAMILY:N|..., or * for a template)")
    try:
        channels = _parse_channel_rule(rule)
    except ValidationError as exc:
        raise rows.error(line, "channel", str(exc)) from None
    if any(not 0 <= ch <= MAX_CHANNEL for _, ch in channels):
        raise rows.error(line, "channel", f"{rule!r} has a channel outside 0..{MAX_CHANNEL}")
    template = rule == "*"
    if template != (row.get("node", "") == "*"):
        raise rows.error(line, "node", "a template has channel * and node *; other points neither")
    node = None if template else _int(rows, line, row, "node", 0, MAX_NODE)
    if node is None and not template:
        raise rows.error(line, "node", "missing")
    rca = _int(rows, line, row, "rca", 0, MAX_RCA)
    if rca is None:
        raise rows.error(line, "rca", "missing")
    return rule, template, node, rca


def _point_layout(
    rows: _Rows, line: int, row: dict[str, str], dtype: str, dkind: str, default_size: int | None
) -> tuple[int, int, int | None]:
    """Where a row's value sits in the reply: byte, bit and size, checked against its dtype."""
    byte = _int(rows, line, row, "byte", 0, 7, 0)
    bit = _int(rows, line, row, "bit", 0, 7, 0)
    size = _int(rows, line, row, "size", 1, 8, default_size)
    width = struct_width(dtype)
    if dkind in ("int", "float") and byte + width > (size or 8):  # type: ignore[operator]
        raise rows.error(line, "size", f"{dtype} at byte {byte} needs {byte + width} bytes, size is {size}")
    if dkind == "bit" and byte >= size:  # type: ignore[operator]
        raise rows.error(line, "byte", f"byte {byte} is beyond size {size}")
    if dkind == "version" and size not in (2, 3):
        raise rows.error(line, "size", "a version has 2 or 3 bytes")
    if dkind in ("esn", "ds18s20", "can_error") and size != default_size:
        raise rows.error(line, "size", f"{dtype} is always {default_size} bytes")
    if dkind not in ("int", "float", "bit") and (row.get("byte") or row.get("bit")):
        raise rows.error(line, "byte", f"{dtype} reads the whole reply; byte/bit do not apply")
    return byte, bit, size  # type: ignore[return-value]


def _point_decoding(
    rows: _Rows, line: int, row: dict[str, str], kind: str, dtype: str, dkind: str, size: int | None
) -> tuple[Any, str, Any, bool, Any]:
    """How a row's value is shown: scale, format, enum labels, FEMC status byte, sentinels."""
    scale = _float(rows, line, row, "scale", 1.0)
    if scale == 0:
        raise rows.error(line, "scale", "must not be 0")
    fmt_spec = row.get("format", "")
    if fmt_spec:
        try:
            format(1.5, fmt_spec)
        except ValueError:
            raise rows.error(line, "format", f"{fmt_spec!r} is not a Python format spec") from None
    enum = _enum(rows, line, row.get("enum", ""), flags=dkind == "flags")
    if enum and dkind not in ("int", "bit", "flags"):
        raise rows.error(line, "enum", f"labels need an integer dtype, not {dtype}")
    femc = _bool(rows, line, row, "femc_status")
    if femc and kind == "control":
        raise rows.error(line, "femc_status", "controls carry no status byte")
    if femc and size is not None and size + 1 > 8:
        raise rows.error(line, "femc_status", f"{size} bytes + status byte exceed 8")
    sentinels = _sentinels(rows, line, row.get("sentinels", ""))
    if sentinels and dkind not in ("int", "float", "bit"):
        raise rows.error(line, "sentinels", f"sentinels need a numeric dtype, not {dtype}")
    return scale, fmt_spec, enum, femc, sentinels


def _point_limits(rows: _Rows, line: int, row: dict[str, str]) -> dict[str, float | None]:
    """A row's nominal/warn/alarm bounds, each pair in order."""
    limits = {k: _float(rows, line, row, k) for k in ("nominal_low", "nominal_high", "warn_low", "warn_high", "alarm_low", "alarm_high")}
    for lo, hi in (("nominal_low", "nominal_high"), ("warn_low", "warn_high"), ("alarm_low", "alarm_high")):
        if limits[lo] is not None and limits[hi] is not None and limits[lo] > limits[hi]:  # type: ignore[operator]
            raise rows.error(line, lo, f"{limits[lo]} is above {hi} {limits[hi]}")
    return limits


def struct_width(dtype: str) -> int:
    """Bytes of the struct field of a numeric dtype (1 for the others)."""
    fmt = DTYPES[dtype][1]
    return struct.calcsize(fmt) if fmt else 1


# -- the catalog --------------------------------------------------------------------------


class Catalog:
    """Points, templates, groups, node names and expected inventories.

    Build one with :func:`e2ckit.catalog.load_catalog` or use the shared
    :func:`~e2ckit.catalog.default_catalog`. Look-ups raise :class:`ValidationError`
    (a ``ValueError``) for unknown names, with close matches in the message.
    """

    def __init__(
        self,
        points: dict[str, Point],
        templates: dict[str, Point],
        groups: dict[str, Group],
        nodes: Sequence[_NodeRange],
        inventory: Sequence[_InventoryRow],
        files: Sequence[str] = (),
        derived: Iterable[Derived] = (),
    ) -> None:
        self.points: dict[str, Point] = points
        """Every concrete point (monitor and control), by name."""
        self.templates: dict[str, Point] = templates
        """Generic points any node answers (``AMBSI.*``); see :meth:`node_point`."""
        self.groups: dict[str, Group] = groups
        self.derived: dict[str, Derived] = {d.name: d for d in derived}
        """Derived conditions (``FEMC.LO_PA_BLOCKED``) by name: see :mod:`._derived`."""
        self.files: tuple[str, ...] = tuple(files)
        self._nodes = sorted(nodes, key=lambda r: (r.last - r.first, r.first))  # narrowest first
        self._inventory = tuple(inventory)
        self._by_item = {name.split(".", 1)[1].upper(): p for name, p in templates.items()}
        self._node_points: dict[tuple[str, int, int], Point] = {}
        self._lower = {n.lower(): n for n in [*points, *templates, *groups]}

    def limits(self, site: Any = None) -> Any:
        """The limits in force as a DataFrame: one row per monitor point, its nominal/warn/
        alarm bounds, their source and expected states; ``site``: a site limits file
        (default ``$E2CKIT_SITE_LIMITS``), False for none (see ``e2ckit.catalog.limits``)."""
        from e2ckit.catalog.limits import Limits  # limits.py builds on this module's Catalog

        return Limits(site, self).table()

    def __repr__(self) -> str:
        return f"<Catalog {len(self.points)} points, {len(self.templates)} templates, {len(self.groups)} groups>"

    # -- names ---------------------------------------------------------------------------

    def _unknown(self, name: object, what: str = "point or group") -> ValidationError:
        close = difflib.get_close_matches(str(name), [*self.points, *self.templates, *self.groups], n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return ValidationError(f"unknown {what} {name!r}{hint}")

    def point(self, name: str) -> Point:
        """The point called ``name``: a catalog point (``FEMC.TEMP0``), a template
        (``AMBSI.AMBIENT_TEMP``) or a per-node point (``LORR[0x22].AMBIENT_TEMP``,
        ``NODE[3:0x7A].SW_REV`` with an explicit channel). Names are case-insensitive."""
        if not isinstance(name, str):
            raise ValidationError(f"a point name must be a str, got {name!r}")
        p = self.points.get(name) or self.templates.get(name)
        if p is not None:
            return p
        if "[" in name:
            return self._parse_node_point(name)
        canon = self._lower.get(name.lower())
        if canon is not None and canon not in self.groups:
            return self.points.get(canon) or self.templates[canon]
        raise self._unknown(name, "point")

    def is_dynamic(self, name: str) -> bool:
        """True for a dynamic group (``temps``) or a template; False for anything else,
        unknown names included (they fail in :meth:`resolve`)."""
        if not isinstance(name, str):
            return False
        canon = self._lower.get(name.lower(), name)
        g = self.groups.get(canon)
        return bool(g and g.dynamic) or canon in self.templates

    def resolve(self, what: str | Iterable[str]) -> list[Point]:
        """Static points for a group or point name, or a list of them mixed; duplicates
        dropped, order kept. Dynamic groups and templates need :meth:`expand`."""
        items = [what] if isinstance(what, str) else list(what)
        out: dict[str, Point] = {}
        for item in items:
            for p in self._resolve_one(item, ()):
                out.setdefault(p.name, p)
        return list(out.values())

    def _resolve_one(self, item: object, stack: tuple[str, ...]) -> list[Point]:
        if not isinstance(item, str):
            raise ValidationError(f"points and groups are named by str, got {item!r}")
        canon = self._lower.get(item.lower(), item)
        g = self.groups.get(canon)
        if g is not None:
            if g.dynamic:
                raise ValidationError(
                    f"group {canon!r} is built per antenna from the nodes it reports: "
                    f"use catalog.expand({canon!r}, nodes=[(channel, node), ...])"
                )
            if canon in stack:
                raise ValidationError(f"group {canon!r} contains itself ({' → '.join([*stack, canon])})")
            return [p for m in g.members for p in self._resolve_one(m, (*stack, canon))]
        p = self.point(item)
        if p.template:
            raise ValidationError(
                f"{p.name} is a template for any node: name a node (e.g. "
                f"LORR[0x22].{p.name.split('.')[1]}) or use catalog.expand({p.name!r}, nodes=...)"
            )
        return [p]

    def expand(self, name: str, nodes: Iterable[tuple[int, int]]) -> list[Point]:
        """Concrete points of a dynamic group (or a template) for the ``(channel, node)``
        pairs an antenna reported, in the order given; static members are included."""
        canon = self._lower.get(name.lower(), name) if isinstance(name, str) else name
        if canon in self.templates:
            members: tuple[str, ...] = (canon,)
        elif canon in self.groups:
            members = self.groups[canon].members
        else:
            raise self._unknown(name, "group")
        pairs = [(int(c), int(n)) for c, n in nodes]
        out: dict[str, Point] = {}
        for m in members:
            if self._lower.get(m.lower(), m) in self.templates:
                for ch, node in pairs:
                    p = self.node_point(m, ch, node)
                    out.setdefault(p.name, p)
            elif self.is_dynamic(m):
                for p in self.expand(m, pairs):
                    out.setdefault(p.name, p)
            else:
                for p in self.resolve(m):
                    out.setdefault(p.name, p)
        return list(out.values())

    # -- nodes ---------------------------------------------------------------------------

    def node_info(self, node: int) -> NodeInfo:
        """The LRU of a node id (the narrowest range wins: 0x60 is PSA, not PSSAS)."""
        if isinstance(node, bool) or not isinstance(node, int):
            raise ValidationError(f"node must be an int, got {node!r}")
        for r in self._nodes:
            if r.first <= node <= r.last:
                return r.info
        return NodeInfo("?", "Unknown")

    def _home_rule(self, node: int) -> str | None:
        """Where ``node`` normally sits, as a channel rule, from the inventory and the points."""
        by_family: dict[str, int] = {}
        anywhere: set[int] = set()
        for row in self._inventory:
            if row.first <= node <= row.last:
                if row.families:
                    for fam in row.families:
                        by_family.setdefault(fam, row.channel)
                else:
                    anywhere.add(row.channel)
        if not by_family and not anywhere:
            for p in self.points.values():
                if p.node == node:
                    return p.channel_rule
            return None
        if anywhere and not by_family:
            return str(min(anywhere))
        return "|".join(f"{f}:{c}" for f, c in sorted(by_family.items()))

    def node_point(self, item: str, channel: int, node: int) -> Point:
        """A concrete point for template ``item`` (``"AMBIENT_TEMP"`` or
        ``"AMBSI.AMBIENT_TEMP"``) on one node, named ``LORR[0x22].AMBIENT_TEMP``
        (``NODE[3:0x7A].AMBIENT_TEMP`` when the channel is not the node's usual one).
        Where a catalog point already reads that address (the E2C's U-Boot revision at
        the AMBSI HW_REV RCA), its decoding is used."""
        key = item.split(".", 1)[1] if "." in item else item
        tmpl = self._by_item.get(key.upper())
        if tmpl is None:
            raise self._unknown(item, "template")
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= MAX_CHANNEL:
            raise ValidationError(f"channel must be an int 0..{MAX_CHANNEL}, got {channel!r}")
        if isinstance(node, bool) or not isinstance(node, int) or not 0 <= node <= MAX_NODE:
            raise ValidationError(f"node must be an int 0..{MAX_NODE:#x}, got {node!r}")
        cache_key = (tmpl.name, channel, node)
        cached = self._node_points.get(cache_key)
        if cached is not None:
            return cached
        abbrev = self.node_info(node).abbrev
        abbrev = "NODE" if abbrev == "?" else abbrev
        home = self._home_rule(node)
        usual = home is not None and channel in {c for _, c in _parse_channel_rule(home)}
        where = f"0x{node:02X}" if usual else f"{channel}:0x{node:02X}"
        item_name = tmpl.name.split(".", 1)[1]
        base = tmpl
        for p in self.points.values():
            if p.node == node and p.rca == tmpl.rca and p.kind == tmpl.kind and p.channel == channel:
                base = p
                break
        p = dataclasses.replace(
            base,
            name=f"{abbrev}[{where}].{item_name}",
            lru=abbrev,
            node=node,
            channel_rule=str(channel),
            template=False,
            description=f"{base.description} ({abbrev} node 0x{node:02X}, channel {channel})",
        )
        self._node_points[cache_key] = p
        return p

    def _parse_node_point(self, name: str) -> Point:
        m = _NODE_POINT_RE.match(name)
        if not m:
            raise self._unknown(name, "point")
        abbrev, ch_text, node_hex, item = m.groups()
        node = int(node_hex, 16)
        if node > MAX_NODE:
            raise ValidationError(f"{name}: node 0x{node:X} is above 0x{MAX_NODE:X}")
        known = self.node_info(node).abbrev
        if abbrev.upper() not in (known.upper(), "NODE", "?"):
            raise ValidationError(f"{name}: node 0x{node:02X} is {known}, not {abbrev}")
        if ch_text is not None:
            return self.node_point(item, int(ch_text), node)
        home = self._home_rule(node)
        if home is None:
            raise ValidationError(f"{name}: no usual channel known for node 0x{node:02X}; write {abbrev}[CHANNEL:0x{node:02X}].{item}")
        channels = _parse_channel_rule(home)
        p = self.node_point(item, channels[0][1], node)
        if len({c for _, c in channels}) > 1:  # e.g. CMPR: the channel depends on the family
            p = dataclasses.replace(p, name=f"{p.lru}[0x{node:02X}].{p.name.split('.', 1)[1]}", channel_rule=home)
        return p

    def expected_inventory(self, antenna: str) -> list[tuple[int, int, str]]:
        """(channel, node, abbrev) of every node a healthy ``antenna`` should list,
        sorted; the E2C's own node (channel 5) and the ACU are not part of it."""
        family = parse_antenna(antenna)
        out = set()
        for row in self._inventory:
            if not row.families or family in row.families:
                for node in range(row.first, row.last + 1):
                    out.add((row.channel, node, row.abbrev))
        return sorted(out)


# -- loading -----------------------------------------------------------------------------


def _kind_of(rows: _Rows) -> str:
    cols = set(rows.header)
    if {"family", "index", "key"} <= cols:
        return "families"
    if {"name", "node", "rca", "dtype"} <= cols:
        return "points"
    if {"name", "inputs", "rule"} <= cols:
        return "derived"
    if {"group", "member"} <= cols:
        return "groups"
    if {"families", "channel", "first", "last", "abbrev"} <= cols:
        return "inventory"
    if {"first", "last", "abbrev", "name"} <= cols:
        return "nodes"
    raise ValidationError(
        f"{rows.label}:1: unrecognised header {rows.header}: expected a points, groups, nodes, inventory, derived or families file"
    )


def load_files(sources: Iterable[tuple[str, str]]) -> Catalog:
    """Build a catalog from ``(label, csv text)`` pairs, later files adding to earlier ones."""
    points: dict[str, Point] = {}
    templates: dict[str, Point] = {}
    where: dict[str, str] = {}
    addresses: dict[tuple, str] = {}
    families: dict[str, list[tuple[int, str, str]]] = {}
    group_rows: list[tuple[_Rows, int, dict[str, str]]] = []
    derived_rows: list[tuple[_Rows, int, dict[str, str]]] = []
    nodes: list[_NodeRange] = []
    inventory: list[_InventoryRow] = []
    labels = []
    for label, text in sources:
        labels.append(label)
        rows = _Rows(label, text)
        if not rows.header:
            continue
        kind = _kind_of(rows)
        if kind == "points":
            # A misspelt column ("unti") would otherwise be ignored without a word.
            unknown = [h for h in rows.header if h and h not in POINT_COLUMNS + FAMILY_COLUMNS]
            if unknown:
                raise ValidationError(
                    f"{label}:1: unknown column {', '.join(map(repr, unknown))} in a points file "
                    f"(columns: {', '.join(POINT_COLUMNS + FAMILY_COLUMNS)})"
                )
        for line, row in rows.rows:
            if kind == "points":
                for one in _expand(rows, line, row, families):
                    p = _point_row(rows, line, one)
                    _add_point(rows, line, p, points, templates, where, addresses)
            elif kind == "families":
                _family_row(rows, line, row, families)
            elif kind == "groups":
                group_rows.append((rows, line, row))
            elif kind == "derived":
                derived_rows.append((rows, line, row))
            elif kind == "nodes":
                first = _int(rows, line, row, "first", 0, MAX_NODE)
                last = _int(rows, line, row, "last", 0, MAX_NODE, first)
                if first is None or last is None or last < first:
                    raise rows.error(line, "last", "need first <= last")
                if not row.get("abbrev") or not row.get("name"):
                    raise rows.error(line, "abbrev" if not row.get("abbrev") else "name", "missing")
                if any(r.first == first and r.last == last for r in nodes):
                    raise rows.error(line, "first", f"node range {first:#x}..{last:#x} is already named")
                nodes.append(_NodeRange(first, last, NodeInfo(row["abbrev"], row["name"])))
            else:  # inventory
                fams_text = row.get("families", "")
                fams = () if fams_text in ("", "*") else tuple(f.strip().upper() for f in fams_text.split("|"))
                for f in fams:
                    if f not in ("CM", "DA", "DV", "PM"):
                        raise rows.error(line, "families", f"{f!r} is not CM, DA, DV or PM")
                channel = _int(rows, line, row, "channel", 0, MAX_CHANNEL)
                first = _int(rows, line, row, "first", 0, MAX_NODE)
                last = _int(rows, line, row, "last", 0, MAX_NODE, first)
                if channel is None or first is None or last is None or last < first:
                    raise rows.error(line, "channel" if channel is None else "last", "need a channel and first <= last")
                if not row.get("abbrev"):
                    raise rows.error(line, "abbrev", "missing")
                inventory.append(_InventoryRow(fams, channel, first, last, row["abbrev"]))
    groups = _build_groups(group_rows, points, templates)
    for gname in groups:
        if gname.lower() in where:
            raise ValidationError(f"group {gname!r} has the name of a point ({where[gname.lower()]})")
    derived: dict[str, Derived] = {}
    for rows, line, row in derived_rows:
        d = _derived_row(rows, line, row, points)
        if d.name.lower() in where or d.name in derived or d.name in groups:
            raise rows.error(line, "name", f"{d.name} is already the name of a point, group or condition")
        derived[d.name] = d
    return Catalog(points, templates, groups, nodes, inventory, labels, derived.values())


def _add_point(
    rows: _Rows, line: int, p: Point, points: dict[str, Point], templates: dict[str, Point],
    where: dict[str, str], addresses: dict[tuple, str],
) -> None:
    """Add ``p``, refusing a name or an address already taken."""
    lname = p.name.lower()
    if lname in where:
        raise rows.error(line, "name", f"{p.name} is already defined at {where[lname]}")
    # one address per (channel rule, node, rca, field, kind); templates by (rca, field, kind)
    field_ = (p.byte, p.bit) if p.dtype == "bit" else (p.byte, None)
    addr = (p.template, p.node, p.rca, field_, p.kind)
    if addr in addresses:
        raise rows.error(line, "rca", f"address {p.rca:#07x} on node {p.node} already used by {addresses[addr]}")
    addresses[addr] = p.name
    where[lname] = f"{rows.label}:{line}"
    (templates if p.template else points)[p.name] = p


def _family_row(rows: _Rows, line: int, row: dict[str, str], families: dict[str, list[tuple[int, str, str]]]) -> None:
    """One member of a family: ``rail,2,P7,+7 V`` (index 2 of family rail, key P7)."""
    name = row.get("family", "")
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise rows.error(line, "family", f"{name!r} is not a family name (lower-case letters, digits, _)")
    index = _int(rows, line, row, "index", 0, 255)
    key = row.get("key", "")
    if index is None or not re.match(r"^[A-Za-z0-9_]+$", key):
        raise rows.error(line, "key" if index is not None else "index", "need an index 0..255 and a key (letters, digits, _)")
    members = families.setdefault(name, [])
    if any(i == index or k == key for i, k, _ in members):
        raise rows.error(line, "key", f"family {name} already has index {index} or key {key!r}")
    members.append((index, key, row.get("label", "") or key))


def _expand(rows: _Rows, line: int, row: dict[str, str], families: dict[str, list[tuple[int, str, str]]]) -> list[dict[str, str]]:
    """The rows one points row stands for: itself, or one per member of its ``each``
    families (their product for ``a|b``), with the placeholders filled and the RCA stepped."""
    each = row.get("each", "")
    if not each:
        return [row]
    names = [n.strip() for n in each.split("|")]
    steps_text = [s.strip() for s in (row.get("step", "") or "").split("|")]
    if len(steps_text) != len(names):
        raise rows.error(line, "step", f"need one step per family of {each!r} (joined by |), got {row.get('step', '')!r}")
    steps = []
    for text in steps_text:
        try:
            steps.append(int(text, 0))
        except ValueError:
            raise rows.error(line, "step", f"{text!r} is not an integer") from None
    for n in names:
        if n not in families:
            raise rows.error(line, "each", f"unknown family {n!r} (known: {', '.join(sorted(families)) or 'none loaded'})")
    base = _int(rows, line, row, "rca", 0, MAX_RCA)
    if base is None:
        raise rows.error(line, "rca", "missing")
    combos: list[list[tuple[str, tuple[int, str, str]]]] = [[]]
    for n in names:
        combos = [c + [(n, m)] for c in combos for m in sorted(families[n])]
    out = []
    for combo in combos:
        subs = {}
        rca = base
        for (n, (index, key, label)), step in zip(combo, steps, strict=True):
            subs.update({n: key, f"{n}_label": label, f"{n}_n": str(index + 1)})
            rca += index * step
        one = dict(row, rca=hex(rca))
        for col in ("name", "description", "label", "limit_source"):
            try:
                one[col] = row.get(col, "").format_map(subs)
            except (KeyError, ValueError, IndexError) as exc:
                raise rows.error(line, col, f"cannot fill {row.get(col, '')!r}: {exc!r}") from None
        out.append(one)
    return out


def _derived_row(rows: _Rows, line: int, row: dict[str, str], points: dict[str, Point]) -> Derived:
    name = row.get("name", "")
    if not _NAME_RE.match(name):
        raise rows.error(line, "name", f"{name!r} is not LRU.CONDITION (letters, digits, _)")
    inputs = tuple(i.strip() for i in row.get("inputs", "").split("|") if i.strip())
    if not inputs:
        raise rows.error(line, "inputs", "missing (point names joined by |)")
    for i in inputs:
        if i not in points:
            close = difflib.get_close_matches(i, list(points), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise rows.error(line, "inputs", f"unknown point {i!r}{hint}")
    rule = row.get("rule", "")
    if rule not in RULES:
        raise rows.error(line, "rule", f"{rule!r} is not one of {', '.join(RULES)}")
    threshold = _float(rows, line, row, "threshold")
    if threshold is None:
        raise rows.error(line, "threshold", "missing")
    limit = row.get("limit", "") or "alarm"
    if limit not in ("alarm", "warn"):
        raise rows.error(line, "limit", f"{limit!r} is not alarm or warn")
    source = row.get("source", "")
    if source not in SOURCES:
        raise rows.error(line, "source", f"{source!r} is not one of {', '.join(SOURCES)}")
    return Derived(
        name=name,
        inputs=inputs,
        rule=rule,
        threshold=threshold,
        valid_low=_float(rows, line, row, "valid_low"),
        valid_high=_float(rows, line, row, "valid_high"),
        true_label=row.get("true_label", "") or "TRUE",
        false_label=row.get("false_label", "") or "FALSE",
        limit=limit,
        unit=row.get("unit", ""),
        limit_source=row.get("limit_source", ""),
        source=source,
        description=row.get("description", ""),
    )


def _build_groups(
    group_rows: list[tuple[_Rows, int, dict[str, str]]], points: dict[str, Point], templates: dict[str, Point]
) -> dict[str, Group]:
    members: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    origin: dict[str, tuple[_Rows, int]] = {}
    for rows, line, row in group_rows:
        g, m = row.get("group", ""), row.get("member", "")
        if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", g):
            raise rows.error(line, "group", f"{g!r} is not a group name (letters, digits, _ and -)")
        if not m:
            raise rows.error(line, "member", "missing")
        members.setdefault(g, [])
        if "*" in m:  # a pattern (FEPS.OVER_VOLT_*): the matching points, in catalog order
            found = [
                n for n, p in points.items()
                if p.kind == "monitor" and fnmatch.fnmatchcase(n.upper(), m.upper()) and n not in members[g]
            ]  # fmt: skip
            if not found:
                raise rows.error(line, "member", f"pattern {m!r} matches no point")
            members[g].extend(found)
            for n in found:
                origin.setdefault(f"{g}\x00{n}", (rows, line))
            if row.get("description") and not descriptions.get(g):
                descriptions[g] = row["description"]
            continue
        if m in members[g]:
            raise rows.error(line, "member", f"{m} is already in group {g}")
        members[g].append(m)
        if row.get("description") and not descriptions.get(g):
            descriptions[g] = row["description"]
        origin.setdefault(f"{g}\x00{m}", (rows, line))
    # every member must be a point, a template or a group; dynamic-ness is inherited
    dynamic: dict[str, bool] = {}

    def is_dyn(g: str, stack: tuple[str, ...]) -> bool:
        if g in dynamic:
            return dynamic[g]
        if g in stack:
            rows, line = origin[f"{stack[-1]}\x00{g}"]
            raise rows.error(line, "member", f"group {g} contains itself")
        result = False
        for m in members[g]:
            if m in templates:
                result = True
            elif m in members:
                result = is_dyn(m, (*stack, g)) or result
            elif m not in points:
                rows, line = origin[f"{g}\x00{m}"]
                close = difflib.get_close_matches(m, [*points, *templates, *members], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise rows.error(line, "member", f"unknown point or group {m!r}{hint}")
        dynamic[g] = result
        return result

    return {g: Group(g, tuple(ms), descriptions.get(g, ""), is_dyn(g, ())) for g, ms in members.items()}


def read_sources(paths: Iterable[str | Path]) -> Iterator[tuple[str, str]]:
    """(label, text) of user files, with a clear error for one that cannot be read."""
    for path in paths:
        p = Path(path)
        yield str(p), read_user_text(p, "catalog file")
