"""Notifier: transitions to a command or a URL, retried with backoff, never blocking (issue 24.3)."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest

from e2ckit.triage.notify import Notifier


def test_a_failing_command_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    tries = tmp_path / "tries"
    # fails on the first two tries, succeeds on the third
    cmd = f"echo x >> {tries}; test $(wc -l < {tries}) -ge 3 && cat > {tmp_path / 'got'}"
    n = Notifier(command=cmd, retries=3, backoff=0.01)
    n.send({"antenna": "DV01", "event": "sent"})
    n.close()
    assert n.delivered == 1 and n.dropped == 0
    assert '"antenna": "DV01"' in (tmp_path / "got").read_text()
    assert len(tries.read_text().splitlines()) == 3


def test_an_unreachable_url_is_dropped_after_its_retries() -> None:
    with socket.socket() as s:  # a free loopback port, closed again: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    n = Notifier(url=f"http://127.0.0.1:{port}/", retries=2, backoff=0.01, timeout=1.0)
    n.send({"event": "stalled"})
    with pytest.warns(RuntimeWarning, match="gave up"):
        n.close()
    assert (n.delivered, n.dropped) == (0, 1)


def test_send_does_not_wait_for_a_slow_receiver() -> None:
    release, received = threading.Event(), []

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            release.wait(10)
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        n = Notifier(url=f"http://127.0.0.1:{server.server_address[1]}/")
        n.send({"event": "a"})
        n.send({"event": "b"})  # both queued while the receiver still holds the first
        assert received == []
        release.set()
        n.close()
    finally:
        server.shutdown()
    assert n.delivered == 2 and [b.decode() for b in received] == ['{"event": "a"}', '{"event": "b"}']
