"""The FEPS (front-end power supply, channel 1, node 0x26): §9.

Sourced: the RCAs and float layout. Simulated: voltages within 1 % of nominal, currents
and temperatures, fixed per antenna with a little noise.
"""

from __future__ import annotations

import re
from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode
from e2ckit.sim.physics import State

__all__ = ["FepsNode"]

_VOLT_RE = re.compile(r"V_([PN])(\d+)")


class FepsNode(AmbsiNode):
    """The FEPS's voltages, currents and temperatures."""

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        u = self.u(f"feps{item}")
        m = _VOLT_RE.fullmatch(item)
        if m:  # supply voltages within 1 % of nominal (simulated)
            nominal = float(m.group(2)) * (1 if m.group(1) == "P" else -1)
            return nominal * (1.0 + 0.02 * (u - 0.5)) + self.noise(item, st.t, 0.003), 0
        if item.startswith("I_"):
            return 0.3 + 2.0 * u + self.noise(item, st.t, 0.005), 0
        if item.startswith("TEMP"):
            return 30.0 + 10.0 * u + self.noise(item, st.t, 0.05), 0
        return None
