"""One writer per dataset: ``DIR/.e2ckit/lock``, held with ``flock`` and naming its holder.

A logger, a compaction, and a ``load`` that replays a dead logger's write-ahead segments
all take this lock; a second writer gets :class:`LogLockedError` naming the holder's
pid, host and command instead of interleaving its rows with the first one's.

Why flock, and why the file names its holder: the kernel drops an flock when its
process dies, however it dies (SIGKILL, OOM, power cut), so a crashed writer never
leaves a lock behind that someone must remove by hand; the pid and host written into
the file are only for the message. Two Loggers in one process conflict too (an flock
belongs to one open file). A lock file from a writer that crashed is taken over
(its pid is stale: the flock is gone with it). On a file system without flock (some
network mounts) the lock falls back to the pid: a lock file whose pid is not alive
on this host is taken over, one from another host is respected.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from e2ckit.errors import LogLockedError
from e2ckit.logformat.schema import STATE_DIR

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DatasetLock:
    """The writer's lock on one dataset directory (``acquire()`` / ``release()``)."""

    def __init__(self, root: Path, command: str) -> None:
        self.root = root
        self.path = root / STATE_DIR / "lock"
        self.command = command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> dict[str, Any]:
        """What the lock file says about its holder (empty if unreadable)."""
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def _refuse(self) -> LogLockedError:
        h = self.holder()
        who = f"pid {h.get('pid', '?')} on host {h.get('host', '?')}"
        what = f" ({h['command']})" if h.get("command") else ""
        since = ""
        if isinstance(h.get("since"), (int, float)):
            since = time.strftime(" since %Y-%m-%d %H:%M:%S UTC", time.gmtime(h["since"]))
        return LogLockedError(
            f"{self.root} is being written by another e2ckit process: {who}{what}{since}; "
            f"one writer per dataset (stop it, or write to another directory)"
        )

    def acquire(self) -> None:
        """Take the lock or raise :class:`LogLockedError`; OSError if the directory is not writable."""
        if self._fd is not None:
            return
        while True:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # a releasing writer removed the empty directory just now
                continue
            try:
                if not self._lock_fd(fd):
                    raise self._refuse()
                # the holder before us may have released and unlinked the file between
                # our open and our flock: then we locked a file nobody else sees
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                me = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "since": time.time()}
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(me).encode(), 0)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return

    def _lock_fd(self, fd: int) -> bool:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return False
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
        # no flock here: the pid in the file decides
        h = self.holder()
        pid, host = h.get("pid"), h.get("host")
        if isinstance(pid, int) and pid != os.getpid():
            if host != socket.gethostname() or _alive(pid):
                return False
        return True

    def release(self) -> None:
        """Give the lock up and remove the file (a no-op if not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # before unlocking: a waiter re-checks the path (acquire)
        os.close(fd)
        # leave no trace when nothing is left to recover (rmdir fails on a non-empty one)
        state = self.path.parent
        for d in (state / "wal", state / "tmp", state):
            with contextlib.suppress(OSError):
                d.rmdir()

    def __enter__(self) -> DatasetLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
