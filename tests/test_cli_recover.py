"""`e2ckit recover` on the embedded simulator (issue 24.3): the acceptance run, the plan
shown first, confirmation, bad input in one line, exit statuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from e2ckit.cli import app
from e2ckit.cli.options import EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_STALLED, EXIT_STATUSES, EXIT_WAITING

ORDER = ["FEPS.SET_ENABLE_PWR", "FEMC.SET_BACKING_PUMP", "FEMC.SET_TURBO_PUMP", "FEMC.SET_GATE_VALVE", "CMPR.SET_DRIVE"]
OUTAGE = ("--simulate", "--sim-scenario", "outage", "--sim-outage", "DV01", "--sim-advance", "6h")


@pytest.fixture
def run(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("E2CKIT_RECOVER_JOURNAL", str(tmp_path / "journal"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def _audit(tmp_path: Path) -> list[dict]:
    log = tmp_path / "audit.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_acceptance_run_recovers_dv01_to_cold(run, tmp_path: Path) -> None:
    # the command at a faster simulated clock (10 simulated hours a second): the
    # gates are read again before each control, so the rate scales waiting, nothing else
    r = run(*OUTAGE, "--sim-rate", "36000", "recover", "DV01", "--yes", "--until", "cold", "--interval", "0.5s")
    assert r.exit_code == 0, r.output
    lines = [x for x in r.output.splitlines() if not x.startswith("e2ckit:")]
    assert lines[0].startswith("DV01  fe_powered ready, FEPS.SET_ENABLE_PWR = 1")
    # each transition stamped in UTC in the simulated array's time (its epoch is 2026-01-01),
    # not the wall clock's
    stamps = [x.split(" ", 1)[0] for x in lines if x[:4].isdigit()]
    assert stamps and all(re.fullmatch(r"2026-01-0\dT\d\d:\d\d:\d\dZ", t) for t in stamps), stamps
    assert lines[-1] == "DV01  reached: cold reached"
    audit = _audit(tmp_path)
    assert [e["target"]["point"] for e in audit if e["outcome"] == "intent"] == ORDER
    assert [e["outcome"] for e in audit] == ["intent", "sent"] * len(ORDER)  # none refused


def test_dry_run_shows_the_plan_and_sends_nothing(run, tmp_path: Path) -> None:
    r = run(*OUTAGE, "recover", "DV01,DV02", "--dry-run")
    assert r.exit_code == EXIT_WAITING, r.output  # DV01 has a step ready: not reached yet
    assert "DV01  fe_powered ready, FEPS.SET_ENABLE_PWR = 1; 13 step(s) to operational" in r.output
    assert "DV02  operational reached" in r.output
    assert _audit(tmp_path) == []
    r = run(*OUTAGE, "recover", "DV02", "--dry-run")
    assert r.exit_code == 0 and "DV02  operational reached" in r.output, r.output


def test_a_dry_run_during_the_outage_says_the_antenna_needs_more_than_time(run, tmp_path: Path) -> None:
    """An E2C that does not answer is blocked, never reached: exit 8, not 0."""
    r = run("--simulate", "--sim-outage", "DV01", "--sim-advance", "2h", "recover", "DV01", "--dry-run")
    assert r.exit_code == EXIT_STALLED, r.output
    assert "DV01  reachable blocked" in r.output and "does not answer" in r.output
    assert _audit(tmp_path) == []


def test_without_yes_and_without_a_terminal_nothing_is_sent(run, tmp_path: Path) -> None:
    r = run(*OUTAGE, "recover", "DV01")
    assert r.exit_code == EXIT_REFUSED
    assert "refused: not carrying out a recovery without --yes" in r.output
    assert _audit(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("recover", "DV01", "--until", "colder"), "--until 'colder' is not a phase or a step: phases power, vacuum, "
                                                     "cooling, closing, done; steps reachable, powered"),
        (("recover", "DV01", "--until", "step:vacuum"), "--until 'step:vacuum' is not a phase or a step"),
        (("recover", "XX01", "--yes"), "XX01"),
        (("recover", "DV01", "--wait", "soon"), "--wait 'soon' is not a duration"),
        (("recover", "DV01", "--dry-run", "--log", "no/such/log"), "--log 'no/such/log': no such directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(run, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    r = run("--simulate", *args)
    assert r.exit_code == EXIT_BAD_INPUT, r.output
    errors = [x for x in r.output.splitlines() if x.startswith("e2ckit: error")]
    assert len(errors) == 1 and message in errors[0]
    if "XX01" not in args:  # options are checked before the simulated array starts
        assert "simulating" not in r.output, r.output
    assert _audit(tmp_path) == []


def test_a_gate_still_closed_after_wait_exits_waiting(run, tmp_path: Path) -> None:
    # rate 10: the FEPS outputs settle in 0.5 s, and the turbo (at speed 100-140 simulated
    # seconds after its control, 10 s here) cannot reach speed within a 0 s wait
    # (--interval 0.5s: each control's effect is read back twice a second, not every 2 s)
    r = run(*OUTAGE, "--sim-rate", "10", "recover", "DV01", "--yes", "--until", "gate_open", "--wait", "0",
            "--interval", "0.5s")
    assert r.exit_code == EXIT_WAITING, r.output
    assert "DV01  waiting at gate_open: FEMC.TURBO_SPEED == 1 (reads LOW)" in r.output
    assert [e["target"]["point"] for e in _audit(tmp_path) if e["outcome"] == "intent"] == ORDER[:3]
    assert EXIT_WAITING in EXIT_STATUSES


def test_watch_follows_the_plan_and_notifies_command_and_url(run, tmp_path: Path) -> None:
    import http.server
    import threading

    posted: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = tmp_path / "events.jsonl"
    try:
        # 20000x: DV01 reaches cold ~16 simulated hours (~3 s) after the array starts; a faster
        # clock can pass cold before a loaded machine's first read, and "cold waiting" is not seen
        r = run("--simulate", "--sim-scenario", "recovery", "--sim-outage", "DV01", "--sim-advance", "6h50m",
                "--sim-rate", "20000", "recover", "DV01", "--dry-run", "--watch", "--until", "cold",
                "--interval", "0.25s", "--notify-command", f"cat >> {sink}; echo >> {sink}",
                "--notify-url", f"http://127.0.0.1:{server.server_address[1]}/hook")  # fmt: skip
    finally:
        server.shutdown()
    assert r.exit_code == 0, r.output
    events = [x.split(" ", 1)[1] for x in r.output.splitlines() if x[:4].isdigit()]
    assert events[-1] == "DV01 cold reached"
    assert any(e.startswith("DV01 cold waiting: FEMC.TEMP0 < 5") for e in events)
    by_command = [json.loads(x) for x in sink.read_text().splitlines() if x.strip()]
    assert [e["event"] for e in by_command] == [e["event"] for e in posted]
    assert by_command[-1]["step"] == "cold" and by_command[-1]["event"] == "reached"
    assert _audit(tmp_path) == []  # watching sends nothing


def test_a_notify_url_that_is_not_http_is_bad_input(run, tmp_path: Path) -> None:
    r = run("--simulate", "recover", "DV01", "--dry-run", "--notify-url", "ftp://x")
    assert r.exit_code == EXIT_BAD_INPUT and "--notify-url 'ftp://x'" in r.output


def test_ctrl_c_stops_a_watching_recovery_at_once(tmp_path: Path) -> None:
    """SIGINT to `recover --watch` (whose antenna threads would otherwise read on forever):
    exit 130 promptly, saying how to continue; the journal keeps what was sent."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "E2CKIT_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
           "E2CKIT_RECOVER_JOURNAL": str(tmp_path / "journal")}  # fmt: skip
    proc = subprocess.Popen(
        # rate 10: three controls and their read-backs (2 s each) go within seconds; the
        # turbo's gate (at speed 100-140 simulated s later) stays closed 10 s more
        [sys.executable, "-m", "e2ckit", *OUTAGE, "--sim-rate", "10", "recover", "DV01", "--yes", "--watch",
         "--until", "cold", "--interval", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # SIGINT as a terminal gives it, even when these tests run in the background (where
        # it is inherited ignored, and Python would never raise KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        for line in proc.stdout:  # the turbo's control out, now waiting an interval on its gate
            if "gate_open waiting" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)  # an interval is 60 s: it must not wait for it
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: nothing more is sent; rerun the same command to continue" in stderr
    audit = _audit(tmp_path)
    assert [e["target"]["point"] for e in audit if e["outcome"] == "sent"] == ORDER[:3]


def test_a_simulated_run_does_not_inherit_the_journal_of_another_simulated_world(run, tmp_path: Path) -> None:
    """Every --simulate command starts a new simulated array: an interrupted practice run's
    journal (turbo sent, in a world gone since) must not hold back the next run's controls."""
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "DV01.jsonl").write_text(
        json.dumps({"t": 1767247206.0, "step": "turbo", "event": "sent"}) + "\n"
    )
    r = run(*OUTAGE, "--sim-rate", "36000", "recover", "DV01", "--yes", "--until", "vacuum", "--interval", "0.5s")
    assert r.exit_code == 0, r.output
    assert [e["target"]["point"] for e in _audit(tmp_path) if e["outcome"] == "sent"] == ORDER[:4]


