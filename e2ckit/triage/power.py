"""Findings for the ``power`` and ``interlock`` subsystems of :func:`~e2ckit.triage.diagnose`.

``power``: the FEPS (its output state, system interlocks and six status flags per rail,
e2c-protocol.md §12), its rail voltages, the ACU power-failure flag (§9) and the cartridge
power distribution (§14). ``interlock``: the FETIM read through the FEMC (§13) and the
compressor's view of it (its FETIM status and cable errors, §8).

Each finding has a level (ok, unknown, warn, alarm) and says what it means. What the rules
rest on:

* FEPS flags: 1 = the condition is present (inferred: the FEControl test fixture only checks
  0 or 1); a byte other than 0 or 1 is "unexpected value", at the level the one judgement
  gives it (a flag of 2 is above the 0.5 alarm bound: an alarm), a warn where the catalog
  has no bound for it;
* OUTPUT_STATE 0: the front end is unpowered (after a power cut the outputs stay off until
  SET_ENABLE_PWR: inferred);
* cartridges: the FEMC firmware allows 3 on in operation plus 1 in standby-2, standby-2 for
  band 6 only, 10 on only in troubleshooting mode (``powerDistribution.h``, ``pdModule.c``);
  all off is what an FEMC boot leaves (a recovery step, not a fault);
* the FETIM: shutdown (the FEMC powers the front end down and its firmware exits), the
  shutdown countdown, one sensor failed (warn) or several (alarm), glitch counter and
  out-of-range flags (warn), compressor interlock and cable (alarm). Because the FEMC exits
  after a shutdown, a shutdown is also recognised after the fact — the FEMC is listed and
  its AMBSI answers, every FEMC module point times out, and the compressor reports a FETIM
  status error (0x0D) — a rule that is **inferred**. How to recover from a FETIM shutdown
  has no public source.

An LRU that does not answer makes only its own findings unknown: a silent FEPS leaves the
cartridge and ACU findings standing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from e2ckit.api import sweep_rows
from e2ckit.catalog.limits import Limits as _Limits
from e2ckit.catalog.limits import Reading as _Reading
from e2ckit.catalog.limits import limits_in_force
from e2ckit.errors import Failure

if TYPE_CHECKING:
    from e2ckit.catalog.limits import Limits, Reading

__all__ = [
    "FETIM_SHUTDOWN_MEANS",
    "INTERLOCK_POINTS",
    "POWER_TABLE_COLUMNS",
    "POWER_POINTS",
    "POWER_WHAT",
    "Finding",
    "can_error_growth",
    "interlock_findings",
    "interlock_verdict",
    "power_cell",
    "power_facts",
    "power_findings",
    "power_report",
    "power_table",
    "power_verdict",
]

RAILS = ("P5", "P6", "P7", "N7", "P9", "P16", "N16", "P25")
RAIL_LABEL = dict(zip(RAILS, ("+5 V", "+6 V", "+7 V", "-7 V", "+9 V", "+16 V", "-16 V", "+25 V"), strict=True))
#: FEPS flag → (what it is called, its level when set): a temperature warning is a warn
FEPS_FLAGS = {
    "TEMP_WARN": ("temperature warning", "warn"),
    "TEMP_ERR": ("temperature error", "alarm"),
    "OVER_VOLT": ("over-voltage", "alarm"),
    "OVERLOAD": ("overload", "alarm"),
    "UNDER_VOLT": ("under-voltage", "alarm"),
    "COMM_FAIL": ("communication failure", "alarm"),
}
MAX_ON, MAX_STANDBY2, BAND6 = 3, 1, 6  # firmware powerDistribution.h, pdModule.c
_FEPS_STATE = ["FEPS.OUTPUT_STATE", "FEPS.SYS_INTRLK_A", "FEPS.SYS_INTRLK_B"]
_FEPS_FLAG_POINTS = [f"FEPS.{f}_{r}" for f in FEPS_FLAGS for r in RAILS]
_FEPS_VOLTS = [f"FEPS.V_{r}" for r in RAILS]
_CARTS = [f"FEMC.BAND{b}_ENABLE" for b in range(1, 11)]
#: the points of the power subsystem
POWER_POINTS: list[str] = [
    *_FEPS_STATE, *_FEPS_FLAG_POINTS, *_FEPS_VOLTS, "ACU.POWER_FAILURE", *_CARTS, "FEMC.POWERED_MODULES",
]  # fmt: skip
#: FETIM flag → (what it means, level when set)
FETIM_FLAGS = {
    "FETIM.DELAY_TRIGGERED": ("FETIM shutdown countdown started: the front end will be shut down", "alarm"),
    "FETIM.MULTI_FAIL": ("two or more FETIM sensors failed", "alarm"),
    "FETIM.SINGLE_FAIL": ("one FETIM sensor failed", "warn"),
    "FETIM.GLITCH_TRIGGERED": ("FETIM glitch counter triggered", "warn"),
    "FETIM.TEMP_OUT_OF_RANGE": ("FETIM interlock temperature out of range", "warn"),
    "FETIM.FLOW_OUT_OF_RANGE": ("FETIM airflow out of range", "warn"),
    "FETIM.AMBIENT_OUT_OF_RANGE": ("FETIM ambient temperature out of range", "warn"),
    "FETIM.TURBO_TEMP_OUT_OF_RANGE": ("FETIM turbo pump temperature out of range", "warn"),
    "FETIM.HE2_OUT_OF_RANGE": ("FETIM He2 buffer pressure out of range", "warn"),
    "FETIM.COMPRESSOR_INTERLOCK": ("FETIM compressor interlock in error", "alarm"),
    "FETIM.COMPRESSOR_CABLE": ("FETIM compressor cable in error", "alarm"),
    "CMPR.FETIM_CABLE_ERROR": ("the compressor reports a FETIM cable error", "alarm"),
}
#: the points of the interlock subsystem
INTERLOCK_POINTS: list[str] = ["FETIM.SHUTDOWN", *FETIM_FLAGS, "FETIM.SAFE_TO_COOL", "CMPR.FETIM_STATUS_ERROR"]
#: what diagnose() must sweep for these two subsystems
POWER_WHAT: list[str] = list(dict.fromkeys([*POWER_POINTS, *INTERLOCK_POINTS]))
FETIM_SHUTDOWN_MEANS = (
    "front end shut down by the FETIM: the FEMC has powered the front end down and its firmware has "
    "exited, so nothing on the front end answers or can be commanded until the FEMC is restarted, and "
    "the compressor is interlocked (FETIM status error); no public source says how to recover from a "
    "FETIM shutdown — find the thermal cause first"
)
_RANK = {"ok": 0, "unknown": 1, "warn": 2, "alarm": 3}


class Finding(NamedTuple):
    """One judgement: level (ok/unknown/warn/alarm), what it means, the points behind it."""

    level: str
    text: str
    points: tuple[str, ...] = ()


def _timed_out(r: Reading | None) -> bool:
    f = Failure.parse(r.error) if r is not None else None
    return f is not None and f.e2c_name == "TIMEOUT_ERROR"


def _silent(readings: Mapping[str, Reading], names: Iterable[str]) -> tuple[bool, str]:
    """(True, first error) when every one of ``names`` read has an error and one was read."""
    got = [readings[n] for n in names if n in readings]
    if got and all(r.error is not None for r in got):
        return True, str(got[0].error)
    return False, ""


def _flag(readings: Mapping[str, Reading], name: str) -> int | None:
    """The integer of a good flag reading, None for no good reading."""
    r = readings.get(name)
    return int(r.value) if r is not None and r.good else None


def _unexpected(name: str, value: int, readings: Mapping[str, Reading], allowed: Sequence[int] = (0, 1),
                limits: Limits | None = None) -> Finding:  # fmt: skip
    """A byte the firmware is not known to give, at the level the one judgement gives it
    (a FEPS flag of 2 is above its 0.5 alarm bound: an alarm, as in a sweep and ``alarms()``);
    a warn where the catalog has no bound for it (OUTPUT_STATE 2, a band state of 3)."""
    state, _reason, _ = (limits or limits_in_force()).judge(name, readings[name], readings, "ok")
    level = state if state in ("warn", "alarm") else "warn"
    return Finding(level, f"{name} reads {value}: unexpected value (expected {' or '.join(map(str, allowed))})", (name,))


def _feps_findings(readings: Mapping[str, Reading], limits: Limits) -> list[Finding]:
    silent, why = _silent(readings, [*_FEPS_STATE, *_FEPS_FLAG_POINTS, *_FEPS_VOLTS])
    if silent:
        return [Finding("unknown", f"FEPS did not answer: {why}", ("FEPS.OUTPUT_STATE",))]
    out: list[Finding] = []  # causes (flags, interlocks) before their consequence (outputs off)
    for side in ("A", "B"):
        v = _flag(readings, f"FEPS.SYS_INTRLK_{side}")
        if v == 1:
            out.append(Finding("alarm", f"FEPS system interlock {side} present", (f"FEPS.SYS_INTRLK_{side}",)))
        elif v not in (None, 0):
            out.append(_unexpected(f"FEPS.SYS_INTRLK_{side}", v, readings, limits=limits))
    for flag, (what, level) in FEPS_FLAGS.items():
        for rail in RAILS:
            name = f"FEPS.{flag}_{rail}"
            v = _flag(readings, name)
            if v == 1:
                out.append(Finding(level, f"FEPS {RAIL_LABEL[rail]} {what}", (name,)))
            elif v not in (None, 0):
                out.append(_unexpected(name, v, readings, limits=limits))
    state = _flag(readings, "FEPS.OUTPUT_STATE")
    if state == 0:
        out.append(Finding("alarm", "front end unpowered (FEPS outputs off): enable them (SET_ENABLE_PWR) and allow 10 s", ("FEPS.OUTPUT_STATE",)))
    elif state not in (None, 1):
        out.append(_unexpected("FEPS.OUTPUT_STATE", state, readings, limits=limits))
    return out


def _cartridge_findings(readings: Mapping[str, Reading], limits: Limits) -> list[Finding]:
    silent, why = _silent(readings, [*_CARTS, "FEMC.POWERED_MODULES"])
    if silent:
        return [Finding("unknown", f"cartridge power not read (FEMC): {why}", ("FEMC.POWERED_MODULES",))]
    states: dict[int, int] = {}
    out: list[Finding] = []
    for band in range(1, 11):
        name = f"FEMC.BAND{band}_ENABLE"
        r = readings.get(name)
        if r is None:
            continue
        if r.error is None and r.status != "ok" and "error state" in r.status:
            out.append(Finding("warn", f"band {band} cartridge in error state (only power-off is allowed)", (name,)))
        v = _flag(readings, name)
        if v is None:
            continue
        if v not in (0, 1, 2):
            out.append(_unexpected(name, v, readings, (0, 1, 2), limits))
            continue
        states[band] = v
    on = [b for b, v in states.items() if v == 1]
    sb2 = [b for b, v in states.items() if v == 2]
    if len(on) > MAX_ON:
        out.append(Finding("warn", f"{len(on)} cartridges powered (bands {', '.join(map(str, on))}): the FEMC firmware allows "
                           f"{MAX_ON} in operation (10 only in troubleshooting mode)", tuple(f"FEMC.BAND{b}_ENABLE" for b in on)))  # fmt: skip
    if len(sb2) > MAX_STANDBY2 or any(b != BAND6 for b in sb2):
        out.append(Finding("warn", f"standby-2 on band(s) {', '.join(map(str, sb2))}: the firmware allows one, band 6 only",
                           tuple(f"FEMC.BAND{b}_ENABLE" for b in sb2)))  # fmt: skip
    powered = _flag(readings, "FEMC.POWERED_MODULES")
    if powered is not None and powered > MAX_ON and len(on) <= MAX_ON:
        out.append(Finding("warn", f"FEMC counts {powered} cartridges powered: more than the firmware's {MAX_ON} in operation", ("FEMC.POWERED_MODULES",)))
    if states and not on and not sb2:
        out.append(Finding("ok", "all cartridges off (expected after an FEMC boot: powering them is a recovery step)", ("FEMC.POWERED_MODULES",)))
    return out


def _judged(limits: Limits, names: Iterable[str], readings: Mapping[str, Reading], own: Mapping[str, str]) -> list[Finding]:
    """Findings from the limits and expected states of ``names`` (the ACU flag, the rails)."""
    out = []
    for n in names:
        r = readings.get(n)
        if r is None:
            continue
        state, reason, _ = limits.judge(n, r, readings, own.get(n, "ok"))
        level = {"ok": "ok", "unavailable": "unknown", "warn": "warn", "alarm": "alarm"}[state]
        if level != "ok":
            out.append(Finding(level, f"{n} {reason}", (n,)))
    return out


def power_findings(limits: Limits, readings: Mapping[str, Reading], own: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding of the power subsystem (FEPS, rails, ACU flag, cartridges)."""
    own = own or {}
    out = _feps_findings(readings, limits)
    feps_silent = any(f.level == "unknown" and f.text.startswith("FEPS did not answer") for f in out)
    out += _judged(limits, [] if feps_silent else _FEPS_VOLTS, readings, own)
    out += _judged(limits, ["ACU.POWER_FAILURE"], readings, own)
    return out + _cartridge_findings(readings, limits)


