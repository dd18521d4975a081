"""``--format e2c``: the plain text the published ``e2c-client`` 0.2.2 prints, for
scripts that parse it (``Error: 0  (No error)``, ``Data: ...``, ``Temperature: ...``).

For the same reply the text is byte for byte e2c-client's (checked against e2c-client
itself in tests/test_cli_e2c_text.py) for ``monitor request``, ``monitor nodes``,
``control request``, ``tools temperature`` and ``tools revision --host``. Where
e2c-client is wrong, e2ckit is not (README, "Where --format e2c differs"):

* a host that does not answer is one ``Error: ...`` line in e2ckit's words (e2c-client
  prints Python's exception text) and a non-zero exit status (e2c-client exits 0);
* ``tools temperature`` on an E2C error reply prints the error (e2c-client tries to
  decode the empty data and prints ``Error: unpack requires a buffer of 4 bytes``);
* a channel whose node listing fails is reported on stderr (e2c-client prints nothing);
* the exit status follows e2ckit's exit table (e2c-client always exits 0).

This module renders, and makes the requests behind the text for :mod:`e2ckit.cli.e2c` and
:mod:`e2ckit.cli.control`: through :class:`e2ckit.client.Client` on one connection, as
e2c-client does, or, for an endpoint with a driver of its own (the ``--simulate`` array,
answering in memory), through that driver (:func:`send_one`).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from e2ckit.cli.options import check_writable_file
from e2ckit.errors import ErrorCode, ProtocolError, TransportError

if TYPE_CHECKING:
    from e2ckit.array import Endpoint
    from e2ckit.wire.frames import Reply, Request

__all__ = [
    "E2C_FORMAT",
    "control_text",
    "lru_name",
    "monitor_text",
    "nodes_text",
    "revision_text",
    "temperature_text",
    "wants_e2c_text",
]

E2C_FORMAT = "e2c"

#: The error descriptions e2c-client prints after the code (its wording, which follows
#: the E2C ICD's table; e2ckit's own, in e2ckit.errors, are longer). A code outside the
#: table gets an empty description, as in e2c-client.
_E2C_CLIENT_WORDING = {
    ErrorCode.NO_ERROR: "No error",
    ErrorCode.TIMEOUT_ERROR: "CAN Bus Timeout",
    ErrorCode.REQUEST_ERROR: "Received request could not be parsed",
    ErrorCode.MONUNPK_ERROR: "Unable to unpack monitor data",
    ErrorCode.MANAGER_UNAVBLE: "Requested Manager Unavailable",
    ErrorCode.ILLEGAL_MGRNAME: "Request for an unknown Manager",
    ErrorCode.CANDRV_ERROR: "Low level can driver failure",
    ErrorCode.CONUNPK_ERROR: "Error unpacking Control data structure",
    ErrorCode.BADCHAN_ERROR: "Requested Channel unavailable for manager",
    ErrorCode.CANWRT_ERROR: "Error writing to the CAN bus",
    ErrorCode.CANREAD_ERROR: "Error reading from the CAN bus",
    ErrorCode.FLUSHED_ERROR: "Operation was flushed by Server",
    ErrorCode.READ_PERM_DENIED: "Permission to read from specified AmbManager Denied",
    ErrorCode.WRITE_PERM_DENIED: "Permission to write to specified AmbManager Denied",
    ErrorCode.ACCESS_DENIED: "The AmbManager denied read/write access",
    ErrorCode.UNKNOWN_ERROR: "Otherwise undefined error condition",
}

#: Node names where e2c-client's listing spells an LRU differently from our catalog
#: (e2ckit.catalog's nodes.csv): e2c-client gives these no abbreviation, or another
#: name. Every other node prints as "<catalog name> [<abbreviation>]".
_E2C_CLIENT_NODE_NAMES = {
    0x01: "Pointing Computer",
    0x16: "Unknown",  # the E2C's own node: not in e2c-client's list
    0x1D: "Holography DSP      [HoloDSP]",
    0x1E: "125MHz Reference Distributor",
    0x1F: "Optical Pointing Telescope",
    0x21: "Nutator",
    0x23: "Frontend Assembly",
    0x25: "Compressor [CMPR]",
    0x31: "5MHz Distributor",
}

#: e2c-client's labels of the three revision RCAs of the E2C's own node, in its order
REVISION_RCAS = ((0x30000, "Protocol"), (0x30004, "Software"), (0x30005, "U-Boot"))


def wants_e2c_text(fmt: str | None) -> bool:
    """Whether ``--format`` asks for e2c-client's text."""
    return fmt is not None and fmt.strip().lower() == E2C_FORMAT


