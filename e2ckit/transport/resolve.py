"""Host names to addresses, within a time limit, never holding back anything else.

``socket.getaddrinfo`` blocks and cannot be cancelled: a name whose DNS server does not
answer can take many seconds. So look-ups run on a few daemon threads; the caller waits
for a look-up only as long as it can afford, and gives up with a ``Failure`` of kind
``unresolved`` ("host name did not resolve within … s") while the thread finishes in its
own time. A name already being looked up is not looked up twice at once: a sweep
repeated while a name still hangs shares the look-up instead of piling up threads.
Daemon threads, so a hanging look-up never delays the interpreter's exit.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import queue
import socket
import threading
from typing import Any

from e2ckit.errors import Failure

__all__ = ["MEMORY_HOST", "Address", "Resolver", "lookup", "resolve", "unresolved"]

#: ``(address family, socket address)``, what ``socket.socket``/``connect`` take.
Address = tuple[int, Any]

_WORKERS = 16

#: how the host label of an in-memory endpoint ends (``dv01.memory.invalid``; RFC 2606
#: reserves ``.invalid``): this resolver never looks one up, so a Client given one fails
#: at once, saying why
MEMORY_HOST = "memory.invalid"
_INVALID = "an in-memory simulated E2C has no address: SimulatedArray(..., serve=True) serves it on loopback"


class Resolver:
    """Look-ups on up to ``workers`` daemon threads, each name at most once at a time."""

    def __init__(self, workers: int = _WORKERS) -> None:
        self._workers = workers
        self._threads = 0
        self._idle = 0
        self._jobs: queue.SimpleQueue[tuple[str, int, concurrent.futures.Future]] = queue.SimpleQueue()
        self._inflight: dict[tuple[str, int], concurrent.futures.Future] = {}
        self._lock = threading.Lock()

    def lookup(self, host: str, port: int) -> concurrent.futures.Future:
        """A future of ``host``'s first TCP address (an :data:`Address`); it fails with the
        look-up's ``OSError``. An IP address literal is answered at once, no thread."""
        literal = _literal(host, port)
        if literal is not None or host.lower().endswith(MEMORY_HOST):
            done: concurrent.futures.Future = concurrent.futures.Future()
            if literal is not None:
                done.set_result(literal)
            else:  # an in-memory endpoint's label: never looked up
                done.set_exception(OSError(f"{host}: {_INVALID}"))
            return done
        key = (host, port)
        with self._lock:
            fut = self._inflight.get(key)
            if fut is not None:
                return fut
            fut = concurrent.futures.Future()
            self._inflight[key] = fut
            self._jobs.put((host, port, fut))
            # Each job gets a thread of its own: an idle one, reserved here (counting idle
            # threads as they block in get() instead would let a second job queue behind a
            # hanging one in the moment before the first thread takes its job), or a new one.
            if self._idle > 0:
                self._idle -= 1
            elif self._threads < self._workers:
                self._threads += 1
                threading.Thread(target=self._work, name="e2ckit-resolve", daemon=True).start()
        return fut

    def _work(self) -> None:
        while True:
            host, port, fut = self._jobs.get()
            try:
                # looked up through the module each time, so a test can stand in for DNS
                info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
                result: Any = (info[0][0], info[0][4])
                error: BaseException | None = None
            except OSError as exc:
                result, error = None, exc
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits
                result, error = None, exc
            with self._lock:
                self._inflight.pop((host, port), None)
                self._idle += 1  # about to wait for the next job
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)


_default = Resolver()


def lookup(host: str, port: int) -> concurrent.futures.Future:
    """:meth:`Resolver.lookup` on the process's shared resolver."""
    return _default.lookup(host, port)


def outcome(fut: concurrent.futures.Future) -> Address | Failure:
    """The address a finished look-up gave, or why there is none."""
    exc = fut.exception()
    if exc is None:
        return fut.result()
    return Failure("unresolved", f"host name did not resolve ({exc})")


def unresolved(waited: float) -> Failure:
    """The failure of a name still being looked up after ``waited`` seconds."""
    return Failure("unresolved", f"host name did not resolve within {round(waited, 1):g} s")


def resolve(host: str, port: int, timeout: float) -> Address | Failure:
    """``host``'s address, waiting at most ``timeout`` seconds, or the :class:`Failure`."""
    fut = lookup(host, port)
    try:
        fut.result(timeout=max(timeout, 0.0))
    except concurrent.futures.TimeoutError:
        return unresolved(timeout)
    except BaseException:  # noqa: BLE001, S110 - read back by outcome()
        pass
    return outcome(fut)


def _literal(host: str, port: int) -> Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return (socket.AF_INET6, (host, port, 0, 0))
    return (socket.AF_INET, (host, port))
