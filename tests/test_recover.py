"""recover(): the plan carried out on the simulator (stepped clock), and the simulator
acting as the firmware for every step (issue 24 items 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2ckit.client import Client
from e2ckit.errors import AuditError, ValidationError
from e2ckit.sim import SimulatedArray
from e2ckit.clock import SimClock
from e2ckit.triage.plan import plan_recovery
from e2ckit.triage.recover import _lock, recover

ORDER = ["FEPS.SET_ENABLE_PWR", "FEMC.SET_BACKING_PUMP", "FEMC.SET_TURBO_PUMP", "FEMC.SET_GATE_VALVE", "CMPR.SET_DRIVE"]


def _run(sim: SimulatedArray, clock: SimClock, tmp_path: Path, antennas: str, **kw):
    kw.setdefault("until", "cold")
    kw.setdefault("wait", 60.0)
    kw.setdefault("interval", 600.0)
    return recover(
        antennas, confirm=True, array=sim, journal=tmp_path / "journal", audit_log=tmp_path / "audit.jsonl",
        sleep=clock.advance, timeout=0.5, **kw,
    )  # fmt: skip


def _points(sim: SimulatedArray, antenna: str) -> list[tuple[str, bool]]:
    return [(c.point, c.accepted) for c in sim.models[antenna].controls]


def test_outage_recovers_to_cold_every_control_in_order_none_refused(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], seed=1, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        out = _run(sim, clock, tmp_path, "DV01,DV02").set_index("antenna")
        assert _points(sim, "DV01") == [(p, True) for p in ORDER]
        assert _points(sim, "DV02") == []  # healthy: nothing sent
        plan = plan_recovery("DV01", array=sim)
    assert out.loc["DV01", "outcome"] == "reached" and out.loc["DV02", "outcome"] == "reached"
    assert out.loc["DV01", "sent"] == [f"{p} = 1" for p in ORDER]
    steps = list(plan.step)
    assert (plan.status.iloc[: steps.index("cold") + 1] == "done").all()
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in audit] == ["intent", "sent"] * len(ORDER)
    assert [e["target"]["point"] for e in audit[::2]] == ORDER and audit[0]["via"] == "recover"


@pytest.mark.parametrize(
    ("until", "sent", "label"),
    [("power", ORDER[:1], "power"), ("vacuum", ORDER[:4], "vacuum"), ("turbo", ORDER[:3], "turbo"),
     ("cooling", ORDER, "cooling"), ("phase:power", ORDER[:1], "phase:power")],
)  # fmt: skip
def test_until_takes_a_phase_or_a_step(tmp_path: Path, until: str, sent: list[str], label: str) -> None:
    """A phase: every step of it done (vacuum: pumped down to 5e-4 mbar, the compressor not
    yet started; cooling: cold, the compressor's phase over); a step id: that step."""
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=1, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        out = _run(sim, clock, tmp_path, "DV01", until=until)
        plan = plan_recovery("DV01", array=sim).set_index("step")
    assert (out.outcome[0], out.reason[0]) == ("reached", f"{label} reached")
    assert out.sent[0] == [f"{p} = 1" for p in sent]
    last = {"power": "fe_powered", "vacuum": "safe_to_cool", "turbo": "turbo", "cooling": "cold"}[until.split(":")[-1]]
    assert plan.loc[last, "status"] == "done"
    if until == "vacuum":
        assert plan.loc["compressor", "status"] != "done"


def test_rerun_continues_without_repeating_a_control(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=2, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        first = _run(sim, clock, tmp_path, "DV01", until="turbo")
        assert first.outcome[0] == "reached"
        assert [p for p, _ in _points(sim, "DV01")] == ORDER[:3]
        second = _run(sim, clock, tmp_path, "DV01")
        assert second.outcome[0] == "reached"
        assert _points(sim, "DV01") == [(p, True) for p in ORDER]  # each sent once


def test_a_control_sent_before_a_kill_is_not_sent_again_while_it_may_still_act(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=2, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        (tmp_path / "journal").mkdir()
        # a run killed right after sending the FEPS enable (which the E2C never got)
        line = {"t": clock.now(), "step": "fe_powered", "event": "sent"}
        (tmp_path / "journal" / "DV01.jsonl").write_text(json.dumps(line) + "\n")
        out = _run(sim, clock, tmp_path, "DV01", interval=30.0, wait=60.0)
        assert _points(sim, "DV01") == []
    assert out.outcome[0] == "stalled" and out.step[0] == "fe_powered"
    assert "stalled after 60 s" in out.reason[0]


def test_nothing_is_sent_without_confirm_or_with_an_unwritable_log(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=2, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        with pytest.raises(ValidationError, match="confirm=True"):
            recover("DV01", array=sim, journal=tmp_path / "j", audit_log=tmp_path / "a.jsonl")
        with pytest.raises(ValidationError, match=r"until 'colder' is not a phase or a step: phases power, vacuum, "
                           r"cooling, closing, done; steps reachable, .*, operational$"):  # fmt: skip
            _run(sim, clock, tmp_path, "DV01", until="colder")
        with pytest.raises(ValidationError, match="DV99"):
            _run(sim, clock, tmp_path, "DV99")
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(AuditError, match="audit log"):
            recover("DV01", confirm=True, array=sim, journal=tmp_path / "j", audit_log=blocker / "a.jsonl")
        with pytest.raises(AuditError, match="journal"):
            recover("DV01", confirm=True, array=sim, journal=blocker / "j", audit_log=tmp_path / "a.jsonl")
        assert _points(sim, "DV01") == []


def test_a_locked_antenna_is_an_error_while_the_others_go_on(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], seed=1, clock=clock, scenario="outage", outage=["DV01", "DV02"]) as sim:
        clock.advance(hours=6)
        (tmp_path / "journal").mkdir()
        with _lock(tmp_path / "journal" / "DV01.lock"):
            out = _run(sim, clock, tmp_path, "DV01,DV02", until="gate_open").set_index("antenna")
        assert _points(sim, "DV01") == []
        assert [p for p, _ in _points(sim, "DV02")] == ORDER[:4]
    assert out.loc["DV01", "outcome"] == "error" and "another recover run holds DV01" in out.loc["DV01", "reason"]
    assert out.loc["DV02", "outcome"] == "reached"


def test_an_e2c_lost_mid_recovery_waits_then_stalls_while_the_others_continue(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01", "DV02"], seed=1, clock=clock, scenario="outage", outage=["DV01", "DV02"]) as sim:
        clock.advance(hours=6)
        _run(sim, clock, tmp_path, "DV01,DV02", until="fe_powered")
        sim.fault("DV01", "down")
        events: list[tuple[str, str, str]] = []
        out = _run(sim, clock, tmp_path, "DV01,DV02", wait=120.0, interval=1800.0,
                   on_event=lambda a, step, what, detail: events.append((a, step, what))).set_index("antenna")  # fmt: skip
    # said as it is taken: waited for (not "blocked", a person's job), then stalled
    assert ("DV01", "reachable", "waiting") in events
    # how each ended is said too (a stall is notified): DV01 stalled, DV02 reached its target
    assert events.index(("DV01", "reachable", "stalled")) > events.index(("DV01", "reachable", "waiting"))
    assert ("DV02", "cold", "reached") in events
    assert out.loc["DV01", "outcome"] == "stalled" and out.loc["DV01", "step"] == "reachable"
    assert "does not answer" in out.loc["DV01", "reason"]
    assert out.loc["DV02", "outcome"] == "reached"


# -- the simulator acts as the firmware (item 4) -------------------------------------------


def _control(sim: SimulatedArray, antenna: str, rca: int, value: int, channel: int = 1, node: int = 0x13,
             tmp: Path | None = None) -> None:  # fmt: skip
    ep = sim.socket_array[antenna]  # a Client talks to a host:port: the simulator on loopback
    with Client(ep.host, ep.port, timeout=0.5) as c:
        c.control(channel, node, rca, bytes([value]), confirm=True, audit_log=tmp)


def test_refused_controls_have_no_effect_and_read_blocked(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    log = tmp_path / "audit.jsonl"
    with SimulatedArray(["DV01"], seed=1, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        _control(sim, "DV01", 0x1C038, 1, tmp=log)  # turbo on, backing pump off: refused
        _control(sim, "DV01", 0x1C03C, 1, tmp=log)  # gate valve open, backing pump off: refused
        plan = plan_recovery("DV01", array=sim).set_index("step")
        from e2ckit.api import sweep

        df = sweep(["FEMC.TURBO_PUMP", "FEMC.GATE_VALVE"], "DV01", array=sim, tidy=True).set_index("point")
        assert df.loc["FEMC.TURBO_PUMP", "status"].startswith("blocked")  # -3
        assert df.loc["FEMC.GATE_VALVE", "text"] == "CLOSED"
        assert plan.loc["turbo", "status"] == "blocked"
        accepted = [(c.point, c.accepted) for c in sim.models["DV01"].controls]
    assert accepted == [("FEMC.SET_TURBO_PUMP", False), ("FEMC.SET_GATE_VALVE", False)]
    assert log.exists()


def test_drive_on_is_ignored_inside_420_s_of_the_last_stop(tmp_path: Path) -> None:
    clock = SimClock(rate=None)
    log = tmp_path / "audit.jsonl"
    with SimulatedArray(["DV02"], seed=1, clock=clock) as sim:
        clock.advance(hours=1)
        _control(sim, "DV02", 0x1001, 0, channel=2, node=0x25, tmp=log)  # stop: accepted
        clock.advance(400)
        _control(sim, "DV02", 0x1001, 1, channel=2, node=0x25, tmp=log)  # 400 s later: ignored
        plan = plan_recovery("DV02", array=sim).set_index("step")
        clock.advance(21)
        _control(sim, "DV02", 0x1001, 1, channel=2, node=0x25, tmp=log)  # 421 s: accepted
        accepted = [(c.point, c.accepted) for c in sim.models["DV02"].controls]
    assert accepted == [("CMPR.SET_DRIVE", True), ("CMPR.SET_DRIVE", False), ("CMPR.SET_DRIVE", True)]
    # the plan saw the window: waiting on the timer, 20 s to go
    assert plan.loc["compressor", "status"] == "waiting", plan[["status", "blocked_by"]].to_string()
    assert plan.loc["compressor", "eta"].total_seconds() == pytest.approx(20.0, abs=1.0)


def test_readme_after_an_outage_python_recipe_runs(tmp_path: Path, monkeypatch) -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## After an outage", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```python\n")[1:]
    recipe = blocks[1].split("```", 1)[0]
    assert "recover(" in recipe and "confirm=True" in recipe
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("E2CKIT_RECOVER_JOURNAL", str(tmp_path / "journal"))
    scope: dict = {}
    exec(compile(recipe.replace("print(out)", "result = out"), "README.md", "exec"), scope)  # noqa: S102
    out = scope["result"].set_index("antenna")
    assert list(out.outcome) == ["reached", "reached"]
    assert out.loc["DV01", "sent"] == [f"{p} = 1" for p in ORDER]
    with SimulatedArray(["DV01", "DV02"], seed=1) as sim:
        plan = plan_recovery("DV", array=sim)
        first = blocks[0].split("```", 1)[0].replace('plan_recovery("DV")', 'plan_recovery("DV", array=sim)')
        exec(compile("import e2ckit\n" + first, "README.md", "exec"), {"sim": sim})  # noqa: S102
    assert (plan.status == "done").all()


def test_watch_lifts_the_wait_bound(tmp_path: Path) -> None:
    """wait=0 alone gives up at the first gate that opens with time; watch=True keeps reading
    until the target is reached."""
    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=1, clock=clock, scenario="outage", outage=["DV01"]) as sim:
        clock.advance(hours=6)
        first = _run(sim, clock, tmp_path, "DV01", wait=0.0)
        assert (first.outcome[0], first.step[0]) == ("waiting", "gate_open")
        out = _run(sim, clock, tmp_path, "DV01", wait=0.0, watch=True)
    assert (out.outcome[0], out.reason[0]) == ("reached", "cold reached")
