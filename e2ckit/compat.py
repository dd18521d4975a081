"""The drop-in ``E2CClient``: port an ``e2c-client`` script by changing one import.

``from e2ckit.compat import E2CClient`` (the README's porting recipe) instead of
``from e2c_client import E2CClient``.
Same constructor, constants, methods and return shapes, built on :class:`e2ckit.client.Client`;
replies are read exactly, so split TCP segments do not misparse.

Controls and resets (``send_request`` with ``mode=1`` or ``3``) are audited like every
other e2ckit control (see :mod:`e2ckit.audit`): an intent line is written and fsynced
first, and if it cannot be, :class:`~e2ckit.audit.AuditError` is raised and nothing is
sent. No extra argument is needed — a drop-in that refused controls would break the
scripts it exists for — so the audit log is the safeguard here. A control that goes out
with no reply raises :class:`~e2ckit.audit.OutcomeUnknownError` (a TransportError): it
may have been applied.
"""

from __future__ import annotations

import time
from typing import Any

from e2ckit import audit
from e2ckit.catalog import default_catalog
from e2ckit.client import DEFAULT_PORT, Client, _control_bytes, decode_ds18s20
from e2ckit.errors import E2CError
from e2ckit.names import E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE
from e2ckit.wire.frames import Mode, Request, monitor_request

__all__ = ["E2CClient"]


class E2CClient:
    """Drop-in for ``e2c_client.E2CClient``: port a script by changing one import.

    Same constructor, constants and methods, same return shapes
    (``send_request`` returns ``(error, data)``; for get-nodes ``data`` is a list of
    ``{"node_id": int, "serial": bytes}``). Unlike the original, replies are read
    exactly, so split TCP segments do not misparse, and controls are audited (see the
    module docstring).
    """

    E2C_NUM_CHANNELS = 5
    E2C_INTERNAL_CHANNEL = E2C_INTERNAL_CHANNEL
    E2C_INTERNAL_NODE = E2C_INTERNAL_NODE

    @staticmethod
    def converter(text: str) -> int:
        """Parse ``"0x13"`` or ``"19"`` into an int, as the published CLI does."""
        text = text.strip()
        return int(text, 16) if text.lower().startswith("0x") else int(text)

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout: float = 5, verbose: bool = True) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.verbose = verbose
        self._client = Client(host, port, timeout)

    def __enter__(self) -> E2CClient:
        self._client._connect(time.monotonic() + self.timeout)
        if self.verbose:
            print(f"Opened socket connection to E2C {self.host} socket server")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self._client.close()
        if self.verbose:
            print("Socket closed successfully")
        if exc_type is not None:
            print(f"Exception occurred: {exc}")
        return False

    def send_request(
        self, resource_id: int, bus_id: int, node_id: int, can_addr: int, mode: int, data: bytes = b""
    ) -> tuple[int, Any]:
        """Send one request; return ``(error_code, data)`` without raising on E2C errors."""
        # The published client silently drops data for non-control modes and cuts it
        # to 8 bytes; keep the first behaviour, refuse the second (it hides mistakes).
        if mode == Mode.MONITOR and resource_id == 0:
            req = monitor_request(bus_id, node_id, can_addr)  # validated once per address
        else:
            payload = _control_bytes(data) if mode == Mode.CONTROL else b""
            req = Request(bus_id, node_id, can_addr, mode, payload, resource_id)  # validates mode
        if req.mode in (Mode.CONTROL, Mode.RESET):
            reply = audit.audited_send(
                lambda: self._client.request(req, check=False),
                req, host=self.host, port=self.port, via="E2CClient",
            )  # fmt: skip
        else:
            reply = self._client.request(req, check=False)
        if mode == Mode.GET_NODES and reply.error == 0:
            return reply.error, [{"node_id": n.node, "serial": n.esn} for n in reply.nodes]
        return reply.error, reply.data

    def get_temperature_c(self, channel: int, node: int) -> float:
        """AMBSI ambient temperature in °C (DS18S20, either byte order)."""
        error, data = self.send_request(0, channel, node, 0x30003, Mode.MONITOR)
        if error:
            raise E2CError(error, Request(channel, node, 0x30003), host=self.host)
        return decode_ds18s20(data)

    def get_nodes(self, channel: int) -> list[dict[str, Any]]:
        """List nodes on a channel, printing one line each like the published client."""

        error, nodes = self.send_request(0, channel, 0, 0, Mode.GET_NODES)
        if error:
            return []
        cat = default_catalog()
        for n in nodes:
            info = cat.node_info(n["node_id"])
            print(
                f"Channel: {channel}, Node id: {hex(n['node_id']).upper():>5s}, "
                f"ESN: 0x{n['serial'].hex().upper()}, {info.name} [{info.abbrev}]"
            )
        return nodes

    def get_all_nodes(self) -> list[list[Any]]:
        """``[[channel, nodes], ...]`` for every channel with at least one node."""
        out = []
        for channel in range(self.E2C_NUM_CHANNELS):
            nodes = self.get_nodes(channel)
            if nodes:
                out.append([channel, nodes])
        return out
