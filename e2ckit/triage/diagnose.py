"""``diagnose()``: one sweep, a verdict per (antenna, subsystem), a probable cause per antenna.

One call reads what a troubleshooting engineer would look at — the node listing (through
the ``versions`` group, whose discovery is part of the same sweep), the cryostat, vacuum,
compressor, power supplies, LO reference, firmware revisions and the E2C — judges every
reading with :class:`~e2ckit.catalog.limits.Limits` (bounds, a site file, expected states)
and sums it up per subsystem:

=============  =====================================================================
reachability   did the antenna answer; transport failures among its requests
inventory      expected LRUs missing from the node listing, unexpected ones
cryostat       the 13 stage temperatures and the LO PA interlock (FEMC.LO_PA_BLOCKED)
vacuum         cryostat and port pressure, pumps, valves, gauge
compressor     drive, fault and alarm flags, helium pressures
power          FEPS outputs, interlocks, status flags and rails; the ACU power-failure
               flag; cartridge power (``triage/power.py``)
interlock      the FETIM: shutdown (also after the fact), sensors, compressor interlock
               (``triage/power.py``)
lo             LORR lock and status flags
firmware       each node's software revision against the array's majority
e2c            the E2C's processor temperature
=============  =====================================================================

Verdicts: ``ok``, ``warn``, ``alarm``, or ``unknown`` (no reading to judge by). The probable
cause comes from the first matching rule of ``rules.toml`` (data, not code).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import pandas as pd

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport (a dependency there)
    import tomli as tomllib  # type: ignore[no-redef]

from e2ckit.analysis import answered
from e2ckit.api import LISTING_ROW, sweep_rows
from e2ckit.catalog import default_catalog
from e2ckit.catalog.limits import _CLAUSE, COLD_BELOW_K, Limits, Reading, is_cold, judge, load_limits
from e2ckit.errors import ValidationError
from e2ckit.triage import power as _power

if TYPE_CHECKING:
    import os

    from e2ckit.api import TidyRow

__all__ = ["DIAGNOSE_WHAT", "SUBSYSTEMS", "VERDICTS", "Diagnosis", "diagnose", "diagnose_rows", "load_rules"]

VERDICTS = ("ok", "unknown", "warn", "alarm")  # worst last
_RANK = {v: i for i, v in enumerate(VERDICTS)}
_LIMIT_TO_VERDICT = {"ok": "ok", "unavailable": "unknown", "warn": "warn", "alarm": "alarm"}

SUBSYSTEMS = ("reachability", "inventory", "cryostat", "vacuum", "compressor", "power", "interlock", "lo", "firmware", "e2c")

_CRYO_TEMPS = [f"FEMC.TEMP{i}" for i in range(13)]
_VACUUM = [
    "FEMC.CRYOSTAT_PRESSURE", "FEMC.PORT_PRESSURE", "FEMC.BACKING_PUMP", "FEMC.TURBO_PUMP",
    "FEMC.TURBO_STATE", "FEMC.TURBO_SPEED", "FEMC.GATE_VALVE", "FEMC.SOLENOID_VALVE",
    "FEMC.VACUUM_GAUGE", "FEMC.VACUUM_GAUGE_STATE",
]  # fmt: skip
_COMPRESSOR = [
    "CMPR.DRIVE", "CMPR.FAULT", "CMPR.PRESSURE_ALARM", "CMPR.TEMP_ALARM", "CMPR.SUPPLY_PRESSURE",
    "CMPR.RETURN_PRESSURE", "CMPR.INTERLOCK_OVERRIDE",
]  # fmt: skip
_POWER = _power.POWER_POINTS
_LO = ["LORR.DCM_LOCKED", "LORR.V12_OUT_OF_RANGE", "LORR.V15_OUT_OF_RANGE", "LORR.RX_OPT_PWR_ERROR",
       "LORR.UNLOCKED_2GHZ", "LORR.UNLOCKED_125MHZ"]  # fmt: skip
_E2C = ["E2C.PROCESSOR_TEMP"]
_DERIVED = ["FEMC.LO_PA_BLOCKED"]

#: what diagnose() sweeps: static points, then the dynamic ``versions`` group (every listed
#: node's software revision and the E2C's), which makes the sweep list each antenna's nodes
DIAGNOSE_WHAT: list[str] = [*_CRYO_TEMPS, *_VACUUM, *_COMPRESSOR, *_power.POWER_WHAT, *_LO, *_E2C, "versions"]

_MEMBERS = {
    # the interlock first: when it holds, its claim is the one shown ("LO PAs blocked: ...")
    "cryostat": [*_DERIVED, *_CRYO_TEMPS],
    "vacuum": _VACUUM,
    "compressor": _COMPRESSOR,
    "power": _POWER,
    "interlock": _power.INTERLOCK_POINTS,
    "lo": _LO,
    "e2c": _E2C,
}
_STAGE = {"FEMC.TEMP0": "4K", "FEMC.TEMP5": "15K", "FEMC.TEMP9": "110K"}
#: the readings an ok subsystem shows as its evidence
_KEY_POINTS = ("FEMC.CRYOSTAT_PRESSURE", "CMPR.DRIVE", "LORR.DCM_LOCKED", "E2C.PROCESSOR_TEMP")
_NODE_REV = re.compile(r"^(?P<abbrev>[A-Za-z0-9?]+)\[(?:(?P<ch>\d+):)?0x(?P<node>[0-9A-Fa-f]+)\]\.SW_REV$")
#: columns of a diagnosis; ``rule`` names the rules.toml rule behind ``cause`` ("" for none)
DIAGNOSIS_COLUMNS = ["antenna", "subsystem", "verdict", "reason", "evidence", "cause", "rule"]
_DOWN_REASON = "antenna did not answer"
#: the inventory's reason when an answering E2C lists no node at all (issue 22 item 3)
SILENT_BUS = "every expected LRU missing: CAN bus silent or front end unpowered"
_FACTS = ("no_answer", "catalog_error", "lru_missing", "flaky_network", "slow", "any_alarm", "any_warn",
          "fetim_shutdown", "feps_off", "feps_fault")  # fmt: skip
#: an E2C whose median reply time passes this (ms) is "slow": a warning, never down
SLOW_MS = 250.0


def _transport(error: object) -> bool:
    """Whether a row failed in transport (no answer, or bytes that are not the protocol).
    An E2C error reply or a catalog mismatch is an answer: the E2C is up."""
    return not answered(error)


# -- rules ---------------------------------------------------------------------------------


#: rule clauses for the one "cold" (4K < 5 K and 15K < 30 K, both read): "cold", "not cold"
_COLD = ("cold", "not cold")


@dataclass(frozen=True)
class Rule:
    """One probable-cause rule of ``rules.toml``."""

    name: str
    when: tuple[str, ...]
    cause: str

    def holds(self, facts: set[str], readings: Mapping[str, Reading]) -> bool:
        for clause in self.when:
            if clause in _FACTS:
                if clause not in facts:
                    return False
                continue
            if clause in _COLD:  # the one "cold" (catalog.limits.COLD_BELOW_K); unknown is neither
                temps = [readings.get(p) for p in COLD_BELOW_K]
                if not all(r is not None and r.good for r in temps):
                    return False
                if is_cold({p: r.value for p, r in zip(COLD_BELOW_K, temps)}) != (clause == "cold"):  # type: ignore[union-attr]
                    return False
                continue
            point, op, operand = _CLAUSE.match(clause).groups()  # type: ignore[union-attr]
            r = readings.get(point)
            if r is None or not r.good:
                return False
            if op in ("==", "!="):
                same = r.text.strip().lower() == operand.lower()
                if same != (op == "=="):
                    return False
            elif not {"<": r.value < float(operand), "<=": r.value <= float(operand),
                      ">": r.value > float(operand), ">=": r.value >= float(operand)}[op]:  # fmt: skip
                return False
        return True


def load_rules(text: str | None = None, label: str = "e2ckit/triage/rules.toml") -> list[Rule]:
    """The rules of ``rules.toml`` (or of ``text``), checked: every clause is a known fact or a
    comparison of a catalog point; errors name the file and the rule."""
    if text is None:
        text = (resources.files("e2ckit.triage") / "rules.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{label}: {exc}") from None
    cat = default_catalog()
    rules = []
    for i, r in enumerate(data.get("rules", []), 1):
        where = f"{label}: rule {i} ({r.get('name', '?')})"
        if not isinstance(r.get("cause"), str) or not isinstance(r.get("when"), list) or not r["when"]:
            raise ValidationError(f"{where}: needs a 'cause' (text) and a non-empty 'when' list")
        for c in r["when"]:
            if c in _FACTS or c in _COLD:
                continue
            m = _CLAUSE.match(str(c))
            if not m:
                raise ValidationError(f"{where}: {c!r} is not a fact ({', '.join(_FACTS)}) or POINT<NUMBER / POINT==TEXT")
            if m.group(1) not in cat.points:
                raise ValidationError(f"{where}: unknown point {m.group(1)!r}")
            if m.group(2) not in ("==", "!="):
                try:
                    float(m.group(3))
                except ValueError:
                    raise ValidationError(f"{where}: {m.group(3)!r} is not a number") from None
        rules.append(Rule(str(r.get("name", f"rule{i}")), tuple(r["when"]), r["cause"]))
    return rules


# -- the report ----------------------------------------------------------------------------


class Diagnosis(pd.DataFrame):
    """The result of :func:`diagnose`: a DataFrame with one row per (antenna, subsystem),
    columns ``antenna subsystem verdict reason evidence cause rule`` (``cause``: the
    antenna's probable cause, the same on each of its rows; ``rule``: its name in rules.toml). Shows a compact summary in a notebook
    and as text (80 columns); a slice of it is a plain DataFrame."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:  # slices are plain frames
        return pd.DataFrame

    def worst(self) -> str:
        """The worst verdict of the whole report (``ok`` when empty)."""
        return max(self["verdict"], key=_RANK.__getitem__, default="ok")

    def summary(self) -> pd.DataFrame:
        """One row per antenna: worst verdict, the subsystems that are not ok, the cause."""
        rows = []
        for a, g in self.groupby("antenna", sort=False):
            worst = max(g["verdict"], key=_RANK.__getitem__)
            bad = g[g["verdict"] != "ok"]
            rows.append((a, worst, ", ".join(f"{s} {v}" for s, v in zip(bad["subsystem"], bad["verdict"], strict=True)), g["cause"].iloc[0]))
        return pd.DataFrame(rows, columns=["antenna", "verdict", "problems", "cause"])

    def to_text(self, width: int = 80, *, summary: bool = True) -> str:
        """The report as text no wider than ``width``: each antenna that is not all ok with its
        cause and the subsystems that are not ok, then the antennas that are, then (with
        ``summary``) the count of antennas by verdict (``check`` says that on stderr)."""
        return render_text(self, width, summary=summary)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return render_html(self)


_COLOURS = {"ok": "#2e7d32", "warn": "#b26a00", "alarm": "#c62828", "unknown": "#777"}
_BG = {"ok": "#e8f5e9", "warn": "#fff3cd", "alarm": "#f8d0d0", "unknown": "#eeeeee"}


def _cut(text: str, n: int, indent: int = 0) -> str:
    """``text`` whole, wrapped to ``n`` columns (continuation lines indented): a cause or
    an action is never cut (issue 25)."""
    import textwrap

    if len(text) <= n:
        return text
    return "\n".join(textwrap.wrap(text, max(n, 20), subsequent_indent=" " * indent, break_on_hyphens=False))


def render_text(d: pd.DataFrame, width: int = 80, *, summary: bool = True) -> str:
    """Text of a diagnosis frame, every line at most ``width`` characters."""
    lines: list[str] = []
    healthy: list[str] = []
    counts = Counter()
    for a, g in d.groupby("antenna", sort=False):
        worst = max(g["verdict"], key=_RANK.__getitem__)
        counts[worst] += 1
        if worst == "ok":
            healthy.append(str(a))
            continue
        lines.append(_cut(f"{a:<6} {worst.upper():<7} {g['cause'].iloc[0]}", width, 15))
        for _, r in g[g["verdict"] != "ok"].iterrows():
            if r["reason"] == _DOWN_REASON:
                continue  # implied by the reachability line
            lines.append(_cut(f"  {r['subsystem']:<12} {r['verdict']:<7} {r['reason']}", width, 23))
    if healthy:
        line = "ok:"
        for a in healthy:
            if len(line) + 1 + len(a) > width:
                lines.append(line)
                line = "   "
            line += " " + a
        lines.append(line)
    total = ", ".join(f"{counts[v]} {v}" for v in reversed(VERDICTS) if counts[v])
    if summary or not counts:
        lines.append(_cut(f"{sum(counts.values())} antennas: {total}" if counts else "no antennas", width))
    return "\n".join(lines)


def render_html(d: pd.DataFrame) -> str:
    """A compact HTML summary: one line per antenna, a coloured cell per subsystem (hover for
    the reason), the probable cause."""
    import html

    subs = [s for s in SUBSYSTEMS if s in set(d["subsystem"])]
    head = "".join(f"<th style='padding:2px 4px'>{html.escape(s)}</th>" for s in subs)
    body = []
    for a, g in d.groupby("antenna", sort=False):
        by = {r["subsystem"]: r for _, r in g.iterrows()}
        cells = []
        for s in subs:
            r = by.get(s)
            if r is None:
                cells.append("<td></td>")
                continue
            v = r["verdict"]
            tip = html.escape(f"{r['reason']} | {r['evidence']}", quote=True)
            cells.append(
                f"<td title='{tip}' style='background:{_BG[v]};color:{_COLOURS[v]};text-align:center;padding:2px 4px'>{v}</td>"
            )
        worst = max(g["verdict"], key=_RANK.__getitem__)
        body.append(
            f"<tr><th style='text-align:left;color:{_COLOURS[worst]}'>{html.escape(str(a))}</th>{''.join(cells)}"
            f"<td style='text-align:left'>{html.escape(str(g['cause'].iloc[0]))}</td></tr>"
        )
    counts = Counter(max(g["verdict"], key=_RANK.__getitem__) for _, g in d.groupby("antenna", sort=False))
    total = ", ".join(f"{counts[v]} {v}" for v in reversed(VERDICTS) if counts[v])
    return (
        f"<div class='e2ckit-diagnosis'><b>diagnose: {sum(counts.values())} antennas: {html.escape(total)}</b>"
        f"<table style='font-size:90%;border-collapse:collapse'><tr><th>antenna</th>{head}"
        f"<th style='text-align:left'>probable cause</th></tr>{''.join(body)}</table></div>"
    )


# -- judging one antenna -------------------------------------------------------------------


def _fmt_evidence(items: Iterable[tuple[str, Reading]], n: int = 4) -> str:
    parts = []
    for name, r in items:
        shown = r.text if r.error is None else f"({r.error.split(':', 1)[0]})"
        parts.append(f"{name}={shown}")
    parts = list(dict.fromkeys(parts))
    return "; ".join(parts[:n]) + (f"; +{len(parts) - n} more" if len(parts) > n else "")


def _verdict(
    limits: Limits, names: Sequence[str], readings: Mapping[str, Reading], own: Mapping[str, str] | None = None
) -> tuple[str, str, str]:
    """(verdict, reason, evidence) of a subsystem: the worst of its readings' states as the one
    judgement (:func:`~e2ckit.catalog.limits.judge`) gives them, never worse; the reason is
    the worst findings' claims, rendered from their numbers."""
    found = [judge(n, readings[n], readings, limits=limits, own=(own or {}).get(n, "ok")) for n in names if n in readings]
    # a point the sweep should have read and has no row for (a derived condition follows its inputs)
    absent = [n for n in names if n not in readings and n not in _DERIVED]
    if not found:
        return "unknown", "not read", ""
    if all(readings[f.point].error is not None for f in found):
        return "unknown", _cut(f"no reading: {readings[found[0].point].error or ''}", 200), ""
    worst = max((_LIMIT_TO_VERDICT[f.state] for f in found), key=_RANK.__getitem__)
    if worst == "ok" and absent:
        more = f" (+{len(absent) - 1} more)" if len(absent) > 1 else ""
        return "unknown", f"{absent[0]} not read{more}", _fmt_evidence([(f.point, readings[f.point]) for f in found[:3]])
    if worst == "ok":
        keys = [(f.point, readings[f.point]) for f in found if f.point in _STAGE or f.point in _KEY_POINTS]
        return "ok", "", _fmt_evidence(keys or [(f.point, readings[f.point]) for f in found[:3]])
    bad = [f for f in found if _LIMIT_TO_VERDICT[f.state] == worst]
    more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
    return worst, _cut(bad[0].claim() + more, 300), _fmt_evidence([(f.point, readings[f.point]) for f in bad])


def _inventory(cat: Any, antenna: str, rows: Sequence[TidyRow]) -> tuple[str, str, str, list[str]]:
    listed: dict[int, str] = {}
    for r in rows:
        m = _NODE_REV.match(r.point)
        if m:
            listed[int(m.group("node"), 16)] = m.group("abbrev")
    expected = cat.expected_inventory(antenna)
    if not listed:
        failed = next((r.error for r in rows if r.point == LISTING_ROW and r.error is not None), None)
        if failed is not None or not any(r.point == "E2C.SW_REV" for r in rows):
            return "unknown", _cut(f"no node listing: {failed}" if failed else "no node listing", 200), "", []
        # the E2C answered its listings and named no node on any channel
        missing = [f"{abbr} 0x{n:02X} (ch {c})" for c, n, abbr in expected]
        return "alarm", SILENT_BUS, f"0 nodes listed, {len({n for _, n, _ in expected})} expected", missing
    exp_nodes = {n for _, n, _ in expected}
    missing = [f"{abbr} 0x{n:02X} (ch {c})" for c, n, abbr in expected if n not in listed]
    extra = [f"{abbr} 0x{n:02X}" for n, abbr in sorted(listed.items()) if n not in exp_nodes]
    evidence = f"{len(listed)} nodes listed, {len(exp_nodes)} expected"
    if missing:
        return "alarm", _cut("missing from the node listing: " + ", ".join(missing), 200), evidence, missing
    if extra:
        return "warn", "unexpected nodes: " + ", ".join(extra), evidence, []
    failed = next((r.error for r in rows if r.point == LISTING_ROW and r.error is not None), None)
    if failed is not None:  # every expected node listed, but some listing did not come back whole
        return "unknown", _cut(f"node listing incomplete: {failed}", 200), evidence, []
    return "ok", "", evidence, []


def _firmware(antenna: str, rows: Sequence[TidyRow], majority: Mapping[str, tuple[str, int, int]]) -> tuple[str, str, str]:
    revs = [(r.point, r.text) for r in rows if r.point.endswith(".SW_REV") and r.error is None and r.status == "ok"]
    if not revs:
        return "unknown", "no software revision read", ""
    odd = []
    for p, text in revs:
        m = majority.get(p)
        if m is not None and text != m[0]:
            odd.append(f"{p.removesuffix('.SW_REV')} {text} (majority {m[0]}, {m[1]}/{m[2]})")
    if odd:
        return "warn", _cut("differs from the array's majority: " + "; ".join(odd), 200), f"{len(odd)} of {len(revs)} revisions differ"
    unread = [r.point for r in rows if r.point.endswith(".SW_REV") and (r.error is not None or r.status != "ok")]
    unread += [] if any(r.point == "E2C.SW_REV" for r in rows) else ["E2C.SW_REV"]
    if unread:
        more = f" (+{len(unread) - 1} more)" if len(unread) > 1 else ""
        return "unknown", f"{unread[0]} not read{more}", f"{len(revs)} revisions read"
    return "ok", "", f"{len(revs)} revisions, none against a majority"


def _majorities(by_antenna: Mapping[str, Sequence[TidyRow]]) -> dict[str, tuple[str, int, int]]:
    """Per revision point: (majority text, antennas with it, antennas read), where a clear
    majority exists (more than half of at least 3 antennas). LRU types whose revisions vary
    with no majority are not judged."""
    seen: dict[str, Counter] = {}
    for rows in by_antenna.values():
        for r in rows:
            if r.point.endswith(".SW_REV") and r.error is None and r.status == "ok":
                seen.setdefault(r.point, Counter())[r.text] += 1
    out = {}
    for p, c in seen.items():
        total = sum(c.values())
        text, n = c.most_common(1)[0]
        if total >= 3 and n * 2 > total and n < total:
            out[p] = (text, n, total)
    return out


def _reachability(rows: Sequence[TidyRow], readings: Mapping[str, Reading], slow_ms: float) -> tuple[tuple[str, str, str], set[str]]:
    """(verdict, reason, evidence) of whether the antenna answered, and the facts it gives.
    Any bytes back are an answer (an E2C error reply, a reply that does not decode); an E2C
    whose median reply time passes ``slow_ms`` is slow — a warning, never down."""
    up = [r for r in rows if answered(r.error, r.raw)]
    transport = [r for r in rows if not answered(r.error, r.raw)]
    if not up:
        first = transport[0].error if transport else "no reply"
        return ("alarm", _cut(f"no answer: {first}", 200), f"{len(rows)} requests, none answered"), {"no_answer"}
    if transport:
        kinds = Counter(str(r.error).split(":", 1)[0] for r in transport)
        what = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        evidence = _fmt_evidence([(r.point, readings[r.point]) for r in transport])
        return ("warn", f"{len(transport)} of {len(rows)} requests failed: {what}", evidence), {"flaky_network"}
    latencies = sorted(r.latency_ms for r in up if r.latency_ms == r.latency_ms)
    median = latencies[len(latencies) // 2] if latencies else math.nan
    if median > slow_ms:
        why = f"slow: median reply time {median:.0f} ms over {len(latencies)} replies (slow above {slow_ms:g} ms)"
        return ("warn", why, f"{len(rows)} readings, median {median:.0f} ms"), {"slow"}
    return ("ok", "", f"{len(rows)} readings" + (f", median {median:.0f} ms" if latencies else "")), set()


def _diagnose_antenna(
    cat: Any, limits: Limits, rules: Sequence[Rule], antenna: str, rows: Sequence[TidyRow],
    majority: Mapping[str, tuple[str, int, int]], slow_ms: float = 250.0,
) -> list[tuple[str, ...]]:  # fmt: skip
    readings = {r.point: Reading(float(r.value), r.text or "", r.status or "ok", r.error) for r in rows}
    reach, facts = _reachability(rows, readings, slow_ms)
    out: list[tuple[str, str, str, str]] = [("reachability", *reach)]
    if "no_answer" in facts:
        out += [(s, "unknown", _DOWN_REASON, "") for s in SUBSYSTEMS[1:]]
    else:
        v, reason, ev, missing = _inventory(cat, antenna, rows)
        if missing and "flaky_network" in facts:
            # some requests were lost: the listing itself may be what is incomplete
            lost = sum(1 for r in rows if _transport(r.error))
            v, reason = "unknown", _cut(f"node listing may be incomplete ({lost} requests failed); not listed: " + ", ".join(missing), 200)
        elif missing:
            facts.add("lru_missing")
        out.append(("inventory", v, reason, ev))
        own = {r.point: r.limit for r in rows}
        out += [(s, *_verdict(limits, _MEMBERS[s], readings, own)) for s in ("cryostat", "vacuum", "compressor")]
        listed = _power.femc_listed(rows)
        out.append(("power", *_power.power_verdict(limits, readings, own)))
        out.append(("interlock", *_power.interlock_verdict(readings, listed)))
        facts |= _power.power_facts(readings, listed)
        out.append(("lo", *_verdict(limits, _MEMBERS["lo"], readings, own)))
        out.append(("firmware", *_firmware(antenna, rows, majority)))
        out.append(("e2c", *_verdict(limits, _MEMBERS["e2c"], readings)))
    bad = next((r for r in rows if r.error is not None and str(r.error).startswith("catalog:")), None)
    if bad is not None:
        # the one way a subsystem reads worse than its readings: the named rule "catalog"
        facts.add("catalog_error")
        where = _subsystem_of(bad.point)
        out = [(s, "warn", f"{bad.error} (catalog problem, not hardware)", ev) if s == where else (s, v, reason, ev)
               for s, v, reason, ev in out]  # fmt: skip
    verdicts = {v for _, v, _, _ in out}
    facts |= {"any_alarm", "any_warn"} if "alarm" in verdicts else ({"any_warn"} if "warn" in verdicts else set())
    rule = next((r for r in rules if r.holds(facts, readings)), None)
    if rule is not None:
        cause = rule.cause
    else:
        worst = max(verdicts, key=_RANK.__getitem__)
        cause = {"ok": "none: all ok", "unknown": "unknown: some subsystems could not be read"}.get(worst, "no rule matches: see the reasons")
    name = rule.name if rule is not None else ""
    return [(antenna, s, v, reason, ev, cause, name) for s, v, reason, ev in out]


def _subsystem_of(point: str) -> str:
    for s, members in _MEMBERS.items():
        if point in members:
            return s
    return "firmware" if point.endswith(".SW_REV") else "reachability"


def diagnose_rows(
    rows: Sequence[TidyRow], *, limits: Limits | str | os.PathLike[str] | None | bool = None, rules: Sequence[Rule] | None = None,
    slow_ms: float = SLOW_MS,
) -> Diagnosis:  # fmt: skip
    """The diagnosis of tidy rows already swept with :data:`DIAGNOSE_WHAT` (what
    :func:`diagnose` does after its sweep; for tests and for callers that sweep themselves)."""
    _check_slow(slow_ms)
    lim = load_limits(limits)
    rules = load_rules() if rules is None else rules
    by_antenna: dict[str, list[TidyRow]] = {}
    for r in rows:
        by_antenna.setdefault(r.antenna, []).append(r)
    majority = _majorities(by_antenna)
    out = []
    for a, rs in by_antenna.items():
        out += _diagnose_antenna(lim.catalog, lim, rules, a, rs, majority, slow_ms)
    return Diagnosis(out, columns=DIAGNOSIS_COLUMNS)


def diagnose(
    antennas: str | Iterable[str] | None = "all",
    *,
    array: Any = None,
    timeout: float = 1.0,
    deadline: float | None = None,
    limits: Limits | str | os.PathLike[str] | None | bool = None,
    slow_ms: float = SLOW_MS,
) -> Diagnosis:
    """Diagnose antennas in one sweep: one row per (antenna, subsystem) with a verdict
    (``ok``/``warn``/``alarm``/``unknown``), a one-line reason, the evidence (points and
    values) and the antenna's probable cause (``rules.toml``).

    ``antennas``, ``array``, ``timeout``, ``deadline`` as for :func:`e2ckit.sweep`;
    ``limits``: a site limits file (default ``$E2CKIT_SITE_LIMITS``) or False; ``slow_ms``:
    an E2C whose median reply time is above it (default 250 ms) is *slow* (reachability
    warn, the time shown), never down. An unknown antenna or a malformed site file raise
    :class:`~e2ckit.errors.ValidationError` before anything is sent.
    """
    _check_slow(slow_ms)
    lim = load_limits(limits)  # a bad site file fails before any I/O
    rules = load_rules()
    if isinstance(antennas, str) and antennas.lower() == "all":
        antennas = None
    rows = sweep_rows(DIAGNOSE_WHAT, antennas, array=array, timeout=timeout, deadline=deadline, catalog=lim.catalog)
    return diagnose_rows(rows, limits=lim, rules=rules, slow_ms=slow_ms)


def _check_slow(slow_ms: object) -> None:
    if isinstance(slow_ms, bool) or not isinstance(slow_ms, (int, float)) or not slow_ms > 0 or slow_ms != slow_ms:
        raise ValidationError(f"slow_ms must be a positive number of milliseconds, got {slow_ms!r}")
