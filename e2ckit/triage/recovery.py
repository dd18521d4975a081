"""``recovery(log)``: after an outage, per antenna: when power returned, where the stages and the
vacuum stand against their targets, when the 4K stage will be cold again, and what looks wrong.

The cool-down ETAs (the 4K stage, FEMC.TEMP0, and beside it the 15K and 110K stages, TEMP5
and TEMP9) come from :func:`e2ckit.triage.eta.cooldown_interval`: each stage's readings since
the compressor restarted, fitted by an ensemble of models of a stage relaxing toward its
cold temperature, give a central estimate and an 80 % interval, or "too early" (interval NaN)
while the data do not constrain it.

"Cold" is the one definition of :data:`e2ckit.catalog.limits.COLD_BELOW_K`, the end of
pumping (FEControl ``OPTIMIZE/CryostatPumping``, ``e2c-protocol.md`` §15): the 4K stage below
5 K and the 15K stage below 30 K, the same condition as the recovery plan's ``cold`` step.
Those are the 4K and 15K stages' targets (a site limits file does not move them: a procedure's
rule, not a judgement's bound). The 110K stage takes no part in "cold"; its ETA is toward its
warn bound in the limits in force (130 K by default). Each stage's cold range is its nominal
bounds in the limits in force (2.7–4, 12–18, 85–115 K, ``e2c-protocol.md`` §7). Checked against the simulator's own
physics (``tests/test_triage_eta.py``, ``benchmarks/eta_coverage.py``): agreement with the
simulator's inferred cool-down, not a measured accuracy on real cryostats.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from e2ckit.analysis import answered, current
from e2ckit.catalog.limits import COLD_BELOW_K, Limits, is_cold, load_limits, safe_to_cool_mbar
from e2ckit.errors import ValidationError
from e2ckit.triage.eta import cooldown_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NEEDED", "RECOVERY_COLUMNS", "STAGES", "recovery"]

TEMP, PRESSURE, DRIVE = "FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE", "CMPR.DRIVE"
#: points recovery() cannot do without
NEEDED = (TEMP, PRESSURE, DRIVE)
#: the front end lets the compressor cool only at or below this pressure (mbar, §7): the
#: cryostat pressure's alarm bound in the catalog, the one home of the 5e-4 mbar
SAFE_MBAR = safe_to_cool_mbar()
#: the stages given an ETA: (column prefix, point, target K, default cold range K). The 4K
#: and 15K targets are "cold" (COLD_BELOW_K, fixed); the 110K stage's is its warn bound, and
#: every cold range its nominal bounds, in the limits in force (these are the defaults)
STAGES = (
    ("eta", TEMP, COLD_BELOW_K[TEMP], (2.7, 4.0)),
    ("eta_15k", "FEMC.TEMP5", COLD_BELOW_K["FEMC.TEMP5"], (12.0, 18.0)),
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


def _sci(x: float) -> str:
    """5e-4, not 0.0005 nor 5e-04: as the protocol notes and the panels write it."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _stage_goals(lim: Limits) -> Goals:
    """(point, target, cold range) per stage of :data:`STAGES`, from the limits in force
    (the targets of the stages in "cold" stay its bounds)."""
    out = []
    for _, point, target, floor in STAGES:
        b = lim.bounds(point)
        if b is not None and b.warn_high is not None and point not in COLD_BELOW_K:
            target = b.warn_high
        if b is not None and b.nominal_low is not None and b.nominal_high is not None:
            floor = (b.nominal_low, b.nominal_high)
        out.append((point, target, floor))
    return out


