"""One simulated antenna behind its E2C: the requests, the inventory, time and faults.

:class:`AntennaModel` answers a decoded :class:`~e2ckit.wire.frames.Request` with a
:class:`~e2ckit.wire.frames.Reply`; the asyncio server (``server.py``) does the transport and
its faults. The model is small on purpose: it keeps one simulated LRU object per
(channel, node) (:mod:`e2ckit.sim.lru`: FEMC with the FETIM and cartridge power, CMPR, ACU, LORR, FEPS, the E2C's own node,
and a plain AMBSI for every other node) and dispatches each request to the one addressed.
The LRU objects say what a point's physical value is and whether a control is honoured;
the catalog encodes the value, so any point the catalog can decode, the simulator can
serve. What lives here: get-nodes, error codes and missing LRUs, scheduled scenario
actions, the transaction counting of every request, and the reply cache of :meth:`serve`.

What is sourced and what is not is said in each LRU module and in ``physics.py``; see
``shared/e2c-protocol.md``.

Determinism: a value is a function of the seed, the antenna name, the simulated time and
the requests received (transaction counters, controls). The same seed and the same
requests at the same clock times give the same bytes.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e2ckit.catalog import default_catalog
from e2ckit.clock import SimClock
from e2ckit.errors import ErrorCode
from e2ckit.names import ANTENNA_RE, E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE
from e2ckit.sim.lru import AMBSI_GENERIC, AMBSI_RESET_RCAS, AmbsiNode, esn_crc8, make_esn, make_node
from e2ckit.sim.lru.acu import ACU_CHANNEL, ACU_NODE
from e2ckit.sim.lru.ambsi import GENERIC_RCA, fallback_value, kind_of
from e2ckit.sim.lru.femc import FemcNode
from e2ckit.sim.physics import Physics, PhysicsParams, State, seed_int
from e2ckit.wire.frames import Mode, NodeRecord, Reply, Request

__all__ = [
    "ACU_NODE",
    "AMBSI_GENERIC",
    "AntennaModel",
    "ControlRecord",
    "esn_crc8",
    "make_esn",
]

#: The E2C itself has channels 0..5; anything above is BADCHAN_ERROR.
MAX_E2C_CHANNEL = 5
FEMC_NODE = 0x13
CMPR_NODE = 0x25


@dataclass(frozen=True)
class ControlRecord:
    """One control the antenna received, and what it made of it."""

    time: float  # simulated UNIX seconds
    channel: int
    node: int
    rca: int
    data: bytes
    point: str | None  # catalog name, None for an RCA the catalog does not know
    accepted: bool
    reason: str


class AntennaModel:
    """The whole E2C behaviour of one antenna, except transport faults.

    Parameters
    ----------
    name: antenna name, ``"DV01"``; the family (CM, DA, DV, PM) comes from the prefix.
    seed: spreads every per-antenna constant; same seed, same antenna, same bytes.
    clock: the shared :class:`~e2ckit.clock.SimClock`.
    catalog: a catalog with ``point``, ``node_point``, ``expected_inventory`` and
        ``points``; the default catalog when omitted.
    """

    def __init__(
        self, name: str, *, seed: int = 0, clock: SimClock, catalog: Any = None
    ) -> None:
        m = ANTENNA_RE.match(name.upper())
        if not m:
            raise ValueError(f"{name!r} is not an ALMA antenna name (CMnn, DAnn, DVnn, PMnn)")
        if catalog is None:
            catalog = default_catalog()
        self.name = name.upper()
        self.family = m.group(1)
        self.seed = seed
        self.clock = clock
        self.catalog = catalog
        self.t0 = clock.now()
        self.params = PhysicsParams.seeded(self.name, seed)
        self.physics = Physics(self.params, self.t0)
        self._controls: list[ControlRecord] = []
        #: refuse compressor drive-on while the cryostat is above 5e-4 mbar (inferred from §7:
        #: the front end tells the compressor it is safe to cool only below that pressure)
        self.pressure_interlock = True
        self._lock = threading.RLock()
        self._missing: set[int] = set()
        self._unlisted: set[tuple[int, int]] = set()
        self._errors: dict[tuple[int | None, int], int] = {}
        self._actions: list[tuple[float, int, Callable[[AntennaModel, float], None]]] = []
        self._action_seq = 0
        #: bumped by everything that changes an answer other than time and physics events
        #: (scenario actions, missing LRUs, injected errors, resets, controls)
        self._gen = 0
        #: encoded monitor replies of the current physics state (see :meth:`serve`)
        self._replies: dict[Request, tuple[bytes, bool]] = {}
        #: (quantum start, quantum end, settings generation, physics version, powered)
        #: under which the kept replies hold
        self._epoch: tuple[float, float, int, int, bool] = (math.inf, -math.inf, -1, -1, False)
        self._boots: dict[tuple[int, int], float] = {}  # node boot times for those replies
        self._counted = 0
        self._build_inventory()
        self._build_points()

    # ----------------------------------------------------------------------------------
    # inventory and point tables

    def _build_inventory(self) -> None:
        """One simulated node object per (channel, node) the antenna has (see :mod:`.lru`)."""
        inventory = list(self.catalog.expected_inventory(self.name))
        if not any(n == ACU_NODE for _, n, _ in inventory):
            # the ACU answers its points (they are in the catalog) but, as in the real DV10
            # listing of §6, is not among the nodes get-nodes finds (inferred)
            inventory.append((ACU_CHANNEL, ACU_NODE, "ACU"))
            self._unlisted = {(ACU_CHANNEL, ACU_NODE)}
        if not any(c == E2C_INTERNAL_CHANNEL for c, _, _ in inventory):
            inventory.append((E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE, "E2C"))
        #: (channel, node) → the simulated LRU there: the dispatch table of every request
        self._nodes: dict[tuple[int, int], AmbsiNode] = {}
        for channel, node, abbrev in inventory:
            self._nodes[(channel, node)] = make_node(self, channel, node, str(abbrev))
        self._by_abbrev: dict[str, list[tuple[int, int]]] = {}
        for key, n in self._nodes.items():
            self._by_abbrev.setdefault(n.abbrev, []).append(key)

    @property
    def lrus(self) -> dict[tuple[int, int], AmbsiNode]:
        """The simulated LRU objects by (channel, node) (read-only view for tests and tools)."""
        return dict(self._nodes)

    def _build_points(self) -> None:
        """(channel, node, rca) → point, separately for monitors and controls."""
        self._monitor_points: dict[tuple[int, int, int], list[Any]] = {}
        self._control_points: dict[tuple[int, int, int], Any] = {}
        for p in self.catalog.points.values():
            try:
                channel = p.channel_for(self.name)
            except Exception:  # a point not on this antenna's kind of node layout
                continue
            if channel is None or (channel, p.node) not in self._nodes:
                continue
            if getattr(p, "kind", "monitor") == "control":
                self._control_points[(channel, p.node, p.rca)] = p
            else:
                # several points may read fields of one reply (ACU temperatures, LORR bits):
                # whole-reply points first, then the fields written into that base
                group = self._monitor_points.setdefault((channel, p.node, p.rca), [])
                group.append(p)
                group.sort(key=lambda q: (kind_of(q) == "bit", getattr(q, "byte", 0)))
        self._generic: dict[tuple[int, int, int], tuple[str, Any]] = {}
        for (channel, node) in self._nodes:
            for tmpl in AMBSI_GENERIC:
                try:
                    p = self.catalog.node_point(tmpl, channel, node)
                except Exception:
                    p = None
                rca = p.rca if p is not None else GENERIC_RCA[tmpl]
                if (channel, node, rca) not in self._monitor_points:
                    self._generic[(channel, node, rca)] = (tmpl, p)

    # ----------------------------------------------------------------------------------
    # scheduling (scenarios)

    def schedule(self, t: float, action: Callable[[AntennaModel, float], None]) -> None:
        """Run ``action(model, t)`` once simulated time reaches ``t``.

        Actions run lazily, in time order, before the model answers anything at a later
        time, and see their own scheduled time, not the moment someone asked: so a
        scenario gives the same result whatever the query times.
        """
        with self._lock:
            heapq.heappush(self._actions, (float(t), self._action_seq, action))
            self._action_seq += 1

    def _run_due(self, t: float) -> None:
        while self._actions and self._actions[0][0] <= t:
            ta, _, action = heapq.heappop(self._actions)
            action(self, ta)
            self._gen += 1

    def power_off(self, t: float) -> None:
        """The antenna loses power at ``t``: the E2C goes silent, everything stops."""
        self.physics.add_event(t, "power", False)

    def power_on(self, t: float) -> None:
        """Power returns at ``t``: every node reboots; the compressor drive stays off."""
        self.physics.add_event(t, "power", True)

    def trip_compressor(self, t: float) -> None:
        """The compressor faults and stops at ``t`` (latched until a reset, §8)."""
        self.physics.add_event(t, "fault", True)

    def start_leak(self, t: float, mbar_per_hour: float) -> None:
        """A vacuum leak opens at ``t`` (0 closes it)."""
        self.physics.add_event(t, "leak", mbar_per_hour)

    def control_at(
        self,
        t: float,
        point: str,
        value: int | bytes,
        *,
        retry_every: float | None = None,
        retries: int = 0,
    ) -> None:
        """Schedule a control request on ``point`` at ``t`` through :meth:`handle`, so it is
        honoured or refused like a user's; if refused, retry every ``retry_every`` seconds
        up to ``retries`` times."""
        p = self.catalog.point(point)
        channel = p.channel_for(self.name)
        data = value if isinstance(value, bytes) else bytes([int(value) & 0xFF])

        def act(model: AntennaModel, ta: float, left: int = retries) -> None:
            model._handle_at(Request(channel, p.node, p.rca, Mode.CONTROL, data), ta)
            last = model._controls[-1] if model._controls else None
            if last is not None and not last.accepted and retry_every and left > 0:
                model.schedule(ta + retry_every, lambda m, t2: act(m, t2, left - 1))

        self.schedule(t, act)

    @property
    def controls(self) -> list[ControlRecord]:
        """Every control received (scenario ones included), oldest first."""
        with self._lock:
            self._run_due(self.clock.now())
            return list(self._controls)

    # ----------------------------------------------------------------------------------
    # fault injection and inventory changes

    def set_missing(self, abbrev_or_node: str | int, missing: bool = True) -> None:
        """Make an LRU absent (or present again): not listed by get-nodes, requests time out."""
        with self._lock:
            for _channel, node in self._resolve_nodes(abbrev_or_node):
                (self._missing.add if missing else self._missing.discard)(node)
            self._gen += 1

    def _resolve_nodes(self, abbrev_or_node: str | int) -> list[tuple[int, int]]:
        if isinstance(abbrev_or_node, str):
            keys = self._by_abbrev.get(abbrev_or_node.upper())
            if not keys:
                raise KeyError(
                    f"{self.name} has no LRU {abbrev_or_node!r}; it has {sorted(self._by_abbrev)}"
                )
            return list(keys)
        found = [k for k in self._nodes if k[1] == abbrev_or_node]
        if not found:
            raise KeyError(f"{self.name} has no node {abbrev_or_node:#x}")
        return found

    def set_error(self, point_or_rca: str | int, code: int | None) -> None:
        """Answer E2C error ``code`` for a point (by catalog name) or an RCA on any node;
        ``None`` clears it."""
        with self._lock:
            if isinstance(point_or_rca, str):
                p = self.catalog.point(point_or_rca)
                key: tuple[int | None, int] = (p.node, p.rca)
            else:
                key = (None, int(point_or_rca))
            if code is None:
                self._errors.pop(key, None)
            else:
                self._errors[key] = int(code)
            self._gen += 1

    def _femcs(self) -> list[FemcNode]:
        found = [n for n in self._nodes.values() if isinstance(n, FemcNode)]
        if not found:
            raise KeyError(f"{self.name} has no FEMC")
        return found

    def set_maintenance_mode(self, on: bool = True) -> None:
        """Put the front end in maintenance mode (or take it out): the FEMC then answers
        every standard monitor request with the status byte −3 alone and ignores controls
        (FEMC firmware ``can.c``)."""
        with self._lock:
            for n in self._femcs():
                n.maintenance = bool(on)
            self._gen += 1

    def set_async_monitoring(self, on: bool) -> None:
        """Turn the FEMC's asynchronous monitoring off (or on): temperatures, pressures,
        230 V current and cold-head hours then carry status −3 (FEMC firmware)."""
        with self._lock:
            for n in self._femcs():
                n.async_monitoring = bool(on)
            self._gen += 1

    def inject(self, t: float, point: str, value: float | None) -> None:
        """From ``t`` on, monitor point ``point`` reads ``value`` (None: back to the model):
        a FEPS flag, a FETIM flag, any catalog point. FEPS trips and interlocks also drop
        the FEPS outputs, and ``FETIM.SHUTDOWN`` = 1 silences the FEMC and stops the
        compressor (see ``physics.Discrete``)."""
        p = self.catalog.point(point)
        if p.kind != "monitor" or p.template:
            raise ValueError(f"{p.name} is not a monitor point of one LRU: it cannot be injected")
        self.physics.add_event(t, "flag", (p.name, None if value is None else float(value)))

    def set_fetim_turbo_temp(self, celsius: float) -> None:
        """Set the FETIM's turbo-pump temperature (°C); the FEMC refuses to start the
        turbo while it is outside 10–45 °C (firmware ``turboPump.c``)."""
        with self._lock:
            for n in self._femcs():
                n.fetim_turbo_c = float(celsius)
            self._gen += 1

    # ----------------------------------------------------------------------------------
    # the E2C

    def state(self, t: float | None = None) -> State:
        """The physics state now (or at ``t``), after any scenario actions due by then."""
        with self._lock:
            t = self.clock.now() if t is None else t
            self._run_due(t)
            return self._physics_state(t)

    #: Physics is queried on a 1 s grid of simulated time: the slowest thing the
    #: protocol shows changes on a scale of seconds, and a sweep's requests then share
    #: one computed state instead of integrating again for every request.
    STATE_QUANTUM = 1.0

    def _physics_state(self, t: float) -> State:
        return self.physics.state(math.floor(t / self.STATE_QUANTUM) * self.STATE_QUANTUM)

    def powered(self) -> bool:
        """False while an outage holds this antenna down (the server drops its connections)."""
        return self.state().powered

    def _present(self, channel: int, node: int) -> bool:
        return (channel, node) in self._nodes and node not in self._missing

    def nodes(self, channel: int) -> list[NodeRecord]:
        """What get-nodes on ``channel`` answers, sorted by node id."""
        with self._lock:
            self._run_due(self.clock.now())
            return self._node_records(channel)

    def _node_records(self, channel: int) -> list[NodeRecord]:
        return [
            NodeRecord(n.node, n.esn)
            for (c, node), n in sorted(self._nodes.items())
            if c == channel and node not in self._missing and (c, node) not in self._unlisted
        ]

    def handle(self, request: Request) -> Reply:
        """Answer one request as the E2C would, at the clock's current time."""
        return self._handle_at(request, self.clock.now())

    def serve(self, request: Request) -> bytes | None:
        """The encoded reply to ``request`` now, or ``None`` while the antenna is unpowered.

        The server's path, and the same answers as :meth:`handle`, only cheaper: a monitor
        reply depends on the request, the physics state (computed once per
        :attr:`STATE_QUANTUM`) and discrete settings, so its bytes are kept until the
        quantum ends, a physics event is added or a setting changes. A sweep asks every
        point of an antenna within one quantum. Only the transaction counter (TRANS_NUM)
        changes with every request, so it is never kept, and every request still counts
        towards it.
        """
        with self._lock:
            t = self.clock.now()
            if self._actions and self._actions[0][0] <= t:
                self._run_due(t)
            lo, hi, gen, version, powered = self._epoch
            if not (lo <= t < hi and gen == self._gen and version == self.physics.version):
                # a new quantum, or something changed: start again from the physics
                st = self._physics_state(t)
                self._replies.clear()
                self._boots.clear()
                q = math.floor(t / self.STATE_QUANTUM) * self.STATE_QUANTUM  # as _physics_state
                self._epoch = (q, q + self.STATE_QUANTUM, self._gen, self.physics.version, st.powered)
                lo, hi, gen, version, powered = self._epoch
            if not powered:
                return None
            hit = self._replies.get(request)
            if hit is not None:
                if hit[1]:  # counted when first answered: count it again
                    boot = self._boots.get((request.channel, request.node))
                    if boot is None:
                        self._count(request.node, request.channel, t)
                    else:
                        self._nodes[(request.channel, request.node)].tally(boot)
                return hit[0]
            counted = self._counted
            payload = self._handle_at(request, t).encode()
            if request.mode is Mode.MONITOR and self._gen == gen and self.physics.version == version:
                g = self._generic.get((request.channel, request.node, request.rca))
                if g is None or g[0] != "TRANS_NUM":
                    self._replies[request] = (payload, self._counted != counted)
            return payload

    def _handle_at(self, request: Request, t: float) -> Reply:
        with self._lock:
            self._run_due(t)
            st = self._physics_state(t)
            if not st.powered:
                # the server drops connections of an unpowered E2C; a direct caller gets this
                return Reply(int(ErrorCode.TIMEOUT_ERROR))
            ch, node, rca = request.channel, request.node, request.rca
            if ch > MAX_E2C_CHANNEL:
                return Reply(int(ErrorCode.BADCHAN_ERROR))
            if request.mode is Mode.GET_NODES:
                return Reply(0, nodes=self._node_records(ch))
            code = self._errors.get((node, rca), self._errors.get((None, rca)))
            if code is not None and request.mode in (Mode.MONITOR, Mode.CONTROL):
                return Reply(code)
            if not self._present(ch, node):
                if request.mode is Mode.CONTROL:
                    self._record(t, request, None, False, "no such node on this channel")
                return Reply(int(ErrorCode.TIMEOUT_ERROR))
            self._count(node, ch, t)
            if request.mode is Mode.RESET:
                self._reset_node(ch, node, t)
                return Reply(0)
            if request.mode is Mode.CONTROL:
                self._control(request, st, t)
                return Reply(0)
            return self._monitor_reply(ch, node, rca, st)

    # -- monitors ----------------------------------------------------------------------

    def _monitor_reply(self, ch: int, node: int, rca: int, st: State) -> Reply:
        key = (ch, node, rca)
        group = self._monitor_points.get(key)
        if group:
            lru = self._nodes[(ch, node)]
            if lru.silent(st):  # its controller is not running; its AMBSI still answers
                return Reply(int(ErrorCode.TIMEOUT_ERROR))
            override = lru.reply_override(group[0], st)
            if override is not None:
                return Reply(0, override)
            data: bytes | None = None
            for p in group:
                value, status = self._value(p.name, st, ch, node, fallback=data is None)
                if value is None:
                    continue  # a field the whole-reply point already set
                data = self._encode(p, value, status, data)
            assert data is not None
            return Reply(0, data)
        g = self._generic.get(key)
        if g is not None:
            tmpl, p = g
            return Reply(0, self._nodes[(ch, node)].generic_bytes(tmpl, p, st))
        return Reply(int(ErrorCode.TIMEOUT_ERROR))  # unknown RCA: the node stays silent

    @staticmethod
    def _encode(p: Any, value: Any, status: int, base: bytes | None = None) -> bytes:
        if base is not None and getattr(p, "size", None):
            base = base[: p.size].ljust(p.size, b"\0")
        if getattr(p, "femc_status", False):
            return p.encode(value, status=status, base=base)
        return p.encode(value, base=base)

    def peek(self, point: str, node: int | None = None, channel: int | None = None) -> Any:
        """The physical value this antenna would serve for ``point`` now, without counting
        a transaction. Generic AMBSI points take ``node`` (and ``channel`` if ambiguous):
        ``peek("AMBIENT_TEMP", node=0x13)``."""
        return self._peek(point, node, channel)[0]

    def peek_status(self, point: str) -> int:
        """The FEMC status byte (0 OK, −3 blocked...) that goes with :meth:`peek`."""
        return self._peek(point, None, None)[1]

    def _peek(self, point: str, node: int | None, channel: int | None) -> tuple[Any, int]:
        with self._lock:
            t = self.clock.now()
            self._run_due(t)
            st = self._physics_state(t)
            tmpl = point.split(".")[-1].upper()
            if node is not None or (point.upper() in AMBSI_GENERIC):
                if node is None:
                    raise ValueError(f"{point} is on every node: pass node=")
                keys = [k for k in self._nodes if k[1] == node and (channel is None or k[0] == channel)]
                if not keys:
                    raise KeyError(f"{self.name} has no node {node:#x}")
                return self._nodes[keys[0]].generic_value(tmpl, st), 0
            p = self.catalog.point(point)
            ch = p.channel_for(self.name)
            return self._value(p.name, st, ch, p.node)

    # -- physical values ---------------------------------------------------------------

    def _value(
        self, name: str, st: State, ch: int, node: int, fallback: bool = True
    ) -> tuple[Any, int]:
        """(physical value, FEMC status) of a catalog point at state ``st``, from the LRU
        at (``ch``, ``node``); a point no LRU models gets a plausible constant, or
        ``(None, 0)`` if not ``fallback``."""
        injected = st.disc.flag(name) if st.disc.flags else None
        if injected is not None:  # a scenario's ``flag`` action (see :meth:`inject`)
            return (int(injected) if injected == int(injected) else injected), 0
        lru = self._nodes.get((ch, node))
        if lru is not None:
            out = lru.value(name.partition(".")[2], st)
            if out is not None:
                return out
        if not fallback:
            return None, 0
        u = seed_int("const", self.name, self.seed, name) / 2.0**64  # fixed per antenna
        return fallback_value(self.catalog.point(name), u), 0

    # -- the transaction counter of the generic AMBSI points ---------------------------

    def _count(self, node: int, ch: int, t: float) -> None:
        self._counted += 1
        n = self._nodes[(ch, node)]
        boot = n.boot_time(self._physics_state(t))
        self._boots[(ch, node)] = boot
        n.tally(boot)

    # -- controls and resets -----------------------------------------------------------

    def _record(self, t: float, req: Request, point: str | None, ok: bool, reason: str) -> None:
        self._controls.append(
            ControlRecord(t, req.channel, req.node, req.rca, req.data, point, ok, reason)
        )

    def _reset_node(self, ch: int, node: int, t: float) -> None:
        self._gen += 1
        self._nodes[(ch, node)].reset(t)

    def _control(self, req: Request, st: State, t: float) -> None:
        self._gen += 1
        key = (req.channel, req.node, req.rca)
        p = self._control_points.get(key)
        if p is None and req.rca in AMBSI_RESET_RCAS:
            self._reset_node(req.channel, req.node, t)
            self._record(t, req, None, True, "AMBSI reset: node reboots")
            return
        if p is None:
            self._record(t, req, None, True, "acknowledged; RCA unknown to the catalog")
            return
        on = any(req.data[:1])
        lru = self._nodes[(req.channel, req.node)]
        if lru.silent(st):
            self._record(t, req, p.name, False, "not answered: the LRU's controller is not running (FETIM shutdown)")
            return
        out = lru.control(p.name.partition(".")[2], on, req.data, st, t)
        ok, reason = out if out is not None else (True, "acknowledged (no simulated effect)")
        self._record(t, req, p.name, ok, reason)
