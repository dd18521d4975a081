"""The FEPS (front-end power supply, channel 1, node 0x26): §12.

Sourced (ALMA-FEControl ``PowerSupplyTestFixture``, through §12): the RCAs, big-endian
floats with no status byte, the flag bytes 0/1, OUTPUT_STATE, SET_ENABLE_PWR at 0x01001
and the 10 s the test fixture waits after it before reading.

Inferred (labelled so): after a power cut the outputs stay off until SET_ENABLE_PWR; a
protection trip (TEMP_ERR, OVER_VOLT, OVERLOAD) or a system interlock drops the outputs and
SET_ENABLE_PWR is refused while it is present; the FEMC keeps answering while the outputs
are off (nothing public says whether its controller is fed by the FEPS: the simulator keeps
it talking, so an engineer sees the cartridges' rails at 0 V rather than a silent FEMC).

Simulated: voltages within 1 % of nominal once settled (a ramp of ``FEPS_SETTLE_S`` after
an enable), currents and temperatures fixed per antenna with a little noise, the
identification strings.
"""

from __future__ import annotations

import re
from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode
from e2ckit.sim.physics import FEPS_SETTLE_S, FEPS_TRIPS, State

__all__ = ["FepsNode"]

_VOLT_RE = re.compile(r"V_([PN])(\d+)")
_FLAG_RE = re.compile(r"(TEMP_WARN|TEMP_ERR|OVER_VOLT|OVERLOAD|UNDER_VOLT|COMM_FAIL)_[PN]\d+")
#: identification (simulated)
_IDS: dict[str, Any] = {
    "ID_NAME": b"FEPS-SIM",
    "ID_UNIT": b"UNIT-001",
    "ID_SFTW_REV": (1, 4),
    "ID_SER_NUM": 17,
    "SW_REV": (2, 1, 0),
}


class FepsNode(AmbsiNode):
    """The FEPS's rails, flags, interlocks, output state and SET_ENABLE_PWR."""

    def level(self, st: State) -> float:
        """Fraction of nominal the outputs are at: 0 off, ramping to 1 after an enable."""
        d = st.disc
        if not d.feps_on:
            return 0.0
        return min(1.0, max(0.0, (st.t - d.feps_on_since) / FEPS_SETTLE_S))

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        u = self.u(f"feps{item}")
        m = _VOLT_RE.fullmatch(item)
        if m:  # supply voltages within 1 % of nominal once settled (simulated)
            nominal = float(m.group(2)) * (1 if m.group(1) == "P" else -1)
            on = self.level(st)
            return on * nominal * (1.0 + 0.02 * (u - 0.5)) + self.noise(item, st.t, 0.003), 0
        if item.startswith("I_"):
            on = self.level(st)
            return on * (0.3 + 2.0 * u) + self.noise(item, st.t, 0.005) * on, 0
        if item.startswith("TEMP") and item[4:].isdigit():
            # modules a few degrees warmer while they deliver power (simulated)
            return 25.0 + (5.0 + 10.0 * u) * (st.disc.feps_on) + self.noise(item, st.t, 0.05), 0
        if _FLAG_RE.fullmatch(item) or item in ("SYS_INTRLK_A", "SYS_INTRLK_B"):
            return 0, 0  # injected flags answer through the model's flag table
        if item == "OUTPUT_STATE":
            return int(st.disc.feps_on), 0
        if item in _IDS:
            return _IDS[item], 0
        return None

    def control(self, item: str, on: bool, data: bytes, st: State, t: float) -> tuple[bool, str] | None:
        if item != "SET_ENABLE_PWR":
            return None
        d = st.disc
        if on:
            trips = [n for n, v in d.flags if v and n.startswith("FEPS.") and n[5:].startswith(FEPS_TRIPS)]
            if trips:
                return False, f"refused: {', '.join(trips)} present (inferred: clear the trip first)"
            if d.feps_on:
                return True, "outputs already on"
        self.ant.physics.add_event(t, "feps", on)
        return True, "FEPS outputs " + ("on (readings settle within 10 s)" if on else "off")
