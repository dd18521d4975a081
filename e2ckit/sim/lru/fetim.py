"""The FETIM (front-end thermal interlock module), read through the FEMC: §13.

Sourced (ALMA-FEMC ``fetim*.c``, through §13): the RCAs, the ADC scalings (each reading
here is a whole ADC step of the firmware's formula), the flags 0/1, "safe to cool" set only
while the cryostat pressure is <= 5e-4 mbar, and that after a shutdown the FEMC firmware
exits (its module points then time out: see :meth:`FemcNode.silent`).

Simulated: the readings themselves (temperatures near the cabin's, airflow, glitch value,
He2 pressure); flags are 0 unless a scenario injects them (``flag`` action).
"""

from __future__ import annotations

from typing import Any

from e2ckit.sim.physics import SAFE_TO_COOL_MBAR, State

__all__ = ["adc_reading", "fetim_value"]

#: firmware scalings: value = offset + span * adc / full (§13)
_SCALE = {
    "INT_TEMP": (-20.0, 80.0, 256),
    "AIRFLOW": (0.0, 2.0, 256),
    "EXT": (-20.0, 160.0, 4096),
    "HE2": (-1.25, 10.0, 4096),
}
_FLAGS = frozenset((
    "SINGLE_FAIL", "GLITCH_TRIGGERED", "MULTI_FAIL", "TEMP_OUT_OF_RANGE", "FLOW_OUT_OF_RANGE",
    "DELAY_TRIGGERED", "SHUTDOWN", "AMBIENT_OUT_OF_RANGE", "TURBO_TEMP_OUT_OF_RANGE",
    "HE2_OUT_OF_RANGE", "COMPRESSOR_INTERLOCK", "COMPRESSOR_CABLE",
))  # fmt: skip


def adc_reading(kind: str, value: float) -> float:
    """``value`` rounded to the nearest reading the firmware's ADC formula can give."""
    offset, span, full = _SCALE[kind]
    adc = max(0, min(full - 1, round((value - offset) * full / span)))
    return offset + span * adc / full


def fetim_value(node: Any, item: str, st: State) -> tuple[Any, int] | None:
    """(value, FEMC status) of FETIM point ``item`` (``"INT_TEMP3"``), or None."""
    t = st.t
    if item.startswith("INT_TEMP") and item[8:].isdigit():
        return adc_reading("INT_TEMP", 24.0 + 6.0 * node.u(item) + node.noise(item, t, 0.3, 60.0)), 0
    if item.startswith("AIRFLOW") and item[7:].isdigit():
        return adc_reading("AIRFLOW", 1.1 + 0.3 * node.u(item)), 0
    if item == "GLITCH_VALUE":
        return 100.0 - 100.0 * 251 / 255, 0  # adc 251: a quiet line (simulated)
    if item == "EXT_AMBIENT_TEMP":
        return adc_reading("EXT", 18.0 + 4.0 * node.u(item) + node.noise(item, t, 0.2, 60.0)), 0
    if item == "TURBO_TEMP":
        return adc_reading("EXT", node.fetim_turbo_c), 0
    if item == "HE2_PRESSURE":
        return adc_reading("HE2", 2.4 + 0.4 * node.u(item)), 0
    if item == "SAFE_TO_COOL":
        return int(st.p_cryo <= SAFE_TO_COOL_MBAR), 0
    if item in _FLAGS:
        return 0, 0
    return None
