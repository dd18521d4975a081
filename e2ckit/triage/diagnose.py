"""``diagnose()``: one sweep, a verdict per (antenna, subsystem), a probable cause per antenna.

One call reads what a troubleshooting engineer would look at — the node listing (through
the ``versions`` group, whose discovery is part of the same sweep), the cryostat, vacuum,
compressor, power supplies, LO reference, firmware revisions and the E2C — judges every
reading with :class:`~e2ckit.triage.limits.Limits` (bounds, a site file, expected states)
and sums it up per subsystem:

=============  =====================================================================
reachability   did the antenna answer; transport failures among its requests
inventory      expected LRUs missing from the node listing, unexpected ones
cryostat       the 13 stage temperatures and the LO PA interlock (FEMC.LO_PA_BLOCKED)
vacuum         cryostat and port pressure, pumps, valves, gauge
compressor     drive, fault and alarm flags, helium pressures
power          FEPS voltages and the ACU power-failure flag
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

from e2ckit.errors import Failure, ValidationError
from e2ckit.triage.limits import _CLAUSE, Limits, Reading, load_limits

if TYPE_CHECKING:
    import os

    from e2ckit.api import TidyRow

__all__ = ["DIAGNOSE_WHAT", "SUBSYSTEMS", "VERDICTS", "Diagnosis", "diagnose", "diagnose_rows", "load_rules"]

VERDICTS = ("ok", "unknown", "warn", "alarm")  # worst last
_RANK = {v: i for i, v in enumerate(VERDICTS)}
_LIMIT_TO_VERDICT = {"ok": "ok", "unavailable": "unknown", "warn": "warn", "alarm": "alarm"}

SUBSYSTEMS = ("reachability", "inventory", "cryostat", "vacuum", "compressor", "power", "lo", "firmware", "e2c")

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
_POWER = ["ACU.POWER_FAILURE", *(f"FEPS.V_{v}" for v in ("P5", "P6", "P7", "N7", "P9", "P16", "N16", "P25"))]
_LO = ["LORR.DCM_LOCKED", "LORR.V12_OUT_OF_RANGE", "LORR.V15_OUT_OF_RANGE", "LORR.RX_OPT_PWR_ERROR",
       "LORR.UNLOCKED_2GHZ", "LORR.UNLOCKED_125MHZ"]  # fmt: skip
_E2C = ["E2C.PROCESSOR_TEMP"]
_DERIVED = ["FEMC.LO_PA_BLOCKED"]

#: what diagnose() sweeps: static points, then the dynamic ``versions`` group (every listed
#: node's software revision and the E2C's), which makes the sweep list each antenna's nodes
DIAGNOSE_WHAT: list[str] = [*_CRYO_TEMPS, *_VACUUM, *_COMPRESSOR, *_POWER, *_LO, *_E2C, "versions"]

_MEMBERS = {
    "cryostat": [*_CRYO_TEMPS, *_DERIVED],
    "vacuum": _VACUUM,
    "compressor": _COMPRESSOR,
    "power": _POWER,
    "lo": _LO,
    "e2c": _E2C,
}
_STAGE = {"FEMC.TEMP0": "4K", "FEMC.TEMP5": "15K", "FEMC.TEMP9": "110K"}
_NODE_REV = re.compile(r"^(?P<abbrev>[A-Za-z0-9?]+)\[(?:(?P<ch>\d+):)?0x(?P<node>[0-9A-Fa-f]+)\]\.SW_REV$")
#: columns of a diagnosis; ``rule`` names the rules.toml rule behind ``cause`` ("" for none)
DIAGNOSIS_COLUMNS = ["antenna", "subsystem", "verdict", "reason", "evidence", "cause", "rule"]
_DOWN_REASON = "antenna did not answer"
_FACTS = ("no_answer", "catalog_error", "lru_missing", "flaky_network", "any_alarm", "any_warn")


def _transport(error: object) -> bool:
    """Whether a row failed in transport (no answer, or bytes that are not the protocol).
    An E2C error reply or a catalog mismatch is an answer: the E2C is up."""
    failure = Failure.parse(error)
    return failure is not None and failure.e2c_name is None and failure.kind != "catalog"


# -- rules ---------------------------------------------------------------------------------


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
    from e2ckit.catalog import default_catalog

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
            if c in _FACTS:
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

    def to_text(self, width: int = 80) -> str:
        """The report as text no wider than ``width``: each antenna that is not all ok with its
        cause and the subsystems that are not ok, then the antennas that are."""
        return render_text(self, width)

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


def render_text(d: pd.DataFrame, width: int = 80) -> str:
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
    """(verdict, reason, evidence) of a subsystem from its points' readings."""
    judged = []
    for n in names:
        r = readings.get(n)
        if r is None:
            continue
        state, reason, _ = limits.judge(n, r, readings, (own or {}).get(n, "ok"))
        judged.append((n, r, _LIMIT_TO_VERDICT[state], reason))
    if not judged:
        return "unknown", "not read", ""
    if all(r.error is not None for _, r, _, _ in judged):
        first = judged[0][1].error or ""
        return "unknown", _cut(f"no reading: {first}", 200), ""
    worst = max((v for _, _, v, _ in judged), key=_RANK.__getitem__)
    if worst == "ok":
        keys = [(n, r) for n, r, _, _ in judged if n in _STAGE or n in ("FEMC.CRYOSTAT_PRESSURE", "CMPR.DRIVE", "LORR.DCM_LOCKED", "E2C.PROCESSOR_TEMP")]
        return "ok", "", _fmt_evidence(keys or [(n, r) for n, r, _, _ in judged[:3]])
    bad = [(n, r, reason) for n, r, v, reason in judged if v == worst]
    n0, _, reason0 = bad[0]
    more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
    reason = f"{n0} {reason0}{more}"
    return worst, reason, _fmt_evidence([(n, r) for n, r, _ in bad])


