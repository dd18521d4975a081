"""Physics of one simulated antenna: cryostat stages, vacuum and helium compressor.

Everything here is **simulated**: the shapes follow §10 of ``shared/e2c-protocol.md``
(thresholds sourced, curves inferred) and the constants are chosen so that the anchors
there hold. Nothing is a model of real ALMA hardware beyond that.

How time works
--------------
The state is a function of simulated time ``t`` and of a sorted list of *events* (power
lost or back, compressor drive, pumps, valves, a leak). Between events the continuous
state is integrated on a fixed grid ``t0 + k·dt`` (``dt`` = 60 s) whose points do not
depend on when anyone asks; an event splits the step it falls in. Each sub-step is an
exact exponential relaxation toward targets frozen at the start of the sub-step, so the
integration is unconditionally stable and identical for identical events. A query at a
time between grid points integrates one partial step from the last grid state, without
storing it. Grid states are kept as the "head" plus a checkpoint per simulated hour, so
queries at increasing times cost one partial step (cheap enough for 66 antennas × 40
points at 1 Hz), and an event inserted in the past rolls back to a checkpoint.

The model (all simulated)
-------------------------
Thermal: three stages, 4K, 15K and 110K, in a chain. Each stage leaks heat from the next
warmer one (4K ← 15K ← 110K ← ambient ≈ 285 K) with a fixed time constant, and while the
cryocooler runs (the compressor is running) it is also pulled toward a "cooler target"
with a time constant that grows as the stage warms (cooling power falls and heat capacity
rises with temperature), which is what makes a cool-down take days. Because each stage
relaxes toward the stage above it when the cooler stops, the order T4 < T15 < T110 holds
during a warm-up until all converge on ambient, and the coldest stage moves first.

Vacuum: ln(pressure) relaxes toward a target set by desorption from the coldest surface
(the 4K stage cryopumps; flat below 20 K, rising by decades above), plus a leak if one is
open, divided by ~1000 while the turbo pumps through the open gate valve.

Front-end power (discrete, no dynamics): the FEPS outputs go off with the mains and stay off
until SET_ENABLE_PWR (inferred, §12), then settle within ``FEPS_SETTLE_S``; the cartridges
come up off after the FEMC boots (firmware, §14); readings injected by a scenario's ``flag``
step are part of this state, so a trip or a FETIM shutdown is as time-consistent as a power cut.

Compressor: supply and return pressures relax (τ 60 s) toward running values or toward a
common static pressure; four temperatures relax (τ 30–60 min) toward running values or the
compressor room's ambient. Cold-head hours accumulate while at least two of the three
cryocooler stages (the stages of TEMP0, TEMP5 and TEMP9) are below 265 K, as the FEMC
firmware counts them (``cryostat.c``, ``cryostatAsync``).
"""

from __future__ import annotations

import bisect
import copy
import functools
import hashlib
import math
import random
from dataclasses import dataclass, field, replace

__all__ = [
    "COLDHEAD_LIMIT_K",
    "COLDHEAD_WRAP",
    "FEPS_SETTLE_S",
    "FEPS_TRIPS",
    "Discrete",
    "MIN_OFF_S",
    "MIN_ON_S",
    "Physics",
    "PhysicsParams",
    "SAFE_TO_COOL_MBAR",
    "State",
    "noise",
    "seed_int",
    "seeded_rng",
]

#: Compressor minimum on time: drive off is ignored this long after a start (§8).
MIN_ON_S = 180.0
#: Compressor minimum off time: drive on is ignored this long after a stop (§8).
MIN_OFF_S = 420.0
#: The front end reports "safe to cool" at or below this cryostat pressure (§7).
SAFE_TO_COOL_MBAR = 5e-4
#: Cold-head hours count only while at least two of the cryocooler sensors TEMP0, TEMP5
#: and TEMP9 read below this temperature (§7; FEMC firmware ``CRYOSTAT_LOG_HOURS_THRESHOLD``).
COLDHEAD_LIMIT_K = 265.0
#: The FEMC reports the cold-head hours as a 16-bit unsigned int: the reading wraps here (§7).
COLDHEAD_WRAP = 0x10000
#: FEPS readings settle this long after SET_ENABLE_PWR (the FEControl test fixture waits 10 s
#: before reading, §12; the ramp itself is simulated)
FEPS_SETTLE_S = 5.0
#: FEPS flags that drop the outputs when injected (inferred: protection trips and interlocks)
FEPS_TRIPS = ("TEMP_ERR_", "OVER_VOLT_", "OVERLOAD_", "SYS_INTRLK_")

