"""``recovery(log)``: after an outage, per antenna: when power returned, where the stages and the
vacuum stand against their targets, when the 4K stage will be cold again, and what looks wrong.

The cool-down ETA is fitted from the logged trend of the 4K cryocooler sensor (FEMC.TEMP0)
since the compressor restarted. A cooling stage relaxes toward its cold temperature ever more
slowly (less cooling power at low temperature, and the warmer stages above it still cooling),
so ``ln(T − floor)`` is fitted with a quadratic in time over the second half of the time since
the restart (at least 2 h), ``floor`` being the top of the 4K stage's cold range (4 K,
``e2c-protocol.md`` §7), and extrapolated to the "cold" target, the stage's warn bound (6 K,
from the limits in force, so a site file moves it). The uncertainty is the spread between
that fit and a straight-line fit over the last 3 h, at least 10 %. Checked against the
simulator's own physics (``tests/test_triage_recovery.py``): within 15 % from 6 h into the
recovery.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from e2ckit.analysis import answered, current
from e2ckit.catalog.limits import Limits, load_limits, safe_to_cool_mbar
from e2ckit.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NEEDED", "RECOVERY_COLUMNS", "cooldown_eta", "recovery"]

TEMP, PRESSURE, DRIVE = "FEMC.TEMP0", "FEMC.CRYOSTAT_PRESSURE", "CMPR.DRIVE"
#: points recovery() cannot do without
NEEDED = (TEMP, PRESSURE, DRIVE)
#: where ln(T - floor) is fitted: the top of the 4K stage's cold range (K, §7)
FLOOR_K = 4.0
#: the front end lets the compressor cool only at or below this pressure (mbar, §7): the
#: cryostat pressure's alarm bound in the catalog, the one home of the 5e-4 mbar
SAFE_MBAR = safe_to_cool_mbar()
RECOVERY_COLUMNS = [
    "antenna", "power_back", "restarted", "now", "temp_4k", "temp_15k", "temp_110k", "pressure",
    "target_4k", "cold", "eta", "eta_hours", "eta_error_hours", "flags",
]  # fmt: skip


def _sci(x: float) -> str:
    """5e-4, not 0.0005 nor 5e-04: as the protocol notes and the panels write it."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def cooldown_eta(hours: Any, temps: Any, target: float, floor: float = FLOOR_K) -> tuple[float, float]:
    """(hours from the last sample until ``temps`` reaches ``target``, uncertainty in hours)
    from samples ``temps`` at ``hours`` since the compressor restarted; (0, 0) when already
    there, (inf, nan) when the trend does not get there (not falling)."""
    import numpy as np

    t = np.asarray(hours, dtype=float)
    y = np.asarray(temps, dtype=float)
    ok = ~np.isnan(y) & ~np.isnan(t)
    t, y = t[ok], y[ok]
    if len(t) == 0:
        return math.nan, math.nan
    now = float(t[-1])
    if y[-1] <= target:
        return 0.0, 0.0
    if len(t) < 5 or now - t[0] < 0.5:
        return math.nan, math.nan
    keep = y > floor
    t, y = t[keep], y[keep]
    if len(t) < 5:
        return math.nan, math.nan
    goal = math.log(target - floor)
    z = np.log(y - floor)

    def reach(coef: Any) -> float:
        # first time after now where the fitted curve is at the goal (two weeks at most)
        ts = now + np.arange(0.0, 24 * 14, 0.02)
        v = np.polyval(coef, ts)
        i = np.nonzero(v <= goal)[0]
        return float(ts[i[0]] - now) if len(i) else math.inf

    m3 = t >= now - 3.0
    if m3.sum() < 3:
        return math.nan, math.nan
    lin_coef = np.polyfit(t[m3], z[m3], 1)
    if lin_coef[0] >= 0:
        return math.inf, math.nan  # not falling over the last 3 h: no ETA
    win = max((now - t[0]) / 2, 2.0)
    m = t >= now - win
    quad = reach(np.polyfit(t[m], z[m], 2)) if m.sum() >= 5 else math.inf
    lin = reach(lin_coef)
    if not math.isfinite(quad):
        quad = lin
    if not math.isfinite(quad):
        return math.inf, math.nan
    spread = abs(quad - lin) if math.isfinite(lin) else quad
    return quad, max(spread, 0.1 * quad)