def _cryostat(limits: Limits, readings: Mapping[str, Reading], own: Mapping[str, str]) -> tuple[str, str, str]:
    verdict, reason, evidence = _verdict(limits, _MEMBERS["cryostat"], readings, own)
    if verdict in ("warn", "alarm"):
        stages = ", ".join(f"{s} {readings[p].text} K" for p, s in _STAGE.items() if p in readings and readings[p].good)
        pa = readings.get("FEMC.LO_PA_BLOCKED")
        blocked = "; LO PAs blocked (TEMP0 and TEMP5 >= 30 K)" if pa is not None and pa.good and pa.value else ""
        reason = f"stages above their cold range: {stages}{blocked}" if stages else reason
    return verdict, reason, evidence


def _inventory(cat: Any, antenna: str, rows: Sequence[TidyRow]) -> tuple[str, str, str, list[str]]:
    listed: dict[int, str] = {}
    for r in rows:
        m = _NODE_REV.match(r.point)
        if m:
            listed[int(m.group("node"), 16)] = m.group("abbrev")
    if not listed:
        return "unknown", "no node listing", "", []
    expected = cat.expected_inventory(antenna)
    exp_nodes = {n for _, n, _ in expected}
    missing = [f"{abbr} 0x{n:02X} (ch {c})" for c, n, abbr in expected if n not in listed]
    extra = [f"{abbr} 0x{n:02X}" for n, abbr in sorted(listed.items()) if n not in exp_nodes]
    evidence = f"{len(listed)} nodes listed, {len(exp_nodes)} expected"
    if missing:
        return "alarm", _cut("missing from the node listing: " + ", ".join(missing), 200), evidence, missing
    if extra:
        return "warn", "unexpected nodes: " + ", ".join(extra), evidence, []
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