def _description(code: int) -> str:
    try:
        return _E2C_CLIENT_WORDING[ErrorCode(code)]
    except ValueError:
        return ""


def _hex_list(data: bytes) -> str:
    # Python's hex(): 0x0, 0x4b (lower case, no padding), as e2c-client prints bytes
    return ", ".join(hex(b) for b in data)


def monitor_text(code: int, data: bytes, interpret: str | None = None) -> str:
    """``monitor request``: the error line, the data bytes, and the interpreted value."""
    lines = [f"Error: {code}  ({_description(code)})", "Data: ", _hex_list(data)]
    if interpret:
        fmt = interpret.strip()
        try:
            value = struct.unpack(fmt, data)[0]
        except struct.error as exc:
            lines.append(f"Error interpreting data with format '{fmt}': {exc}")
        else:
            lines.append(f"Interpreted data:\n {value}")
    return "\n".join(lines) + "\n"


def control_text(code: int, data: bytes) -> str:
    """``control request``: the error code (no description) and the reply's data."""
    return f"Error: {code}\nData: \n{_hex_list(data)}\n"


def lru_name(node: int, catalog_name: str, abbrev: str) -> str:
    """A node's name as e2c-client's listing prints it."""
    if node in _E2C_CLIENT_NODE_NAMES:
        return _E2C_CLIENT_NODE_NAMES[node]
    if not abbrev or abbrev == "?":
        return "Unknown"
    return f"{catalog_name} [{abbrev}]"


def nodes_text(listing: Iterable[tuple[int, int, bytes, str]]) -> str:
    """``monitor nodes``: one line per (channel, node, ESN, name), in listing order."""
    return "".join(
        f"Channel: {ch}, Node id: {hex(node).upper():>5s}, ESN: 0x{esn.hex().upper()}, {name}\n"
        for ch, node, esn, name in listing
    )


def temperature_text(celsius: float) -> str:
    """``tools temperature``: Python's repr of the DS18S20 reading in °C."""
    return f"Temperature: {celsius} [C]\n"


def revision_text(replies: Sequence[tuple[int, str, int, bytes]]) -> str:
    """``tools revision --host``: (rca, label, error code, data) per revision RCA."""
    lines = []
    for rca, label, code, data in replies:
        if code == 0:
            lines.append(f"{label} revision: {'.'.join(str(b) for b in data)}")
        else:
            lines.append(f"Error retrieving revision for RCA {hex(rca)}: {code} ({_description(code)})")
    return "".join(line + "\n" for line in lines)


def verbose_lines(host: str, text: str) -> str:
    """``--verbose``: e2c-client's socket lines around ``text`` (on stdout, as it does)."""
    return f"Opened socket connection to E2C {host} socket server\n{text}Socket closed successfully\n"


# -- the exchanges behind the text ------------------------------------------------------


def print_text(text: str, output: str | None) -> None:
    """The text on stdout, or into ``-o FILE``."""
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def exchange(ep: Endpoint, requests: Sequence[Request], timeout: float) -> list[Reply] | str:
    """Send ``requests`` on one connection, as e2c-client does (or through ``ep``'s own
    driver); the replies, or the failure's text when the E2C could not be reached or
    broke off."""
    from e2ckit.client import Client  # noqa: PLC0415 (the network loads only when a command runs)

    try:
        if ep.transport is not None:
            return [send_one(ep, r, timeout) for r in requests]
        with Client(ep.host, ep.port, timeout=timeout) as c:
            return [c.request(r, check=False) for r in requests]
    except (TransportError, ProtocolError) as exc:
        failure = getattr(exc, "failure", None)
        return failure.text if failure is not None else " ".join(str(exc).split())


def send_one(ep: Endpoint, request: Request, timeout: float) -> Reply:
    """One request to an endpoint that has a driver of its own (``ep.transport``: the
    ``--simulate`` array in memory): its reply (an E2C error is a reply, as the Client's
    ``check=False`` gives it), or the exception the Client raises for the same failure."""
    from e2ckit import transport  # noqa: PLC0415 (the network loads only when a command runs)

    got = transport.exchange_results({ep.antenna: (ep, [request])}, timeout=timeout)[ep.antenna][0]
    if got.reply is None:
        raise got.failure.exception(ep.host, ep.port, request)  # type: ignore[union-attr]
    return got.reply



def check_e2c_output(output: str | None) -> None:
    """``-o FILE`` with ``--format e2c``: writable, checked before anything is sent."""
    if output is not None:
        check_writable_file(output, "-o")
