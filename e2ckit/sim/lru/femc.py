"""The FEMC (front-end monitor and control, channel 1, node 0x13): the cryostat (§7).

Sourced from the FEMC firmware (morganmcleod/ALMA-FEMC, ``arcom_fe_mc/``) through §7:

* every "standard" monitor reply is the value and one signed status byte;
* −3 (blocked) for the turbo points and the 230 V current while the backing pump is off;
* −3 on the temperatures, pressures, 230 V current and cold-head hours while asynchronous
  monitoring is off (``cryostatTemp.c``, ``vacuumSensor.c``, ``cryostat.c``);
* in maintenance mode every standard monitor reply is the status byte −3 alone (one byte:
  ``can.c`` sends before any handler sets a payload) and every control is ignored;
* the solenoid valve reports −3 whenever its read-back differs from the commanded state
  (``solenoidValve.c``) — here: commanded open while the backing pump, which powers it,
  is off;
* the cold-head hours are a u16 (``cryostat.c``: cast to ``unsigned int``), so they wrap
  at 65,535 h, and count while at least two of TEMP0, TEMP5, TEMP9 are below 265 K;
* controls refused: turbo, gate valve and solenoid valve while the backing pump is off;
  turbo on while the FETIM turbo temperature is outside 10–45 °C (``turboPump.c``); the
  gate valve while it reads unknown, i.e. moving (``gateValve.c``).

The FEMC also serves the FETIM (``fetim.py``, §13) and the cartridge power distribution
(``cartpower.py``, §14). After a FETIM shutdown the firmware exits: every module point (and
control) of the FEMC goes unanswered (CAN timeout) while its AMBSI's generic points still
answer (§13; the AMBSI is a separate controller).

Simulated: the values themselves (stage temperatures from the physics, per-sensor
offsets, noise), the gate valve's travel time, the 230 V loads, the FETIM turbo
temperature, the gauge-off answer of the pressures.
"""

from __future__ import annotations

import re
from typing import Any

from e2ckit.sim.lru.ambsi import AmbsiNode
from e2ckit.sim.lru.cartpower import cart_control, cart_value
from e2ckit.sim.lru.fetim import fetim_value
from e2ckit.sim.physics import COLDHEAD_WRAP, State, seeded_rng

__all__ = ["FEMC_BLOCKED", "GATE_MOVING_S", "TURBO_TEMP_RANGE_C", "FemcNode"]

#: FEMC status byte: blocked by hardware state, interlock, maintenance mode or async off (§7)
FEMC_BLOCKED = -3
#: the gate valve reads 2 (unknown/moving) this long after a command (simulated)
GATE_MOVING_S = 5.0
#: the turbo pump may start only while the FETIM turbo temperature is inside this range
#: (°C; firmware turboPump.h TURBO_PUMP_MIN/MAX_TEMPERATURE)
TURBO_TEMP_RANGE_C = (10.0, 45.0)
#: points the asynchronous monitoring refreshes: they answer −3 while it is off
_ASYNC_ITEMS = frozenset(
    [f"TEMP{k}" for k in range(13)]
    + ["CRYOSTAT_PRESSURE", "PORT_PRESSURE", "SUPPLY_CURRENT_230V", "COLDHEAD_HOURS"]
)
_TEMP_RE = re.compile(r"TEMP(\d+)")


