"""Helpers shared by the loopback-socket test modules.

A plain module rather than ``from conftest import ...``: ``tests/notebooks/conftest.py``
shadows the name ``conftest`` once both directories are on ``sys.path``.
"""

from __future__ import annotations

from e2ckit.client import Client


def client_for(sim, antenna: str, timeout: float = 2.0) -> Client:
    """A ``Client`` for one antenna of a started simulated array (not yet connected)."""
    ep = sim.array[antenna]
    return Client(ep.host, ep.port, timeout=timeout)


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