NEVER = -math.inf


# --------------------------------------------------------------------------------------
# deterministic seeding


@functools.lru_cache(maxsize=65536)
def seed_int(*parts: object) -> int:
    """A 64-bit integer from the parts, stable across processes (unlike ``hash``).

    Remembered: the model asks for the same (antenna, seed, purpose) keys on every
    request, and a SHA-256 each time was a tenth of the simulator's cost per request."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def seeded_rng(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from the parts (antenna name, seed, purpose...)."""
    return random.Random(seed_int(*parts))


_M64 = (1 << 64) - 1


def noise(key: int, t: float, quantum: float = 1.0) -> float:
    """Deterministic noise in [-1, 1): a hash of ``key`` and ``t`` rounded down to ``quantum``.

    Same key and same time slot give the same number, in any process (splitmix64).
    """
    z = (key + (int(math.floor(t / quantum)) * 0x9E3779B97F4A7C15)) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    return (z >> 11) / float(1 << 52) - 1.0


# --------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class PhysicsParams:
    """Constants of one antenna's physics (all simulated); :meth:`seeded` spreads them a little."""

    #: vacuum vessel / cabin temperature the cryostat warms toward (K)
    ambient_k: float = 285.0
    #: steady cold temperatures of the 4K, 15K and 110K stages (K); §7: 2.7–4, 12–18, 85–115
    cold_k: tuple[float, float, float] = (3.2, 14.0, 95.0)
    #: heat-leak time constants (s) of each stage toward the next warmer one. 4K ← 15K fast
    #: (tiny heat capacity: 4K plate 10–20 K after 15–30 min), 15K ← 110K over hours
    #: (40–80 K at 2–4 h), 110K ← ambient slowest (sets the 12–24 h approach to ambient)
    tau_leak_s: tuple[float, float, float] = (1300.0, 15500.0, 72000.0)
    #: cooler time constants (s) of each stage *at its cold temperature*
    tau_cool_s: tuple[float, float, float] = (170.0, 1800.0, 18000.0)
    #: temperature scale (K) of the slowing of a stage's cooling, τ·(1 + T/knee); the cold
    #: stages have little cooling power when warm, so a cool-down takes days (§10.6)
    cool_knee_k: tuple[float, float, float] = (5.0, 10.0, 100.0)
    #: compressor pressures (MPa): running supply and return, static when stopped (§8)
    supply_mpa: float = 2.1
    return_mpa: float = 0.8
    static_mpa: float = 1.65
    #: time constant of the pressure change when the compressor starts or stops (s)
    tau_cmpr_pressure_s: float = 60.0
    #: running compressor temperatures 1–4 (°C) and the compressor room's ambient (°C)
    cmpr_run_c: tuple[float, float, float, float] = (42.0, 35.0, 52.0, 31.0)
    cmpr_ambient_c: float = 20.0
    #: time constant of the compressor temperatures (s); §10.3: 30–60 min
    tau_cmpr_temp_s: float = 2700.0
    #: log10 of the cold cryostat pressure (mbar); §7: 1e-7–1e-6
    vacuum_log10: float = -6.5
    #: port gauge reads this factor times the cryostat gauge (simulated)
    port_factor: float = 1.5
    #: turbo spin-up to speed (s); §10.6: ~2 min
    turbo_spinup_s: float = 120.0
    #: cold-head hours on the meter at the clock's start
    coldhead_hours0: float = 12000.0

    @classmethod
    def seeded(cls, antenna: str, seed: int = 0) -> PhysicsParams:
        """Parameters for ``antenna``, spread deterministically by ``seed`` (simulated)."""
        r = seeded_rng("physics", antenna, seed)

        def u(lo: float, hi: float) -> float:
            return r.uniform(lo, hi)

        scale = (u(0.92, 1.08), u(0.92, 1.08), u(0.85, 1.15))
        return cls(
            ambient_k=u(282.0, 289.0),
            cold_k=(u(2.9, 3.8), u(12.5, 16.5), u(88.0, 108.0)),
            tau_leak_s=tuple(t * s for t, s in zip(cls.tau_leak_s, scale, strict=True)),
            tau_cool_s=tuple(t * u(0.9, 1.1) for t in cls.tau_cool_s),
            supply_mpa=u(2.02, 2.18),
            return_mpa=u(0.72, 0.88),
            static_mpa=u(1.61, 1.69),
            cmpr_run_c=(u(38, 48), u(30, 40), u(46, 58), u(27, 36)),
            cmpr_ambient_c=u(16.0, 23.0),
            tau_cmpr_temp_s=u(1800.0, 3600.0),
            vacuum_log10=u(-6.8, -6.2),
            port_factor=u(1.1, 2.5),
            turbo_spinup_s=u(100.0, 140.0),
            coldhead_hours0=float(r.randint(2000, 40000)),
        )


