"""The generic AMBSI node: what every LRU behind the E2C answers (§5), and the base class
of the LRU-specific nodes.

Sourced (§5): the RCAs and byte layouts of the generic points, the DS18S20 ambient
temperature in either byte order, the transaction counter restarting near 0 after a boot,
the two reset RCAs. Simulated: the ESN bytes (a plausible 1-wire serial with its CRC-8),
revisions, uptimes, background transaction rates, CAN error counts, temperatures.
"""

from __future__ import annotations

import struct
from typing import Any

from e2ckit.catalog import DTYPES, ds18s20_encode
from e2ckit.names import E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE
from e2ckit.sim.physics import NEVER, State, noise, seed_int, seeded_rng

__all__ = [
    "AMBSI_GENERIC",
    "AMBSI_RESET_RCAS",
    "GENERIC_RCA",
    "UBOOT_REV",
    "AmbsiNode",
    "esn_crc8",
    "fallback_value",
    "kind_of",
    "make_esn",
]

#: generic AMBSI points every node answers (§5), by catalog template name
AMBSI_GENERIC = (
    "SERIAL_NUMBER",
    "PROTOCOL_REV",
    "CAN_ERROR",
    "TRANS_NUM",
    "AMBIENT_TEMP",
    "SW_REV",
    "HW_REV",
)
#: AMBSI reset controls (§5): a control on either reboots the node
AMBSI_RESET_RCAS = (0x31000, 0x31001)
#: RCA of the generic AMBSI points (§5), used when the catalog is not at hand
GENERIC_RCA = {
    "SERIAL_NUMBER": 0x00000,
    "PROTOCOL_REV": 0x30000,
    "CAN_ERROR": 0x30001,
    "TRANS_NUM": 0x30002,
    "AMBIENT_TEMP": 0x30003,
    "SW_REV": 0x30004,
    "HW_REV": 0x30005,
}
#: U-Boot revision the simulated E2C reports on its own node's HW_REV RCA (simulated)
UBOOT_REV = (1, 3, 2)


def esn_crc8(data: bytes) -> int:
    """Dallas/Maxim 1-wire CRC-8 (the last byte of a real ESN is this over the first 7)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def make_esn(*parts: object) -> bytes:
    """A plausible, deterministic 1-wire ESN: family 0x10, 6 seeded bytes, CRC-8 (simulated)."""
    body = bytes([0x10]) + seed_int("esn", *parts).to_bytes(8, "big")[:6]
    return body + bytes([esn_crc8(body)])


def kind_of(p: Any) -> str:
    """The catalog's value kind of a point (int, float, bit, flags, version, esn...)."""
    try:
        return str(DTYPES[p.dtype][0])
    except Exception:
        return ""


