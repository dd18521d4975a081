"""Report recovery transitions and stalls to a command or a URL, never blocking the recovery.

:class:`Notifier` takes events (dicts) on :meth:`Notifier.send` and delivers them from
its own thread, in order: to ``command`` (run through the shell, the event as one JSON
object on its stdin; exit status 0 = delivered) and/or ``url`` (an HTTP POST of the JSON,
any 2xx = delivered). A failed delivery is retried with backoff (1, 2, 4 s by default)
and then dropped with a warning; :meth:`Notifier.close` waits at most ``drain`` seconds
for what is queued. A notifier that hangs or fails never delays a control or a read.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import urllib.request
import warnings
from typing import Any

__all__ = ["Notifier"]


class Notifier:
    """Delivers events to ``command`` and/or ``url`` from a background thread."""

    def __init__(
        self,
        command: str | None = None,
        url: str | None = None,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.command, self.url = command, url
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.delivered = 0
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="e2ckit-notify", daemon=True)
        if command or url:
            self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (returns at once)."""
        if self.command or self.url:
            self._queue.put(event)

    def close(self, drain: float = 10.0) -> None:
        """Stop after delivering what is queued, waiting at most ``drain`` seconds."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(drain)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            body = json.dumps(event).encode()
            for target, deliver in (("command", self._to_command), ("url", self._to_url)):
                if getattr(self, target) and not self._retry(deliver, body):
                    self.dropped += 1
                    warnings.warn(f"notify {target}: gave up on an event after {self.retries + 1} tries", RuntimeWarning,
                                  stacklevel=1)  # fmt: skip
                elif getattr(self, target):
                    self.delivered += 1

    def _retry(self, deliver: Any, body: bytes) -> bool:
        for attempt in range(self.retries + 1):
            try:
                if deliver(body):
                    return True
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        return False

    def _to_command(self, body: bytes) -> bool:
        done = subprocess.run(self.command, shell=True, input=body, timeout=self.timeout,  # noqa: S602
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        return done.returncode == 0

    def _to_url(self, body: bytes) -> bool:
        req = urllib.request.Request(str(self.url), data=body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (the user's own URL)
            return 200 <= resp.status < 300
