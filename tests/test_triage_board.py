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

    clock = SimClock(rate=600.0)  # ten simulated minutes a second
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
