"""One simulated antenna behind its E2C: LRU inventory, point values, controls, resets.

:class:`AntennaModel` answers a decoded :class:`~e2ckit.protocol.Request` with a
:class:`~e2ckit.protocol.Reply`; the asyncio server (``server.py``) does the transport and
its faults. What each point answers comes from the antenna's physics
(:mod:`e2ckit.sim.physics`) and is encoded by the catalog, so any point the catalog can
decode, the simulator can serve.

What is sourced and what is not (see ``shared/e2c-protocol.md``):

* error codes, channels, node ids, RCAs, FEMC status bytes, the 253 "blocked" answers while
  the backing pump is off, the compressor minimum on/off windows and 0xFFFFFFFF counters,
  DS18S20 ambient-temperature layout: sourced (§2–§9);
* the interlocks between pumps and valves, drive refused while the cryostat pressure is
  above 5e-4 mbar, background transaction rates, revisions, ESN serials, MAC address, the
  ACU power-failure latch, LORR and FEPS values: **inferred or simulated**, as marked.

Determinism: a value is a function of the seed, the antenna name, the simulated time and
the requests received (transaction counters, controls). The same seed and the same
requests at the same clock times give the same bytes.
"""

from __future__ import annotations

import heapq
import math
import re
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e2ckit.catalog import ds18s20_encode
from e2ckit.protocol import (
    E2C_INTERNAL_CHANNEL,
    E2C_INTERNAL_NODE,
    ErrorCode,
    Mode,
    NodeRecord,
    Reply,
    Request,
)
from e2ckit.sim.clock import SimClock
from e2ckit.sim.physics import (
    MIN_OFF_S,
    MIN_ON_S,
    NEVER,
    SAFE_TO_COOL_MBAR,
    Physics,
    PhysicsParams,
    State,
    noise,
    seed_int,
    seeded_rng,
)

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
ACU_NODE = 0x00
ACU_CHANNEL = 2
FEMC_NODE = 0x13
CMPR_NODE = 0x25
#: generic AMBSI points every node answers (§5), by catalog template name
AMBSI_GENERIC = (
    "SERIAL_NUMBER",
    "PROTOCOL_REV",
    "CAN_ERROR",
    "TRANS_NUM",
    "AMBIENT_TEMP",
    "SW_REV",
    "HW_REV",
)
#: AMBSI reset controls (§5): a control on either reboots the node
AMBSI_RESET_RCAS = (0x31000, 0x31001)
#: RCA of the generic AMBSI points (§5), used when the catalog is not at hand
_GENERIC_RCA = {
    "SERIAL_NUMBER": 0x00000,
    "PROTOCOL_REV": 0x30000,
    "CAN_ERROR": 0x30001,
    "TRANS_NUM": 0x30002,
    "AMBIENT_TEMP": 0x30003,
    "SW_REV": 0x30004,
    "HW_REV": 0x30005,
}
#: the gate valve reads 2 (moving) this long after a command (simulated)
GATE_MOVING_S = 5.0
#: U-Boot revision the simulated E2C reports (simulated)
UBOOT_REV = (1, 3, 2)
#: FEMC status byte: blocked by hardware state or interlock (§7)
FEMC_BLOCKED = -3