def _shutdown_after_the_fact(readings: Mapping[str, Reading], femc_listed: bool) -> Finding | None:
    """The inferred rule: FEMC listed, its AMBSI answers, every FEMC module point times out,
    and the compressor reports a FETIM status error."""
    module = [n for n, r in readings.items() if n.startswith(("FEMC.", "FETIM.")) and "[" not in n and (r.error is not None or r.good)]
    if not femc_listed or not module or not all(_timed_out(readings[n]) for n in module):
        return None
    if _flag(readings, "CMPR.FETIM_STATUS_ERROR") == 1:
        return Finding("alarm", FETIM_SHUTDOWN_MEANS + " (recognised after the fact, inferred: the FEMC is listed and its "
                       "AMBSI answers, every FEMC module point times out, the compressor reports a FETIM status error)",
                       ("CMPR.FETIM_STATUS_ERROR",))  # fmt: skip
    return Finding("unknown", "the FEMC is listed and its AMBSI answers but every FEMC module point times out: its firmware "
                   "is not running (a FETIM shutdown if the compressor reports a FETIM status error)", ("FETIM.SHUTDOWN",))  # fmt: skip


def interlock_findings(readings: Mapping[str, Reading], femc_listed: bool = False) -> list[Finding]:
    """Every finding of the interlock subsystem (the FETIM and the compressor's view of it).
    ``femc_listed``: the FEMC's AMBSI answered this sweep (its node listing / SW_REV)."""
    after = _shutdown_after_the_fact(readings, femc_listed)
    if after is not None:
        return [after]
    out: list[Finding] = []
    shutdown = _flag(readings, "FETIM.SHUTDOWN")
    if shutdown == 1:
        out.append(Finding("alarm", FETIM_SHUTDOWN_MEANS, ("FETIM.SHUTDOWN",)))
    elif shutdown not in (None, 0):
        out.append(_unexpected("FETIM.SHUTDOWN", shutdown, readings))
    silent, why = _silent(readings, ["FETIM.SHUTDOWN", *(n for n in FETIM_FLAGS if n.startswith("FETIM.")), "FETIM.SAFE_TO_COOL"])
    if silent:
        out.append(Finding("unknown", f"FETIM not read (FEMC): {why}", ("FETIM.SHUTDOWN",)))
    multi = _flag(readings, "FETIM.MULTI_FAIL")  # two or more failed: the single-failure flag adds nothing
    for name, (what, level) in FETIM_FLAGS.items():
        v = _flag(readings, name)
        if v == 1 and not (name == "FETIM.SINGLE_FAIL" and multi == 1):
            out.append(Finding(level, what, (name,)))
        elif v not in (None, 0, 1):
            out.append(_unexpected(name, v, readings))
    safe = _flag(readings, "FETIM.SAFE_TO_COOL")
    if safe == 0:
        out.append(Finding("warn", "not safe to cool: the cryostat is above 5e-4 mbar, the compressor must not be started", ("FETIM.SAFE_TO_COOL",)))
    elif safe not in (None, 1):
        out.append(_unexpected("FETIM.SAFE_TO_COOL", safe, readings))
    status = _flag(readings, "CMPR.FETIM_STATUS_ERROR")
    if status == 1 and shutdown != 1:
        out.append(Finding("alarm", "the compressor reports a FETIM status error (interlocked by the FETIM)", ("CMPR.FETIM_STATUS_ERROR",)))
    elif status not in (None, 0, 1):
        out.append(_unexpected("CMPR.FETIM_STATUS_ERROR", status, readings))
    return out


