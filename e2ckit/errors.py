"""Every way e2ckit can fail, in one place: the exceptions (every one the package raises
of its own), the E2C's error table, and :class:`Failure`, a failure as a value.

Imports nothing of e2ckit, so every other module can stand on it, and every exception
lives here, whichever layer raises it (the command line's and the log's included): one
tree to read, one base to catch. A class keeps the builtin it has always subclassed
(in brackets), so ``except ValueError`` or ``except OSError`` still catches it.

The exception tree::

    E2CKitError                       base of everything below
    ├── ValidationError (ValueError)  a bad argument, caught before anything is sent
    │   └── OutputError               the output asked for cannot be made (format, file, terminal)
    ├── BadInput                      a bad command line (the CLI: one line, exit status 2)
    ├── ProtocolError                 bytes that are not the E2C protocol
    │   └── FrameError                a malformed request or reply
    │       └── ShortFrameError       too few bytes for a whole frame
    ├── E2CError                      the E2C answered with an error code (carries the request)
    ├── CatalogError                  a reply that does not fit its point's catalog entry
    ├── AuditError                    the control audit log cannot be written: nothing was sent
    ├── SweepError                    raise_on_error=True and some readings failed (carries the frame)
    ├── LogError                      the parquet log on disk or object storage
    │   ├── LogWriteError (OSError)   the log cannot be written (permission, disk full); names the path
    │   ├── LogLockedError            another writer holds the dataset (names its pid and host)
    │   └── Vanished                  a listed file was gone when read (a compaction replaced it):
    │                                 the reader lists again; it is not damage
    └── TransportError                the connection failed (carries host and port)
        ├── E2CConnectionError (ConnectionError)  refused, reset, closed mid-reply, unknown host
        ├── E2CTimeoutError (TimeoutError)  no complete reply within the timeout
        └── OutcomeUnknownError       a control went out and no reply came: it may have been applied

    E2CKitWarning (UserWarning)       base of e2ckit's warnings
    └── UnreadableFileWarning         load() or compact() skipped a file it could not read

Catch ``E2CKitError`` to handle anything from the library, ``TransportError`` for
"this antenna is unreachable", ``E2CError`` for "it answered, with an error", and
``LogError`` for "the log could not be written or read".

Failures as values: where a request fails (the blocking client, the fan-out engine) the
cause is classified once, as a :class:`Failure` — a *kind* (one of :data:`KINDS`, or
``E2C:<NAME>`` for an error reply) and a *detail* for people. ``str(failure)`` is the
text of a tidy row's ``error`` column (``"timeout: no reply within the timeout"``), and
:meth:`Failure.parse` reads that text back (from a log on disk). The blocking client
raises ``failure.exception(...)``: one table (:data:`EXCEPTIONS`) maps kinds to the
exception classes above, and the exception carries the value as ``.failure``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "AuditError",
    "BadInput",
    "CatalogError",
    "DOWN_KINDS",
    "E2CConnectionError",
    "E2CError",
    "E2CKitError",
    "E2CKitWarning",
    "E2CTimeoutError",
    "ERRORS",
    "EXCEPTIONS",
    "ErrorCode",
    "ErrorInfo",
    "Failure",
    "FrameError",
    "KINDS",
    "LogError",
    "LogLockedError",
    "LogWriteError",
    "OutcomeUnknownError",
    "OutputError",
    "ProtocolError",
    "ShortFrameError",
    "SweepError",
    "TransportError",
    "UnreadableFileWarning",
    "ValidationError",
    "Vanished",
    "error_info",
]


# -- exceptions ---------------------------------------------------------------------


class E2CKitError(Exception):
    """Base class of every e2ckit exception."""


class ValidationError(E2CKitError, ValueError):
    """An argument out of range or of the wrong type; the message names the field."""


class OutputError(ValidationError):
    """The requested output cannot be produced (bad format, parquet to a terminal, a file
    that cannot be written); the message names it. Still a ValueError, as it always was."""


class BadInput(E2CKitError):
    """Bad input on the command line: the CLI reports it in one line, exit status 2, and
    sends nothing."""


class ProtocolError(E2CKitError):
    """Bytes that do not follow the E2C protocol."""


class FrameError(ProtocolError):
    """A request or reply frame that is malformed."""


class ShortFrameError(FrameError):
    """Fewer bytes than a whole frame."""


class E2CError(E2CKitError):
    """The E2C replied with a non-zero error code.

    Attributes: ``code`` (e.g. 5002), ``name`` (``TIMEOUT_ERROR``), ``description``
    and the ``request`` that drew it.
    """

    def __init__(self, code: int, request: Any = None, host: str | None = None) -> None:
        info = error_info(code)
        self.code = info.code
        self.name = info.name
        self.description = info.description
        self.request = request
        self.host = host
        where = ""
        if request is not None:
            where = f" for channel {request.channel} node {request.node:#x} rca {request.rca:#07x}"
        at = f" from {host}" if host else ""
        super().__init__(f"E2C error {self.code} {self.name} ({self.description}){where}{at}")


class TransportError(E2CKitError):
    """The connection to an E2C failed; ``host`` and ``port`` say which one."""

    def __init__(self, message: str, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(f"{host}:{port}: {message}")


class E2CConnectionError(TransportError, ConnectionError):
    """Connection refused, reset or closed, or the host name did not resolve."""


class E2CTimeoutError(TransportError, TimeoutError):
    """No complete reply (or no connection) within the timeout."""


class CatalogError(E2CKitError):
    """The E2C answered, but the reply does not fit the point's catalog entry (its size):
    a catalog problem, not a hardware fault."""


class AuditError(E2CKitError):
    """The audit log cannot be written, so the control or reset was not sent."""


class OutcomeUnknownError(TransportError):
    """A control or reset went out (or may have) and no reply came back: it may have
    been applied. ``cause`` is the transport or protocol error that ended the wait."""

    def __init__(self, message: str, host: str, port: int, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(message, host, port)


class SweepError(E2CKitError):
    """Some readings of a sweep failed and the caller asked for an exception.

    ``frame`` holds the whole tidy result, good rows included.
    """

    def __init__(self, message: str, frame: object) -> None:
        self.frame = frame
        super().__init__(message)


class LogError(E2CKitError):
    """The parquet log (:mod:`e2ckit.logger` writes it, :mod:`e2ckit.dataset` reads it)."""


class LogWriteError(LogError, OSError):
    """The log could not be written (no permission, disk full, ...); names the path."""

    def __str__(self) -> str:
        # the sentence alone: OSError's "[Errno 28] ...: 'path'" says the path twice
        return self.strerror or super().__str__()


class LogLockedError(LogError):
    """Another e2ckit process (or another Logger in this one) is writing this dataset."""


class Vanished(LogError):
    """A listed file was gone when it was opened (a compaction replaced it): list again.

    The reader's signal to its caller, which lists again; it reaches a user only if a
    remote file goes between a listing and its read."""


# -- warnings -------------------------------------------------------------------------


class E2CKitWarning(UserWarning):
    """Base class of every e2ckit warning."""


class UnreadableFileWarning(E2CKitWarning):
    """:func:`load` or :func:`compact` skipped a file it could not read (or one that is
    not part of the log: another schema, not parquet); the message names it."""


# -- the E2C's error table -------------------------------------------------------------


class ErrorCode(enum.IntEnum):
    """Error codes an E2C puts in the first four bytes of a reply."""

    NO_ERROR = 0
    TIMEOUT_ERROR = 5002
    REQUEST_ERROR = 5003
    MONUNPK_ERROR = 5004
    MANAGER_UNAVBLE = 5005
    ILLEGAL_MGRNAME = 5006
    CANDRV_ERROR = 5007
    CONUNPK_ERROR = 5008
    BADCHAN_ERROR = 5009
    CANWRT_ERROR = 5010
    CANREAD_ERROR = 5011
    FLUSHED_ERROR = 5012
    READ_PERM_DENIED = 5013
    WRITE_PERM_DENIED = 5014
    ACCESS_DENIED = 5015
    UNKNOWN_ERROR = 5999


@dataclass(frozen=True)
class ErrorInfo:
    """One row of the E2C error table."""

    code: int
    name: str
    description: str

    @property
    def tag(self) -> str:
        """The short form results and tables carry: ``E2C:TIMEOUT_ERROR``."""
        return f"E2C:{self.name}"

    @property
    def text(self) -> str:
        """Code and description: ``5002 CAN bus timeout: the node did not answer``."""
        return f"{self.code} {self.description}"


_DESCRIPTIONS = {
    ErrorCode.NO_ERROR: "no error",
    ErrorCode.TIMEOUT_ERROR: "CAN bus timeout: the node did not answer",
    ErrorCode.REQUEST_ERROR: "the request could not be parsed",
    ErrorCode.MONUNPK_ERROR: "unable to unpack monitor data",
    ErrorCode.MANAGER_UNAVBLE: "requested manager unavailable",
    ErrorCode.ILLEGAL_MGRNAME: "request for an unknown manager",
    ErrorCode.CANDRV_ERROR: "low-level CAN driver failure",
    ErrorCode.CONUNPK_ERROR: "error unpacking control data",
    ErrorCode.BADCHAN_ERROR: "requested channel unavailable",
    ErrorCode.CANWRT_ERROR: "error writing to the CAN bus",
    ErrorCode.CANREAD_ERROR: "error reading from the CAN bus",
    ErrorCode.FLUSHED_ERROR: "operation flushed by the server",
    ErrorCode.READ_PERM_DENIED: "permission to read denied",
    ErrorCode.WRITE_PERM_DENIED: "permission to write denied",
    ErrorCode.ACCESS_DENIED: "read/write access denied",
    ErrorCode.UNKNOWN_ERROR: "otherwise undefined error",
}

#: The full E2C error table, by numeric code.
ERRORS: dict[int, ErrorInfo] = {int(c): ErrorInfo(int(c), c.name, _DESCRIPTIONS[c]) for c in ErrorCode}


def error_info(code: int) -> ErrorInfo:
    """Return the table row for ``code``; codes outside the table are named ``UNKNOWN(<n>)``."""
    try:
        return ERRORS[code]
    except KeyError:
        return ErrorInfo(code, f"UNKNOWN({code})", "error code not in the E2C error table")


# -- failures as values -------------------------------------------------------------------

#: Every kind of failure that is not an E2C error reply, with what it means. (An error
#: reply's kind is ``E2C:<NAME>``, see :meth:`Failure.e2c`.)
KINDS: dict[str, str] = {
    "refused": "connection refused: nothing listens (E2C down or powered off)",
    "unresolved": "host name did not resolve",
    "timeout": "no reply within the timeout",
    "deadline": "the sweep's deadline passed before this request was sent",
    "closed": "connection closed by the E2C mid-reply",
    "protocol": "reply bytes are not the E2C protocol",
    "unreachable": "network error",
    # The E2C answered, but the reply does not fit the point's catalog entry (issue #17).
    "catalog": "a catalog problem, not a hardware fault: the reply does not fit the point's catalog entry",
}

#: Kinds that mean "the E2C did not answer at all" (not an error reply from it).
DOWN_KINDS = frozenset({"refused", "timeout", "deadline", "closed", "unreachable", "unresolved"})

#: The blocking client's exception for each kind of failure (an ``E2C:`` kind raises
#: :class:`E2CError`).
EXCEPTIONS: dict[str, type[E2CKitError]] = {
    "refused": E2CConnectionError,
    "unresolved": E2CConnectionError,
    "closed": E2CConnectionError,
    "unreachable": E2CConnectionError,
    "timeout": E2CTimeoutError,
    "deadline": E2CTimeoutError,
    "protocol": ProtocolError,
    "catalog": CatalogError,
}

_NOT_SENT = " (not sent: an earlier request to this antenna failed)"


class Failure(NamedTuple):
    """Why a request has no good reply: a ``kind`` and a ``detail`` for people.

    A named tuple, so ``kind, detail = failure`` works and a sweep's thousands cost
    little. ``str(failure)`` is the user-facing text, ``"<kind>: <detail>"``.
    """

    kind: str  # a key of KINDS, or "E2C:<NAME>" for an error reply
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"

    @property
    def text(self) -> str:
        """The text of a tidy row's ``error`` column: ``"timeout: no reply within the timeout"``."""
        return f"{self.kind}: {self.detail}"

    @property
    def down(self) -> bool:
        """True when the E2C did not answer at all (see :data:`DOWN_KINDS`)."""
        return self.kind in DOWN_KINDS

    @property
    def e2c_name(self) -> str | None:
        """``"TIMEOUT_ERROR"`` for an E2C error reply, else None."""
        return self.kind[4:] if self.kind.startswith("E2C:") else None

    @property
    def meaning(self) -> str:
        """What this kind of failure means, in words."""
        if self.e2c_name is not None:
            return "an error reply from the E2C"
        return KINDS.get(self.kind, "not a known e2ckit error code")

    @classmethod
    def of(cls, kind: str, detail: str | None = None) -> Failure:
        """A failure of one of :data:`KINDS`, its detail defaulting to the kind's meaning."""
        return cls(kind, KINDS[kind] if detail is None else detail)

    @classmethod
    def e2c(cls, code: int) -> Failure:
        """The failure of an E2C error reply: ``E2C:TIMEOUT_ERROR: 5002 CAN bus timeout...``."""
        info = error_info(code)
        return cls(info.tag, info.text)

    def not_sent(self) -> Failure:
        """The same cause for a later request that was therefore never sent."""
        return Failure(self.kind, self.detail + _NOT_SENT)

    @property
    def cause(self) -> str:
        """The text without the "(not sent: ...)" of requests given up after it."""
        return self.text.split(_NOT_SENT, 1)[0]

    @classmethod
    def parse(cls, text: object) -> Failure | None:
        """Read back a failure from its text (a tidy ``error`` value); None for no error
        (None or NaN). ``"E2C:TIMEOUT_ERROR: 5002 ..."`` has kind ``E2C:TIMEOUT_ERROR``."""
        if text is None or (isinstance(text, float) and text != text):
            return None
        s = str(text)
        if s.startswith("E2C:"):
            name, _, detail = s[4:].partition(":")
            return cls("E2C:" + name.strip(), detail.strip())
        kind, _, detail = s.partition(":")
        return cls(kind.strip(), detail.strip())

    def exception(self, host: str, port: int, request: Any = None) -> E2CKitError:
        """The blocking client's exception for this failure (see :data:`EXCEPTIONS`)."""
        name = self.e2c_name
        if name is not None:
            code = ErrorCode[name] if name in ErrorCode.__members__ else ErrorCode.UNKNOWN_ERROR
            return E2CError(int(code), request, host=f"{host}:{port}")
        cls = EXCEPTIONS.get(self.kind, E2CConnectionError)
        exc = cls(self.detail, host, port) if issubclass(cls, TransportError) else cls(self.detail)
        exc.failure = self  # type: ignore[attr-defined]
        return exc
