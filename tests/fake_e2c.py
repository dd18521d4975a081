"""A hand-written fake E2C on loopback for faults the simulator does not offer: a
stray reply on a kept connection, two replies to one request, a node listing with
impossible node ids. Real sockets, one thread; every reply names what it answers.

Every monitor reply's 4 data bytes are the request's RCA, so a value taken from the
wrong reply (a *shifted* value) is seen at once: ``value_of(rca)`` is the only right one.
"""

from __future__ import annotations

import socket
import struct
import threading

from e2ckit.wire.frames import REQUEST_SIZE, Mode, NodeRecord, Reply, Request

#: the RCA whose answer a stray reply carries (asked by nobody)
STRAY_RCA = 0x3DEAD


def value_of(rca: int) -> bytes:
    """The data bytes the fake answers to a monitor request of ``rca``."""
    return struct.pack(">I", rca)


class FakeE2C:
    """``with FakeE2C() as e2c: Client(e2c.host, e2c.port)``.

    ``double_on``: RCAs answered with their reply *and* a stray one in the same write.
    ``listing``: node ids its get-nodes answers (every channel).
    :meth:`send_stray` writes one reply nobody asked for on the open connections and
    returns once it is written (on loopback, then it is in the client's receive queue).

    It is a memory driver's handler too (:meth:`accept`, :meth:`serve`): the same
    answers with no socket, for ``MemoryTransport(fake)``.
    """

    def __init__(self, *, double_on: frozenset[int] = frozenset(), listing: tuple[int, ...] = (0x13,)) -> None:
        self.double_on = double_on
        self.listing = listing
        self.requests = 0
        self.accepted = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host, self.port = self._listener.getsockname()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._pipes: list = []  # in-memory connections (memory driver)

    def __enter__(self) -> FakeE2C:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
        for t in self._threads:
            t.join(timeout=5)

    # -- the memory driver's handler --------------------------------------------------

    def accept(self, pipe) -> bool:
        self.accepted += 1
        self._pipes.append(pipe)
        return True

    def serve(self, pipe, frame: bytes) -> list[tuple[float, bytes]]:
        self.requests += 1
        return [(0.0, self._answer(Request.decode(frame)))]

    def send_stray(self) -> None:
        stray = Reply(0, value_of(STRAY_RCA)).encode()
        for pipe in self._pipes:
            pipe.push(stray)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.sendall(stray)
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    if conn in self._conns:
                        self._conns.remove(conn)
                conn.close()
                return
            buf += data
            while len(buf) >= REQUEST_SIZE:
                req = Request.decode(buf[:REQUEST_SIZE])
                buf = buf[REQUEST_SIZE:]
                self.requests += 1
                try:
                    conn.sendall(self._answer(req))
                except OSError:
                    return

    def _answer(self, req: Request) -> bytes:
        if req.mode is Mode.GET_NODES:
            return Reply(0, nodes=tuple(NodeRecord(n, bytes(8)) for n in self.listing)).encode()
        if req.mode is not Mode.MONITOR:
            return Reply(0).encode()
        reply = Reply(0, value_of(req.rca)).encode()
        if req.rca in self.double_on:
            reply += Reply(0, value_of(STRAY_RCA)).encode()
        return reply
