"""A signal ends a wait without deadlocking (e2ckit.signals): the handler runs in the main
thread, maybe while it holds the waited event's own lock inside ``Event.wait()``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from e2ckit.signals import set_from_signal


def test_set_from_signal_sets_the_event_while_this_thread_holds_its_lock() -> None:
    event = threading.Event()
    with event._cond:  # where the main thread is when a signal lands inside event.wait()
        set_from_signal(event)  # event.set() here would wait for this thread for ever
        assert not event.is_set()
    assert event.wait(10), "the event was never set"


def test_sigterm_ends_the_simulator_process_promptly(tmp_path) -> None:
    """``python -m e2ckit.sim`` waits on an event SIGTERM sets: it stops, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "e2ckit.sim", "--antennas", "DV01", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ})  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the listening line: it is waiting now
        assert line.startswith("DV01\t127.0.0.1:"), line + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