class FemcNode(AmbsiNode):
    """The FEMC's cryostat points and vacuum controls, from the antenna's physics."""

    def __init__(self, ant: Any, channel: int, node: int, abbrev: str) -> None:
        super().__init__(ant, channel, node, abbrev)
        self.offsets = _sensor_offsets(ant.name, ant.seed)
        #: front end in maintenance mode: standard replies are the status byte −3 alone
        self.maintenance = False
        #: asynchronous monitoring on (the firmware's default); off: −3 on what it refreshes
        self.async_monitoring = True
        #: FETIM external turbo-pump temperature (°C, simulated; not a catalog point)
        self.fetim_turbo_c = seeded_rng("fetim", ant.name, ant.seed).uniform(15.0, 30.0)

    def silent(self, st: State) -> bool:
        """After a FETIM shutdown the FEMC firmware has exited (§13)."""
        return st.disc.fetim_shutdown

    def reply_override(self, p: Any, st: State) -> bytes | None:
        if self.maintenance and getattr(p, "femc_status", False):
            return bytes([FEMC_BLOCKED & 0xFF])
        return None

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        out = self._value(item, st)
        if out is not None and not self.async_monitoring and item in _ASYNC_ITEMS:
            return out[0], FEMC_BLOCKED
        return out

    def _value(self, item: str, st: State) -> tuple[Any, int] | None:
        d, t = st.disc, st.t
        m = _TEMP_RE.fullmatch(item)
        if m:
            k = int(m.group(1))
            if not 0 <= k <= 12:
                return None
            stage = st.stages[0 if k <= 4 else 1 if k <= 8 else 2]
            # offsets shrink as the stages converge on ambient (simulated); noise ≈ 0.1 %
            off = self.offsets[k] * max(0.2, 1.0 - stage / 300.0)
            return stage + off + self.noise(f"T{k}", t, 0.001 * stage + 0.002), 0
        blocked = not d.backing  # §7: turbo points answer 253 while the backing pump is off
        if item == "BACKING_PUMP":
            return int(d.backing), 0
        if item == "TURBO_PUMP":
            return (0, FEMC_BLOCKED) if blocked else (int(d.turbo), 0)
        if item == "TURBO_STATE":
            return (0, FEMC_BLOCKED) if blocked else (0, 0)
        if item == "TURBO_SPEED":
            return (0, FEMC_BLOCKED) if blocked else (int(st.turbo_at_speed), 0)
        if item == "GATE_VALVE":
            if self.gate_moving(st):
                return 2, 0  # unknown/moving (simulated travel time)
            return int(d.gate), 0
        if item == "SOLENOID_VALVE":
            # the valve is powered through the backing pump: with it off the valve reads
            # closed whatever was commanded, and a read-back that differs from the command
            # is reported as blocked (firmware solenoidValve.c)
            read_back = int(d.solenoid and d.backing)
            return read_back, (FEMC_BLOCKED if read_back != int(d.solenoid) else 0)
        if item in ("CRYOSTAT_PRESSURE", "PORT_PRESSURE"):
            if not d.gauge:
                return -1.0, FEMC_BLOCKED  # gauge off: error sentinel, blocked (inferred)
            p = st.p_cryo if item == "CRYOSTAT_PRESSURE" else st.p_port
            return p * (1.0 + self.noise(item, t, 0.02)), 0
        if item == "VACUUM_GAUGE":
            return int(d.gauge), 0
        if item == "VACUUM_GAUGE_STATE":
            return 0, 0
        if item == "SUPPLY_CURRENT_230V":
            if blocked:
                return 0.0, FEMC_BLOCKED  # §7: 253 unless the backing pump is on
            amps = 1.1 + (0.9 if d.turbo else 0.0)  # simulated pump loads
            return amps + self.noise("I230", t, 0.02), 0
        if item == "COLDHEAD_HOURS":
            # the meter counts whole hours; the reply is its low 16 bits (§7)
            return int(st.coldhead_hours) % COLDHEAD_WRAP, 0
        return fetim_value(self, item, st) or cart_value(self, item, st)

    def gate_moving(self, st: State) -> bool:
        """True while the gate valve travels after a command (it reads 2, unknown)."""
        return st.t - st.disc.gate_since < GATE_MOVING_S

    def control(self, item: str, on: bool, data: bytes, st: State, t: float) -> tuple[bool, str] | None:
        d, ph = st.disc, self.ant.physics
        if self.maintenance:
            return False, "front end in maintenance mode: controls are ignored"
        if item.startswith("SET_BAND"):
            return cart_control(self, item, data, st, t)
        if item == "SET_BACKING_PUMP":
            ph.add_event(t, "backing", on)
            return True, "backing pump " + ("on" if on else "off (turbo stops, gate closes)")
        if item in ("SET_TURBO_PUMP", "SET_GATE_VALVE", "SET_SOLENOID_VALVE") and not d.backing:
            # the backing pump powers the electronics of all three (firmware: HARDW_BLKD_ERR)
            return False, "refused: the backing pump is off (it powers the pump and valve electronics)"
        if item == "SET_TURBO_PUMP":
            lo, hi = TURBO_TEMP_RANGE_C
            if on and not lo <= self.fetim_turbo_c <= hi:
                return False, (
                    f"refused: FETIM turbo temperature {self.fetim_turbo_c:.1f} °C is outside "
                    f"{lo:.0f}-{hi:.0f} °C"
                )
            ph.add_event(t, "turbo", on)
            return True, "turbo " + ("spinning up" if on else "off (gate closes)")
        if item == "SET_GATE_VALVE":
            if self.gate_moving(st):
                return False, "refused: the gate valve reads unknown (still moving)"
            ph.add_event(t, "gate", on)
            return True, "gate valve " + ("opening" if on else "closing")
        if item == "SET_SOLENOID_VALVE":
            ph.add_event(t, "solenoid", on)
            return True, "solenoid valve " + ("open" if on else "closed")
        if item == "SET_VACUUM_GAUGE":
            ph.add_event(t, "gauge", on)
            return True, "vacuum gauge " + ("on" if on else "off")
        return None


def _sensor_offsets(name: str, seed: int) -> list[float]:
    """Fixed per-sensor offsets (K) of the 13 cryostat sensors (simulated): cryocooler
    sensors read a little colder than the plates they cool, shields a little warmer."""
    r = seeded_rng("sensors", name, seed)
    spread = [0.08] * 5 + [0.4] * 4 + [1.5] * 4
    bias = [-0.05, 0.02, 0.03, 0.06, 0.07, -0.3, 0.1, 0.2, 0.4, -1.0, 0.5, 1.0, 2.0]
    return [b + r.uniform(-s, s) for b, s in zip(bias, spread, strict=True)]