def _summary(findings: Sequence[Finding], readings: Mapping[str, Reading], names: Sequence[str]) -> tuple[str, str, str]:
    """(verdict, reason, evidence) from findings: the worst level, its first finding."""
    if not any(n in readings for n in names):
        return "unknown", "not read", ""
    bad = [f for f in findings if f.level != "ok"]
    notes = [f.text for f in findings if f.level == "ok"]
    if not bad:
        shown = [f"{n}={readings[n].text}" for n in names if n in readings and readings[n].good][:3]
        # ok only when every point was read: one not read (or failed) leaves it unknown
        unread = [n for n in names if n not in readings or readings[n].error is not None]
        if unread:
            more = f" (+{len(unread) - 1} more)" if len(unread) > 1 else ""
            return "unknown", f"{unread[0]} not read{more}", "; ".join(shown)
        return "ok", "; ".join(notes), "; ".join(shown)
    worst = max((f.level for f in bad), key=_RANK.__getitem__)
    top = [f for f in bad if f.level == worst]
    more = f" (+{len(top) - 1} more)" if len(top) > 1 else ""
    evidence = []
    for f in top:
        for n in f.points:
            r = readings.get(n)
            if r is not None:
                evidence.append(f"{n}={r.text if r.error is None else '(' + str(r.error).split(':', 1)[0] + ')'}")
    return worst, top[0].text + more, "; ".join(dict.fromkeys(evidence))


