"""The FEMC's power distribution: cartridge power by band (§14), served by the FEMC node.

Sourced (ALMA-FEMC ``powerDistribution.h``, ``pdModule.c``): cartridge c = band c+1; the
enable reads 0 off, 1 on, 2 standby-2 (the register of the last accepted command, not a
hardware read-back); cartridges are off after an FEMC boot; the enable rules the firmware
enforces — at most 3 cartridges on in operation (MAX_POWERED_BANDS_OPERATIONAL) plus at most
1 in standby-2 (MAX_STANDBY2_BANDS_OPERATIONAL), standby-2 for band 6 only, an enable byte
other than 0, 1, 2 refused; "modules powered" (0xA0A0) counts the cartridges on, not those
in standby-2. Troubleshooting mode (10 on) is not simulated.

Simulated: the channel voltages (nominal ±1 %) and currents; 0 V while the cartridge is off
or the FEPS outputs are off (inferred: the cartridges are fed from the FEPS rails).
"""

from __future__ import annotations

import re
from typing import Any

from e2ckit.sim.physics import State

__all__ = ["BAND6", "MAX_ON", "MAX_STANDBY2", "cart_control", "cart_value"]

MAX_ON = 3  # firmware MAX_POWERED_BANDS_OPERATIONAL
MAX_STANDBY2 = 1  # firmware MAX_STANDBY2_BANDS_OPERATIONAL
BAND6 = 5  # the only cartridge index allowed in standby-2 (pdModule.c allowStandby2)
#: channel key → nominal volts (pdModule.h PD_MODULE.pdChannel order)
_NOMINAL = {"P6V": 6.0, "N6V": -6.0, "P15V": 15.0, "N15V": -15.0, "P24V": 24.0, "P8V": 8.0}
_RE = re.compile(r"BAND(\d+)_(P6V|N6V|P15V|N15V|P24V|P8V)_(CURRENT|VOLTAGE)")
_EN_RE = re.compile(r"(?:SET_)?BAND(\d+)_ENABLE")


def cart_value(node: Any, item: str, st: State) -> tuple[Any, int] | None:
    """(value, FEMC status) of a power-distribution point, or None for another item."""
    carts = st.disc.carts
    if item == "POWERED_MODULES":
        return sum(1 for c in carts if c == 1), 0
    m = _EN_RE.fullmatch(item)
    if m and not item.startswith("SET_"):
        return carts[int(m.group(1)) - 1], 0
    m = _RE.fullmatch(item)
    if not m:
        return None
    c, ch, what = int(m.group(1)) - 1, m.group(2), m.group(3)
    state = carts[c]
    level = 0.0 if not st.disc.feps_on or state == 0 else 1.0
    u = node.u(f"pd{c}{ch}")
    if what == "VOLTAGE":
        return level * _NOMINAL[ch] * (1.0 + 0.02 * (u - 0.5)) + level * node.noise(item, st.t, 0.002), 0
    # standby-2 keeps the warm electronics and drops the cold ones: less current (simulated)
    amps = (0.05 + 0.6 * u) * (0.4 if state == 2 else 1.0)
    return level * amps, 0


def cart_control(node: Any, item: str, data: bytes, st: State, t: float) -> tuple[bool, str] | None:
    """Honour a cartridge enable as the firmware does, or refuse it saying which rule."""
    m = _EN_RE.fullmatch(item)
    if not m or not item.startswith("SET_"):
        return None
    c = int(m.group(1)) - 1
    want = data[0] if data else 0
    carts = st.disc.carts
    now = carts[c]
    if want not in (0, 1, 2):
        return False, f"refused: enable value {want} is not 0, 1 or 2 (firmware: illegal payload)"
    if want == now:
        return True, "already in the commanded state"
    if want == 2 and c != BAND6:
        return False, f"refused: standby-2 is allowed for band 6 only, not band {c + 1} (firmware pdModule.c)"
    on = sum(1 for x in carts if x == 1)
    sb2 = sum(1 for x in carts if x == 2)
    if want == 1 and on >= MAX_ON:
        return False, f"refused: {on} cartridges already on; at most {MAX_ON} in operation (firmware MAX_POWERED_BANDS_OPERATIONAL)"
    if want == 2 and sb2 >= MAX_STANDBY2:
        return False, f"refused: at most {MAX_STANDBY2} cartridge in standby-2 (firmware MAX_STANDBY2_BANDS_OPERATIONAL)"
    node.ant.physics.add_event(t, "cart", (c, want))
    return True, f"band {c + 1} " + {0: "off", 1: "on", 2: "to standby-2"}[want]