def _check_log(log: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(log, pd.DataFrame):
        if isinstance(log, (str, os.PathLike)):
            from e2ckit.logger import load  # the dataset reader (pyarrow) only when given a path

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
    4K stage's warn bound), ``cold`` (whether it is below it), ``eta`` (when it will be, as a
    time) with ``eta_hours`` and ``eta_error_hours`` from now, and ``flags`` (``no answer``
    in the latest cycle, ``FEMC.TEMP0 not read since HH:MM UTC``, ``compressor off``, ``4K
    not falling``, ``pressure rising``, ``pressure above 5e-4 mbar``, ``stalled``).

    "Now" is the staleness rule of :func:`e2ckit.analysis.current`: the newest good reading
    of each point within the antenna's last two cycles; an older one is not carried
    forward (the value is NaN, the flag says since when, and the antenna is not ``cold``).
    A log without FEMC.TEMP0, FEMC.CRYOSTAT_PRESSURE and CMPR.DRIVE raises ValidationError."""
    import pandas as pd

    log = _check_log(log)
    lim = load_limits(limits)
    target = (lim.bounds(TEMP).warn_high if lim.bounds(TEMP) else None) or 6.0
    now_of = current(log)
    rows = []
    for antenna, g in log.groupby("antenna", sort=True, observed=True):
        cur = now_of[now_of["antenna"] == antenna].set_index("point")
        rows.append(_antenna_row(str(antenna), g.sort_values("time"), cur, target))
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


def _antenna_row(antenna: str, g: pd.DataFrame, cur: pd.DataFrame, target: float) -> tuple[Any, ...]:
    """One row of :func:`recovery`: ``cur`` is the antenna's "now" (:func:`~e2ckit.analysis.current`)."""
    import numpy as np
    import pandas as pd

    ok = g["error"].isna() if "error" in g.columns else pd.Series(True, index=g.index)
    w = g[ok].pivot_table(index="time", columns="point", values="value", aggfunc="last", observed=True)
    # the E2C answered (an E2C error reply is an answer: power is on), the one rule
    up = g["error"].astype(object).map(answered) if "error" in g.columns else ok
    power_back = _power_back(g, up, w)
    if w.empty or TEMP not in w.columns:
        return (antenna, power_back, pd.NaT, pd.NaT, *[math.nan] * 4, target, False, pd.NaT, math.nan, math.nan, "no readings")

    def now_value(point: str) -> float:
        return float(cur.at[point, "value"]) if point in cur.index and cur.at[point, "fresh"] else math.nan

    now = g["time"].max()
    drive_col = w[DRIVE] if DRIVE in w.columns else pd.Series(dtype=float)
    since = drive_col[drive_col.index >= power_back] if pd.notna(power_back) else drive_col
    on = since[since == 1]
    restarted = on.index[0] if len(on) and (pd.notna(power_back) or (since == 0).any()) else pd.NaT
    t4, pressure, drive = now_value(TEMP), now_value(PRESSURE), now_value(DRIVE)
    cold = bool(t4 <= target)  # NaN (not read now) is never cold
    flags = ["compressor off"] if drive == 0 else []
    flags += _trend_flags(w, now, cold)
    if pressure > SAFE_MBAR:
        flags.append(f"pressure above {_sci(SAFE_MBAR)} mbar")
    stale = [f"{p} {cur.at[p, 'flag']}" for p in NEEDED if p in cur.index and not cur.at[p, "fresh"]]
    eta_h = err_h = math.nan
    if not up[g["time"] == now].any():
        flags = ["no answer", *stale, *flags]  # down right now: the log's last word is not the present
    elif stale:
        flags = [*stale, *flags]  # some points did not answer lately: their old values are not "now"
    if cold:
        eta_h, err_h = 0.0, 0.0
    elif drive == 1 and not math.isnan(t4):
        # the trend since the restart; with no restart in the log (it began mid-way
        # through a cool-down), since the log's start
        since_t = restarted if pd.notna(restarted) else w.index[0]
        s = w.loc[w.index >= since_t, TEMP].dropna()
        hours = (s.index - since_t) / pd.Timedelta(hours=1)
        eta_h, err_h = cooldown_eta(np.asarray(hours), s.to_numpy(), target)
        if eta_h == math.inf:
            flags.append("stalled")
    eta = now + pd.Timedelta(hours=eta_h) if math.isfinite(eta_h) else pd.NaT
    return (antenna, power_back, restarted, now, t4, now_value("FEMC.TEMP5"), now_value("FEMC.TEMP9"), pressure,
            target, cold, eta, eta_h, err_h, ", ".join(flags))  # fmt: skip
