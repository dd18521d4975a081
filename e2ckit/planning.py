"""Planning a sweep: names to requests, the defaults, node discovery — and running it.

What :mod:`e2ckit.api` and the logger share: the catalog and ``what`` checked and split
into static points and dynamic groups, the antennas and the timing checked before
anything is sent (:func:`prepare`), and one pass of the fan-out engine under one
deadline that lists nodes first where a dynamic group needs them (:func:`execute`). The
DataFrames are api's; the logger decodes the same results its own way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from e2ckit import arguments, transport
from e2ckit.arguments import name_list, whole_number
from e2ckit.array import Array, default_array
from e2ckit.catalog import Catalog, default_catalog
from e2ckit.errors import Failure, ValidationError
from e2ckit.names import LRU_CHANNELS, MAX_NODE
from e2ckit.transport.base import Result
from e2ckit.wire.frames import Mode, NodeRecord, Request, monitor_request

if TYPE_CHECKING:
    from e2ckit.catalog import Catalog, Point

__all__ = [
    "LISTING_ROW",
    "Plan",
    "catalog_of",
    "execute",
    "family_key",
    "finished",
    "impossible_node",
    "prepare",
    "resolve_array",
    "split_what",
    "SweepResults",
    "timing",
]

ArrayLike = Array | str | os.PathLike | Any

#: The point name of a row about an antenna's node listing rather than a point: a listing
#: that failed, or a node it named that no request can address (the one spelling of it,
#: for the api's rows and the logger's).
LISTING_ROW = "(node listing)"


class Plan(NamedTuple):
    """A checked sweep, ready to :func:`execute`: nothing in it can fail validation any more."""

    catalog: Catalog
    array: Array
    antennas: list[str]
    static: list[Point]
    dynamic: list[str]
    timeout: float
    deadline: float
    concurrency: int


def resolve_array(array: ArrayLike | None) -> Array:
    """Accept an :class:`Array`, a host-map CSV path, anything with ``.array``
    (a ``SimulatedArray``), or None for ``$E2CKIT_ARRAY`` / the ALMA defaults."""
    if array is None:
        return default_array()
    if isinstance(array, Array):
        return array
    if isinstance(array, (str, os.PathLike)):
        return Array.from_csv(array)
    inner = getattr(array, "array", None)
    if isinstance(inner, Array):
        return inner
    raise ValidationError(f"array must be an Array, a host-map CSV path or a SimulatedArray, got {type(array).__name__}")


def catalog_of(catalog: Catalog | None) -> Catalog:
    arguments.instance("catalog", catalog, Catalog, "a Catalog (or None for the default)")
    return default_catalog() if catalog is None else catalog


def split_what(cat: Catalog, what: str | Sequence[str]) -> tuple[list[Point], list[str]]:
    """Static points and dynamic group names in ``what`` (validated before any I/O)."""
    items = name_list(what, "what", "a group or point name, or a list of them")
    if not items:
        raise ValidationError("nothing to read: give a group name or point names")
    static: list[str] = []
    dynamic: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"points must be names (str), got {item!r}")
        (dynamic if cat.is_dynamic(item) else static).append(item)
    points = cat.resolve(static) if static else []
    return points, dynamic


def timing(timeout: object, deadline: object) -> tuple[float, float]:
    """Checked (timeout, deadline); the deadline defaults to 2 × timeout + 0.5 s (the
    one timing rule, :func:`e2ckit.arguments.timing`)."""
    return arguments.timing(timeout, deadline)


def prepare(
    what: str | Sequence[str],
    antennas: str | Iterable[str] | None,
    array: ArrayLike | None,
    timeout: float,
    deadline: float | None,
    concurrency: int,
    catalog: Catalog | None,
) -> Plan:
    """Resolve and check every name and number before anything is sent."""
    cat = catalog_of(catalog)
    static, dynamic = split_what(cat, what)
    arr = resolve_array(array)
    names = arr.select(antennas)
    timeout, total_deadline = timing(timeout, deadline)
    concurrency = whole_number("concurrency", concurrency, "antennas")
    for a in names:  # a point whose channel depends on the antenna family fails here, not mid-sweep
        for p in static:
            p.channel_for(family_key(arr, a))
    return Plan(cat, arr, list(names), list(static), dynamic, timeout, total_deadline, concurrency)


def family_key(array: Array, antenna: str) -> str:
    """What a point's ``channel_for`` takes for ``antenna``: its endpoint's family (so an
    E2C that is no antenna, given a family, needs no stand-in name), else its name."""
    return array[antenna].family or antenna


def impossible_node(channel: int, node: NodeRecord) -> Failure | None:
    """Why a node of a get-nodes listing cannot be asked anything, or None when it can.

    The node field of a CAN id holds ``node + 1`` in 11 bits, so a listing that names a
    node above 0x7FE (0x7FF, 0xFFFFFFFF) names no node this protocol can address: a
    broken listing, reported for that node while every other node is swept.
    """
    if node.node <= MAX_NODE:
        return None
    return Failure(
        "protocol",
        f"the node listing of channel {channel} names node 0x{node.node:X}, which no CAN id can address "
        f"(0x0..0x{MAX_NODE:X})",
    )


class SweepResults(NamedTuple):
    """What :func:`execute` gives: per antenna its points, their results (one per distinct
    address, in request order), its node listings (dynamic groups only), and the
    failures of listed nodes no request can address."""

    points: dict[str, list[Point]]
    results: dict[str, list[Result]]
    listings: dict[str, list[Result]]
    bad_nodes: dict[str, list[tuple[float, Failure]]]


def finished(plan: Plan, done: Mapping[str, Sequence[Result]]) -> SweepResults:
    """The :class:`SweepResults` of the antennas in ``done`` (their results as the transport's
    ``on_antenna_done`` gave them) — what an interrupted sweep had finished. Their order is
    :func:`execute`'s: the static points, then the listings, then the nodes found."""
    cat, arr, antennas, static, dynamic = plan.catalog, plan.array, plan.antennas, plan.static, plan.dynamic
    n = len(LRU_CHANNELS) if dynamic else 0
    per_antenna: dict[str, list[Point]] = {}
    results: dict[str, list[Result]] = {}
    discovered: dict[str, list[Result]] = {}
    bad_nodes: dict[str, list[tuple[float, Failure]]] = {}
    for a in (a for a in antennas if a in done):
        k = len(_requests(family_key(arr, a), static))
        rs = list(done[a])
        results[a] = rs[:k] + rs[k + n :]
        per_antenna[a] = list(static)
        if dynamic:
            discovered[a] = rs[k : k + n]
            found, bad = _found(discovered[a])
            if bad:
                bad_nodes[a] = bad
            per_antenna[a] += [p for g in dynamic for p in cat.expand(g, nodes=found)]
    return SweepResults(per_antenna, results, discovered, bad_nodes)