def _stage_etas(w: pd.DataFrame, since_t: Any, goals: Goals, now: Any) -> tuple[list[float], list[str]]:
    """(central, low, high) hours from ``now`` (the log's latest cycle) per stage, and the
    flags they raise (``stalled``, ``too early``), from each stage's readings since ``since_t``."""
    import pandas as pd

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
            from e2ckit.dataset import load  # the dataset reader (pyarrow) only when given a path

            log = load(log)
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
    back on after it), the 4K/15K/110K temperatures and pressure *now*, ``target_4k`` (the
    4K stage's bound in "cold", 5 K), ``cold`` (the one definition: 4K < 5 K and 15K < 30 K
    now, :data:`~e2ckit.catalog.limits.COLD_BELOW_K`), ``eta`` (when it will be cold, as a
    time: the later of the 4K and 15K central estimates), ``eta_hours`` (the 4K stage's hours
    from now to 5 K) and its 80 % interval ``eta_low_hours``..``eta_high_hours`` (the same for
    the 15K stage to 30 K and the 110K stage to its warn bound: ``eta_15k_*``,
    ``eta_110k_*``), and ``flags`` (``no
    answer`` in the latest cycle, ``FEMC.TEMP0 not read since HH:MM UTC``, ``compressor off``,
    ``4K not falling``, ``pressure rising``, ``pressure above 5e-4 mbar``, ``stalled``, ``too
    early``: an interval is NaN because the data do not constrain it yet).

    "Now" is the staleness rule of :func:`e2ckit.analysis.current`: the newest good reading
    of each point within the antenna's last two cycles; an older one is not carried
    forward (the value is NaN, the flag says since when, and the antenna is not ``cold``).
    A log without FEMC.TEMP0, FEMC.CRYOSTAT_PRESSURE and CMPR.DRIVE raises ValidationError."""
    import pandas as pd

    log = _check_log(log)
    lim = load_limits(limits)
    goals = _stage_goals(lim)
    now_of = current(log)
    rows = []
    for antenna, g in log.groupby("antenna", sort=True, observed=True):
        cur = now_of[now_of["antenna"] == antenna].set_index("point")
        rows.append(_antenna_row(str(antenna), g.sort_values("time"), cur, goals))
    return pd.DataFrame(rows, columns=RECOVERY_COLUMNS)


def _power_back(g: pd.DataFrame, answered: pd.Series, w: pd.DataFrame) -> Any:
    """The end of the last period with no answer at all, else when the ACU flag rose."""
    import pandas as pd

    by_time = answered.groupby(g["time"]).any()
    power_back = pd.NaT
    if (~by_time).any():
        down = ~by_time
        ends = by_time.index[(down.shift(1, fill_value=False)) & ~down]
        if len(ends):
            power_back = ends[-1]
    if "ACU.POWER_FAILURE" in w.columns and pd.isna(power_back):
        pf = w["ACU.POWER_FAILURE"]
        rose = pf.index[(pf == 1) & (pf.shift(1) == 0)]
        if len(rose):
            power_back = rose[-1]
    return power_back


def _trend_flags(w: pd.DataFrame, now: Any, cold: bool) -> list[str]:
    """``4K not falling`` and ``pressure rising`` over the last hour of readings."""
    import pandas as pd

    flags = []
    recent = w[w.index >= now - pd.Timedelta(hours=1)]
    if len(recent) >= 3 and not cold and TEMP in recent.columns:
        tr = recent[TEMP].dropna()
        if len(tr) >= 3 and tr.iloc[-1] >= tr.iloc[0]:
            flags.append("4K not falling")
    if PRESSURE in recent.columns:
        pr = recent[PRESSURE].dropna()
        if len(pr) >= 3 and pr.iloc[-1] > pr.iloc[0] * 1.5 and pr.iloc[-1] > 1e-6:
            flags.append("pressure rising")
    return flags


def _antenna_row(antenna: str, g: pd.DataFrame, cur: pd.DataFrame, goals: Goals) -> tuple[Any, ...]:
    """One row of :func:`recovery`: ``cur`` is the antenna's "now" (:func:`~e2ckit.analysis.current`)."""
    import pandas as pd

    target = goals[0][1]
    ok = g["error"].isna() if "error" in g.columns else pd.Series(True, index=g.index)
    w = g[ok].pivot_table(index="time", columns="point", values="value", aggfunc="last", observed=True)
    # the E2C answered (an E2C error reply is an answer: power is on), the one rule
    up = g["error"].astype(object).map(answered) if "error" in g.columns else ok
    power_back = _power_back(g, up, w)
    if w.empty or TEMP not in w.columns:
        return (antenna, power_back, pd.NaT, pd.NaT, *[math.nan] * 4, target, False, pd.NaT, *_NO_ETA, "no readings")

    def now_value(point: str) -> float:
        return float(cur.at[point, "value"]) if point in cur.index and cur.at[point, "fresh"] else math.nan

    now = g["time"].max()
    drive_col = w[DRIVE] if DRIVE in w.columns else pd.Series(dtype=float)
    since = drive_col[drive_col.index >= power_back] if pd.notna(power_back) else drive_col
    on = since[since == 1]
    restarted = on.index[0] if len(on) and (pd.notna(power_back) or (since == 0).any()) else pd.NaT
    t4, pressure, drive = now_value(TEMP), now_value(PRESSURE), now_value(DRIVE)
    cold = is_cold({TEMP: t4, "FEMC.TEMP5": now_value("FEMC.TEMP5")})  # NaN (not read now): never cold
    flags = ["compressor off"] if drive == 0 else []
    flags += _trend_flags(w, now, cold)
    if pressure > SAFE_MBAR:
        flags.append(f"pressure above {_sci(SAFE_MBAR)} mbar")
    stale = [f"{p} {cur.at[p, 'flag']}" for p in NEEDED if p in cur.index and not cur.at[p, "fresh"]]
    up_now = bool(up[g["time"] == now].any())
    if not up_now:
        flags = ["no answer", *stale, *flags]  # down right now: the log's last word is not the present
    elif stale:
        flags = [*stale, *flags]  # some points did not answer lately: their old values are not "now"
    etas = _NO_ETA
    if up_now and (cold or drive == 1):
        # the trend since the restart (with no restart in the log, it began mid-way through
        # a cool-down: since the log's start), counted from now even when a stage's last
        # reading is older (its flag says so; its value is not "now" and never "cold")
        since_t = restarted if pd.notna(restarted) else w.index[0]
        etas, more = _stage_etas(w, since_t, goals, now)
        flags += more
        for i, (point, _, _) in enumerate(goals):
            if etas[3 * i] == 0 and math.isnan(now_value(point)):
                # "cold in 0 h" from a reading that is not "now" would call it cold: unknown
                etas = [*etas[: 3 * i], *[math.nan] * 3, *etas[3 * i + 3 :]]
    # cold = every stage of COLD_BELOW_K below its bound: when the later of them gets there
    # (NaN or inf for either: no time; spelled out, as max() with a NaN depends on the order)
    cold_eta = max(etas[0], etas[3]) if math.isfinite(etas[0]) and math.isfinite(etas[3]) else math.nan
    eta = now + pd.Timedelta(hours=cold_eta) if math.isfinite(cold_eta) else pd.NaT
    return (antenna, power_back, restarted, now, t4, now_value("FEMC.TEMP5"), now_value("FEMC.TEMP9"), pressure,
            target, cold, eta, *etas, ", ".join(flags))  # fmt: skip
