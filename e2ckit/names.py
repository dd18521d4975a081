"""Names and numbers every part of e2ckit agrees on, defined once.

Antenna names and families, the E2C's port and channels, the limits of the request
layout, and the default sweep deadline. Imports nothing of e2ckit, so any module (the
codec, the engine, the simulator, the CLI) can use it without an import circle.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = [
    "ANTENNA_RE",
    "ANTENNA_FAMILY_RE",
    "DEFAULT_PORT",
    "E2C_INTERNAL_CHANNEL",
    "E2C_INTERNAL_NODE",
    "FAMILIES",
    "LRU_CHANNELS",
    "MAX_CHANNEL",
    "MAX_NODE",
    "MAX_RCA",
    "default_deadline",
    "selected",
]

#: The four ALMA antenna families, by the two letters an antenna name starts with.
FAMILIES = ("CM", "DA", "DV", "PM")
#: An exact antenna name, ``DV01``: family, two digits (group 1 is the family).
ANTENNA_RE = re.compile(r"^(CM|DA|DV|PM)(\d{2})$")
#: A family followed by any number of digits (``DV1``, ``DV001``): what the CLI takes as
#: meant to be an antenna (and then checks exactly), rather than as a host name.
ANTENNA_FAMILY_RE = re.compile(r"^(CM|DA|DV|PM)\d+$")

#: The TCP port an E2C's socket server listens on.
DEFAULT_PORT = 2000

#: Channels an E2C serves to antenna LRUs (channel 5 is its own internal node).
LRU_CHANNELS = (0, 1, 2, 3, 4)
#: The E2C's own node lives on channel 5.
E2C_INTERNAL_CHANNEL = 5
E2C_INTERNAL_NODE = 0x16

#: Highest channel number the request layout can carry (u16); the E2C itself has 0-5.
MAX_CHANNEL = 0xFFFF
#: ``node + 1`` must fit the 11-bit node field of the CAN id, so 0x7FE is the highest
#: addressable node. A get-nodes listing that names a higher one names no real node.
MAX_NODE = 0x7FE
#: The relative CAN address is the low 18 bits of the CAN id.
MAX_RCA = 0x3FFFF


def default_deadline(timeout: float) -> float:
    """The whole-sweep deadline when none is given: ``2 × timeout + 0.5`` s.

    Room for one request that times out and one more that answers, plus connecting.
    """
    return timeout * 2 + 0.5


def selected(antenna: str, wanted: Collection[str]) -> bool:
    """Whether ``antenna`` is among ``wanted`` (upper-case antenna names and two-letter
    families, ``"DV"``): the one rule that matches a user's selection against names already
    at hand (a log's antennas, a figure's). :meth:`e2ckit.array.Array.select` resolves a
    selection against a host map, where an unknown name is an error."""
    name = antenna.upper()
    return name in wanted or name[:2] in wanted