def esn_crc8(data: bytes) -> int:
    """Dallas/Maxim 1-wire CRC-8 (the last byte of a real ESN is this over the first 7)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def make_esn(*parts: object) -> bytes:
    """A plausible, deterministic 1-wire ESN: family 0x10, 6 seeded bytes, CRC-8 (simulated)."""
    body = bytes([0x10]) + seed_int("esn", *parts).to_bytes(8, "big")[:6]
    return body + bytes([esn_crc8(body)])


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


@dataclass
class _Node:
    channel: int
    node: int
    abbrev: str
    esn: bytes
    little_endian: bool  # DS18S20 bytes in little-endian order, as some real AMBSIs send
    uptime0: float  # seconds the node had been up at the clock's start (simulated)
    trans_rate: float  # background transactions per second from the control system (simulated)
    trans_after_boot: int  # transactions a node has done when first asked after boot
    ambient_c: float  # electronics temperature (simulated)
    can_errors: int
    sw_rev: tuple[int, int, int]
    hw_rev: tuple[int, ...]
    protocol_rev: tuple[int, int, int]


class AntennaModel:
    """The whole E2C behaviour of one antenna, except transport faults.

    Parameters
    ----------
    name: antenna name, ``"DV01"``; the family (CM, DA, DV, PM) comes from the prefix.
    seed: spreads every per-antenna constant; same seed, same antenna, same bytes.
    clock: the shared :class:`~e2ckit.sim.clock.SimClock`.
    catalog: a catalog with ``point``, ``node_point``, ``expected_inventory`` and
        ``points``; the default catalog when omitted.
    """

    def __init__(
        self, name: str, *, seed: int = 0, clock: SimClock, catalog: Any = None
    ) -> None:
        m = re.fullmatch(r"(CM|DA|DV|PM)(\d\d)", name.upper())
        if not m:
            raise ValueError(f"{name!r} is not an ALMA antenna name (CMnn, DAnn, DVnn, PMnn)")
        if catalog is None:
            from e2ckit.catalog import default_catalog

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
        self._resets: dict[int, list[float]] = {}
        self._req_count: dict[int, int] = {}
        self._req_boot: dict[int, float] = {}
        self._acu_latch_cleared = NEVER
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
        self._offsets = self._sensor_offsets()

    # ----------------------------------------------------------------------------------
    # inventory and point tables

    def _build_inventory(self) -> None:
        inventory = list(self.catalog.expected_inventory(self.name))
        if not any(n == ACU_NODE for _, n, _ in inventory):
            # the ACU answers its points (they are in the catalog) but, as in the real DV10
            # listing of §6, is not among the nodes get-nodes finds (inferred)
            inventory.append((ACU_CHANNEL, ACU_NODE, "ACU"))
            self._unlisted = {(ACU_CHANNEL, ACU_NODE)}
        if not any(c == E2C_INTERNAL_CHANNEL for c, _, _ in inventory):
            inventory.append((E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE, "E2C"))
        self._nodes: dict[tuple[int, int], _Node] = {}
        for channel, node, abbrev in inventory:
            r = seeded_rng("node", self.name, channel, node, self.seed)
            esn = make_esn(self.name, channel, node, self.seed)
            if node == E2C_INTERNAL_NODE and channel == E2C_INTERNAL_CHANNEL:
                esn = self._e2c_serial()
            self._nodes[(channel, node)] = _Node(
                channel=channel,
                node=node,
                abbrev=str(abbrev).upper(),
                esn=esn,
                little_endian=r.random() < 0.3,
                uptime0=r.uniform(3, 200) * 86400.0,
                trans_rate=r.choice((0.5, 1.0, 2.0, 4.0)),
                trans_after_boot=r.randint(1, 12),
                ambient_c=r.uniform(27.0, 42.0),
                can_errors=r.choice((0, 0, 0, 1, 2, 7)),
                sw_rev=(r.randint(1, 3), r.randint(0, 9), r.randint(0, 20)),
                hw_rev=(r.randint(1, 2), r.randint(0, 5)),
                protocol_rev=(1, r.choice((0, 1)), 0),
            )
        self._by_abbrev: dict[str, list[tuple[int, int]]] = {}
        for key, n in self._nodes.items():
            self._by_abbrev.setdefault(n.abbrev, []).append(key)

    def _e2c_serial(self) -> bytes:
        """The E2C's serial number is its MAC address (§5); a locally administered one here
        (simulated), padded to 8 bytes."""
        mac = bytes([0x02]) + seed_int("mac", self.name, self.seed).to_bytes(8, "big")[:5]
        return mac + b"\x00\x00"

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
                group.sort(key=lambda q: (_kind_of(q) == "bit", getattr(q, "byte", 0)))
        self._generic: dict[tuple[int, int, int], tuple[str, Any]] = {}
        for (channel, node) in self._nodes:
            for tmpl in AMBSI_GENERIC:
                try:
                    p = self.catalog.node_point(tmpl, channel, node)
                except Exception:
                    p = None
                rca = p.rca if p is not None else _GENERIC_RCA[tmpl]
                if (channel, node, rca) not in self._monitor_points:
                    self._generic[(channel, node, rca)] = (tmpl, p)

    def _sensor_offsets(self) -> list[float]:
        """Fixed per-sensor offsets (K) of the 13 cryostat sensors (simulated): cryocooler
        sensors read a little colder than the plates they cool, shields a little warmer."""
        r = seeded_rng("sensors", self.name, self.seed)
        spread = [0.08] * 5 + [0.4] * 4 + [1.5] * 4
        bias = [-0.05, 0.02, 0.03, 0.06, 0.07, -0.3, 0.1, 0.2, 0.4, -1.0, 0.5, 1.0, 2.0]
        return [b + r.uniform(-s, s) for b, s in zip(bias, spread, strict=True)]

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
                        self._tally(request.node, boot)
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
            return Reply(0, self._generic_bytes(tmpl, p, self._nodes[(ch, node)], st))
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
                return self._generic_value(tmpl, self._nodes[keys[0]], st), 0
            p = self.catalog.point(point)
            ch = p.channel_for(self.name)
            return self._value(p.name, st, ch, p.node)

    # -- physical values ---------------------------------------------------------------

    def _value(
        self, name: str, st: State, ch: int, node: int, fallback: bool = True
    ) -> tuple[Any, int]:
        """(physical value, FEMC status) of a catalog point at state ``st``; a point with
        no model here gets a plausible constant, or ``(None, 0)`` if not ``fallback``."""
        group, _, item = name.partition(".")
        fn = getattr(self, f"_v_{group.lower()}", None)
        if fn is not None:
            out = fn(item, st)
            if out is not None:
                return out
        return (self._fallback(name, st) if fallback else None), 0

    def _noise(self, what: str, t: float, amplitude: float, quantum: float = 1.0) -> float:
        return amplitude * noise(seed_int(self.name, self.seed, what), t, quantum)

    def _v_femc(self, item: str, st: State) -> tuple[Any, int] | None:
        d, t = st.disc, st.t
        m = re.fullmatch(r"TEMP(\d+)", item)
        if m:
            k = int(m.group(1))
            if not 0 <= k <= 12:
                return None
            stage = st.stages[0 if k <= 4 else 1 if k <= 8 else 2]
            # offsets shrink as the stages converge on ambient (simulated); noise ≈ 0.1 %
            off = self._offsets[k] * max(0.2, 1.0 - stage / 300.0)
            return stage + off + self._noise(f"T{k}", t, 0.001 * stage + 0.002), 0
        blocked = not d.backing  # §7: turbo points answer 253 while the backing pump is off
        if item == "BACKING_PUMP":
            return int(d.backing), 0
        if item == "TURBO_PUMP":
            return (0, FEMC_BLOCKED) if blocked else (int(d.turbo), 0)
        if item == "TURBO_STATE":
            return (0, FEMC_BLOCKED) if blocked else (0, 0)
        if item == "TURBO_SPEED":
            return (0, FEMC_BLOCKED) if blocked else (int(st.turbo_at_speed), 0)
        if item == "GATE_VALVE":
            if t - d.gate_since < GATE_MOVING_S:
                return 2, 0  # moving (simulated travel time)
            return int(d.gate), 0
        if item == "SOLENOID_VALVE":
            return int(d.solenoid), 0
        if item in ("CRYOSTAT_PRESSURE", "PORT_PRESSURE"):
            if not d.gauge:
                return -1.0, FEMC_BLOCKED  # gauge off: error sentinel, blocked (inferred)
            p = st.p_cryo if item == "CRYOSTAT_PRESSURE" else st.p_port
            return p * (1.0 + self._noise(item, t, 0.02)), 0
        if item == "VACUUM_GAUGE":
            return int(d.gauge), 0
        if item == "VACUUM_GAUGE_STATE":
            return 0, 0
        if item == "SUPPLY_CURRENT_230V":
            if blocked:
                return 0.0, FEMC_BLOCKED  # §7: 253 unless the backing pump is on
            amps = 1.1 + (0.9 if d.turbo else 0.0)  # simulated pump loads
            return amps + self._noise("I230", t, 0.02), 0
        if item == "COLDHEAD_HOURS":
            return int(st.coldhead_hours), 0
        return None

    def _v_cmpr(self, item: str, st: State) -> tuple[Any, int] | None:
        d, t = st.disc, st.t
        m = re.fullmatch(r"TEMP(\d)", item)
        if m and 1 <= int(m.group(1)) <= 4:
            i = int(m.group(1)) - 1
            return st.cmpr_c[i] + self._noise(f"CT{i}", t, 0.05), 0
        if item == "SUPPLY_PRESSURE":
            return st.supply_mpa + self._noise("PS", t, 0.003), 0
        if item == "RETURN_PRESSURE":
            return st.return_mpa + self._noise("PR", t, 0.003), 0
        if item == "AUX2":
            return 2.5 + self._noise("AUX2", t, 0.01), 0  # raw volts (simulated)
        if item in ("PRESSURE_ALARM", "TEMP_ALARM", "ICCU_STATUS_ERROR", "ICCU_CABLE_ERROR",
                    "FETIM_STATUS_ERROR", "FETIM_CABLE_ERROR"):
            return 0, 0
        if item == "DRIVE":
            return int(st.compressor_running), 0
        if item == "INTERLOCK_OVERRIDE":
            return int(d.override), 0
        if item == "ECU_TYPE":
            return (1 if self.family in ("CM", "PM") else 0), 0  # ACA Japanese (inferred)
        if item == "FAULT":
            return int(d.fault), 0
        if item == "SW_REV":
            return (1, 2, 0), 0  # simulated
        if item == "TIME_SINCE_POWER_ON":
            return _counter(st.since_on, MIN_ON_S), 0
        if item == "TIME_SINCE_POWER_OFF":
            return _counter(st.since_off, MIN_OFF_S), 0
        return None

    def _v_e2c(self, item: str, st: State) -> tuple[Any, int] | None:
        if item == "SERIAL_NUMBER":
            return self._nodes[(E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE)].esn, 0
        if item == "PROTOCOL_REV":
            return (1, 0, 0), 0
        if item == "SW_REV":
            return (2, 3, 1), 0  # simulated
        if item == "UBOOT_REV":
            return UBOOT_REV, 0  # simulated
        if item == "PROCESSOR_TEMP":
            return 47.0 + 4.0 * self._u("cpu") + self._noise("cpu", st.t, 0.3), 0
        return None

    def _v_acu(self, item: str, st: State) -> tuple[Any, int] | None:
        if item == "POWER_FAILURE":
            # latched from power return until the ACU is reset (simulated)
            boot = st.disc.boot
            return int(boot > NEVER and boot > self._acu_latch_cleared), 0
        if item == "CABIN_TEMP":
            return 19.0 + 3.0 * self._u("cabin") + self._noise("cabin", st.t, 0.05), 0
        if item == "PEDESTAL_TEMP":
            day = 2 * math.pi * ((st.t % 86400.0) / 86400.0 - 0.25)
            return 8.0 + 4.0 * self._u("ped") + 3.0 * math.sin(day), 0  # daily swing (simulated)
        return None

    #: LORR STATUS bits (byte, bit) that are set on a healthy antenna: DCM locked (simulated)
    _LORR_SET = {(0, 0)}

    def _v_lorr(self, item: str, st: State) -> tuple[Any, int] | None:
        p = self.catalog.point(f"LORR.{item}")
        if item == "STATUS":
            size = getattr(p, "size", None) or 2
            word = sum(1 << (8 * (size - 1 - byte) + bit) for byte, bit in self._LORR_SET)
            return word, 0
        if _kind_of(p) == "bit" and p.rca == 0x00001:
            return int((p.byte, p.bit) in self._LORR_SET), 0
        if item == "RX_OPT_PWR":
            return 0.6 + 0.6 * self._u("lorr") + self._noise("lorr", st.t, 0.005), 0
        return None

    def _v_feps(self, item: str, st: State) -> tuple[Any, int] | None:
        u = self._u(f"feps{item}")
        m = re.fullmatch(r"V_([PN])(\d+)", item)
        if m:  # supply voltages within 1 % of nominal (simulated)
            nominal = float(m.group(2)) * (1 if m.group(1) == "P" else -1)
            return nominal * (1.0 + 0.02 * (u - 0.5)) + self._noise(item, st.t, 0.003), 0
        if item.startswith("I_"):
            return 0.3 + 2.0 * u + self._noise(item, st.t, 0.005), 0
        if item.startswith("TEMP"):
            return 30.0 + 10.0 * u + self._noise(item, st.t, 0.05), 0
        return None

    def _u(self, what: str) -> float:
        """A fixed seeded number in [0, 1) for this antenna."""
        return seed_int("const", self.name, self.seed, what) / 2.0**64

    def _fallback(self, name: str, st: State) -> Any:
        """A plausible constant for a catalog point with no model here (simulated): the
        middle of its nominal range when the catalog has one, else by unit and type."""
        p = self.catalog.point(name)
        unit = str(getattr(p, "unit", "") or "")
        dtype = str(getattr(p, "dtype", "") or "")
        kind = _kind_of(p)
        size = getattr(p, "size", None) or 1
        u = self._u(name)
        if kind == "version":
            return (1,) * size
        if kind in ("esn", "bytes"):
            return bytes(size)
        if kind in ("bit", "flags", "can_error"):
            return 0
        if getattr(p, "enum", ()):
            return p.enum[0][0] if not isinstance(p.enum[0][0], str) else 0
        lo, hi = getattr(p, "nominal_low", None), getattr(p, "nominal_high", None)
        if lo is not None and hi is not None:
            value = lo + (hi - lo) * (0.3 + 0.4 * u)
            return round(value) if kind == "int" else value
        if kind == "ds18s20":
            return 30.0 + 5.0 * u
        if unit == "K":
            return 290.0 + u
        if unit in ("C", "°C", "degC"):
            return 25.0 + 10.0 * u
        if unit == "V":
            return 5.0 + 0.05 * u
        if unit in ("A", "mA"):
            return 1.0 + u
        if "float" in dtype or dtype.startswith("f"):
            return 0.0
        return 0

    # -- generic AMBSI points ----------------------------------------------------------

    def _boot_time(self, n: _Node, st: State) -> float:
        boot = st.disc.boot if st.disc.boot > NEVER else self.t0 - n.uptime0
        resets = [r for r in self._resets.get(n.node, ()) if r <= st.t]
        return max([boot, *resets])

    def _count(self, node: int, ch: int, t: float) -> None:
        self._counted += 1
        n = self._nodes[(ch, node)]
        boot = self._boot_time(n, self._physics_state(t))
        self._boots[(ch, node)] = boot
        self._tally(node, boot)

    def _tally(self, node: int, boot: float) -> None:
        """One more request to ``node`` since its boot at ``boot`` (a reboot restarts the count)."""
        if self._req_boot.get(node) != boot:
            self._req_boot[node], self._req_count[node] = boot, 0
        self._req_count[node] += 1

    def _generic_value(self, tmpl: str, n: _Node, st: State) -> Any:
        if tmpl == "SERIAL_NUMBER":
            return n.esn
        if tmpl == "PROTOCOL_REV":
            return n.protocol_rev
        if tmpl == "CAN_ERROR":
            return (n.can_errors, 0, 0)
        if tmpl == "TRANS_NUM":
            boot = self._boot_time(n, st)
            own = self._req_count.get(n.node, 0) if self._req_boot.get(n.node) == boot else 0
            # background polling by the control system since boot (simulated) + our requests
            return (n.trans_after_boot + int(n.trans_rate * (st.t - boot)) + own) & 0xFFFFFFFF
        if tmpl == "AMBIENT_TEMP":
            # electronics run a little warmer than the cabin, with slow drift (simulated)
            return n.ambient_c + self._noise(f"amb{n.node}", st.t, 0.3, 60.0)
        if tmpl == "SW_REV":
            return n.sw_rev
        if tmpl == "HW_REV":
            if n.node == E2C_INTERNAL_NODE and n.channel == E2C_INTERNAL_CHANNEL:
                return UBOOT_REV  # U-Boot revision on the E2C's own node (§5), simulated
            return n.hw_rev
        raise KeyError(tmpl)

    def _generic_bytes(self, tmpl: str, p: Any, n: _Node, st: State) -> bytes:
        value = self._generic_value(tmpl, n, st)
        if tmpl == "AMBIENT_TEMP":
            return ds18s20_encode(value, little_endian=n.little_endian)
        if p is not None:
            if _kind_of(p) == "version" and getattr(p, "size", None):
                value = tuple(value)[: p.size] + (0,) * (p.size - len(value))
            return p.encode(value)
        return _raw_generic(tmpl, value)

    # -- controls and resets -----------------------------------------------------------

    def _record(self, t: float, req: Request, point: str | None, ok: bool, reason: str) -> None:
        self._controls.append(
            ControlRecord(t, req.channel, req.node, req.rca, req.data, point, ok, reason)
        )

    def _reset_node(self, ch: int, node: int, t: float) -> None:
        self._gen += 1
        self._resets.setdefault(node, []).append(t)
        if node == ACU_NODE:
            self._acu_latch_cleared = t

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
        ok, reason = self._honour(p.name, on, req.data, st, t)
        self._record(t, req, p.name, ok, reason)

    def _honour(self, name: str, on: bool, data: bytes, st: State, t: float) -> tuple[bool, str]:
        """Apply a known control if the hardware would; return (accepted, reason)."""
        d, ph = st.disc, self.physics
        if name == "FEMC.SET_BACKING_PUMP":
            ph.add_event(t, "backing", on)
            return True, "backing pump " + ("on" if on else "off (turbo stops, gate closes)")
        if name == "FEMC.SET_TURBO_PUMP":
            if on and not d.backing:
                return False, "turbo needs the backing pump on"
            ph.add_event(t, "turbo", on)
            return True, "turbo " + ("spinning up" if on else "off (gate closes)")
        if name == "FEMC.SET_GATE_VALVE":
            if on and not st.turbo_at_speed:
                return False, "gate valve opens only with the turbo at speed"
            ph.add_event(t, "gate", on)
            return True, "gate valve " + ("opening" if on else "closing")
        if name == "FEMC.SET_SOLENOID_VALVE":
            ph.add_event(t, "solenoid", on)
            return True, "solenoid valve " + ("open" if on else "closed")
        if name == "FEMC.SET_VACUUM_GAUGE":
            ph.add_event(t, "gauge", on)
            return True, "vacuum gauge " + ("on" if on else "off")
        if name == "CMPR.SET_DRIVE":
            if on:
                if d.drive:
                    return True, "already running"
                if d.fault:
                    return False, "compressor fault latched: reset it first"
                if st.since_off < MIN_OFF_S:
                    return False, f"inside the {MIN_OFF_S:.0f} s minimum-off window"
                if self.pressure_interlock and not d.override and st.p_cryo > SAFE_TO_COOL_MBAR:
                    return False, "cryostat above 5e-4 mbar: not safe to cool (FETIM interlock, inferred)"
                ph.add_event(t, "drive", True)
                return True, "compressor starting"
            if not d.drive:
                return True, "already stopped"
            if st.since_on < MIN_ON_S:
                return False, f"inside the {MIN_ON_S:.0f} s minimum-on window"
            ph.add_event(t, "drive", False)
            return True, "compressor stopping"
        if name in ("CMPR.SET_RESET", "CMPR.SET_FAULT_LATCH_RESET"):
            if d.fault:
                ph.add_event(t, "fault", False)
                return True, "fault latch cleared"
            return True, "nothing latched"
        return True, "acknowledged (no simulated effect)"


def _kind_of(p: Any) -> str:
    """The catalog's value kind of a point (int, float, bit, flags, version, esn...)."""
    try:
        from e2ckit.catalog import DTYPES

        return str(DTYPES[p.dtype][0])
    except Exception:
        return ""


def _counter(seconds: float, window: float) -> int:
    """Compressor time counters (§8): seconds, or 0xFFFFFFFF once the window has passed."""
    if not seconds < window:
        return 0xFFFFFFFF
    return max(0, int(seconds))


def _raw_generic(tmpl: str, value: Any) -> bytes:
    """Bytes of a generic AMBSI point without a catalog point to encode it (§5 layouts)."""
    if tmpl == "SERIAL_NUMBER":
        return bytes(value)
    if tmpl == "TRANS_NUM":
        return struct.pack(">I", value)
    if tmpl == "CAN_ERROR":
        count, zero, code = value
        return struct.pack(">HBB", count, zero, code)
    return bytes(value)  # revisions: major, minor, patch

