"""A signal ends a wait without deadlocking (e2ckit.signals): the handler runs in the main
thread, maybe while it holds the waited event's own lock inside ``Event.wait()``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from e2ckit.signals import set_from_signal


def test_set_from_signal_sets_the_event_while_this_thread_holds_its_lock() -> None:
    event = threading.Event()
    with event._cond:  # where the main thread is when a signal lands inside event.wait()
        set_from_signal(event)  # event.set() here would wait for this thread for ever
        assert not event.is_set()
    assert event.wait(10), "the event was never set"


@pytest.mark.parametrize(
    ("command", "ready"),
    [(["-m", "e2ckit.sim", "--antennas", "DV01"], "DV01\t127.0.0.1:"),
     (["-m", "e2ckit", "simulate", "-a", "DV01"], "DV01     127.0.0.1")],
    ids=["python -m e2ckit.sim", "e2ckit simulate"],
)  # fmt: skip
def test_sigterm_as_soon_as_the_simulator_says_where_it_listens_stops_it(tmp_path, command, ready) -> None:
    """The simulator waits on an event SIGTERM sets, its handler in place before it prints
    where it listens (a reader may stop it at once): it stops and exits 0."""
    proc = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**os.environ})  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(ready):
                break
        else:
            pytest.fail("it never said where it listens: " + proc.stderr.read())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        proc.kill()
