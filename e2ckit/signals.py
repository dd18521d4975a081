"""Ending a wait from a signal handler (SIGTERM, SIGINT), safely.

A Python signal handler runs in the main thread between two bytecodes, and that can be
inside ``threading.Event.wait()`` while the main thread holds the event's own lock (a
plain, non-reentrant one): ``event.set()`` there waits for a lock its own thread holds,
for ever. The logger's ``log`` command, ``e2ckit simulate`` and ``python -m e2ckit.sim``
wait on an event a signal ends; they set it through :func:`set_from_signal`.
"""

from __future__ import annotations

import threading

__all__ = ["set_from_signal"]


def set_from_signal(event: threading.Event) -> None:
    """Set ``event`` from a signal handler: from a short-lived thread of its own, which
    takes the event's lock once the main thread lets go of it."""
    threading.Thread(target=event.set, name="e2ckit-signal", daemon=True).start()
