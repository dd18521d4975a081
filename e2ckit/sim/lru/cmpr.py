"""The helium compressor (CMPR, node 0x25; channel 2 on DA/DV, 3 on CM/PM): §8.

Sourced (the compressor AMBSI firmware, morganmcleod/ALMA-COMPRESSOR-AMBSI1 ``src/main.c``):
no status byte; floats big-endian; the time-since-power-on/off counters count from the
last remote drive-on/off command the node accepted, or from the node's boot — not from
mains power — and read 0xFFFFFFFF once the 180 s / 420 s minimum times have passed; a
drive command inside those windows is ignored. Inferred: drive-on refused while the
cryostat is above 5e-4 mbar (the FETIM "safe to cool" permission, §7); after a FETIM
shutdown the FETIM status error (0x0D) reads 1, the drive stops and drive-on is refused. Simulated: values.
"""

from __future__ import annotations

import re
from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode
from e2ckit.sim.physics import MIN_OFF_S, MIN_ON_S, SAFE_TO_COOL_MBAR, State

__all__ = ["CmprNode", "counter"]

_TEMP_RE = re.compile(r"TEMP(\d)")
_FLAGS_OK = frozenset(
    ("PRESSURE_ALARM", "TEMP_ALARM", "ICCU_STATUS_ERROR", "ICCU_CABLE_ERROR", "FETIM_CABLE_ERROR")
)  # fmt: skip


def counter(seconds: float, window: float) -> int:
    """Compressor time counters (§8): seconds, or 0xFFFFFFFF once the window has passed."""
    if not seconds < window:
        return 0xFFFFFFFF
    return max(0, int(seconds))


class CmprNode(AmbsiNode):
    """The compressor's points and its drive and reset controls."""

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        d, t = st.disc, st.t
        m = _TEMP_RE.fullmatch(item)
        if m and 1 <= int(m.group(1)) <= 4:
            i = int(m.group(1)) - 1
            return st.cmpr_c[i] + self.noise(f"CT{i}", t, 0.05), 0
        if item == "SUPPLY_PRESSURE":
            return st.supply_mpa + self.noise("PS", t, 0.003), 0
        if item == "RETURN_PRESSURE":
            return st.return_mpa + self.noise("PR", t, 0.003), 0
        if item == "AUX2":
            return 2.5 + self.noise("AUX2", t, 0.01), 0  # raw volts (simulated)
        if item in _FLAGS_OK:
            return 0, 0
        if item == "FETIM_STATUS_ERROR":  # the FETIM's interlock line after a shutdown (inferred)
            return int(d.fetim_shutdown), 0
        if item == "DRIVE":
            return int(st.compressor_running), 0
        if item == "INTERLOCK_OVERRIDE":
            return int(d.override), 0
        if item == "ECU_TYPE":
            return (1 if self.ant.family in ("CM", "PM") else 0), 0  # ACA Japanese (inferred)
        if item == "FAULT":
            return int(d.fault), 0
        if item == "SW_REV":
            return (1, 2, 0), 0  # simulated
        if item == "TIME_SINCE_POWER_ON":
            return counter(st.since_on, MIN_ON_S), 0
        if item == "TIME_SINCE_POWER_OFF":
            return counter(st.since_off, MIN_OFF_S), 0
        return None

    def reset(self, t: float) -> None:
        """An AMBSI reset reboots the compressor's node: both timers count from ``t``."""
        super().reset(t)
        self.ant.physics.add_event(t, "cmpr_boot")

    def control(self, item: str, on: bool, data: bytes, st: State, t: float) -> tuple[bool, str] | None:
        d, ph = st.disc, self.ant.physics
        if item == "SET_DRIVE":
            if on:
                if d.drive:
                    return True, "already running"
                if d.fault:
                    return False, "compressor fault latched: reset it first"
                if d.fetim_shutdown:
                    return False, "FETIM status error: the front end was shut down by the FETIM (inferred interlock)"
                if st.since_off < MIN_OFF_S:
                    return False, (
                        f"inside the {MIN_OFF_S:.0f} s minimum-off window (counted from the "
                        "last drive-off command or the compressor node's boot)"
                    )
                if self.ant.pressure_interlock and not d.override and st.p_cryo > SAFE_TO_COOL_MBAR:
                    return False, "cryostat above 5e-4 mbar: not safe to cool (FETIM interlock, inferred)"
                ph.add_event(t, "drive", True)
                return True, "compressor starting"
            if not d.drive:
                return True, "already stopped"
            if st.since_on < MIN_ON_S:
                return False, (
                    f"inside the {MIN_ON_S:.0f} s minimum-on window (counted from the last "
                    "drive-on command or the compressor node's boot)"
                )
            ph.add_event(t, "drive", False)
            return True, "compressor stopping"
        if item in ("SET_RESET", "SET_FAULT_LATCH_RESET"):
            if d.fault:
                ph.add_event(t, "fault", False)
                return True, "fault latch cleared"
            return True, "nothing latched"
        return None