# --------------------------------------------------------------------------------------
# discrete state (what the events set)


@dataclass
class Discrete:
    """On/off state set by events, with the times the timers of §7–§8 count from."""

    powered: bool = True
    drive: bool = True  # compressor commanded and running (drive indication, when powered)
    fault: bool = False  # compressor fault latched (stops the drive until reset)
    backing: bool = False  # normal cold operation: pumps off, gate closed (inferred)
    turbo: bool = False
    gate: bool = False  # True = open
    solenoid: bool = False
    gauge: bool = True
    override: bool = False  # compressor interlock override
    leak_mbar_per_h: float = 0.0
    leak_since: float = NEVER
    boot: float = NEVER  # nodes last booted (power back)
    power_changed: float = NEVER
    #: the compressor AMBSI's "time since power on/off" reference times: the last remote
    #: drive-on / drive-off command it accepted, or its own boot (both), never mains power
    #: (ALMA-COMPRESSOR-AMBSI1 main.c: lastOnSec/lastOffSec, 0 at boot)
    cmpr_on_since: float = NEVER
    cmpr_off_since: float = NEVER
    turbo_since: float = NEVER
    gate_since: float = NEVER
    #: FEPS outputs enabled, and since when (readings settle within FEPS_SETTLE_S of an
    #: enable). After a power cut they stay off until SET_ENABLE_PWR (inferred, §12)
    feps_on: bool = True
    feps_on_since: float = NEVER
    #: cartridge power per band 1..10 (index 0..9): 0 off, 1 on, 2 standby-2 (§14). Cold
    #: operation with bands 3, 6 and 7 on (simulated); all off after an FEMC boot (firmware)
    carts: tuple[int, ...] = (0, 0, 1, 0, 0, 1, 1, 0, 0, 0)
    #: injected readings by catalog point name (a scenario's ``flag`` action): the point
    #: answers this value; FEPS trip flags and the FETIM shutdown also act (see ``apply``)
    flags: tuple[tuple[str, float], ...] = ()

    def flag(self, name: str) -> float | None:
        """The injected reading of point ``name``, or None."""
        for n, v in self.flags:
            if n == name:
                return v
        return None

    @property
    def fetim_shutdown(self) -> bool:
        """The FETIM has shut the front end down (the FEMC firmware has exited, §13)."""
        return bool(self.flag("FETIM.SHUTDOWN"))

    @property
    def compressor_running(self) -> bool:
        return self.powered and self.drive and not self.fault

    def turbo_at_speed(self, t: float, spinup_s: float) -> bool:
        return self.powered and self.backing and self.turbo and t - self.turbo_since >= spinup_s

    def pumping(self, t: float, spinup_s: float) -> bool:
        """Turbo at speed pumping the cryostat through the open gate valve."""
        return self.gate and self.turbo_at_speed(t, spinup_s)

    def apply(self, t: float, kind: str, value: object) -> None:
        """Apply one event at time ``t``, with the interlocks that follow from it (inferred)."""
        on = bool(value)
        if kind == "power":
            if on and not self.powered:
                self.powered = True
                self.boot = t
                self.power_changed = t
                # the compressor's AMBSI boots: both of its timers count from here (§8)
                self.cmpr_on_since = self.cmpr_off_since = t
                self.gauge = True  # FEMC powers the gauge at boot (inferred)
                self.carts = (0,) * 10  # cartridges come up off after an FEMC boot (firmware)
            elif not on and self.powered:
                self.powered = False
                self.power_changed = t
                # everything stops; the gate valve fails closed (inferred); the drive
                # stays 0 until commanded (§10.2); the FEPS outputs stay off until
                # SET_ENABLE_PWR (inferred, §12)
                self.drive = self.backing = self.turbo = self.gate = self.feps_on = False
                self.carts = (0,) * 10
        elif kind == "drive":
            if on and not self.drive:
                self.drive = True
                self.cmpr_on_since = t
            elif not on and self.drive:
                self.drive = False
                self.cmpr_off_since = t
        elif kind == "fault":
            if on and not self.fault:
                # a trip is not a remote drive command: the timers keep their reference
                self.fault, self.drive = True, False
            elif not on:
                self.fault = False
        elif kind == "backing":
            self.backing = on
            if not on:  # a turbo cannot run without its backing pump; the gate closes
                self.turbo = self.gate = False
                self.turbo_since = NEVER
        elif kind == "turbo":
            if on and not self.turbo:
                self.turbo, self.turbo_since = True, t
            elif not on:
                self.turbo, self.turbo_since, self.gate = False, NEVER, False
        elif kind == "gate":
            if on != self.gate:
                self.gate, self.gate_since = on, t
        elif kind == "solenoid":
            self.solenoid = on
        elif kind == "gauge":
            self.gauge = on
        elif kind == "override":
            self.override = on
        elif kind == "leak":
            rate = float(value)  # type: ignore[arg-type]
            self.leak_mbar_per_h = rate
            self.leak_since = t if rate > 0 else NEVER
        elif kind == "feps":
            if on and not self.feps_on:
                self.feps_on, self.feps_on_since = True, t
            elif not on:
                self.feps_on = False
        elif kind == "cart":
            band_index, state = value  # type: ignore[misc]
            carts = list(self.carts)
            carts[int(band_index)] = int(state)
            self.carts = tuple(carts)
        elif kind == "flag":
            self._flag(value)
        elif kind == "boot":
            self.boot = t
        elif kind == "cmpr_boot":  # the compressor's AMBSI alone reboots (an AMBSI reset)
            self.cmpr_on_since = self.cmpr_off_since = t
        else:
            raise ValueError(f"unknown physics event {kind!r}")

    def _flag(self, value: object) -> None:
        """Inject (or with value None clear) a reading: ``(point name, value)``."""
        name, reading = value  # type: ignore[misc]
        kept = tuple((n, v) for n, v in self.flags if n != name)
        self.flags = kept if reading is None else (*kept, (str(name), float(reading)))
        if reading and str(name).startswith("FEPS.") and str(name)[5:].startswith(FEPS_TRIPS):
            self.feps_on = False  # a protection trip or interlock drops the outputs (inferred)
        if name == "FETIM.SHUTDOWN" and reading:
            # the FEMC powers the cartridges down and exits (§13); the compressor sees the
            # FETIM status error and stops (inferred: it is the FETIM's interlock input)
            self.carts = (0,) * 10
            self.drive = False


