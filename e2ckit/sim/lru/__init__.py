"""The simulated LRUs of one antenna, one module per LRU family.

Every node behind the E2C is an AMBSI (:mod:`.ambsi`): it answers the generic points of §5
(serial number, revisions, CAN errors, transaction count, ambient temperature) and reboots
on an AMBSI reset. The LRU families with public point tables add their own points and
controls on top:

========  ===============================================================  ===========
module    LRU                                                              node
========  ===============================================================  ===========
femc      FEMC: cryostat temperatures, vacuum, pumps and valves (§7);     ch 1, 0x13
          with fetim (the thermal interlock, §13) and cartpower (§14)
cmpr      CMPR: helium compressor (§8)                                     ch 2/3, 0x25
acu       ACU: power-failure flag, cabin and pedestal temperatures (§9)    ch 2, 0x00
lorr      LORR: LO reference receiver status and optical power (§9)        ch 0, 0x22
feps      FEPS: front-end power supply rails, flags, output state (§12)   ch 1, 0x26
e2c       the E2C's own node: MAC, revisions, processor temperature (§5)   ch 5, 0x16
========  ===============================================================  ===========

Any other node (IFProc, DGCK, WVR...) is a plain :class:`~.ambsi.AmbsiNode`. The
:class:`~e2ckit.sim.model.AntennaModel` holds one object per (channel, node) and asks it
for point values and to honour controls: :func:`make_node` picks the class.
"""

from __future__ import annotations

from typing import Any

from e2ckit.sim.lru.acu import AcuNode
from e2ckit.sim.lru.ambsi import AMBSI_GENERIC, AMBSI_RESET_RCAS, AmbsiNode, esn_crc8, make_esn
from e2ckit.sim.lru.cmpr import CmprNode
from e2ckit.sim.lru.e2c import E2cNode
from e2ckit.sim.lru.femc import FemcNode
from e2ckit.sim.lru.feps import FepsNode
from e2ckit.sim.lru.lorr import LorrNode

__all__ = [
    "AMBSI_GENERIC",
    "AMBSI_RESET_RCAS",
    "NODE_CLASSES",
    "AcuNode",
    "AmbsiNode",
    "CmprNode",
    "E2cNode",
    "FemcNode",
    "FepsNode",
    "LorrNode",
    "esn_crc8",
    "make_esn",
    "make_node",
]

#: LRU abbreviation (as the catalog's inventory names it) → the class that simulates it
NODE_CLASSES: dict[str, type[AmbsiNode]] = {
    "FEMC": FemcNode,
    "CMPR": CmprNode,
    "ACU": AcuNode,
    "LORR": LorrNode,
    "FEPS": FepsNode,
    "E2C": E2cNode,
}


def make_node(ant: Any, channel: int, node: int, abbrev: str) -> AmbsiNode:
    """The simulated node for ``abbrev`` at (channel, node) of antenna model ``ant``."""
    cls = NODE_CLASSES.get(abbrev.upper(), AmbsiNode)
    return cls(ant, channel, node, abbrev.upper())