def _diagnose_antenna(
    cat: Any, limits: Limits, rules: Sequence[Rule], antenna: str, rows: Sequence[TidyRow],
    majority: Mapping[str, tuple[str, int, int]],
) -> list[tuple[str, ...]]:  # fmt: skip
    readings = {r.point: Reading(float(r.value), r.text or "", r.status or "ok", r.error) for r in rows}
    answered = [r for r in rows if not _transport(r.error)]
    transport = [r for r in rows if _transport(r.error)]
    facts: set[str] = set()
    out: list[tuple[str, str, str, str]] = []
    if not answered:
        facts.add("no_answer")
        first = transport[0].error if transport else "no reply"
        out.append(("reachability", "alarm", _cut(f"no answer: {first}", 200), f"{len(rows)} requests, none answered"))
        for s in SUBSYSTEMS[1:]:
            out.append((s, "unknown", _DOWN_REASON, ""))
    else:
        if transport:
            facts.add("flaky_network")
            kinds = Counter(str(r.error).split(":", 1)[0] for r in transport)
            what = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
            out.append(("reachability", "warn", f"{len(transport)} of {len(rows)} requests failed: {what}", _fmt_evidence([(r.point, readings[r.point]) for r in transport])))
        else:
            out.append(("reachability", "ok", "", f"{len(rows)} readings"))
        v, reason, ev, missing = _inventory(cat, antenna, rows)
        if missing and transport:
            # some requests were lost: the listing itself may be what is incomplete
            v, reason = "unknown", _cut(f"node listing may be incomplete ({len(transport)} requests failed); not listed: " + ", ".join(missing), 200)
        elif missing:
            facts.add("lru_missing")
        out.append(("inventory", v, reason, ev))
        own = {r.point: r.limit for r in rows}
        out.append(("cryostat", *_cryostat(limits, readings, own)))
        for s in ("vacuum", "compressor", "power", "lo"):
            out.append((s, *_verdict(limits, _MEMBERS[s], readings, own)))
        out.append(("firmware", *_firmware(antenna, rows, majority)))
        out.append(("e2c", *_verdict(limits, _MEMBERS["e2c"], readings)))
    if any(r.error is not None and str(r.error).startswith("catalog:") for r in rows):
        facts.add("catalog_error")
        bad = next(r for r in rows if r.error is not None and str(r.error).startswith("catalog:"))
        out = [(s, v if s != _subsystem_of(bad.point) else "warn", reason if s != _subsystem_of(bad.point) else f"{bad.error} (catalog problem, not hardware)", ev) for s, v, reason, ev in out]
    verdicts = {v for _, v, _, _ in out}
    if "alarm" in verdicts:
        facts |= {"any_alarm", "any_warn"}
    elif "warn" in verdicts:
        facts.add("any_warn")
    rule = next((r for r in rules if r.holds(facts, readings)), None)
    cause = rule.cause if rule is not None else None
    if cause is None:
        worst = max(verdicts, key=_RANK.__getitem__)
        cause = {"ok": "none: all ok", "unknown": "unknown: some subsystems could not be read"}.get(
            worst, "no rule matches: see the reasons"
        )
    name = rule.name if rule is not None else ""
    return [(antenna, s, v, reason, ev, cause, name) for s, v, reason, ev in out]


def _subsystem_of(point: str) -> str:
    for s, members in _MEMBERS.items():
        if point in members:
            return s
    return "firmware" if point.endswith(".SW_REV") else "reachability"


def diagnose_rows(
    rows: Sequence[TidyRow], *, limits: Limits | str | os.PathLike[str] | None | bool = None, rules: Sequence[Rule] | None = None
) -> Diagnosis:
    """The diagnosis of tidy rows already swept with :data:`DIAGNOSE_WHAT` (what
    :func:`diagnose` does after its sweep; for tests and for callers that sweep themselves)."""
    lim = load_limits(limits)
    rules = load_rules() if rules is None else rules
    by_antenna: dict[str, list[TidyRow]] = {}
    for r in rows:
        by_antenna.setdefault(r.antenna, []).append(r)
    majority = _majorities(by_antenna)
    out = []
    for a, rs in by_antenna.items():
        out += _diagnose_antenna(lim.catalog, lim, rules, a, rs, majority)
    return Diagnosis(out, columns=DIAGNOSIS_COLUMNS)


def diagnose(
    antennas: str | Iterable[str] | None = "all",
    *,
    array: Any = None,
    timeout: float = 1.0,
    deadline: float | None = None,
    limits: Limits | str | os.PathLike[str] | None | bool = None,
) -> Diagnosis:
    """Diagnose antennas in one sweep: one row per (antenna, subsystem) with a verdict
    (``ok``/``warn``/``alarm``/``unknown``), a one-line reason, the evidence (points and
    values) and the antenna's probable cause (``rules.toml``).

    ``antennas``, ``array``, ``timeout``, ``deadline`` as for :func:`e2ckit.sweep`;
    ``limits``: a site limits file (default ``$E2CKIT_SITE_LIMITS``) or False. An unknown
    antenna or a malformed site file raise :class:`~e2ckit.errors.ValidationError`
    before anything is sent.
    """
    from e2ckit.api import sweep_rows

    lim = load_limits(limits)  # a bad site file fails before any I/O
    rules = load_rules()
    if isinstance(antennas, str) and antennas.lower() == "all":
        antennas = None
    rows = sweep_rows(DIAGNOSE_WHAT, antennas, array=array, timeout=timeout, deadline=deadline, catalog=lim.catalog)
    return diagnose_rows(rows, limits=lim, rules=rules)


def worst_verdict(verdicts: Iterable[str]) -> str:
    """The worst of some verdicts (``ok`` for none)."""
    return max(verdicts, key=_RANK.__getitem__, default="ok")


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