# --------------------------------------------------------------------------------------
# continuous state


# indices into the continuous state vector
T4, T15, T110, LNP, PS, PR, C1, C2, C3, C4, COLD_S = range(11)

# log10(pressure / cold pressure) against the coldest surface temperature (K): flat while
# the 4K stage cryopumps (< 20 K), then rising by decades as gas desorbs (simulated curve;
# crosses 5e-4 mbar near 60 K, i.e. a few hours into a warm-up, §10.5)
_DESORB = (
    (20.0, 0.0),
    (30.0, 0.7),
    (40.0, 1.6),
    (50.0, 2.4),
    (60.0, 3.1),
    (80.0, 4.1),
    (120.0, 4.8),
    (200.0, 5.3),
    (300.0, 5.6),
)
_DESORB_T = [p[0] for p in _DESORB]
#: the turbo through the open gate divides the equilibrium pressure by this (simulated)
_PUMP_FACTOR = 1e-3
#: log-pressure time constants (s): pumping down, and drifting without the pumps
_TAU_PUMP_S = 300.0
_TAU_DRIFT_S = 900.0
_LN10 = math.log(10.0)


def _desorb_log10(t_cold: float) -> float:
    if t_cold <= _DESORB[0][0]:
        return 0.0
    if t_cold >= _DESORB[-1][0]:
        return _DESORB[-1][1]
    i = bisect.bisect_right(_DESORB_T, t_cold)
    (t0, v0), (t1, v1) = _DESORB[i - 1], _DESORB[i]
    return v0 + (v1 - v0) * (t_cold - t0) / (t1 - t0)