def test_on_a_terminal_lines_wrap_to_its_width_and_into_a_pipe_stay_whole(tmp_path: Path) -> None:
    """A terminal of 80 columns gets every line within 80 (a hanging indent), the same
    words; a pipe gets one line an antenna, whole, for scripts."""
    import os
    import subprocess
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from simhelpers import cli_on_a_terminal

    args = ["--simulate", "--sim-outage", "DV01,DV02", "--sim-advance", "2h", "recover", "DV01,DV02,DV03", "--dry-run"]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(E2CKIT_AUDIT_LOG=str(tmp_path / "audit.jsonl"), E2CKIT_RECOVER_JOURNAL=str(tmp_path / "journal"))
    code, raw = cli_on_a_terminal(args, env, size=(80, 40))
    assert code == EXIT_STALLED, raw
    shown = raw.replace("\r\n", "\n").splitlines()
    assert shown and all(len(line) <= 80 for line in shown), shown
    piped = subprocess.run([sys.executable, "-m", "e2ckit", *args], env=env, capture_output=True, text=True)
    lines = piped.stdout.splitlines()
    assert [x[:4] for x in lines] == ["DV01", "DV02", "DV03"] and max(map(len, lines)) > 80, lines
    assert " ".join(" ".join(shown).split()) == " ".join(" ".join(lines).split())  # the same words


def test_a_damaged_file_in_its_log_is_one_warning_line(run, tmp_path: Path) -> None:
    """``--log DIR`` with a part cut short: the reader skips it, and the CLI says so in one
    ``e2ckit: warning:`` line (not Python's warning text with a source path)."""
    import e2ckit
    from e2ckit.clock import SimClock
    from e2ckit.sim import SimulatedArray

    clock = SimClock(rate=None)
    with SimulatedArray(["DV01"], seed=3, clock=clock, serve=False, latency=0.0) as sim:
        e2ckit.Logger("recovery", interval=60, path=tmp_path / "log", array=sim, clock=clock).run(cycles=2)
    (part,) = (tmp_path / "log").rglob("part-*.parquet")
    part.write_bytes(part.read_bytes()[:100])
    r = run("--simulate", "recover", "DV01", "--dry-run", "--log", str(tmp_path / "log"))
    warned = [x for x in r.stderr.splitlines() if "warning" in x.lower()]
    assert len(warned) == 1 and warned[0].startswith("e2ckit: warning: skipping") and part.name in warned[0], r.stderr
    assert ".py:" not in r.stderr and "UnreadableFileWarning" not in r.stderr
