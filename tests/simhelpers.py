"""Helpers shared by the test modules: a Client for a simulated antenna, the one
connection pair for wire-level tests, a CLI on a terminal.

A plain module rather than ``from conftest import ...``: ``tests/notebooks/conftest.py``
shadows the name ``conftest`` once both directories are on ``sys.path``.
"""

from __future__ import annotations

from e2ckit.client import Client
from e2ckit.wire import NEED_DATA, Connection, ServerConnection
from e2ckit.wire.frames import Request


def client_for(sim, antenna: str, timeout: float = 2.0) -> Client:
    """A ``Client`` for one antenna of a started simulated array (not yet connected),
    on its loopback socket server (started now if it answered only in memory)."""
    ep = sim.socket_array[antenna]
    return Client(ep.host, ep.port, timeout=timeout)


class ConnectionPair:
    """The one connection pair of wire-level tests: the client's :class:`Connection` and
    a server's :class:`ServerConnection` joined in memory, request bytes through the
    ServerConnection to ``model`` (anything with ``handle(request) -> Reply``, e.g. an
    AntennaModel), its reply's bytes back into the Connection in chunks of ``chunk``
    bytes. (Whole sweeps in memory use the memory driver, ``e2ckit.transport.memory``.)"""

    def __init__(self, model, chunk: int = 1000) -> None:
        self.client = Connection()
        self.server = ServerConnection()
        self.model = model
        self.chunk = chunk

    def exchange(self, request: Request):
        wire = self.client.send(request)
        for i in range(0, len(wire), self.chunk):
            self.server.receive_data(wire[i : i + self.chunk])
        frame = self.server.next_frame()
        assert frame is not NEED_DATA
        reply = self.model.handle(Request.decode(frame)).encode()
        for i in range(0, len(reply), self.chunk):
            assert self.client.next_event() is NEED_DATA
            self.client.receive_data(reply[i : i + self.chunk])
        return self.client.next_event()


def cli_on_a_terminal(
    args: list[str], env: dict[str, str], *, stream: str = "stdout", size: tuple[int, int] | None = None
) -> tuple[int, str]:
    """Run the e2ckit CLI in a child process with ``stream`` (stdout or stderr) on a
    pseudo-terminal, as at a shell; ``size`` (columns, rows) sizes the terminal (else it
    reports 0 columns). Returns the exit status and what the terminal received (escape
    sequences included). ``env`` is the child's whole environment."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    main_fd, child_fd = pty.openpty()
    if size is not None:
        fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    code = "import sys; from e2ckit.cli import main; sys.argv[0] = 'e2ckit'; main()"
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: child_fd}
    p = subprocess.Popen([sys.executable, "-c", code, *args], stdout=streams["stdout"],
                         stderr=streams["stderr"], stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    os.close(child_fd)
    out = bytearray()
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main_fd)
    return p.wait(timeout=60), out.decode("utf-8", "replace")
