"""Which E2C answers for which antenna: the host map.

The default map is the 66 ALMA antennas at ``<antenna lower-case>-e2c:2000`` plus the
central E2C hosts. ``E2CKIT_ARRAY=<csv>`` (columns ``antenna,host,port``) replaces the
default for the whole process, which is how notebooks and other processes are pointed at
a simulated array serving sockets; :func:`use_array` does the same within a process for
any Array, an in-memory simulated one included (``e2ckit --simulate``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from e2ckit.arguments import name_list
from e2ckit.errors import ValidationError
from e2ckit.names import ANTENNA_RE as _ANTENNA_RE
from e2ckit.names import DEFAULT_PORT
from e2ckit.names import FAMILIES as FAMILY_NAMES
from e2ckit.usertext import read_user_text

__all__ = [
    "ANTENNAS",
    "CENTRAL_HOSTS",
    "FAMILIES",
    "Array",
    "Endpoint",
    "antenna_family",
    "default_array",
    "use_array",
]

#: Antenna families and their numbers (66 antennas).
FAMILIES: dict[str, list[int]] = {
    "CM": list(range(1, 13)),
    "DA": list(range(41, 66)),
    "DV": list(range(1, 26)),
    "PM": list(range(1, 5)),
}
ANTENNAS: list[str] = [f"{fam}{n:02d}" for fam, nums in FAMILIES.items() for n in nums]
#: E2C modules of central equipment (LO and correlator racks), for array-wide revision checks.
CENTRAL_HOSTS: list[str] = [
    "LO-LMC-1", "LO-LMC-2", "LO-LMC-3", "LO-LMC-4",
    "COB-DMC-01", "COB-DMC-02", "COB-DMC-03", "COB-DMC-04",
    "LO-ART-1",
]  # fmt: skip
ENV_VAR = "E2CKIT_ARRAY"


def antenna_family(antenna: str) -> str:
    """``"DV01"`` → ``"DV"``; raises ValidationError for a name that is no ALMA antenna."""
    m = _ANTENNA_RE.match(antenna.upper())
    if not m:
        raise ValidationError(f"antenna {antenna!r} is not an ALMA antenna name (CMnn, DAnn, DVnn, PMnn)")
    return m.group(1)


@dataclass(frozen=True)
class Endpoint:
    """Where one antenna's E2C listens, and how to reach it.

    ``family`` (``"DV"``) picks the catalog's channel map; by default it is read from the
    antenna name, and an E2C that is no antenna (a bare address, a central host) may be
    given one instead of a stand-in name. ``transport`` is the driver that reaches it
    (see :mod:`e2ckit.transport`): None for sockets to ``host:port``, or e.g. a
    simulated array's memory transport (then ``host`` and ``port`` are only labels).
    """

    antenna: str
    host: str
    port: int = DEFAULT_PORT
    family: str | None = None
    transport: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.family is None:
            m = _ANTENNA_RE.match(self.antenna.upper())
            if m:
                object.__setattr__(self, "family", m.group(1))
        elif self.family not in FAMILY_NAMES:
            raise ValidationError(f"family {self.family!r} of {self.antenna} is not one of {', '.join(FAMILY_NAMES)}")


class Array(Mapping[str, Endpoint]):
    """An ordered map antenna name → :class:`Endpoint`.

    Names are upper case (``DV01``, ``LO-LMC-1``); look-ups ignore case.
    """

    def __init__(self, endpoints: Iterable[Endpoint], source: str = "", clock: Any = None) -> None:
        #: the clock of the simulated array this map describes (None: a real array); a
        #: logger on it stamps samples in that clock's time
        self.clock = clock
        self._map: dict[str, Endpoint] = {}
        for ep in endpoints:
            key = ep.antenna.upper()
            if key in self._map:
                raise ValidationError(f"antenna {key} appears twice in the host map {source}".rstrip())
            self._map[key] = ep if ep.antenna == key else replace(ep, antenna=key)
        self.source = source

    def __getitem__(self, antenna: str) -> Endpoint:
        try:
            return self._map[antenna.upper()]
        except KeyError:
            known = ", ".join(list(self._map)[:6])
            raise ValidationError(
                f"unknown antenna {antenna!r} (host map {self.source or 'in memory'}: {known}, ...)"
            ) from None

    def __contains__(self, antenna: object) -> bool:
        # Mapping's default calls __getitem__ and catches only KeyError.
        return isinstance(antenna, str) and antenna.upper() in self._map

    def get(self, antenna: str, default: Endpoint | None = None) -> Endpoint | None:  # type: ignore[override]
        """The endpoint of ``antenna``, or ``default`` when the map does not have it."""
        return self[antenna] if antenna in self else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"Array({len(self)} antennas from {self.source or 'memory'})"

    @property
    def antennas(self) -> list[str]:
        """Antenna names in map order."""
        return list(self._map)

    def select(self, antennas: str | Iterable[str] | None = None) -> list[str]:
        """Resolve a user's selection to antenna names, in map order.

        ``None`` or ``"all"``: every antenna in the map. A family (``"DV"``), a name
        (``"DV01"``), a comma-separated string (``"DV01,CM"``) or a list of these.
        Unknown entries raise ValidationError naming them.
        """
        if antennas is None:
            return self.antennas
        items = name_list(antennas, "antennas", "names, families, 'all' or a list of them", commas=True)
        wanted: set[str] = set()
        for raw in items:
            item = str(raw).strip().upper()
            if not item:
                continue
            if item == "ALL":
                return self.antennas
            if item in self._map:
                wanted.add(item)
                continue
            members = [a for a in self._map if _ANTENNA_RE.match(a) and a.startswith(item) and len(item) == 2]
            if members:
                wanted.update(members)
                continue
            raise ValidationError(
                f"unknown antenna or family {raw!r}: use names like DV01, families CM/DA/DV/PM, or 'all'"
            )
        if not wanted:
            raise ValidationError("no antenna selected")
        return [a for a in self._map if a in wanted]

    @classmethod
    def default(cls, include_central: bool = False) -> Array:
        """The real ALMA host names (``dv01-e2c:2000``). Never used by tests."""
        names = ANTENNAS + (CENTRAL_HOSTS if include_central else [])
        return cls((Endpoint(n, f"{n.lower()}-e2c", DEFAULT_PORT) for n in names), source="ALMA defaults")

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> Array:
        """Read an ``antenna,host,port`` CSV (header required; port defaults to 2000)."""
        path = Path(path)
        text = read_user_text(path, "host map")  # the one reader of a user's files (a BOM is fine)
        rows = csv.DictReader(text.splitlines())
        try:
            fields = rows.fieldnames
        except csv.Error as exc:
            raise ValidationError(f"{path}: not a CSV file ({exc})") from None
        if not fields or not {"antenna", "host"} <= {f.strip() for f in fields}:
            raise ValidationError(f"{path}: the header must name columns antenna,host[,port]")
        endpoints = []
        try:
            numbered = list(enumerate(rows, start=2))
        except csv.Error as exc:
            raise ValidationError(f"{path}: not a CSV file ({exc})") from None
        for line, row in numbered:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not row.get("antenna") or not row.get("host"):
                raise ValidationError(f"{path} line {line}: antenna and host must not be empty")
            port_text = row.get("port") or str(DEFAULT_PORT)
            try:
                port = int(port_text)
            except ValueError:
                raise ValidationError(f"{path} line {line}: port {port_text!r} is not a number") from None
            if not 0 < port < 65536:
                raise ValidationError(f"{path} line {line}: port {port} is out of range 1..65535")
            endpoints.append(Endpoint(row["antenna"], row["host"], port))
        return cls(endpoints, source=str(path))

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write this map as ``antenna,host,port`` CSV (the ``E2CKIT_ARRAY`` format)."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["antenna", "host", "port"])
            for ep in self._map.values():
                if ep.transport is not None:
                    raise ValidationError(
                        f"{ep.antenna} is reached in memory ({ep.transport!r}), not at a host:port: "
                        "a host-map CSV needs a socket server (SimulatedArray(..., serve=True))"
                    )
                w.writerow([ep.antenna, ep.host, ep.port])
        return path


#: the array set by :func:`use_array` (innermost last)
_active: list[Array] = []


def use_array(array: Array) -> Callable[[], None]:
    """Make ``array`` the one this process talks to when no array is named (before
    ``$E2CKIT_ARRAY``), e.g. a simulated array held in memory, which no CSV can carry;
    returns the function that undoes it. ``e2ckit --simulate`` uses this."""
    if not isinstance(array, Array):
        raise ValidationError(f"use_array takes an Array, got {type(array).__name__}")
    _active.append(array)

    def restore() -> None:
        _active[:] = [a for a in _active if a is not array]

    return restore


def default_array() -> Array:
    """The array this process talks to: the one given to :func:`use_array`, else
    ``$E2CKIT_ARRAY`` if set, else the ALMA defaults."""
    if _active:
        return _active[-1]
    path = os.environ.get(ENV_VAR)
    if path:
        return Array.from_csv(path)
    return Array.default(include_central=False)
