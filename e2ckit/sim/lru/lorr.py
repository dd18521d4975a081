"""The LORR (LO reference receiver, channel 0, node 0x22): §9.

Sourced (alma-hilse): STATUS is 2 bytes of flags, each flag also a point of its own;
RX_OPT_PWR a u16, mW = raw·20/4095. Simulated: a healthy receiver (DCM locked, nothing
else set) and its optical power.
"""

from __future__ import annotations

from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode, kind_of
from e2ckit.sim.physics import State

__all__ = ["LorrNode"]


class LorrNode(AmbsiNode):
    """The LORR's status flags and optical power."""

    #: STATUS bits (byte, bit) that are set on a healthy antenna: DCM locked (simulated)
    SET_BITS = frozenset({(0, 0)})

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        p = self.ant.catalog.point(f"LORR.{item}")
        if item == "STATUS":
            size = getattr(p, "size", None) or 2
            word = sum(1 << (8 * (size - 1 - byte) + bit) for byte, bit in self.SET_BITS)
            return word, 0
        if kind_of(p) == "bit" and p.rca == 0x00001:
            return int((p.byte, p.bit) in self.SET_BITS), 0
        if item == "RX_OPT_PWR":
            return 0.6 + 0.6 * self.u("lorr") + self.noise("lorr", st.t, 0.005), 0
        return None
