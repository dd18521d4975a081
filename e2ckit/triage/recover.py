"""Carry out the recovery plan: antennas in parallel, steps in order within each.

:func:`recover` sends only with ``confirm=True``. For each antenna, under a lock file
that keeps two runs from interleaving, it repeats: read the plan's points (one request
each), evaluate the steps (:func:`e2ckit.triage.plan.evaluate`), and

* the first step not done is ``ready``: send its control (the gate was just read; an
  intent line fsynced in the control audit log first, :func:`e2ckit.audit.audited_send`),
  note it in the journal, and read again (the read-back);
* ``waiting`` (a timer, a pressure, a stage cooling; or an E2C that stopped answering):
  read again every ``interval`` until ``wait`` has passed;
* ``blocked`` (a person is needed) or ``stalled`` (no effect within the step's
  ``stall_after``): stop this antenna with the reason; the others go on.

It never sends a control whose firmware gate is not met (only ``ready`` steps are sent). The
journal (JSON lines per antenna, apart from the audit log) records when each step became
current and when its control went out, so a rerun after Ctrl-C, SIGKILL or a reboot does
not repeat a control that is still within its ``stall_after`` and counts stalls from
the first attempt; a control whose effect reads back is never sent again (the journal:
:mod:`e2ckit.triage.journal`). Ctrl-C in the caller's thread stops every antenna's thread
at its next read (a wait on the real clock is cut short), then raises KeyboardInterrupt.

``until`` is a phase (every step of it done) or a step id,
:func:`e2ckit.triage.plan.resolve_until`.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit import audit, transport
from e2ckit.clock import array_now
from e2ckit.errors import AuditError, E2CError, TransportError, ValidationError
from e2ckit.planning import catalog_of, resolve_array
from e2ckit.triage.journal import JOURNAL_ENV, Journal, journal_dir
from e2ckit.triage.plan import (
    Step,
    evaluate,
    plan_points,
    read_antennas,
    resolve_until,
    shipped_steps,
    stall_clocks,
)
from e2ckit.wire.frames import Mode, Reply, Request

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["JOURNAL_ENV", "OUTCOMES", "Journal", "Outcome", "journal_dir", "recover"]

#: how an antenna's run ended, best first
OUTCOMES = ("reached", "waiting", "stalled", "refused", "error")
#: seconds between reads of a control's effect (at most; ``interval`` if shorter)
READBACK_S = 2.0
_STOPPED = "interrupted: rerun the same command to continue (the journal keeps its place)"


@dataclass
class Outcome:
    """How one antenna's run ended, and the controls it sent (in order)."""

    antenna: str
    outcome: str  # one of OUTCOMES
    step: str  # the step it stopped at ("" once the target is reached)
    reason: str
    sent: list[str] = field(default_factory=list)


@contextmanager
def _lock(path: Path):
    """An exclusive per-antenna lock (flock: a crashed run's lock goes with it)."""
    import fcntl  # POSIX only; imported where the lock is taken

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                held = os.pread(fd, 200, 0).decode(errors="replace").strip()
                raise ValidationError(f"another recover run holds {path.stem} ({held or 'unknown pid'})") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)


