"""Every exception e2ckit raises, in one tree.

::

    E2CKitError                       base of everything below
    ├── ValidationError (ValueError)  a bad argument, caught before anything is sent
    ├── ProtocolError                 bytes that are not the E2C protocol
    │   ├── FrameError                a malformed request or reply
    │   └── ShortFrameError           too few bytes for a whole frame
    ├── E2CError                      the E2C answered with an error code (carries the request)
    ├── SweepError                    raise_on_error=True and some readings failed (carries the frame)
    └── TransportError                the connection failed (carries host and port)
        ├── E2CConnectionError        refused, reset, closed mid-reply, unknown host
        └── E2CTimeoutError (TimeoutError)  no complete reply within the timeout

Catch ``E2CKitError`` to handle anything from the library, ``TransportError`` for
"this antenna is unreachable", and ``E2CError`` for "it answered, with an error".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from e2ckit.protocol import Request

__all__ = [
    "E2CConnectionError",
    "E2CError",
    "E2CKitError",
    "E2CTimeoutError",
    "FrameError",
    "ProtocolError",
    "ShortFrameError",
    "SweepError",
    "TransportError",
    "ValidationError",
]


class E2CKitError(Exception):
    """Base class of every e2ckit exception."""


class ValidationError(E2CKitError, ValueError):
    """An argument out of range or of the wrong type; the message names the field."""


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

    def __init__(self, code: int, request: Request | None = None, host: str | None = None) -> None:
        from e2ckit.protocol import error_info

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


class SweepError(E2CKitError):
    """Some readings of a sweep failed and the caller asked for an exception.

    ``frame`` holds the whole tidy result, good rows included.
    """

    def __init__(self, message: str, frame: object) -> None:
        self.frame = frame
        super().__init__(message)