def _requests(key: str, points: Sequence[Point], skip: frozenset = frozenset()) -> list[Request]:
    """One monitor request per distinct address of ``points`` on an antenna of family
    ``key``, in order, leaving out the addresses in ``skip`` (already asked)."""
    seen: dict[tuple[int, int, int], None] = {}
    for p in points:
        addr = (p.channel_for(key), p.node, p.rca)
        if addr not in skip:
            seen.setdefault(addr, None)
    return [monitor_request(*addr) for addr in seen]


def _found(listing: Sequence[Result]) -> tuple[list[tuple[int, int]], list[tuple[float, Failure]]]:
    """The ``(channel, node)`` pairs a node listing names, and the failures of the
    nodes it names that no request can address (see :func:`impossible_node`)."""
    found: list[tuple[int, int]] = []
    bad: list[tuple[float, Failure]] = []
    for r in listing:
        for n in r.reply.nodes if r.ok and r.reply else ():
            why = impossible_node(r.request.channel, n)
            if why is None:
                found.append((r.request.channel, n.node))
            else:
                bad.append((r.time, why))
    return found, bad


def execute(plan: Plan, tick: Callable[[str, list], None] | None = None) -> SweepResults:
    """The sweep itself, blocking, in one pass of the transport under one deadline.

    Each antenna's static points go first; when a dynamic group needs the node
    listings, they follow on the same connection, and the readings of the nodes found
    after them, as soon as that antenna's own listing is in. So discovery never
    starves the static points (a slow E2C whose listings would use up the deadline
    still gives its static readings), and an antenna slow to list holds back no other.
    Returns the points of each antenna, the results (one per distinct address), the
    listings, and per antenna the failures of nodes its listing named that cannot be
    asked (see :func:`impossible_node`)."""
    cat, arr, antennas, static, dynamic, timeout, deadline, concurrency = plan
    first = {a: _requests(family_key(arr, a), static) for a in antennas}
    timing = {"timeout": timeout, "deadline": deadline, "concurrency": concurrency, "on_antenna_done": tick}
    if not dynamic:
        results = transport.exchange_results({a: (arr[a], first[a]) for a in antennas}, **timing)
        return SweepResults({a: list(static) for a in antennas}, results, {}, {})
    listing = [Request(ch, 0, 0, Mode.GET_NODES) for ch in LRU_CHANNELS]
    n = len(listing)
    per_antenna: dict[str, list[Point]] = {}
    bad_nodes: dict[str, list[tuple[float, Failure]]] = {}

    def readings(a: str, ex: Any) -> list[Request]:
        k = len(first[a])
        found, bad = _found(ex.results()[k : k + n])
        if bad:
            bad_nodes[a] = bad
        extra = [p for g in dynamic for p in cat.expand(g, nodes=found)]
        per_antenna[a] = list(static) + extra
        asked = frozenset((r.channel, r.node, r.rca) for r in first[a])
        return _requests(family_key(arr, a), extra, asked)

    both = transport.exchange_results({a: (arr[a], first[a] + listing) for a in antennas}, follow_up=readings, **timing)
    discovered = {a: rs[len(first[a]) : len(first[a]) + n] for a, rs in both.items()}
    results = {a: rs[: len(first[a])] + rs[len(first[a]) + n :] for a, rs in both.items()}
    # readings() ran as each antenna's listing came in: put the antennas back in the
    # order asked, so that a sweep's rows do not depend on which E2C answered first
    per_antenna = {a: per_antenna.get(a, list(static)) for a in antennas}
    return SweepResults(per_antenna, results, discovered, bad_nodes)
