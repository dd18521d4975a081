"""The E2C's own node (channel 5, node 0x16): §5.

Sourced: the serial number is the E2C's MAC address; the HW_REV RCA answers the U-Boot
revision; 0x0000E is the processor temperature (big-endian float, °C). Simulated: a
locally administered MAC, the revisions and the temperature.
"""

from __future__ import annotations

from typing import Any

from e2ckit.sim.lru.ambsi import UBOOT_REV, AmbsiNode
from e2ckit.sim.physics import State, seed_int

__all__ = ["E2cNode"]


class E2cNode(AmbsiNode):
    """The E2C's serial number (MAC), revisions and processor temperature."""

    def _serial(self) -> bytes:
        """The E2C's serial number is its MAC address (§5); a locally administered one here
        (simulated), padded to 8 bytes."""
        mac = bytes([0x02]) + seed_int("mac", self.ant.name, self.ant.seed).to_bytes(8, "big")[:5]
        return mac + b"\x00\x00"

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        if item == "SERIAL_NUMBER":
            return self.esn, 0
        if item == "PROTOCOL_REV":
            return (1, 0, 0), 0
        if item == "SW_REV":
            return (2, 3, 1), 0  # simulated
        if item == "UBOOT_REV":
            return UBOOT_REV, 0  # simulated
        if item == "PROCESSOR_TEMP":
            return 47.0 + 4.0 * self.u("cpu") + self.noise("cpu", st.t, 0.3), 0
        return None