@dataclass(frozen=True)
class State:
    """The physics of one antenna at time ``t``: what the model encodes into replies."""

    t: float
    disc: Discrete
    t4: float  # K, 4K stage
    t15: float  # K, 15K stage
    t110: float  # K, 110K stage
    p_cryo: float  # mbar, cryostat vacuum
    p_port: float  # mbar, pump port
    supply_mpa: float
    return_mpa: float
    cmpr_c: tuple[float, float, float, float]  # °C
    cold_seconds: float  # seconds counted on the cold-head meter since the clock's start
    params: PhysicsParams = field(repr=False)

    @property
    def stages(self) -> tuple[float, float, float]:
        return (self.t4, self.t15, self.t110)

    @property
    def powered(self) -> bool:
        return self.disc.powered

    @property
    def compressor_running(self) -> bool:
        return self.disc.compressor_running

    @property
    def turbo_at_speed(self) -> bool:
        return self.disc.turbo_at_speed(self.t, self.params.turbo_spinup_s)

    @property
    def pumping(self) -> bool:
        return self.disc.pumping(self.t, self.params.turbo_spinup_s)

    @property
    def since_on(self) -> float:
        """Seconds since the compressor's last accepted remote drive-on, or its AMBSI's
        boot (inf if neither happened since the clock's start)."""
        return self.t - self.disc.cmpr_on_since

    @property
    def since_off(self) -> float:
        """Seconds since the compressor's last accepted remote drive-off, or its AMBSI's
        boot (inf if neither happened since the clock's start)."""
        return self.t - self.disc.cmpr_off_since

    @property
    def coldhead_hours(self) -> float:
        """Hours on the cold-head meter (not wrapped; the FEMC reply wraps it at 2^16)."""
        return self.params.coldhead_hours0 + self.cold_seconds / 3600.0