class AmbsiNode:
    """One node behind the E2C: its generic AMBSI points, its boots and resets, and
    (in subclasses) the points and controls of its LRU.

    ``ant`` is the :class:`~e2ckit.sim.model.AntennaModel` the node belongs to: its name,
    seed, catalog and physics. A subclass overrides :meth:`value` (a catalog point's
    physical value and FEMC status) and :meth:`control` (honour a control or refuse it).
    """

    def __init__(self, ant: Any, channel: int, node: int, abbrev: str) -> None:
        self.ant = ant
        self.channel = channel
        self.node = node
        self.abbrev = abbrev
        # the draw order is part of the seeded identity of a node: keep it
        r = seeded_rng("node", ant.name, channel, node, ant.seed)
        self.esn = self._serial()
        self.little_endian = r.random() < 0.3  # DS18S20 bytes little-endian, as some AMBSIs send
        self.uptime0 = r.uniform(3, 200) * 86400.0  # up this long at the clock's start
        self.trans_rate = r.choice((0.5, 1.0, 2.0, 4.0))  # background requests per second
        self.trans_after_boot = r.randint(1, 12)  # transactions done when first asked after boot
        self.ambient_c = r.uniform(27.0, 42.0)  # electronics temperature
        self.can_errors = r.choice((0, 0, 0, 1, 2, 7))
        self.sw_rev = (r.randint(1, 3), r.randint(0, 9), r.randint(0, 20))
        self.hw_rev: tuple[int, ...] = (r.randint(1, 2), r.randint(0, 5))
        self.protocol_rev = (1, r.choice((0, 1)), 0)
        self.resets: list[float] = []  # AMBSI resets received (simulated times)
        self._req_boot: float | None = None  # the boot the request count below counts from
        self._req_count = 0

    def _serial(self) -> bytes:
        return make_esn(self.ant.name, self.channel, self.node, self.ant.seed)

    # -- helpers for subclasses ------------------------------------------------------

    def noise(self, what: str, t: float, amplitude: float, quantum: float = 1.0) -> float:
        """Deterministic noise of this antenna for ``what`` at ``t`` (simulated)."""
        return amplitude * noise(seed_int(self.ant.name, self.ant.seed, what), t, quantum)

    def u(self, what: str) -> float:
        """A fixed seeded number in [0, 1) for this antenna."""
        return seed_int("const", self.ant.name, self.ant.seed, what) / 2.0**64

    # -- boots and the transaction counter ---------------------------------------------

    def boot_time(self, st: State) -> float:
        """When this node last booted, as seen at ``st.t``: power return or an AMBSI reset."""
        boot = st.disc.boot if st.disc.boot > NEVER else self.ant.t0 - self.uptime0
        return max([boot, *(r for r in self.resets if r <= st.t)])

    def tally(self, boot: float) -> None:
        """One more request to this node since its boot at ``boot`` (a reboot restarts the count)."""
        if self._req_boot != boot:
            self._req_boot, self._req_count = boot, 0
        self._req_count += 1

    def reset(self, t: float) -> None:
        """An AMBSI reset (or E2C reset request) at ``t``: the node reboots."""
        self.resets.append(t)

    # -- points ----------------------------------------------------------------------

    def generic_value(self, tmpl: str, st: State) -> Any:
        """The physical value of generic AMBSI point ``tmpl`` (``"TRANS_NUM"``)."""
        if tmpl == "SERIAL_NUMBER":
            return self.esn
        if tmpl == "PROTOCOL_REV":
            return self.protocol_rev
        if tmpl == "CAN_ERROR":
            return (self.can_errors, 0, 0)
        if tmpl == "TRANS_NUM":
            boot = self.boot_time(st)
            own = self._req_count if self._req_boot == boot else 0
            # background polling by the control system since boot (simulated) + our requests
            return (self.trans_after_boot + int(self.trans_rate * (st.t - boot)) + own) & 0xFFFFFFFF
        if tmpl == "AMBIENT_TEMP":
            # electronics run a little warmer than the cabin, with slow drift (simulated)
            return self.ambient_c + self.noise(f"amb{self.node}", st.t, 0.3, 60.0)
        if tmpl == "SW_REV":
            return self.sw_rev
        if tmpl == "HW_REV":
            if self.node == E2C_INTERNAL_NODE and self.channel == E2C_INTERNAL_CHANNEL:
                return UBOOT_REV  # U-Boot revision on the E2C's own node (§5), simulated
            return self.hw_rev
        raise KeyError(tmpl)

    def generic_bytes(self, tmpl: str, p: Any, st: State) -> bytes:
        """The reply bytes of generic point ``tmpl``, encoded by catalog point ``p`` if any."""
        value = self.generic_value(tmpl, st)
        if tmpl == "AMBIENT_TEMP":
            return ds18s20_encode(value, little_endian=self.little_endian)
        if p is not None:
            if kind_of(p) == "version" and getattr(p, "size", None):
                value = tuple(value)[: p.size] + (0,) * (p.size - len(value))
            return p.encode(value)
        return _raw_generic(tmpl, value)

    def value(self, item: str, st: State) -> tuple[Any, int] | None:
        """(physical value, FEMC status) of this LRU's point ``item`` (the part of the
        catalog name after the dot), or None for a point it does not model."""
        return None

    def silent(self, st: State) -> bool:
        """True while this LRU's own points go unanswered (CAN timeout) though its AMBSI's
        generic points still answer (the FEMC after a FETIM shutdown)."""
        return False

    def reply_override(self, p: Any, st: State) -> bytes | None:
        """Reply bytes that replace the encoded value of point ``p`` (the FEMC in
        maintenance mode answers its status byte alone), or None."""
        return None

    # -- controls --------------------------------------------------------------------

    def control(self, item: str, on: bool, data: bytes, st: State, t: float) -> tuple[bool, str] | None:
        """Honour control ``item`` (``"SET_DRIVE"``) at ``t`` if the hardware would:
        (accepted, reason), or None for a control with no simulated effect."""
        return None


def fallback_value(p: Any, u: float) -> Any:
    """A plausible constant for a catalog point no LRU models (simulated): the middle of
    its nominal range when the catalog has one, else by unit and type. ``u`` in [0, 1)
    spreads it per antenna."""
    unit = str(getattr(p, "unit", "") or "")
    dtype = str(getattr(p, "dtype", "") or "")
    kind = kind_of(p)
    size = getattr(p, "size", None) or 1
    if kind == "version":
        return (1,) * size
    if kind in ("esn", "bytes"):
        return bytes(size)
    if kind in ("bit", "flags", "can_error"):
        return 0
    if getattr(p, "enum", ()):
        return p.enum[0][0] if not isinstance(p.enum[0][0], str) else 0
    lo, hi = getattr(p, "nominal_low", None), getattr(p, "nominal_high", None)
    if lo is not None and hi is not None:
        value = lo + (hi - lo) * (0.3 + 0.4 * u)
        return round(value) if kind == "int" else value
    if kind == "ds18s20":
        return 30.0 + 5.0 * u
    if unit == "K":
        return 290.0 + u
    if unit in ("C", "°C", "degC"):
        return 25.0 + 10.0 * u
    if unit == "V":
        return 5.0 + 0.05 * u
    if unit in ("A", "mA"):
        return 1.0 + u
    if "float" in dtype or dtype.startswith("f"):
        return 0.0
    return 0


def _raw_generic(tmpl: str, value: Any) -> bytes:
    """Bytes of a generic AMBSI point without a catalog point to encode it (§5 layouts)."""
    if tmpl == "SERIAL_NUMBER":
        return bytes(value)
    if tmpl == "TRANS_NUM":
        return struct.pack(">I", value)
    if tmpl == "CAN_ERROR":
        count, zero, code = value
        return struct.pack(">HBB", count, zero, code)
    return bytes(value)  # revisions: major, minor, patch
