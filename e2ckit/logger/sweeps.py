"""The logger's one door into the rest of e2ckit: planning and running its sweeps.

Every call the logger makes into the sweep planner (:mod:`e2ckit.planning`, which api
uses too), the fan-out engine and the codec is here and nowhere else in the package.
What it hands back is plain data:

``AntennaReplies`` — one antenna's sweep as the logger reads it: its points (``None`` for a row
that stands for no point, e.g. a failed node listing), aligned with them each one's
reply bytes (``None``: nothing came back) and latency in seconds, and the failures'
text by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from e2ckit import planning, transport
from e2ckit.planning import LISTING_ROW, catalog_of, resolve_array, split_what
from e2ckit.transport import engine
from e2ckit.wire.frames import REPLY_DLEN_AT as DLEN_AT
from e2ckit.wire.frames import monitor_request, reply_data, reply_error

if TYPE_CHECKING:
    from e2ckit.array import Array
    from e2ckit.catalog import Catalog, Point

    AntennaReplies = tuple[list[Point | str | None], list[bytes | None], list[float | None], dict[int, str]]

__all__ = [
    "DLEN_AT",
    "LISTING_ROW",
    "DEFAULT_CONCURRENCY",
    "ConnectionPool",
    "catalog_of",
    "reply_data",
    "reply_error",
    "resolve_array",
    "split_what",
    "static_plan",
    "sweep_dynamic",
    "sweep_static",
]

DEFAULT_CONCURRENCY = engine.DEFAULT_CONCURRENCY
ConnectionPool = engine.ConnectionPool


def static_plan(
    array: Array, antennas: Iterable[str], static: Sequence[Point]
) -> tuple[dict[str, Any], dict[str, tuple[list[Point], list[int] | None]]]:
    """Requests per antenna (each address once) and its points with, per point, its
    request's index (``None`` when that is just the point's own position)."""
    plan: dict[str, tuple[Any, list[Any]]] = {}
    slots: dict[str, tuple[list[Point], list[int] | None]] = {}
    for a in antennas:
        index: dict[tuple[int, int, int], int] = {}
        key = planning.family_key(array, a)  # the endpoint's family: no stand-in names
        where = [index.setdefault((p.channel_for(key), p.node, p.rca), len(index)) for p in static]
        slots[a] = (list(static), None if where == list(range(len(where))) else where)
        plan[a] = (array[a], [monitor_request(*key) for key in index])
    return plan, slots


def sweep_static(
    plan: dict[str, Any],
    slots: dict[str, tuple[list[Point], list[int] | None]],
    *,
    timeout: float,
    deadline: float,
    concurrency: int,
    pool: Any,
) -> dict[str, AntennaReplies]:
    """One sweep of a fixed plan through the engine's column interface, kept connections."""
    swept = transport.exchange(plan, timeout=timeout, deadline=deadline, concurrency=concurrency, pool=pool)
    out: dict[str, AntennaReplies] = {}
    for a, (pts, index) in slots.items():
        ex = swept[a]
        failed = {k: f.text for k, f in ex.failed.items()}
        if index is None:  # usually one request per point, in order: the columns as they are
            out[a] = (pts, ex.raw, ex.latency, failed)  # type: ignore[assignment]
        else:
            raw, lat = ex.raw, ex.latency
            out[a] = (pts, [raw[i] for i in index], [lat[i] for i in index],  # type: ignore[assignment]
                      {k: failed[i] for k, i in enumerate(index) if i in failed})  # fmt: skip
    return out


def sweep_dynamic(
    cat: Catalog,
    array: Array,
    antennas: Sequence[str],
    static: Sequence[Point],
    dynamic: Sequence[str],
    *,
    timeout: float,
    deadline: float,
    concurrency: int,
) -> dict[str, AntennaReplies]:
    """One sweep with dynamic groups: each antenna lists its nodes, then the points of
    the nodes found are read (both within the one deadline). An antenna whose listing
    failed gets one row (point :data:`LISTING_ROW`) with the failure; a node id that
    cannot exist gets a row of its own with an error, and the rest are read."""
    per_antenna, results, discovered, _ = planning.execute(  # impossible nodes: rows below
        planning.Plan(cat, array, list(antennas), list(static), list(dynamic), timeout, deadline, concurrency)
    )
    out: dict[str, AntennaReplies] = {}
    for a, pts in per_antenna.items():
        by_addr = {(r.request.channel, r.request.node, r.request.rca): r for r in results[a]}
        key = planning.family_key(array, a)
        res = [by_addr[(p.channel_for(key), p.node, p.rca)] for p in pts]
        ps: list[Point | str | None] = list(pts)
        raws: list[bytes | None] = [r.reply.encode() if r.reply is not None else None for r in res]
        lats: list[float | None] = [r.latency for r in res]
        failed = {k: r.failure.text for k, r in enumerate(res) if r.reply is None}
        listings = discovered.get(a, [])
        for r in listings:  # nodes the listing named that no request can address: a row each
            for n in r.reply.nodes if r.ok and r.reply is not None else ():
                why = planning.impossible_node(r.request.channel, n)
                if why is not None:
                    failed[len(ps)] = why.text
                    ps.append(f"(node {n.node:#x} on channel {r.request.channel})")
                    raws.append(None)
                    lats.append(None)
        if not pts and len(ps) == 0:  # a dynamic group on an antenna that did not list its nodes
            bad = next((r for r in listings if not r.ok), None)
            if bad is not None:
                ps = [None]
                raws = [bad.reply.encode() if bad.reply is not None else None]
                lats = [bad.latency]
                failed = {0: bad.failure.text} if bad.reply is None else {}
        out[a] = (ps, raws, lats, failed)
    return out
