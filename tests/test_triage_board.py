"""The recovery board without a browser: board_frame/render_board on a real log, and a
RecoveryBoard that updates itself from a running Logger (issue #14.6)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import e2ckit
from e2ckit.errors import ValidationError
from e2ckit.triage.board import RecoveryBoard, board_frame, render_board

DATA = Path(__file__).resolve().parent.parent / "data" / "outage-recovery"


def test_board_frame_of_a_log_cut_during_the_outage_and_after():
    log = e2ckit.load(DATA)
    t0 = log["time"].min()
    during = board_frame(log[log["time"] <= t0 + pd.Timedelta(hours=3)]).set_index("antenna")
    assert during.at["DV01", "verdict"] == "alarm" and "antenna or E2C down" in during.at["DV01", "reason"]
    assert during.at["DV01", "flags"].startswith("no answer")
    assert during.at["DV03", "verdict"] == "ok" and during.at["DV03", "eta_hours"] == 0
    back = board_frame(log[log["time"] <= t0 + pd.Timedelta(hours=6, minutes=40)]).set_index("antenna")
    assert back.at["DV01", "compressor"] == "OFF" and "not restarted" in back.at["DV01", "reason"]
    cooling = board_frame(log[log["time"] <= t0 + pd.Timedelta(hours=14)]).set_index("antenna")
    assert cooling.at["DV01", "compressor"] == "RUNNING" and 5 < cooling.at["DV01", "eta_hours"] < 40
    html = render_board(cooling.reset_index())
    assert html.count("class='e2ckit-board-row'") == 4
    assert "data-antenna='DV01' data-verdict='alarm'" in html and " h (" in html


def test_the_board_updates_itself_from_a_running_logger(tmp_path):
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=1200.0)  # twenty simulated minutes a second: the outage (30 min in) at 1.5 s
    with SimulatedArray(["DV01", "DV02"], seed=4, clock=clock, scenario="outage", latency=0.0) as sim:
        log = e2ckit.Logger("outage", interval=120, path=tmp_path / "log", array=sim, clock=clock, flush_every=0.2)
        log.start()
        board = RecoveryBoard(log, every=0.2)
        try:
            end = time.monotonic() + 30
            seen = set()
            while time.monotonic() < end and not ({"ok", "alarm"} <= seen and board.updates >= 3):
                if board.data is not None:
                    seen |= set(board.data["verdict"])
                time.sleep(0.05)
        finally:
            board.stop()
            log.stop()
    # nobody pressed anything: the board went from all ok to the outage by itself
    assert board.updates >= 3 and {"ok", "alarm"} <= seen, (board.updates, seen, board.status.value)
    assert "e2ckit-board" in board.table.value


def test_board_bad_input():
    with pytest.raises(ValidationError, match="Logger or a log path"):
        RecoveryBoard(42, every=None)
    with pytest.raises(ValidationError, match="every must be"):
        RecoveryBoard("x", every=0)


def test_the_board_has_a_power_column(tmp_path):
    """Issue 23: the outage group carries the FEPS outputs and the FETIM shutdown, and the
    board says what is wrong with the front end's power in a few words."""
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    clock = SimClock(rate=None)
    with SimulatedArray(["DV03", "DA41", "DV01"], seed=1, clock=clock, scenario="power-fault", latency=0.0) as sim:
        clock.advance(minutes=30)
        e2ckit.Logger("outage", interval=60, path=tmp_path / "lean", array=sim, clock=clock).run(cycles=1)
        e2ckit.Logger(["outage", "power"], interval=60, path=tmp_path / "full", array=sim, clock=clock).run(cycles=1)
    assert board_frame(e2ckit.load(tmp_path / "lean")).set_index("antenna").at["DV03", "power"] == "outputs off"
    frame = board_frame(e2ckit.load(tmp_path / "full")).set_index("antenna")
    assert frame.at["DV03", "power"] == "FEPS +7 V over-voltage; outputs off"
    assert frame.at["DA41", "power"] == "FEMC silent"
    assert frame.at["DV01", "power"] == "on"
    assert "<td>FEPS +7 V over-voltage; outputs off</td>" in render_board(frame.reset_index())


def _board_at(sim, clock, log, path, at: str):
    from e2ckit.clock import parse_duration

    clock.advance(parse_duration(at) - clock.elapsed())
    log.run(cycles=1)
    return board_frame(e2ckit.load(path))


def _row_colours(html: str) -> dict[str, str]:
    import re

    rows = re.findall(r"data-antenna='(\w+)' data-verdict='(\w+)' data-progress='(\w+)' style='background:(#\w+)'", html)
    return {a: bg for a, _v, _p, bg in rows}


