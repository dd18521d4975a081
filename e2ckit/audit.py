"""The control audit log: no control or reset leaves e2ckit without a record first.

Every path that sends a control (mode 1) or a reset (mode 3) — ``e2ckit control
request``, :meth:`Client.control` / :meth:`Client.reset` and the drop-in
``E2CClient.send_request(mode=1|3)`` — goes through :func:`audited_send`:

1. an **intent** line is appended, flushed and fsynced; if that fails (full disk,
   unwritable path) :class:`AuditError` is raised and *nothing is sent*;
2. the request is sent;
3. an **outcome** line with the same ``id`` is appended: ``sent`` (acknowledged),
   ``e2c-error`` (the E2C refused it, with its code), ``failed`` (no connection was
   made: certainly not applied) or ``unknown`` (sent, or partly sent, and no reply:
   *it may have been applied*; :class:`OutcomeUnknownError` is raised).

The rule is kept where requests leave: :meth:`Client.request` refuses a control or
reset that is not being sent from inside :func:`audited_send` (:func:`audited`), so
no path — present or future — can send one unaudited.

An intent line with no outcome line means the process died in between: outcome
unknown. The CLI also writes one line, with no intent, for a control it did not send:
``declined`` at the prompt or ``refused`` (no ``--yes`` and no terminal).

The file is plain JSON lines (``jq``, ``pandas.read_json(lines=True)``, ``grep``)::

    time     UTC, ISO 8601
    id       pairs an intent with its outcome
    user     login name;  pid  the process
    via      "cli" | "python" | "E2CClient"
    mode     "control" | "reset"
    host     "host:port" of the E2C
    target   {"antenna", "channel", "node", "rca", "lru", "point"} (may be null)
    data     the control bytes, as "0x60 0x64"
    outcome  "intent" | "sent" | "e2c-error" | "failed" | "unknown" | "declined" | "refused"
    detail   optional: the E2C error or transport error text, or why it was refused

Where: ``$E2CKIT_AUDIT_LOG`` if set, else ``$XDG_STATE_HOME/e2ckit/control-audit.jsonl``,
else ``~/.local/state/e2ckit/control-audit.jsonl`` (or the ``audit_log`` argument).
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import errno
import getpass
import json
import os
import stat
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e2ckit.errors import AuditError, Failure, OutcomeUnknownError, ProtocolError, TransportError
from e2ckit.wire.frames import Mode

if TYPE_CHECKING:
    from e2ckit.wire.frames import Reply, Request

__all__ = [
    "ENV_VAR",
    "UNKNOWN",
    "AuditError",
    "OutcomeUnknownError",
    "audit_path",
    "audited",
    "audited_send",
    "check_writable",
    "record",
]

ENV_VAR = "E2CKIT_AUDIT_LOG"
#: How an unanswered control is reported, everywhere.
UNKNOWN = "outcome unknown — it may have been applied"


def audit_path() -> Path:
    """Where control requests are logged (see the module docstring)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(state) / "e2ckit" / "control-audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than fail
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def check_writable(path: str | os.PathLike[str] | None = None) -> Path:
    """Make sure the log can be appended to (creating its folder); raise OSError if not.
    The log must be a regular file: ``/dev/null`` would keep no record, and opening a FIFO
    with no reader would hang before the control is sent."""
    p = audit_path() if path is None else Path(path)
    _regular_or_absent(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8"):
        pass
    return p


def _regular_or_absent(p: Path) -> None:
    """OSError unless ``p`` is a regular file (through symbolic links) or does not exist."""
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # (a path through a file, no permission...): the open says why
    if not stat.S_ISREG(mode):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                "a directory" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")  # fmt: skip
        raise OSError(errno.EINVAL, f"not a regular file ({kind}): the audit log must be a file that keeps what is written")


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        # a log on a device or pipe (/dev/stderr) cannot be synced; the write went through
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


def _append(path: Path, entry: dict[str, Any]) -> None:
    """One line, written whole with O_APPEND (entries of two processes never
    interleave), then fsynced: it is on disk before anything is sent."""
    line = (json.dumps(entry) + "\n").encode("utf-8")
    _regular_or_absent(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    try:
        view = memoryview(line)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        _fsync(fd)
    finally:
        os.close(fd)


def _entry(outcome: str, *, host: str, target: dict[str, Any] | None, data: bytes, detail: str | None,
           mode: str, via: str, id: str | None) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "id": id or uuid.uuid4().hex[:16],
        "user": _user(),
        "pid": os.getpid(),
        "via": via,
        "mode": mode,
        "host": host,
        "target": target,
        "data": " ".join(f"0x{b:02X}" for b in data),
        "outcome": outcome,
    }
    if detail:
        entry["detail"] = detail
    return entry


def record(
    *,
    host: str,
    target: dict[str, Any] | None,
    data: bytes,
    outcome: str,
    detail: str | None = None,
    path: str | os.PathLike[str] | None = None,
    mode: str = "control",
    via: str = "cli",
    id: str | None = None,
) -> dict[str, Any]:
    """Append one entry (flushed and fsynced) and return it; OSError if it cannot be."""
    entry = _entry(outcome, host=host, target=target, data=data, detail=detail, mode=mode, via=via, id=id)
    _append(check_writable(path), entry)
    return entry


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc).strip() or type(exc).__name__).split())


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened before a byte could reach the E2C: the name did
    not resolve, or the connection was refused or never made. Anything else after the
    intent (a send that failed half-way, a timeout waiting for the reply, a closed
    connection, garbage) may have delivered the control."""
    if getattr(exc, "never_sent", False):  # Client: the connection was never made
        return True
    # A reset once connected reads as "refused" too, but bytes may have left by then:
    # only a name that never resolved is certain.
    failure = getattr(exc, "failure", None)
    return failure is not None and failure.kind == "unresolved"


#: The control or reset :func:`audited_send` is sending right now, in this thread or task.
_AUDITED: contextvars.ContextVar[Request | None] = contextvars.ContextVar("e2ckit_audited", default=None)


def audited(request: Request) -> bool:
    """True while :func:`audited_send` is sending ``request`` (its intent is on disk)."""
    return _AUDITED.get() == request


def audited_send(
    send: Callable[[], Reply],
    request: Request,
    *,
    host: str,
    port: int,
    via: str,
    target: dict[str, Any] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Reply:
    """Send a control or reset through ``send`` with an intent line on disk first and
    its outcome after (see the module docstring). Returns the reply (E2C error codes
    included: the caller decides whether they raise).

    Raises :class:`AuditError` (nothing sent) when the intent cannot be written,
    :class:`OutcomeUnknownError` when it went out without a reply, and the transport
    error as is when no connection was made (``failed``: not applied).
    """

    mode = "reset" if request.mode == Mode.RESET else "control"
    where = f"{host}:{port}"
    if target is None:
        target = {"antenna": None, "channel": request.channel, "node": f"0x{request.node:02X}",
                  "rca": f"0x{request.rca:05X}", "lru": None, "point": None}  # fmt: skip
    common = {"host": where, "target": target, "data": request.data, "mode": mode, "via": via}
    try:
        log = check_writable(path)
        intent = _entry("intent", detail=None, id=None, **common)
        _append(log, intent)
    except OSError as exc:
        shown = path if path is not None else audit_path()
        raise AuditError(
            f"cannot write the control audit log {shown}: {exc.strerror or exc}; the {mode} was not sent"
        ) from None

    def outcome(what: str, detail: str | None) -> None:
        try:
            _append(log, _entry(what, detail=detail, id=intent["id"], **common))
        except OSError as exc:
            warnings.warn(
                f"the {mode} to {where} ended {what!r} but the audit log {log} could not record it "
                f"({exc.strerror or exc}); its intent line is there",
                RuntimeWarning,
                stacklevel=3,
            )

    token = _AUDITED.set(request)  # lets Client.request send this control (see audited())
    try:
        reply = send()
    except (TransportError, ProtocolError) as exc:
        if isinstance(exc, TransportError) and _never_sent(exc):
            outcome("failed", _one_line(exc))
            raise
        outcome("unknown", _one_line(exc))
        raise OutcomeUnknownError(
            f"{mode} sent, no reply ({_one_line(exc)}): {UNKNOWN}", host, port, exc
        ) from exc
    except BaseException as exc:  # interrupted mid-send: say so, then let it propagate
        outcome("unknown", f"interrupted: {type(exc).__name__}")
        raise
    finally:
        _AUDITED.reset(token)
    if reply.error:
        outcome("e2c-error", Failure.e2c(reply.error).text)
    else:
        outcome("sent", None)
    return reply
