"""The control audit log: one JSON line per control request, sent or refused.

Every ``e2ckit control request`` appends exactly one line, whatever happens: sent and
answered, sent and failed, declined at the prompt, or refused because nobody could
confirm it. The file is plain JSON lines, so ``jq``, ``pandas.read_json(lines=True)``
or ``grep`` read it. Fields::

    time     UTC, ISO 8601 (when the decision was made / the reply came back)
    user     login name of the person running the command
    host     "host:port" of the E2C
    target   {"antenna", "channel", "node", "rca", "lru", "point"} (point/lru may be null)
    data     the control bytes, as "0x60 0x64"
    outcome  "sent" | "e2c-error" | "failed" | "declined" | "refused"
    detail   optional: the E2C error or transport error text, or why it was refused

Where: ``$E2CKIT_AUDIT_LOG`` if set, else ``$XDG_STATE_HOME/e2ckit/control-audit.jsonl``,
else ``~/.local/state/e2ckit/control-audit.jsonl``. The CLI refuses to send a control
it cannot log.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "audit_path", "check_writable", "record"]

ENV_VAR = "E2CKIT_AUDIT_LOG"


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


def check_writable(path: Path | None = None) -> Path:
    """Make sure the log can be appended to (creating its folder); raise OSError if not."""
    path = audit_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8"):
        pass
    return path


def record(
    *,
    host: str,
    target: dict[str, Any],
    data: bytes,
    outcome: str,
    detail: str | None = None,
    path: Path | None = None,
) -> dict[str, Any]:
    """Append one entry and return it. One ``write`` of one line, so entries never interleave."""
    entry: dict[str, Any] = {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "user": _user(),
        "host": host,
        "target": target,
        "data": " ".join(f"0x{b:02X}" for b in data),
        "outcome": outcome,
    }
    if detail:
        entry["detail"] = detail
    path = check_writable(path)
    line = json.dumps(entry, sort_keys=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return entry
