"""``recovery(log)``: after an outage, per antenna: when power returned, where the stages and the
vacuum stand against their targets, when the 4K stage will be cold again, and what looks wrong.

The cool-down ETAs (the 4K stage, FEMC.TEMP0, and beside it the 15K and 110K stages, TEMP5
and TEMP9) come from :func:`e2ckit.triage.eta.cooldown_interval`: each stage's readings since
the compressor restarted, fitted by an ensemble of models of a stage relaxing toward its
cold temperature, give a central estimate and an 80 % interval, or "too early" (interval NaN)
while the data do not constrain it. The target of each stage is its warn bound in the limits
in force (6 K, 22 K, 130 K by default, so a site file moves it), its cold range the nominal
bounds (2.7–4, 12–18, 85–115 K, ``e2c-protocol.md`` §7). Checked against the simulator's own
physics (``tests/test_triage_eta.py``, ``benchmarks/eta_coverage.py``): agreement with the
simulator's inferred cool-down, not a measured accuracy on real cryostats.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from e2ckit.errors import ValidationError
from e2ckit.triage.eta import cooldown_interval
from e2ckit.triage.limits import Limits, load_limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NEEDED", "RECOVERY_COLUMNS", "STAGES", "recovery"]

TEMP, PRESSURE, DRIVE = "FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE", "CMPR.DRIVE"
#: points recovery() cannot do without
NEEDED = (TEMP, PRESSURE, DRIVE)
#: the front end lets the compressor cool only at or below this pressure (mbar, §7)
SAFE_MBAR = 5e-4
#: the stages given an ETA: (column prefix, point, default target K, default cold range K);
#: the limits in force replace the defaults (target: warn_high; range: nominal_low..high)
STAGES = (
    ("eta", TEMP, 6.0, (2.7, 4.0)),
    ("eta_15k", "FEMC.TEMP5", 22.0, (12.0, 18.0)),
    ("eta_110k", "FEMC.TEMP9", 130.0, (85.0, 115.0)),
)
#: the columns of recovery(): ``eta_hours`` is the 4K stage's central estimate from ``now``,
#: ``eta_low_hours``..``eta_high_hours`` its 80 % interval (NaN: too early to tell); the
#: same three for the 15K and 110K stages (``eta_15k_*``, ``eta_110k_*``)
RECOVERY_COLUMNS = [
    "antenna", "power_back", "restarted", "now", "temp_4k", "temp_15k", "temp_110k", "pressure",
    "target_4k", "cold", "eta", "eta_hours", "eta_low_hours", "eta_high_hours",
    "eta_15k_hours", "eta_15k_low_hours", "eta_15k_high_hours",
    "eta_110k_hours", "eta_110k_low_hours", "eta_110k_high_hours", "flags",
]  # fmt: skip
_NO_ETA = [math.nan] * (3 * len(STAGES))
Goals = list[tuple[str, float, tuple[float, float]]]


def _stage_goals(lim: Limits) -> Goals:
    """(point, target, cold range) per stage of :data:`STAGES`, from the limits in force."""
    out = []
    for _, point, target, floor in STAGES:
        b = lim.bounds(point)
        if b is not None and b.warn_high is not None:
            target = b.warn_high
        if b is not None and b.nominal_low is not None and b.nominal_high is not None:
            floor = (b.nominal_low, b.nominal_high)
        out.append((point, target, floor))
    return out


def _stage_etas(w: pd.DataFrame, since_t: Any, goals: Goals) -> tuple[list[float], list[str]]:
    """(central, low, high) hours from the log's latest time per stage, and the flags they
    raise (``stalled``, ``too early``), from each stage's readings since ``since_t``."""
    import pandas as pd

    now = w.index[-1]
    vals: list[float] = []
    flags: list[str] = []
    for point, target, floor in goals:
        s = w.loc[w.index >= since_t, point].dropna() if point in w.columns else pd.Series(dtype=float)
        if s.empty:
            vals += [math.nan] * 3
            continue
        hours = ((s.index - since_t) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
        e = cooldown_interval(hours, s.to_numpy(dtype=float), target, floor)
        # counted from now, not from the stage's last reading (which may be older)
        e = e.shifted((now - s.index[-1]) / pd.Timedelta(hours=1))
        vals += list(e)
        for flag, on in (("stalled", e.stalled), ("too early", e.too_early)):
            if on and flag not in flags:
                flags.append(flag)
    return vals, flags


def _check_log(log: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(log, pd.DataFrame):
        if isinstance(log, (str, os.PathLike)):
            import e2ckit

            log = e2ckit.load(log)
        else:
            raise ValidationError(f"recovery() takes a loaded log (DataFrame) or its path, got {type(log).__name__}")
    missing = [c for c in ("time", "antenna", "point", "value") if c not in log.columns]
    if missing:
        raise ValidationError(f"recovery(): the log lacks column(s) {', '.join(missing)}: load it with e2ckit.load()")
    have = set(log["point"].unique())
    lacking = [p for p in NEEDED if p not in have]
    if lacking:
        raise ValidationError(
            f"recovery(): the log has no {', '.join(lacking)}: log the 'outage' group (or cryo and cmpr) to follow a recovery"
        )
    return log


def recovery(log: pd.DataFrame | str | os.PathLike[str], *, limits: Limits | str | os.PathLike[str] | None | bool = None) -> pd.DataFrame:
    """Per antenna of a loaded log (or a log's path): ``power_back`` (end of the last
    period without answers, or when the ACU flag rose), ``restarted`` (compressor drive
    back on after it), the latest 4K/15K/110K temperatures and pressure, ``target_4k`` (the
    4K stage's warn bound), ``cold`` (whether it is below it), ``eta`` (when it will be, as a
    time) with ``eta_hours`` from now and its 80 % interval ``eta_low_hours``..``eta_high_hours``
    (the same for the 15K and 110K stages: ``eta_15k_*``, ``eta_110k_*``), and ``flags`` (``no answer``
    in the latest cycle, ``compressor off``, ``4K not falling``, ``pressure rising``, ``pressure above 5e-4 mbar``, ``stalled``,
    ``too early``: an interval is NaN because the data do not constrain it yet).
    A log without FEMC.TEMP0, FEMC.CRYOSTAT_PRESSURE and CMPR.DRIVE raises ValidationError."""
    import pandas as pd

    log = _check_log(log)
    goals = _stage_goals(load_limits(limits))
    target = goals[0][1]
    rows = []
    for antenna, g in log.groupby("antenna", sort=True):
        g = g.sort_values("time")
        answered = g["error"].isna() if "error" in g.columns else pd.Series(True, index=g.index)
        by_time = answered.groupby(g["time"]).any()
        power_back = pd.NaT
        if (~by_time).any():
            down = ~by_time
            ends = by_time.index[(down.shift(1, fill_value=False)) & ~down]
            if len(ends):
                power_back = ends[-1]
        w = g[answered].pivot_table(index="time", columns="point", values="value", aggfunc="last")
        if "ACU.POWER_FAILURE" in w.columns and pd.isna(power_back):
            pf = w["ACU.POWER_FAILURE"]
            rose = pf.index[(pf == 1) & (pf.shift(1) == 0)]
            if len(rose):
                power_back = rose[-1]
        if w.empty or TEMP not in w.columns:
            rows.append((antenna, power_back, pd.NaT, pd.NaT, *[math.nan] * 4, target, False, pd.NaT, *_NO_ETA, "no readings"))
            continue
        now = w.index[-1]
        last = w.ffill().iloc[-1]
        drive = w[DRIVE] if DRIVE in w.columns else pd.Series(dtype=float)
        since = drive[drive.index >= power_back] if pd.notna(power_back) else drive
        on = since[since == 1]
        restarted = on.index[0] if len(on) and (pd.notna(power_back) or (since == 0).any()) else pd.NaT
        t4 = float(last.get(TEMP, math.nan))
        cold = bool(t4 <= target)
        flags = []
        if last.get(DRIVE) == 0:
            flags.append("compressor off")
        recent = w[w.index >= now - pd.Timedelta(hours=1)]
        if len(recent) >= 3 and not cold:
            tr = recent[TEMP].dropna()
            if len(tr) >= 3 and tr.iloc[-1] >= tr.iloc[0]:
                flags.append("4K not falling")
        if PRESSURE in recent.columns:
            pr = recent[PRESSURE].dropna()
            if len(pr) >= 3 and pr.iloc[-1] > pr.iloc[0] * 1.5 and pr.iloc[-1] > 1e-6:
                flags.append("pressure rising")
        if float(last.get(PRESSURE, 0.0)) > SAFE_MBAR:
            flags.append("pressure above 5e-4 mbar")
        etas = _NO_ETA
        if not by_time.iloc[-1]:
            # down right now: what the log last heard says nothing about the present
            flags.insert(0, "no answer")
            cold = False
        elif cold or last.get(DRIVE) == 1:
            # the trend since the restart; with no restart in the log (it began mid-way
            # through a cool-down), since the log's start
            etas, more = _stage_etas(w, restarted if pd.notna(restarted) else w.index[0], goals)
            flags += more
        eta = now + pd.Timedelta(hours=etas[0]) if math.isfinite(etas[0]) else pd.NaT
        rows.append(
            (antenna, power_back, restarted, now, t4, float(last.get("FEMC.TEMP5", math.nan)),
             float(last.get("FEMC.TEMP9", math.nan)), float(last.get(PRESSURE, math.nan)), target, cold,
             eta, *etas, ", ".join(flags))  # fmt: skip
        )
    return pd.DataFrame(rows, columns=RECOVERY_COLUMNS)