@dataclass
class _Run:
    """What every antenna's run shares."""

    steps: tuple[Step, ...]
    until: str  # the step id
    label: str  # as the caller named it (a phase or a step)
    array: Any
    timeout: float
    wait: float
    interval: float
    sleep: Callable[[float], None]
    audit_log: Any
    journal: Path
    on_event: Callable[[str, str, str, str], None] | None
    #: set on Ctrl-C: every antenna's thread stops at its next read (the journal keeps its place)
    stop: threading.Event = field(default_factory=threading.Event)

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` between reads; False once the run is to stop. The real clock's
        wait is the stop event's, so Ctrl-C ends it at once, not an interval later."""
        if self.sleep is time.sleep:
            self.stop.wait(seconds)
        else:
            self.sleep(seconds)
        return not self.stop.is_set()

    def event(self, antenna: str, step: str, what: str, detail: str = "") -> None:
        if self.on_event is not None:
            self.on_event(antenna, step, what, detail)


def _send(run: _Run, antenna: str, step: Step) -> None:
    """Send ``step``'s control to ``antenna``, audited (intent fsynced first)."""
    ep = resolve_array(run.array)[antenna]
    p = catalog_of(None).point(step.point)  # type: ignore[arg-type]
    request = Request(p.channel_for(antenna), p.node, p.rca, Mode.CONTROL, bytes([int(step.value or 0)]))  # type: ignore[arg-type]
    target = {"antenna": antenna, "channel": request.channel, "node": f"0x{p.node:02X}", "rca": f"0x{p.rca:05X}",
              "lru": p.lru, "point": p.name, "recover_step": step.id}  # fmt: skip

    def send() -> Reply:
        # through the endpoint's own transport (sockets, or the simulator in memory)
        r = transport.exchange_results({antenna: (ep, [request])}, timeout=run.timeout)[antenna][0]
        if r.reply is not None:
            return r.reply
        raise r.failure.exception(ep.host, ep.port, request)  # type: ignore[union-attr]

    reply = audit.audited_send(send, request, host=ep.host, port=ep.port, via="recover", target=target,
                               path=run.audit_log)  # fmt: skip
    if reply.error:
        raise E2CError(reply.error, request, host=f"{ep.host}:{ep.port}")


def _one(run: _Run, antenna: str) -> Outcome:
    """Carry out one antenna's plan up to ``run.until``."""
    last = [s.id for s in run.steps].index(run.until)
    points = plan_points(run.steps)
    with _lock(run.journal / f"{antenna}.lock"):
        journal = Journal(run.journal / f"{antenna}.jsonl")
        sent: list[str] = []
        started = time.monotonic()
        while True:
            reads = read_antennas(points, [antenna], array=run.array, timeout=run.timeout).get(antenna, {})
            now = array_now(run.array)
            rows = evaluate(run.steps, reads, now=now, since=stall_clocks(run.steps, journal), shown_since=journal.since)
            for row in rows[: last + 1]:
                if row["status"] == "done" and row["step"] in journal.since:
                    journal.note(now, row["step"], "done")
                    run.event(antenna, row["step"], "done")
            pending = [(i, r) for i, r in enumerate(rows[: last + 1]) if r["status"] != "done"]
            if not pending:
                return Outcome(antenna, "reached", "", f"{run.label} reached", sent)
            i, row = pending[0]
            step = run.steps[i]
            first = step.id not in journal.since
            if first:
                journal.note(now, step.id, "current")
            status = row["status"]
            if status == "blocked" and step.id == "reachable":
                # an E2C lost mid-recovery: wait for it, then it stalls
                lost_for = now - journal.since.get(step.id, now)
                status = "stalled" if lost_for > step.stall_after_s else "waiting"
            if first:  # a transition: said as this run takes it (a lost E2C is waited for)
                run.event(antenna, step.id, status, row["blocked_by"])
            if status == "ready" and step.id in journal.sent:
                # sent before (this run, or one that was killed): read its effect back until
                # it shows or the step stalls (not bounded by ``wait``), never repeat it
                if not run.pause(min(run.interval, READBACK_S)):
                    return Outcome(antenna, "waiting", step.id, _STOPPED, sent)
                continue
            if status == "ready":
                if run.stop.is_set():  # Ctrl-C: no control goes out after it
                    return Outcome(antenna, "waiting", step.id, _STOPPED, sent)
                try:
                    _send(run, antenna, step)
                except E2CError as exc:
                    return Outcome(antenna, "refused", step.id, f"{step.action}: the E2C refused it ({exc})", sent)
                except (TransportError, OSError) as exc:
                    return Outcome(antenna, "error", step.id, f"{step.action}: {exc}", sent)
                journal.note(array_now(run.array), step.id, "sent")
                sent.append(step.action)
                run.event(antenna, step.id, "sent", step.action)
                continue
            if status in ("blocked", "stalled"):
                return Outcome(antenna, "stalled", step.id, f"{status}: {row['blocked_by']}", sent)
            if time.monotonic() - started >= run.wait:
                return Outcome(antenna, "waiting", step.id, row["blocked_by"] or "waiting", sent)
            if not run.pause(run.interval):
                return Outcome(antenna, "waiting", step.id, _STOPPED, sent)


def _check_writable(audit_log: Any, journal: Path) -> None:
    """Nothing is sent unless the audit log and the journal can be written."""
    try:
        audit.check_writable(audit_log)
    except OSError as exc:
        raise AuditError(f"cannot write the control audit log: {exc.strerror or exc}; nothing sent") from None
    try:
        journal.mkdir(parents=True, exist_ok=True)
        probe = journal / ".probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise AuditError(f"cannot write the recover journal {journal}: {exc.strerror or exc}; nothing sent") from None


def recover(
    antennas: str | Iterable[str] | None,
    *,
    confirm: bool = False,
    array: Any = None,
    until: str = "operational",
    wait: float = 600.0,
    watch: bool = False,
    interval: float = 10.0,
    timeout: float = 1.0,
    journal: str | os.PathLike[str] | None = None,
    audit_log: str | os.PathLike[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Callable[[str, str, str, str], None] | None = None,
    steps: Sequence[Step] | None = None,
) -> pd.DataFrame:
    """Carry out the recovery plan on ``antennas`` up to ``until`` (see the module
    docstring): a phase (``power, vacuum, cooling, closing, done``: every step of it done) or
    a step id (``cold``, ``compressor``...; :func:`~e2ckit.triage.plan.resolve_until`). Sends
    controls only with ``confirm=True`` (else ValidationError, nothing sent); ``wait``
    bounds (in seconds) how long it reads a gate that opens with time, ``watch=True``
    lifts the bound (until every antenna reaches ``until``, stalls or fails);
    ``sleep`` is how it waits ``interval`` between reads (a stepped simulator: advance its
    clock). Returns one row per antenna: ``antenna, outcome`` (reached, waiting, stalled,
    refused, error), ``step, reason, sent`` (the controls sent, in order).
    """
    import pandas as pd  # lazy, as everywhere in e2ckit

    if confirm is not True:
        raise ValidationError(f"recover sends controls: pass confirm=True to send them, got confirm={confirm!r}")
    steps = tuple(steps) if steps is not None else shipped_steps()
    target = resolve_until(until, steps)  # unknown: ValidationError naming the choices, nothing sent
    if watch:
        wait = math.inf
    if not (isinstance(wait, (int, float)) and wait >= 0 and isinstance(interval, (int, float)) and interval > 0):
        raise ValidationError(f"wait must be >= 0 and interval > 0 seconds, got wait={wait!r}, interval={interval!r}")
    names = resolve_array(array).select(antennas)  # unknown names: ValidationError, nothing sent
    if journal is not None:
        jdir = Path(journal)
    else:  # beside the audit log this run writes to
        jdir = Path(audit_log).parent / "recover" if audit_log is not None else journal_dir()
    _check_writable(audit_log, jdir)
    run = _Run(steps, target, str(until), array, timeout, float(wait), float(interval), sleep, audit_log, jdir, on_event)

    def guarded(antenna: str) -> Outcome:
        try:
            o = _one(run, antenna)
        except (ValidationError, AuditError, OSError) as exc:
            o = Outcome(antenna, "error", "", str(exc))
        if o.outcome != "waiting":  # how it ended is a transition too (a stall is notified)
            run.event(antenna, o.step or run.label, o.outcome, "" if o.outcome == "reached" else o.reason)
        return o

    # one thread per antenna: a waiting antenna sleeps in its thread and must not hold up another
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        try:
            outcomes = list(pool.map(guarded, names))
        except BaseException:  # Ctrl-C (KeyboardInterrupt) in the caller's thread: stop them all
            run.stop.set()
            raise
    return pd.DataFrame([o.__dict__ for o in outcomes], columns=["antenna", "outcome", "step", "reason", "sent"])
