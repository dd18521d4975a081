"""The E2C protocol with no I/O: :mod:`~e2ckit.wire.frames` packs and unpacks frames,
:mod:`~e2ckit.wire.connection` holds the rules of one connection. The blocking client,
the fan-out engine and the simulator's server all drive these; none cuts bytes itself."""

from e2ckit.wire.connection import NEED_DATA, Connection, ServerConnection, State

__all__ = ["NEED_DATA", "Connection", "ServerConnection", "State"]
