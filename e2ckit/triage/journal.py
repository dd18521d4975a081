"""The recover journal: per antenna, when each recovery step became current and when its
control went out (JSON lines, appended and fsynced), apart from the control audit log.

Written by :func:`e2ckit.triage.recover.recover` (resumable after Ctrl-C, SIGKILL or a
reboot) and read by :func:`e2ckit.triage.plan.plan_recovery` for its ``since`` column.
Layering: triage; imports audit (where the audit log lives) only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from e2ckit import audit

__all__ = ["JOURNAL_ENV", "Journal", "journal_dir"]

JOURNAL_ENV = "E2CKIT_RECOVER_JOURNAL"


def journal_dir() -> Path:
    """``$E2CKIT_RECOVER_JOURNAL``, else ``recover/`` beside the control audit log
    (``~/.local/state/e2ckit/recover`` by default): the two records stay together."""
    env = os.environ.get(JOURNAL_ENV)
    if env:
        return Path(env)
    return audit.audit_path().parent / "recover"


class Journal:
    """One antenna's journal: JSON lines ``{"t", "step", "event"}`` (event ``current``,
    ``sent`` or ``done``), appended and fsynced. ``since[step]``: when it became current
    or its control last went out; ``sent[step]``: when its control last went out (both
    UNIX seconds of the array's clock, dropped once the step reads done)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.since: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    e = json.loads(line)
                    t, step, event = float(e["t"]), str(e["step"]), e["event"]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a crash
                self._apply(t, step, event)

    @classmethod
    def of(cls, directory: str | os.PathLike[str], antenna: str) -> Journal:
        """The journal of ``antenna`` in ``directory`` (empty when there is none)."""
        return cls(Path(directory) / f"{antenna}.jsonl")

    def _apply(self, t: float, step: str, event: str) -> None:
        if event == "sent":
            self.sent[step] = self.since[step] = t
        elif event == "current":
            self.since.setdefault(step, t)
        elif event == "done":
            self.since.pop(step, None)
            self.sent.pop(step, None)

    def note(self, t: float, step: str, event: str) -> None:
        """Append one event, fsynced before this returns."""
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"t": t, "step": step, "event": event}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(t, step, event)