def test_the_board_shows_phase_and_next_step_and_colours_rows_by_progress(tmp_path):
    """Issue 24 item 6: phase and next step beside the verdict (which stays the one
    judgement); the row's colour follows progress: stalled red, recovering blue, waiting
    amber, done green; a recovered antenna with only the latched ACU flag stays amber."""
    from e2ckit.clock import SimClock
    from e2ckit.sim import SimulatedArray

    red, blue, amber, green = "#f8d0d0", "#e3f2fd", "#fff3cd", "#e8f5e9"
    clock = SimClock(rate=None)
    path = tmp_path / "log"
    with SimulatedArray(["DV01", "DV03"], seed=3, clock=clock, scenario="recovery", latency=0.0) as sim:
        log = e2ckit.Logger(["outage", "recovery"], interval=60, path=path, array=sim, clock=clock)
        down = _board_at(sim, clock, log, path, "1h").set_index("antenna")
        assert (down.at["DV01", "verdict"], down.at["DV01", "phase"], down.at["DV01", "progress"]) == ("alarm", "power", "stalled")
        assert down.at["DV01", "next"].startswith("reachable blocked: the E2C does not answer")
        assert (down.at["DV03", "phase"], down.at["DV03", "progress"], down.at["DV03", "next"]) == ("done", "done", "")
        html = render_board(down.reset_index())
        assert _row_colours(html) == {"DV01": red, "DV03": green}
        assert "<div class='e2ckit-board-summary'>2 antennas by phase: 1 not answering, 1 operational</div>" in html
        assert "2 antennas: 1 alarm, 1 ok" in html  # the verdicts, counted as before

        ready = _board_at(sim, clock, log, path, "6h44m30s").set_index("antenna")
        assert ready.at["DV01", "verdict"] == "alarm"  # the verdict is unchanged: the one judgement
        assert (ready.at["DV01", "phase"], ready.at["DV01", "progress"]) == ("vacuum", "recovering")
        assert ready.at["DV01", "next"] == "backing: FEMC.SET_BACKING_PUMP = 1"
        assert _row_colours(render_board(ready.reset_index()))["DV01"] == blue

        gate = _board_at(sim, clock, log, path, "6h46m30s").set_index("antenna")
        assert (gate.at["DV01", "progress"], gate.at["DV01", "stage"]) == ("waiting", "pumping down")
        assert gate.at["DV01", "next"] == "gate_open: FEMC.SET_GATE_VALVE = 1 once FEMC.TURBO_SPEED == 1 (reads LOW)"
        html = render_board(gate.reset_index())
        assert _row_colours(html)["DV01"] == amber and "<td>vacuum</td>" in html

        cooling = _board_at(sim, clock, log, path, "10h").set_index("antenna")
        assert (cooling.at["DV01", "phase"], cooling.at["DV01", "progress"]) == ("cooling", "waiting")
        assert cooling.at["DV01", "next"].startswith("cooling: wait for FEMC.TEMP0 < 30 (reads ")
        assert "()" not in cooling.at["DV01", "reason"]  # no Python call in reason text

        done = _board_at(sim, clock, log, path, "4d").set_index("antenna")
    assert (done.at["DV01", "phase"], done.at["DV01", "progress"]) == ("done", "done")
    # recovered; the ACU power-failure flag stays latched: a warn saying so, amber, never red
    assert done.at["DV01", "verdict"] == "warn" and "no public source says how to clear it" in done.at["DV01", "reason"]
    html = render_board(done.reset_index())
    assert _row_colours(html) == {"DV01": amber, "DV03": green}
    assert "by phase" not in html  # nothing is recovering: the summary is the verdicts only


def test_without_the_plan_points_the_board_has_no_phase_and_colours_by_verdict(tmp_path):
    from e2ckit.clock import SimClock
    from e2ckit.sim import SimulatedArray

    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV03"], seed=3, clock=clock, scenario="recovery", latency=0.0) as sim:
        log = e2ckit.Logger("outage", interval=60, path=tmp_path / "log", array=sim, clock=clock)
        frame = _board_at(sim, clock, log, tmp_path / "log", "6h46m30s").set_index("antenna")
    assert (frame["phase"] == "").all() and (frame["progress"] == "").all()
    html = render_board(frame.reset_index())
    assert _row_colours(html) == {"DV01": "#f8d0d0", "DV03": "#e8f5e9"} and "by phase" not in html


def test_the_boards_phases_from_a_log_agree_with_the_plan_read_live(tmp_path):
    """The board reads each antenna's phase from the log's readings now; the plan reads the
    hardware: they agree at every stage of a recovery, including a compressor whose 420 s
    have passed (the log keeps that sentinel as NaN with no text: not a pending timer)."""
    from e2ckit.clock import SimClock
    from e2ckit.sim import SimulatedArray
    from e2ckit.triage.plan import antenna_progress, plan_recovery

    clock = SimClock(rate=None)
    path = tmp_path / "log"
    seen = set()
    with SimulatedArray(["DV01", "DV02", "DV03"], seed=3, clock=clock, scenario="recovery", latency=0.0) as sim:
        log = e2ckit.Logger(["outage", "recovery"], interval=60, path=path, array=sim, clock=clock)
        for at in ("1h", "6h44m30s", "6h46m30s", "6h50m", "6h54m", "10h", "1d", "4d"):
            board = _board_at(sim, clock, log, path, at).set_index("antenna")
            live = antenna_progress(plan_recovery(array=sim)).set_index("antenna")
            for a in live.index:
                assert (board.at[a, "step"], board.at[a, "progress"], board.at[a, "stage"]) == (
                    live.at[a, "step"], live.at[a, "progress"], live.at[a, "stage"]), (at, a)  # fmt: skip
                seen.add((live.at[a, "step"], live.at[a, "status"]))
    assert {("compressor", "ready"), ("cooling", "waiting"), ("reachable", "blocked"), ("", "done")} <= seen
