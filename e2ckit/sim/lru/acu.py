"""The ACU (antenna control unit, channel 2, node 0x00): §9.

Sourced: SYSTEM_STATUS byte 1 bit 1 is the power-failure flag; GET_ANTENNA_TEMPS is two
i16 in 0.01 °C. Simulated: the flag latched from power return until the ACU is reset;
cabin and pedestal temperatures (with a daily swing on the pedestal).
"""

from __future__ import annotations

import math
from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode
from e2ckit.sim.physics import NEVER, State

__all__ = ["ACU_CHANNEL", "ACU_NODE", "AcuNode"]

ACU_NODE = 0x00
ACU_CHANNEL = 2


class AcuNode(AmbsiNode):
    """The ACU's power-failure latch and antenna temperatures."""

    def __init__(self, ant: Any, channel: int, node: int, abbrev: str) -> None:
        super().__init__(ant, channel, node, abbrev)
        self.latch_cleared = NEVER  # last reset: clears the power-failure latch

    def reset(self, t: float) -> None:
        super().reset(t)
        self.latch_cleared = t

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        if item == "POWER_FAILURE":
            # latched from power return until the ACU is reset (simulated)
            boot = st.disc.boot
            return int(boot > NEVER and boot > self.latch_cleared), 0
        if item == "CABIN_TEMP":
            return 19.0 + 3.0 * self.u("cabin") + self.noise("cabin", st.t, 0.05), 0
        if item == "PEDESTAL_TEMP":
            day = 2 * math.pi * ((st.t % 86400.0) / 86400.0 - 0.25)
            return 8.0 + 4.0 * self.u("ped") + 3.0 * math.sin(day), 0  # daily swing (simulated)
        return None