def power_verdict(limits: Limits, readings: Mapping[str, Reading], own: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """(verdict, reason, evidence) of the power subsystem."""
    return _summary(power_findings(limits, readings, own), readings, POWER_POINTS)


def interlock_verdict(readings: Mapping[str, Reading], femc_listed: bool = False) -> tuple[str, str, str]:
    """(verdict, reason, evidence) of the interlock subsystem."""
    return _summary(interlock_findings(readings, femc_listed), readings, INTERLOCK_POINTS)


def femc_listed(rows: Iterable[Any]) -> bool:
    """Whether the FEMC's AMBSI answered in these tidy rows (its generic SW_REV read)."""
    return any(str(r.point).startswith("FEMC[") and not isinstance(r.error, str) for r in rows)


def power_facts(readings: Mapping[str, Reading], femc_is_listed: bool = False) -> set[str]:
    """Facts for the rules of ``rules.toml``: ``fetim_shutdown``, ``feps_off``, ``feps_fault``."""
    facts = set()
    if any(f.level == "alarm" and f.text.startswith("front end shut down by the FETIM") for f in interlock_findings(readings, femc_is_listed)):
        facts.add("fetim_shutdown")
    if _flag(readings, "FEPS.OUTPUT_STATE") == 0:
        facts.add("feps_off")
    if any(_flag(readings, n) == 1 for n in [*_FEPS_FLAG_POINTS, "FEPS.SYS_INTRLK_A", "FEPS.SYS_INTRLK_B"] if not n.startswith("FEPS.TEMP_WARN")):
        facts.add("feps_fault")
    return facts


def can_error_growth(data: Any, later: Any = None) -> Any:
    """Nodes whose CAN error count grew: one row per increase, each a ``warn``.

    ``data``: a loaded log (:func:`e2ckit.load`, several samples per point: every increase
    between two consecutive cycles counts) or a tidy sweep; ``later``: a second tidy sweep
    of the same points (two reads of a watch). Reads the ``*.CAN_ERROR`` points (the
    ``health`` group). Columns: antenna, point, time, before, after, limit, reason."""
    import pandas as pd  # lazy: triage is imported by the CLI, whose start-up stays light

    cols = ["antenna", "point", "time", "before", "after", "limit", "reason"]
    frames = [data] if later is None else [data, later]
    for f in frames:
        if not isinstance(f, pd.DataFrame) or not {"antenna", "point", "value"} <= set(f.columns):
            raise TypeError("can_error_growth needs tidy rows (sweep(..., tidy=True) or e2ckit.load()): columns antenna, point, value")
    both = pd.concat([f.assign(_order=i) for i, f in enumerate(frames)], ignore_index=True)
    both = both[both["point"].astype(str).str.endswith(".CAN_ERROR") & both["value"].notna()]
    sort = ["_order", "time"] if "time" in both.columns else ["_order"]
    rows = []
    for (antenna, point), g in both.sort_values(sort, kind="stable").groupby(["antenna", "point"], sort=False):
        values = g["value"].tolist()
        times = g["time"].tolist() if "time" in g.columns else [None] * len(values)
        for i in range(1, len(values)):
            if values[i] > values[i - 1]:
                rows.append((antenna, point, times[i], values[i - 1], values[i], "warn",
                             f"CAN error count grew from {values[i - 1]:g} to {values[i]:g}"))  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


#: columns of :func:`power_table` (short, so that a table of the array fits 80 columns)
POWER_TABLE_COLUMNS = ["antenna", "outputs", "intlk", "flags", "rails", "bands", "fetim", "cool", "acu", "verdict"]
_STATE_OF = {"ok": "ok", "unknown": "unavailable", "warn": "warn", "alarm": "alarm"}


def _text(readings: Mapping[str, Reading], name: str) -> str:
    r = readings.get(name)
    if r is None:
        return ""
    return r.text if r.error is None else "no answer" if _timed_out(r) else str(r.error).split(":", 1)[0]


def _rails(readings: Mapping[str, Reading]) -> str:
    """``8/8 ok`` (within 5 % of nominal), or the rails off nominal with their voltages."""
    good = [(rail, readings[f"FEPS.V_{rail}"].value) for rail in RAILS if f"FEPS.V_{rail}" in readings and readings[f"FEPS.V_{rail}"].good]
    if not good:
        return ""
    nominal = {r: float(RAIL_LABEL[r].split()[0]) for r in RAILS}
    off = [f"{RAIL_LABEL[r]} {v:.2f} V" for r, v in good if abs(v - nominal[r]) > 0.05 * abs(nominal[r])]
    if len(off) == len(good) and all(abs(v) < 0.5 for _, v in good):
        return "all ~0 V"
    return "; ".join(off) if off else f"{len(good)}/{len(RAILS)} ok"


def _cartridges(readings: Mapping[str, Reading]) -> str:
    """The bands powered (``3,6,7``; standby-2 marked ``6s``), ``none``, or why not read."""
    names = [f"FEMC.BAND{b}_ENABLE" for b in range(1, 11) if f"FEMC.BAND{b}_ENABLE" in readings]
    if not names:
        return ""
    if all(readings[n].error is not None for n in names):
        return _text(readings, names[0])
    bands = []
    for n in names:
        v = _flag(readings, n)
        if v in (1, 2):
            bands.append(n[9:-7] + ("s" if v == 2 else ""))
    return ",".join(bands) or "none"


def _table_row(antenna: str, rs: Sequence[Any], lim: Limits) -> tuple[list[str], list[str | None]]:
    readings = {r.point: _Reading(float(r.value), r.text or "", r.status or "ok", r.error if isinstance(r.error, str) else None)
                for r in rs}  # fmt: skip
    pf = power_findings(lim, readings, {r.point: r.limit for r in rs})
    itl = interlock_findings(readings, femc_listed(rs))
    pv = _summary(pf, readings, POWER_POINTS)[0]
    iv = _summary(itl, readings, INTERLOCK_POINTS)[0]
    flags = [f.text.removeprefix("FEPS ") for f in pf if f.level != "ok" and f.points
             and f.points[0].startswith(tuple(f"FEPS.{k}_" for k in FEPS_FLAGS))]  # fmt: skip
    locks = [s for s in ("A", "B") if _flag(readings, f"FEPS.SYS_INTRLK_{s}") == 1]
    fetim = ["SHUT DOWN" if f.text.startswith("front end shut down") else f.text.split(":")[0]
             for f in itl if f.level in ("warn", "alarm") and f.points[0] != "FETIM.SAFE_TO_COOL"]  # fmt: skip
    safe = {1: "yes", 0: "NO"}.get(_flag(readings, "FETIM.SAFE_TO_COOL"), _text(readings, "FETIM.SAFE_TO_COOL"))  # type: ignore[arg-type]
    acu = {0: "OK", 1: "FAIL"}.get(_flag(readings, "ACU.POWER_FAILURE"), _text(readings, "ACU.POWER_FAILURE"))  # type: ignore[arg-type]
    verdict = max(pv, iv, key=_RANK.__getitem__)
    row = [antenna, _text(readings, "FEPS.OUTPUT_STATE"), ",".join(locks) or "none", "; ".join(flags) or "none",
           _rails(readings), _cartridges(readings), "; ".join(fetim) or ("ok" if iv != "unknown" else "?"), safe, acu, verdict]  # fmt: skip
    states = [None, "alarm" if row[1] == "OFF" else None, "alarm" if locks else None, "alarm" if flags else None,
              None, None, _STATE_OF[iv] if fetim else None, "warn" if safe == "NO" else None,
              "alarm" if acu == "FAIL" else None, _STATE_OF[verdict]]  # fmt: skip
    return row, states


def power_table(rows: Sequence[Any], limits: Limits | None = None) -> tuple[list[str], list[list[str]], list[list[str | None]]]:
    """A readable power and interlock summary of tidy rows swept with :data:`POWER_WHAT`
    (and the FEMC's generic SW_REV, to tell a silent FEMC): one row per antenna, columns
    :data:`POWER_TABLE_COLUMNS` (verdict: the worse of diagnose's power and interlock), and
    a limit state per cell for colouring."""

    lim = limits if limits is not None else _Limits(False)
    by: dict[str, list[Any]] = {}
    for r in rows:
        by.setdefault(r.antenna, []).append(r)
    out, states = [], []
    for antenna, rs in by.items():
        row, st = _table_row(antenna, rs, lim)
        out.append(row)
        states.append(st)
    return list(POWER_TABLE_COLUMNS), out, states


def power_cell(readings: Mapping[str, Reading], limits: Limits | None = None) -> str:
    """A few words on the front end's power for a board cell: ``FETIM shutdown``, the FEPS
    flags set, ``outputs off``, ``on``; empty when no power point was read."""
    if not any(n.startswith(("FEPS.", "FETIM.")) for n in readings):
        return ""
    words = []
    if _flag(readings, "FETIM.SHUTDOWN") == 1:
        words.append("FETIM shutdown")
    elif _timed_out(readings.get("FETIM.SHUTDOWN")):
        # after a shutdown the FEMC exits (§13): with the compressor's FETIM error, that is one
        words.append("FETIM shutdown (inferred)" if _flag(readings, "CMPR.FETIM_STATUS_ERROR") == 1 else "FEMC silent")
    elif _flag(readings, "FETIM.DELAY_TRIGGERED") == 1:
        words.append("FETIM countdown")
    words += [f.text for f in _feps_findings(readings, limits or limits_in_force()) if f.level in ("warn", "alarm") and f.points[0] != "FEPS.OUTPUT_STATE"]
    state = _flag(readings, "FEPS.OUTPUT_STATE")
    if state == 0:
        words.append("outputs off")
    if not words:
        return "on" if state == 1 else "?"
    return "; ".join(words)


def power_report(antennas: str | Iterable[str] | None = None, *, array: Any = None, timeout: float = 1.0) -> Any:
    """The front end's power and interlocks, one row per antenna (what ``e2ckit tools
    power`` prints): FEPS outputs, system interlocks, flags set, rails, bands on, FETIM,
    safe to cool, ACU power flag and the worse of diagnose's power/interlock verdicts.
    ``antennas``, ``array``, ``timeout`` as for :func:`e2ckit.sweep`."""
    import pandas as pd

    rows = sweep_rows([*POWER_WHAT, "FEMC[0x13].SW_REV"], antennas, array=array, timeout=timeout)
    columns, values, _ = power_table(rows)
    return pd.DataFrame(values, columns=columns)
