"""The logger's one door into the rest of e2ckit: planning and running its sweeps.

Every call the logger makes into api, the fan-out engine and the protocol codec is
here and nowhere else in the package, so that a new engine or a public sweep planner
is wired in by changing this module alone. What it hands back is plain data:

``Swept`` — one antenna's sweep as the logger reads it: its points (``None`` for a row
that stands for no point, e.g. a failed node listing), aligned with them each one's
reply bytes (``None``: nothing came back) and latency in seconds, and the failures'
text by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from e2ckit import engine
from e2ckit.protocol import MAX_NODE, error_info, monitor_request, reply_data, reply_error

if TYPE_CHECKING:
    from e2ckit.array import Array
    from e2ckit.catalog import Catalog, Point

    Swept = tuple[list[Point | str | None], list[bytes | None], list[float | None], dict[int, str]]

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ConnectionPool",
    "catalog_of",
    "error_info",
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


def catalog_of(catalog: Catalog | None) -> Catalog:
    """The catalog given, or the default one."""
    from e2ckit.api import _catalog

    return _catalog(catalog)


def split_what(cat: Catalog, what: str | Sequence[str]) -> tuple[list[Point], list[str]]:
    """Static points and dynamic group names in ``what`` (ValidationError before any I/O)."""
    from e2ckit.api import _split_what

    return _split_what(cat, what)


def resolve_array(array: Any) -> Array:
    """An Array, a host-map CSV, a SimulatedArray, or None for ``$E2CKIT_ARRAY``."""
    from e2ckit.api import resolve_array as resolve

    return resolve(array)


def static_plan(
    array: Array, antennas: Iterable[str], static: Sequence[Point]
) -> tuple[dict[str, Any], dict[str, tuple[list[Point], list[int] | None]]]:
    """Requests per antenna (each address once) and its points with, per point, its
    request's index (``None`` when that is just the point's own position)."""
    plan: dict[str, tuple[Any, list[Any]]] = {}
    slots: dict[str, tuple[list[Point], list[int] | None]] = {}
    for a in antennas:
        index: dict[tuple[int, int, int], int] = {}
        where = [index.setdefault((p.channel_for(a), p.node, p.rca), len(index)) for p in static]
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
) -> dict[str, Swept]:
    """One sweep of a fixed plan through the engine's column interface, kept connections."""
    swept = engine.fanout_columns(plan, timeout=timeout, deadline=deadline, concurrency=concurrency, pool=pool)
    out: dict[str, Swept] = {}
    for a, (pts, index) in slots.items():
        ex = swept[a]
        failed = {k: f"{code}: {text}" for k, (code, text) in ex.failed.items()}
        if index is None:  # usually one request per point, in order: the columns as they are
            out[a] = (pts, ex.raw, ex.latency, failed)  # type: ignore[assignment]
        else:
            raw, lat = ex.raw, ex.latency
            out[a] = (pts, [raw[i] for i in index], [lat[i] for i in index],  # type: ignore[assignment]
                      {k: failed[i] for k, i in enumerate(index) if i in failed})  # fmt: skip
    return out


class _PossibleNodes:
    """The catalog, with :meth:`expand` leaving out node ids no CAN identifier can carry
    (above ``MAX_NODE``, e.g. 0x7FF or 0xFFFFFFFF from a confused E2C): one such id in a
    listing must not stop the whole sweep. The logger gives each its own error row."""

    def __init__(self, cat: Catalog) -> None:
        self._cat = cat

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cat, name)

    def expand(self, name: str, nodes: Iterable[tuple[int, int]]) -> list[Point]:
        return self._cat.expand(name, [(c, n) for c, n in nodes if 0 <= n <= MAX_NODE])


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
) -> dict[str, Swept]:
    """One sweep with dynamic groups: each antenna lists its nodes, then the points of
    the nodes found are read (both within the one deadline). An antenna whose listing
    failed gets one row (point ``"(node listing)"``) with the failure; a node id that
    cannot exist gets a row of its own with an error, and the rest are read."""
    from e2ckit.api import _sweep_async

    per_antenna, results, discovered = engine.run(
        lambda: _sweep_async(
            _PossibleNodes(cat), array, antennas, static, dynamic, timeout, deadline, concurrency, None,  # type: ignore[arg-type]
        )
    )  # fmt: skip
    out: dict[str, Swept] = {}
    for a, pts in per_antenna.items():
        by_addr = {(r.request.channel, r.request.node, r.request.rca): r for r in results[a]}
        res = [by_addr[(p.channel_for(a), p.node, p.rca)] for p in pts]
        ps: list[Point | str | None] = list(pts)
        raws: list[bytes | None] = [r.reply.encode() if r.reply is not None else None for r in res]
        lats: list[float | None] = [r.latency for r in res]
        failed = {k: f"{r.error}: {r.detail}" for k, r in enumerate(res) if r.reply is None}
        listings = discovered.get(a, [])
        for r in listings:
            for n in r.reply.nodes if r.ok and r.reply is not None else ():
                if not 0 <= n.node <= MAX_NODE:
                    failed[len(ps)] = (
                        f"protocol: the node listing of channel {r.request.channel} reported node id "
                        f"{n.node:#x}, outside 0..{MAX_NODE:#x}; not read"
                    )
                    ps.append(f"(node {n.node:#x} on channel {r.request.channel})")
                    raws.append(None)
                    lats.append(None)
        if not pts and len(ps) == 0:  # a dynamic group on an antenna that did not list its nodes
            bad = next((r for r in listings if not r.ok), None)
            if bad is not None:
                ps = [None]
                raws = [bad.reply.encode() if bad.reply is not None else None]
                lats = [bad.latency]
                failed = {0: f"{bad.error}: {bad.detail}"} if bad.reply is None else {}
        out[a] = (ps, raws, lats, failed)
    return out
