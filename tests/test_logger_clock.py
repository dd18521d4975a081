"""Issue 22 item 4: a wall clock that steps (NTP after a power cut) neither stalls nor
rushes the logger; stamps follow the corrected clock; the step is recorded as an event
that the status and the dataset reader show; nothing is overwritten or dropped."""

from __future__ import annotations

import threading
import time
import types

import pytest

import e2ckit
from e2ckit.logger import Logger
from e2ckit.logger import cycle as cycle_mod
from e2ckit.sim import SimulatedArray


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_stepped_wall_clock_keeps_the_schedule_and_is_recorded(tmp_path, monkeypatch, step) -> None:
    real = time.time
    offset = [0.0]
    fake = types.SimpleNamespace(time=lambda: real() + offset[0], monotonic=time.monotonic, perf_counter=time.perf_counter)
    monkeypatch.setattr(cycle_mod, "time", fake)
    with SimulatedArray(["DV01", "CM03"], seed=3, latency=0.0) as sim:
        log = Logger("cryo", array=sim, interval=0.05, path=tmp_path, clock="wall", flush_every=1e9)
        real_cycle = log._cycle
        done = [0]

        def cycle() -> int:
            done[0] += 1
            if done[0] == 5:  # the wall clock steps between cycle 4 and cycle 5
                offset[0] = step
            return real_cycle()

        monkeypatch.setattr(log, "_cycle", cycle)
        runner = threading.Thread(target=log.run, kwargs={"cycles": 12})
        runner.start()
        runner.join(timeout=20)
        stalled = runner.is_alive()
        if stalled:  # (without the fix: waiting an hour for the wall clock) end it
            log._stop.set()
            runner.join()
        assert not stalled, "the logger stalled on the stepped wall clock"
    st = log.status
    assert st.cycles == 12 and st.overruns <= 2, st
    assert len(st.clock_steps) == 1 and abs(st.clock_steps[0]["step_s"] - step) < 1
    assert "wall-clock step" in str(st)
    df = e2ckit.load(tmp_path)
    assert len(df) == st.samples  # nothing dropped, nothing overwritten
    times = sorted(df["time"].unique())
    assert len(times) == 12
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    cut = max(range(len(gaps)), key=gaps.__getitem__) + 1
    early, late = times[:cut], times[cut:]
    # stamps follow the corrected clock: the 8 cycles after the step an hour away from the 4 before
    assert (len(early), len(late)) == ((4, 8) if step > 0 else (8, 4))
    assert abs(gaps[cut - 1] - abs(step)) < 5
    ev = e2ckit.dataset.events(tmp_path)
    assert list(ev["kind"]) == ["clock_step"] and abs(ev["step_s"].iloc[0] - step) < 1
    assert ev["cycle"].iloc[0] == st.clock_steps[0]["cycle"]


def test_latest_counts_cycles_in_the_loggers_order_across_a_backward_step(tmp_path, monkeypatch) -> None:
    """After a −3600 s step the newest cycles carry the oldest stamps: ``latest`` still
    returns the two cycles logged last (by appending order), not the two latest stamps.
    The wall clock reads 00:30 UTC, so the step also crosses midnight: the newest cycles
    are in the day before (it failed so between 00:00 and 01:00 UTC)."""
    real = time.time
    now = real()
    offset = [(now // 86400 + 1) * 86400 + 1800 - now]  # tomorrow, 00:30 UTC
    fake = types.SimpleNamespace(time=lambda: real() + offset[0], monotonic=time.monotonic, perf_counter=time.perf_counter)
    monkeypatch.setattr(cycle_mod, "time", fake)
    with SimulatedArray(["DV01", "CM03"], seed=3, latency=0.0) as sim:
        log = Logger("cryo", array=sim, interval=0.05, path=tmp_path, clock="wall", flush_rows=1)
        for k in range(6):
            if k == 4:
                offset[0] -= 3600.0
            log.step()
        log.stop()
    df = e2ckit.load(tmp_path)
    last = e2ckit.dataset.latest(tmp_path)
    assert set(last["cycle"]) == {0, 1} and set(last["antenna"].astype(str)) == {"DV01", "CM03"}
    newest = sorted(df["time"].unique())[:2]  # the two cycles after the step: the earliest stamps
    assert sorted(last["time"].unique()) == newest
    one = last[(last.antenna == "DV01") & (last.cycle == 0)]
    assert len(one) == len(df[(df.antenna == "DV01") & (df.time == newest[1])])
    with pytest.raises(e2ckit.ValidationError, match="cycles"):
        e2ckit.dataset.latest(tmp_path, cycles=0)