class Physics:
    """Event-driven, fixed-grid integration of one antenna's physics (see module docstring).

    Start state: cold and nominal (compressor running since long before ``t0``, pumps
    off, gate closed, vacuum at its cold value).
    """

    #: grid step (s); the integration is exact-exponential per sub-step, so any step is
    #: stable; 60 s keeps the frozen-target error small against the shortest time
    #: constant that matters (60 s for the compressor pressures, exact anyway)
    DT = 60.0
    #: keep a checkpoint every this many grid steps (one simulated hour)
    CHECKPOINT_EVERY = 60

    def __init__(self, params: PhysicsParams, t0: float, *, dt: float | None = None) -> None:
        self.params = params
        self.t0 = float(t0)
        self.dt = float(dt or self.DT)
        self._events: list[tuple[float, int, str, object]] = []
        self._seq = 0
        p = params
        # the cooler targets: chosen so that the cooled steady state is exactly cold_k
        ups = (p.cold_k[1], p.cold_k[2], p.ambient_k)
        self._cool_target = tuple(
            c - (u - c) * (tc * self._knee_factor(i, c)) / tl
            for i, (c, u, tc, tl) in enumerate(zip(p.cold_k, ups, p.tau_cool_s, p.tau_leak_s, strict=True))
        )
        x0 = [
            p.cold_k[0],
            p.cold_k[1],
            p.cold_k[2],
            p.vacuum_log10 * _LN10,
            p.supply_mpa,
            p.return_mpa,
            *p.cmpr_run_c,
            0.0,
        ]
        start = (self.t0, x0, Discrete(), 0)
        self._checkpoints: list[tuple[float, list[float], Discrete, int]] = [start]
        self._head = (self.t0, list(x0), Discrete(), 0)
        self._steps = 0
        self._memo: State | None = None
        #: bumped by every event added: what a state at a given time is may have changed
        self.version = 0

    # -- events ------------------------------------------------------------------------

    def add_event(self, t: float, kind: str, value: object = True) -> None:
        """Schedule an event (power, drive, fault, backing, turbo, gate, solenoid, gauge,
        override, leak, boot, cmpr_boot, feps, cart, flag) at simulated time ``t``; events at equal times apply in the
        order they were added."""
        Discrete().apply(0.0, kind, value)  # validate the kind now, not at integration time
        key = (float(t), self._seq)
        self._seq += 1
        i = bisect.bisect_right([(e[0], e[1]) for e in self._events], key)
        self._events.insert(i, (key[0], key[1], kind, value))
        self._memo = None
        self.version += 1
        if t <= self._head[0]:
            self._rollback(t, strict=True)

    @property
    def events(self) -> list[tuple[float, str, object]]:
        """Every event, sorted by time: ``(t, kind, value)``."""
        return [(t, k, v) for t, _, k, v in self._events]

    def _rollback(self, t: float, strict: bool) -> None:
        """Move the head back to the last checkpoint before ``t`` (at or before if not strict)."""
        cps = self._checkpoints
        keep = len(cps)
        while keep > 1 and (cps[keep - 1][0] >= t if strict else cps[keep - 1][0] > t):
            keep -= 1
        del cps[keep:]
        tc, xc, dc, ei = cps[-1]
        self._head = (tc, list(xc), copy.copy(dc), ei)
        self._steps = round((tc - self.t0) / self.dt)

    # -- integration -------------------------------------------------------------------

    def _knee_factor(self, i: int, temp: float) -> float:
        return 1.0 + temp / self.params.cool_knee_k[i]

    def _step(self, x: list[float], d: Discrete, t: float, h: float) -> None:
        """Advance ``x`` in place by ``h`` seconds from ``t``, targets frozen at ``t``."""
        p = self.params
        cooling = d.compressor_running  # the cryocooler runs on the compressor's helium
        # thermal chain: each stage leaks toward the next warmer one (ambient for 110K)
        # and, with the cooler on, is pulled toward its cooler target as well; the
        # combined relaxation is exact for frozen targets:
        #   dT/dt = (U - T)/tl + (X - T)/tc  =>  T → (U/tl + X/tc)/(1/tl + 1/tc), rate 1/tl + 1/tc
        temps = (x[T4], x[T15], x[T110])
        ups = (x[T15], x[T110], p.ambient_k)
        for i in range(3):
            temp, a = temps[i], 1.0 / p.tau_leak_s[i]
            num = ups[i] * a
            if cooling:
                c = 1.0 / (p.tau_cool_s[i] * self._knee_factor(i, temp))
                num += self._cool_target[i] * c
                a += c
            target = num / a
            x[i] = target + (temp - target) * math.exp(-h * a)
        # cold-head meter: counts while at least two of the three cryocooler stages are
        # below 265 K (§7; the FEMC reads TEMP0, TEMP5 and TEMP9, which sit on these
        # stages: within 0.2 K of them near 265 K in this model)
        if (temps[0] < COLDHEAD_LIMIT_K) + (temps[1] < COLDHEAD_LIMIT_K) + (temps[2] < COLDHEAD_LIMIT_K) >= 2:
            x[COLD_S] += h
        # vacuum: ln p relaxes toward desorption + leak, pumped down by the turbo
        p_eq = 10.0 ** (p.vacuum_log10 + _desorb_log10(temps[0]))
        if d.leak_mbar_per_h > 0:
            p_eq += min(d.leak_mbar_per_h * (t - d.leak_since) / 3600.0, 10.0)
        pumping = d.pumping(t, p.turbo_spinup_s)
        if pumping:
            p_eq = max(p_eq * _PUMP_FACTOR, 10.0 ** (p.vacuum_log10 - 0.3))
        tau = _TAU_PUMP_S if pumping else _TAU_DRIFT_S
        ln_eq = math.log(p_eq)
        x[LNP] = ln_eq + (x[LNP] - ln_eq) * math.exp(-h / tau)
        # compressor pressures: running split, or equalising to static within minutes
        k = math.exp(-h / p.tau_cmpr_pressure_s)
        if cooling:
            ps, pr = p.supply_mpa, p.return_mpa
        else:
            ps = pr = p.static_mpa
        x[PS] = ps + (x[PS] - ps) * k
        x[PR] = pr + (x[PR] - pr) * k
        # compressor temperatures: toward running values or the room
        k = math.exp(-h / p.tau_cmpr_temp_s)
        for j, i in enumerate((C1, C2, C3, C4)):
            target = p.cmpr_run_c[j] if cooling else p.cmpr_ambient_c
            x[i] = target + (x[i] - target) * k

    def _advance(
        self, x: list[float], d: Discrete, ei: int, a: float, b: float, own: bool
    ) -> tuple[Discrete, int]:
        """Integrate ``x`` from ``a`` to ``b``, applying events in ``(a, b]`` (and any still
        pending before ``a``). ``own`` False means ``d`` is shared: copy before changing it."""
        events = self._events
        n = len(events)
        while True:
            if ei < n and events[ei][0] <= b:
                te = events[ei][0]
                if te > a:
                    self._step(x, d, a, te - a)
                    a = te
                if not own:
                    d, own = copy.copy(d), True
                d.apply(te, events[ei][2], events[ei][3])
                ei += 1
                continue
            if b > a:
                self._step(x, d, a, b - a)
            return d, ei

    def state(self, t: float) -> State:
        """The state at simulated time ``t`` (clamped to the start ``t0``)."""
        t = max(float(t), self.t0)
        memo = self._memo
        if memo is not None and memo.t == t:
            return memo
        if t < self._head[0]:
            self._rollback(t, strict=True)
        th, xh, dh, ei = self._head
        # walk the head along the grid up to the last grid point <= t
        while True:
            nxt = self.t0 + (self._steps + 1) * self.dt
            if nxt > t:
                break
            dh, ei = self._advance(xh, dh, ei, th, nxt, own=True)
            th = nxt
            self._steps += 1
            if self._steps % self.CHECKPOINT_EVERY == 0:
                self._checkpoints.append((th, list(xh), copy.copy(dh), ei))
        self._head = (th, xh, dh, ei)
        # partial step to t, on copies
        x = list(xh)
        d, _ = self._advance(x, dh, ei, th, t, own=False)
        if d is dh:
            d = copy.copy(d)
        p = self.params
        p_cryo = math.exp(x[LNP])
        st = State(
            t=t,
            disc=d,
            t4=x[T4],
            t15=x[T15],
            t110=x[T110],
            p_cryo=p_cryo,
            p_port=p_cryo * p.port_factor,
            supply_mpa=x[PS],
            return_mpa=x[PR],
            cmpr_c=(x[C1], x[C2], x[C3], x[C4]),
            cold_seconds=x[COLD_S],
            params=p,
        )
        self._memo = st
        return st

    def with_params(self, **changes: object) -> Physics:
        """A fresh physics with some parameters changed and the same events (for what-ifs)."""
        other = Physics(replace(self.params, **changes), self.t0, dt=self.dt)
        for t, _, kind, value in self._events:
            other.add_event(t, kind, value)
        return other
