"""The fake E2C: an asyncio TCP server per simulated antenna, in a background thread.

Transport only: framing, per-channel serialisation, CAN-like latency, power state and
fault injection live here; what an antenna answers is decided by
:class:`e2ckit.sim.model.AntennaModel`, through the same protocol codec the client uses.

``SimulatedArray`` runs its own event loop on a private thread, so it works the same
from a script, from pytest and from a notebook cell whose loop is already running.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import ipaddress
import itertools
import math
import os
import random
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2ckit.array import ANTENNAS, Array, Endpoint, antenna_family
from e2ckit.clock import SimClock, clock_file
from e2ckit.errors import ErrorCode, FrameError, ValidationError
from e2ckit.names import DEFAULT_PORT
from e2ckit.sim.model import AntennaModel
from e2ckit.sim.scenario import load_scenario
from e2ckit.transport.memory import MemoryTransport
from e2ckit.transport.resolve import MEMORY_HOST
from e2ckit.wire import NEED_DATA, ServerConnection
from e2ckit.wire.frames import REPLY_SIZE, Reply, Request

__all__ = ["FAULT_KINDS", "MEMORY_HOST", "Fault", "SimulatedArray"]


#: Transport faults the server can inject, per antenna.
FAULT_KINDS = {
    "down": "refuse connections (nothing listens), as a powered-off E2C",
    "silent": "accept and read requests, never answer",
    "slow": "answer after an extra `delay` seconds",
    "split": "send every reply in several TCP segments",
    "drop": "close the connection half-way through a reply",
    "garbage": "answer with bytes that are not an E2C reply",
    "error": "answer a chosen E2C error `code` for a chosen `node`/`rca` (all if omitted)",
}


@dataclass
class Fault:
    """One fault on one antenna; ``probability`` < 1 applies it to a random share of requests."""

    kind: str
    probability: float = 1.0
    delay: float = 0.5
    code: int = int(ErrorCode.TIMEOUT_ERROR)
    node: int | None = None
    rca: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValidationError(f"fault kind {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValidationError(f"fault probability {self.probability} is not within 0..1")
        if self.delay < 0:
            raise ValidationError(f"fault delay {self.delay} must not be negative")

    def matches(self, request: Request | None) -> bool:
        if self.kind != "error":
            return True
        if request is None:
            return False
        return (self.node is None or request.node == self.node) and (
            self.rca is None or request.rca == self.rca
        )


@dataclass
class _Antenna:
    name: str
    model: Any
    host: str
    port: int
    server: asyncio.base_events.Server | None = None
    connections: set[_E2CConnection] = field(default_factory=set)
    #: loop time at which each CAN channel is next free (one request at a time per bus)
    channel_free: dict[int, float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: int = 0
    accepted: int = 0
    #: bumped by a reboot: a connection accepted in an earlier boot is gone on the E2C's side
    boot: int = 0
    #: the open in-memory connections (memory driver)
    pipes: list[Any] = field(default_factory=list)


class SimulatedArray:
    """A simulated ALMA array: one fake E2C per antenna, listening on loopback.

    >>> with SimulatedArray(["DV01", "CM03"], seed=1) as sim:       # doctest: +SKIP
    ...     sim.array["DV01"]            # Endpoint('DV01', '127.0.0.1', 40123)

    ``bind="port"`` (default) puts every antenna on ``host`` with its own free port;
    ``bind="address"`` gives each antenna its own loopback address (127.0.1.1, .2, ...)
    on ``port`` (default 2000), so clients that only take a host name can be pointed
    at it through a host-name map (see :meth:`write_hosts`).

    ``scenario``: a shipped scenario's name, a ``.toml`` path or a Scenario;
    ``outage``: the antennas it happens to instead of the scenario's own (``["DV01"]`` or
    ``"DV01,DV02"``; the "outage" scenario when no scenario is given). ``clock``: a
    :class:`~e2ckit.clock.SimClock` (accelerated, or stepped by hand); a
    :class:`~e2ckit.logger.Logger` on this array uses it too.
    """

    def __init__(
        self,
        antennas: Iterable[str] | str | None = None,
        *,
        seed: int = 0,
        latency: float = 0.0005,
        clock: Any = None,
        scenario: Any = None,
        outage: Iterable[str] | str | None = None,
        bind: str = "port",
        host: str = "127.0.0.1",
        port: int | None = None,
        base_address: str = "127.0.1.1",
        serve: bool = False,
    ) -> None:
        names = Array(Endpoint(a, "-") for a in ANTENNAS).select(antennas)
        for name in names:
            antenna_family(name)
        if bind not in ("port", "address"):
            raise ValidationError(f"bind must be 'port' or 'address', got {bind!r}")
        _require_loopback(host)
        if latency < 0:
            raise ValidationError(f"latency {latency} must not be negative")
        self.seed = seed
        self.latency = latency
        self.serve_sockets = bool(serve or bind == "address" or port is not None)
        #: the memory driver reaching this array's models (no sockets, virtual time)
        self.memory = MemoryTransport(self)
        self._in_memory = False  # started without sockets
        # the models are not thread-safe: the socket server runs them on its one loop
        # thread; in memory, a logger's thread and a notebook's sweep take turns here
        self._models_lock = threading.Lock()
        self.clock = clock if clock is not None else SimClock()
        self.bind = bind
        self._rng = random.Random(seed)
        base = ipaddress.ip_address(base_address)
        self._antennas: dict[str, _Antenna] = {}
        for i, name in enumerate(names):
            model = AntennaModel(name, seed=seed, clock=self.clock)
            if bind == "address":
                addr = str(base + i)
                _require_loopback(addr)
                ep_host, ep_port = addr, DEFAULT_PORT if port is None else port
            else:
                ep_host, ep_port = host, 0 if port is None else port
            self._antennas[name] = _Antenna(name, model, ep_host, ep_port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: _Outbox | None = None  # made on the loop's thread by start()
        self._thread: threading.Thread | None = None
        self.scenario = None
        if outage is not None:
            scenario = self._retarget("outage" if scenario is None else scenario, outage)
        if scenario is not None:
            self.apply_scenario(scenario)

    # -- life cycle ---------------------------------------------------------------

    def __enter__(self) -> SimulatedArray:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SimulatedArray({len(self._antennas)} antennas, seed={self.seed}, {state})"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._in_memory or (self._thread is not None and self._thread.is_alive())

    def start(self) -> SimulatedArray:
        """Start answering: in memory (the default: nothing to open), or with ``serve``
        open every antenna's listener and return once all of them accept connections."""
        if self.running:
            return self
        if self.serve_sockets:
            self._open_sockets()
        else:
            self._in_memory = True
        self._apply_scenario_faults()
        return self

    def _open_sockets(self) -> None:
        """Every antenna's listener, on a loop in a thread of its own."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve_in_thread() -> None:
            asyncio.set_event_loop(loop)
            self._outbox = _Outbox(loop)
            try:
                loop.run_until_complete(self._open_all())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                # Release the listeners opened before the failure, or they stay bound.
                with contextlib.suppress(Exception):
                    loop.run_until_complete(self._close_all())
                loop.close()
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._close_all())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve_in_thread, name="e2ckit-sim", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def listen(self) -> SimulatedArray:
        """Serve loopback sockets too (from now on :attr:`array` is the socket map); a
        running array opens its listeners at once. The memory transport keeps working."""
        if self.serve_sockets:
            return self
        self.serve_sockets = True
        if self._in_memory:
            self._in_memory = False
            self._open_sockets()
        return self

    def stop(self) -> None:
        """Close every listener and connection and stop the background thread."""
        if self._in_memory:
            self._in_memory = False
            self.memory.close()
            return
        if not self.running or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    async def _open_all(self) -> None:
        for ant in self._antennas.values():
            await self._listen(ant)  # a down antenna too, for a port of its own in the host map...
            if any(f.kind == "down" and f.probability >= 1.0 for f in ant.faults):
                await self._unlisten(ant)  # ... where nothing listens

    async def _listen(self, ant: _Antenna) -> None:
        loop = asyncio.get_running_loop()
        try:
            ant.server = await loop.create_server(
                lambda: _E2CConnection(self, ant), ant.host, ant.port, reuse_address=True
            )
        except OSError as exc:
            raise ValidationError(f"cannot listen for {ant.name} on {ant.host}:{ant.port}: {exc.strerror or exc}") from None
        ant.port = ant.server.sockets[0].getsockname()[1]

    async def _unlisten(self, ant: _Antenna) -> None:
        if ant.server is not None:
            ant.server.close()
            ant.server = None
        for conn in list(ant.connections):
            conn.abort()

    async def _close_all(self) -> None:
        for ant in self._antennas.values():
            await self._unlisten(ant)
        await asyncio.sleep(0)

    def _call(self, coro: Any) -> Any:
        """Run a coroutine on the simulator's loop from any other thread."""
        if not self.running or self._loop is None:
            coro.close()
            return None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # -- where things are ---------------------------------------------------------

    @property
    def antennas(self) -> list[str]:
        """Names of the simulated antennas."""
        return list(self._antennas)

    @property
    def models(self) -> dict[str, Any]:
        """The :class:`~e2ckit.sim.model.AntennaModel` of each antenna, by name."""
        return {n: a.model for n, a in self._antennas.items()}

    @property
    def array(self) -> Array:
        """This simulated array as an :class:`~e2ckit.array.Array`, for any sweep, logger
        or api call: its endpoints carry the memory transport (:attr:`memory_array`),
        or with ``serve=True`` they are the loopback ``host:port`` of each antenna's
        socket server (:attr:`socket_array`; ports are real once started), which
        Clients, e2c-client and other processes can use too."""
        return self.socket_array if self.serve_sockets else self.memory_array

    @property
    def memory_array(self) -> Array:
        """Endpoints reached through :attr:`memory`; their host (``dv01.memory.invalid``, a
        name reserved never to resolve) names the simulated E2C, and with the port is a
        label only: an endpoint renamed (``LO-LMC-1``) still reaches DV01's E2C."""
        return Array((Endpoint(n, f"{n.lower()}.{MEMORY_HOST}", DEFAULT_PORT, transport=self.memory) for n in self._antennas),
                     source="simulator (memory)", clock=self.clock)  # fmt: skip

    @property
    def socket_array(self) -> Array:
        """The loopback host map of the socket servers: with ``serve=True``, or started
        now (:meth:`listen`) — whatever needs a host:port (a host-map CSV, a Client,
        another process) gets one."""
        if not self.serve_sockets:
            self.listen()
        return Array((Endpoint(a.name, a.host, a.port) for a in self._antennas.values()), source="simulator",
                     clock=self.clock)  # fmt: skip

    def write_array(self, path: str | os.PathLike[str]) -> Path:
        """Write the host map as CSV, for ``E2CKIT_ARRAY``; and, unless the clock is
        stepped, its clock next to it (``sim.csv`` → ``sim.clock.json``, see
        :meth:`SimClock.save`), so that a logger in another process stamps its samples
        with this array's simulated time."""
        if not self.running:
            raise ValidationError("start the simulated array before writing its host map (ports are not known yet)")
        out = self.socket_array.to_csv(path)

        if getattr(self.clock, "rate", None) is not None and hasattr(self.clock, "save"):
            self.clock.save(clock_file(out))
        return out

    def host_names(self) -> dict[str, str]:
        """ALMA host name → simulated address (``dv01-e2c`` → ``127.0.1.1``), for ``bind="address"``."""
        return {f"{a.name.lower()}-e2c": a.host for a in self._antennas.values()}

    # -- faults and scenarios -----------------------------------------------------

    def fault(self, antenna: str, kind: str, **params: Any) -> Fault:
        """Inject a transport fault (see :data:`FAULT_KINDS`) on one antenna."""
        ant = self._get(antenna)
        f = Fault(kind, **params)
        ant.faults.append(f)
        if kind == "down" and f.probability >= 1.0:
            for pipe in ant.pipes:  # in memory as on sockets: open connections are reset
                pipe.push(None)
            ant.pipes = []
            self._call(self._unlisten(ant))
        return f

    def clear_faults(self, antenna: str | None = None) -> None:
        """Remove the faults of one antenna, or of all; a downed antenna listens again."""
        targets = [self._get(antenna)] if antenna else list(self._antennas.values())
        for ant in targets:
            was_down = any(f.kind == "down" and f.probability >= 1.0 for f in ant.faults)
            ant.faults.clear()
            if was_down and self.running and ant.server is None:
                self._call(self._listen(ant))

    def apply_scenario(self, scenario: Any) -> None:
        """Load a scenario by name or path (or take a Scenario) and schedule its events."""

        sc = load_scenario(scenario) if isinstance(scenario, (str, os.PathLike)) else scenario
        sc.apply(self.models, self.clock)
        self.scenario = sc
        if self.running:
            self._apply_scenario_faults()

    def _retarget(self, scenario: Any, outage: Iterable[str] | str) -> Any:
        """``outage=``: the scenario (by default "outage") happening to these antennas."""

        names = [n.strip() for n in outage.split(",")] if isinstance(outage, str) else [str(n).strip() for n in outage]
        names = [n.upper() for n in names if n]
        if not names:
            raise ValidationError("outage= names no antenna: give e.g. ['DV01'] or 'DV01,DV02'")
        unknown = [n for n in names if n not in self._antennas]
        if unknown:
            raise ValidationError(f"outage antennas {', '.join(unknown)} are not in this simulated array")
        sc = load_scenario(scenario) if isinstance(scenario, (str, os.PathLike)) else scenario
        return sc.retarget(names)

    def _apply_scenario_faults(self) -> None:
        sc = self.scenario
        for spec in getattr(sc, "faults", None) or []:
            spec = dict(spec)
            name = spec.pop("antenna")
            if name.upper() in self._antennas:
                self.fault(name, spec.pop("kind"), **spec)

    def _get(self, antenna: str) -> _Antenna:
        try:
            return self._antennas[antenna.upper()]
        except KeyError:
            raise ValidationError(f"antenna {antenna!r} is not in this simulated array") from None

    def requests_served(self, antenna: str | None = None) -> int:
        """Requests read (answered or not) by one antenna or by all."""
        if antenna:
            return self._get(antenna).requests
        return sum(a.requests for a in self._antennas.values())

    def connections_accepted(self, antenna: str | None = None) -> int:
        """Client connections accepted so far by one antenna or by all."""
        if antenna:
            return self._get(antenna).accepted
        return sum(a.accepted for a in self._antennas.values())

    # -- one connection -----------------------------------------------------------

    def _answer(self, ant: _Antenna, frame: bytes) -> tuple[Request | None, list[tuple[float, bytes | None]]] | None:
        """What ``ant`` writes back to one request frame, whatever carries it (socket or
        memory): the request (None if malformed) and the chunks, each ``(seconds after
        the reply is due, bytes)`` or ``(seconds, None)`` for a reset; no chunk: silent.
        None: the E2C has no power, the connection is reset at once."""
        if not ant.model.powered():
            return None
        ant.requests += 1
        try:
            request: Request | None = _decode_request(frame)
        except FrameError:
            request = None
        fault = self._pick_fault(ant, request)
        kind = fault.kind if fault is not None else None
        if kind == "silent":
            return request, []
        if request is None:
            payload = Reply(int(ErrorCode.REQUEST_ERROR)).encode()
        elif kind == "error":
            payload = Reply(int(fault.code)).encode()  # type: ignore[union-attr]
        else:
            payload = ant.model.handle(request).encode()
        if kind == "slow":
            return request, [(fault.delay, payload)]  # type: ignore[union-attr]
        if kind == "split":
            # three segments 2 ms apart, so the client sees them as separate reads
            cuts = [0, 1, 5, len(payload) - 1, len(payload)]
            return request, [(0.002 * i, payload[cuts[i] : cuts[i + 1]]) for i in range(len(cuts) - 1)]
        if kind == "drop":
            return request, [(0.0, payload[: REPLY_SIZE // 2]), (0.0, None)]
        if kind == "garbage":
            # dlen 0xEE with an error code set can never be a valid E2C reply
            return request, [(0.0, b"\xde\xad\xbe\xef\xee" + os.urandom(8))]
        return request, [(0.0, payload)]

    # -- the memory driver's handler (see e2ckit.transport.memory) ------------------

    def accept(self, pipe: Any) -> bool:
        """A client connects to ``pipe.antenna`` in memory: refused while it is down
        (nothing listens); unpowered, accepted and reset before any byte, as the socket
        server does (both read as "refused")."""
        ant = self._antennas.get(_e2c_of(pipe))
        if ant is None or any(f.kind == "down" and f.probability >= 1.0 for f in ant.faults):
            return False
        with self._models_lock:
            ant.accepted += 1
            if not ant.model.powered():
                pipe.push(None)  # accepted, then reset at once: as the socket server does
                return True
            pipe.state = ant.boot
            ant.pipes = [p for p in ant.pipes if p.state == ant.boot][-16:] + [pipe]
        return True

    def serve(self, pipe: Any, frame: bytes) -> list[tuple[float, bytes | None]]:
        """One request frame on an in-memory connection: what the E2C writes back, each
        chunk's delay counted from the request (the CAN latency included)."""
        ant = self._antennas[_e2c_of(pipe)]
        if pipe.state != ant.boot:
            return [(0.0, None)]  # rebooted under this connection (half-open): a reset
        with self._models_lock:
            answer = self._answer(ant, frame)
        if answer is None:
            return [(0.0, None)]
        request, chunks = answer
        base = self.latency if request is not None else 0.0
        return [(base + offset, data) for offset, data in chunks]

    def reboot(self, antenna: str, *, half_open: bool = False) -> None:
        """The E2C of ``antenna`` restarts under its open connections: each is reset now,
        or with ``half_open`` forgotten silently (its next request gets a reset), as a
        host that lost power and came back without a word to its old peers."""
        ant = self._get(antenna)
        ant.boot += 1
        if half_open:
            return
        for pipe in ant.pipes:
            pipe.push(None)
        ant.pipes = []
        if self._loop is not None:
            self._call(self._abort_all(ant))

    async def _abort_all(self, ant: _Antenna) -> None:
        for conn in list(ant.connections):
            conn.abort()

    def send_stray(self, antenna: str) -> None:
        """``antenna`` writes one reply nobody asked for on each open connection."""
        ant = self._get(antenna)
        stray = Reply(0, b"\x00\x00\x00\x00").encode()
        for pipe in ant.pipes:
            pipe.push(stray)
        if self._loop is not None:
            self._call(self._write_all(ant, stray))

    async def _write_all(self, ant: _Antenna, data: bytes) -> None:
        for conn in list(ant.connections):
            conn._write(data)

    def _pick_fault(self, ant: _Antenna, request: Request | None) -> Fault | None:
        for f in ant.faults:
            if f.kind == "down" or not f.matches(request):
                continue
            if f.probability >= 1.0 or self._rng.random() < f.probability:
                return f
        return None



class _Outbox:
    """Every reply waiting for its due time, in one heap behind at most one loop timer.

    One ``call_at`` per reply would cost a timer object, a heap of Python-compared
    handles and a callback dispatch each; a sweep schedules thousands a second. Entries
    are ``(due, seq, fn, arg)``: equal due times keep the order they were put in, so
    the replies and reply fragments of one connection leave in order.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heap: list[tuple[float, int, Any, Any]] = []
        self.seq = itertools.count()
        self.timer: asyncio.TimerHandle | None = None
        self.at = math.inf

    def put(self, due: float, fn: Any, arg: Any) -> None:
        heapq.heappush(self.heap, (due, next(self.seq), fn, arg))
        if due < self.at:
            if self.timer is not None:
                self.timer.cancel()
            self.at = due
            self.timer = self.loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self.timer, self.at = None, math.inf
        heap = self.heap
        now = self.loop.time()
        try:
            while heap and heap[0][0] <= now:
                _, _, fn, arg = heapq.heappop(heap)
                fn(arg)
        finally:  # even if one send failed, the rest keep their times
            if heap and heap[0][0] < self.at:
                if self.timer is not None:
                    self.timer.cancel()
                self.at = heap[0][0]
                self.timer = self.loop.call_at(self.at, self._fire)


class _E2CConnection(asyncio.BufferedProtocol):
    """One client connection to one simulated E2C.

    Requests are cut from the byte stream by the wire's :class:`ServerConnection`. Each reply is scheduled, not
    slept for: a CAN channel carries one request at a time, so a reply is due at
    ``max(now, channel free) + latency``, and replies on one connection leave in the
    order their requests came.
    """

    def __init__(self, sim: SimulatedArray, ant: _Antenna) -> None:
        self.sim = sim
        self.ant = ant
        self.loop = asyncio.get_running_loop()
        assert sim._outbox is not None
        self.outbox = sim._outbox
        self.wire = ServerConnection()  # holds the bytes of a request not complete yet
        # the transport reads into this (BufferedProtocol): no fresh 256 kB bytes per read
        self._inbox = memoryview(bytearray(4096))
        self.transport: asyncio.Transport | None = None
        self.last_due = 0.0
        self.closed = False
        self.boot = ant.boot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ant.connections.add(self)
        self.ant.accepted += 1
        if not self.ant.model.powered():
            self.abort()  # a powered-off E2C answers nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.ant.connections.discard(self)

    def abort(self) -> None:
        """Close with a reset rather than a polite FIN, as a dying host would."""
        self.closed = True
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._inbox

    def buffer_updated(self, nbytes: int) -> None:
        frame = self.wire.whole_frame(self._inbox[:nbytes])  # one whole request: the usual read
        if frame is None:
            self.data_received(self._inbox[:nbytes])
        elif not self.closed:
            self._request(frame)

    def data_received(self, data: bytes | memoryview) -> None:
        wire = self.wire
        wire.receive_data(data)
        while not self.closed:
            frame = wire.next_frame()
            if frame is NEED_DATA:
                break
            self._request(frame)  # type: ignore[arg-type]

    def _request(self, frame: bytes) -> None:
        ant = self.ant
        if not ant.faults and self.boot == ant.boot:
            # The common case, kept lean: a sweep is thousands of these per second.
            try:
                request = _decode_request(frame)
            except FrameError:
                request = None
            if request is not None:
                payload = ant.model.serve(request)
                if payload is None:  # unpowered
                    self.abort()
                    return
                ant.requests += 1
                self._send_at(self._due(request), payload)
                return
        if self.boot != ant.boot:  # rebooted under this connection (half-open): a reset
            self.abort()
            return
        answer = self.sim._answer(ant, frame)
        if answer is None:
            self.abort()
            return
        request, chunks = answer
        if not chunks:
            return  # silent
        due = self._due(request) if request is not None else self.loop.time()
        if len(chunks) == 1 and chunks[0][1] is not None:
            self._send_at(due + chunks[0][0], chunks[0][1])
            return
        # a reply in pieces, or cut by a reset: still after every reply already scheduled here
        due = max(due, self.last_due)
        for offset, data in chunks:
            if data is None:
                self.outbox.put(due + offset, _E2CConnection.abort, self)
            else:
                self.outbox.put(due + offset, self._write, data)
        self.last_due = due + chunks[-1][0]

    def _due(self, request: Request) -> float:
        """Loop time the reply to ``request`` is due, without a fault's extra delay.

        The sleep-free CAN model: the bus is busy until the previous request on this
        channel is answered, then the node takes ``latency``."""
        ant = self.ant
        start = max(self.loop.time(), ant.channel_free.get(request.channel, 0.0))
        due = start + self.sim.latency
        ant.channel_free[request.channel] = due
        return due

    def _send_at(self, due: float, payload: bytes) -> None:
        """Send ``payload`` at loop time ``due``, after every reply already scheduled here."""
        if due < self.last_due:
            due = self.last_due
        self.last_due = due
        if due <= self.loop.time():
            self._write(payload)
        else:
            self.outbox.put(due, self._write, payload)

    def _write(self, payload: bytes) -> None:
        # Power is checked when the request arrives; a reply already on its way
        # (latency, not seconds) is not worth a second look at the physics.
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        self.transport.write(payload)


def _e2c_of(pipe: Any) -> str:
    """The simulated E2C an in-memory connection reaches: the one its endpoint's host
    label names (``dv01.memory.invalid``), else the antenna the sweep calls it."""
    host = getattr(pipe.endpoint, "host", "") or ""
    if host.endswith("." + MEMORY_HOST):
        return host[: -len(MEMORY_HOST) - 1].upper()
    return pipe.antenna.upper()


@functools.lru_cache(maxsize=8192)
def _decode_request(frame: bytes) -> Request:
    """Request.decode, remembered: a sweep or a logger sends the same frames every cycle."""
    return Request.decode(frame)


def _require_loopback(host: str) -> None:
    """The simulator only ever binds loopback addresses."""
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValidationError(f"the simulator binds loopback addresses only (127.0.0.0/8, ::1), not {host!r}")
