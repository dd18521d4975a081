"""Controls are never sent unaudited (issue #13.3 and .6), on real loopback sockets.

Every path that sends a control or a reset — ``e2ckit control request``, ``Client.control``
/ ``Client.reset`` and the drop-in ``E2CClient.send_request(mode=1|3)`` — writes an intent
line (flushed and fsynced) first and sends nothing if it cannot. The "full disk" is real:
``/dev/full`` answers every write with ENOSPC; a failing fsync is injected. "Nothing
reached the server" is checked on the simulator itself: the requests it served and the
controls its model recorded are unchanged.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from e2ckit import audit
from e2ckit.audit import AuditError, OutcomeUnknownError
from e2ckit.cli import EXIT_BAD_INPUT, EXIT_NOTHING, EXIT_OK, EXIT_PARTIAL, app
from e2ckit.client import Client
from e2ckit.compat import E2CClient
from e2ckit.errors import E2CConnectionError, ValidationError

FEMC = 0x13
VACUUM_GAUGE = (1, FEMC, 0x1C046)  # FEMC SET_VACUUM_GAUGE: a harmless control
@pytest.fixture
def full_disk(tmp_path, monkeypatch) -> str:
    """An audit log on a full disk: every write to that file fails with ENOSPC (``/dev/full``
    is not a regular file, which a control refuses first: see the test below)."""
    path = tmp_path / "full" / "audit.jsonl"
    path.parent.mkdir()
    real = os.write

    def write(fd, data):
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(audit.os, "write", write)
    return str(path)


@pytest.fixture
def dv01(fresh_sim, tmp_path, monkeypatch):
    s = fresh_sim(["DV01"])
    monkeypatch.setenv("E2CKIT_ARRAY", str(s.write_array(tmp_path / "array.csv")))
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(log))
    s.log = log
    return s


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def untouched(sim) -> tuple[int, int]:
    """What the simulator saw: requests served and controls its model recorded."""
    return sim.requests_served("DV01"), len(sim.models["DV01"].controls)


def client(sim, timeout: float = 2.0) -> Client:
    ep = sim.array["DV01"]
    return Client(ep.host, ep.port, timeout=timeout)


def refuse_fsync(monkeypatch) -> None:
    """The disk fills between the write and the fsync."""

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit.os, "fsync", fsync)


# -- the Python API: an explicit opt-in, then audited ------------------------------------


@pytest.mark.parametrize("mode", ["CONTROL", "RESET"])
def test_a_raw_request_never_sends_a_control_unaudited(dv01, mode):
    """The rule sits where requests leave: Client.request itself refuses a control or reset
    that does not come through audit.audited_send, so no new path can bypass the log."""
    from e2ckit.wire.frames import Mode, Request

    m = Mode[mode]
    req = Request(*VACUUM_GAUGE, m, b"\x01") if m == Mode.CONTROL else Request(1, FEMC, 0, m)
    before = untouched(dv01)
    with client(dv01) as c:
        with pytest.raises(ValidationError, match="never sent unaudited"):
            c.request(req, check=False)
        assert not c.connected
    assert untouched(dv01) == before and lines(dv01.log) == []


def test_client_control_needs_confirm(dv01):
    before = untouched(dv01)
    with client(dv01) as c:
        with pytest.raises(ValidationError, match="confirm=True"):
            c.control(*VACUUM_GAUGE, b"\x01")
        with pytest.raises(ValidationError, match="confirm=True"):
            c.reset(1, FEMC)
        with pytest.raises(ValidationError, match="confirm=True"):
            c.control(*VACUUM_GAUGE, b"\x01", confirm="yes")  # only True itself
        assert not c.connected
    assert untouched(dv01) == before
    assert lines(dv01.log) == []


def test_client_control_writes_intent_then_outcome(dv01):
    with client(dv01) as c:
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
        c.reset(1, FEMC, confirm=True)
    intent, sent, reset_intent, reset_sent = lines(dv01.log)
    assert [e["outcome"] for e in (intent, sent, reset_intent, reset_sent)] == ["intent", "sent", "intent", "sent"]
    assert intent["id"] == sent["id"] != reset_intent["id"] == reset_sent["id"]
    assert intent["via"] == "python" and intent["mode"] == "control" and reset_intent["mode"] == "reset"
    assert intent["data"] == "0x01" and intent["target"]["rca"] == "0x1C046"
    assert [(r.rca, r.data) for r in dv01.models["DV01"].controls][:1] == [(0x1C046, b"\x01")]


@pytest.mark.parametrize("call", [
    lambda c, log: c.control(*VACUUM_GAUGE, b"\x01", confirm=True, audit_log=log),
    lambda c, log: c.reset(1, FEMC, confirm=True, audit_log=log),
])  # fmt: skip
def test_client_on_a_full_disk_sends_nothing(dv01, call, full_disk):
    before = untouched(dv01)
    with client(dv01) as c, pytest.raises(AuditError, match="No space left on device.*not sent"):
        call(c, full_disk)
    assert untouched(dv01) == before


@pytest.mark.parametrize("kind", ["/dev/null", "fifo"])
def test_an_audit_log_that_is_not_a_file_is_refused(dv01, monkeypatch, tmp_path, kind):
    """Issue 22 item 13: E2CKIT_AUDIT_LOG=/dev/null sent a control and kept no record (exit
    0); a FIFO with no reader would hang. Both are refused, one line, nothing sent."""
    path = kind
    if kind == "fifo":
        path = str(tmp_path / "audit.fifo")
        os.mkfifo(path)
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", path)
    before = untouched(dv01)
    r = run(*CONTROL)
    assert r.exit_code == EXIT_BAD_INPUT
    line = one_line(r)
    assert path in line and "not a regular file" in line and ("not sent" in line or "nothing sent" in line)
    with client(dv01) as c, pytest.raises(AuditError, match="not a regular file"):
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
    assert untouched(dv01) == before


def test_client_with_a_failing_fsync_sends_nothing(dv01, monkeypatch):
    refuse_fsync(monkeypatch)
    before = untouched(dv01)
    with client(dv01) as c, pytest.raises(AuditError, match="not sent"):
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
    assert untouched(dv01) == before


def test_client_with_an_unwritable_log_path_sends_nothing(dv01, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    before = untouched(dv01)
    with client(dv01) as c, pytest.raises(AuditError, match="audit log"):
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True, audit_log=tmp_path / "a-file" / "audit.jsonl")
    assert untouched(dv01) == before


def test_client_control_without_reply_is_outcome_unknown(dv01):
    dv01.fault("DV01", "silent")
    with client(dv01, timeout=0.3) as c, pytest.raises(OutcomeUnknownError, match="may have been applied"):
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
    assert [e["outcome"] for e in lines(dv01.log)] == ["intent", "unknown"]


def test_client_control_to_a_dead_port_is_failed_not_unknown(dv01):
    dv01.fault("DV01", "down")
    with client(dv01) as c, pytest.raises(E2CConnectionError) as exc:
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
    assert not isinstance(exc.value, OutcomeUnknownError), "refused before a byte was sent: certainly not applied"
    assert [e["outcome"] for e in lines(dv01.log)] == ["intent", "failed"]


# -- the drop-in: no extra argument, audited all the same -------------------------------------


def test_drop_in_control_and_reset_are_audited(dv01):
    ep = dv01.array["DV01"]
    with E2CClient(ep.host, ep.port, timeout=2, verbose=False) as e2c:
        assert e2c.send_request(0, *VACUUM_GAUGE, 1, b"\x01") == (0, b"")
        assert e2c.send_request(0, 0, 0x22, 0, 3) == (0, b"")
        assert e2c.send_request(0, 1, FEMC, 0x0C000, 0)[0] == 0  # a monitor request: no audit line
    got = lines(dv01.log)
    assert [(e["mode"], e["outcome"], e["via"]) for e in got] == [
        ("control", "intent", "E2CClient"), ("control", "sent", "E2CClient"),
        ("reset", "intent", "E2CClient"), ("reset", "sent", "E2CClient"),
    ]  # fmt: skip


def test_drop_in_on_a_full_disk_sends_nothing(dv01, monkeypatch, full_disk):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", full_disk)
    ep = dv01.array["DV01"]
    before = untouched(dv01)
    with E2CClient(ep.host, ep.port, timeout=2, verbose=False) as e2c:
        with pytest.raises(AuditError):
            e2c.send_request(0, *VACUUM_GAUGE, 1, b"\x01")
        with pytest.raises(AuditError):
            e2c.send_request(0, 0, 0x22, 0, 3)
        assert e2c.send_request(0, 1, FEMC, 0x0C000, 0)[0] == 0, "monitor requests still work"
    served, controls = untouched(dv01)
    assert (served, controls) == (before[0] + 1, before[1])


# -- the command line ------------------------------------------------------------------------

CONTROL = ["control", "request", "--host", "DV01", "--channel", "1", "--node", "0x13", "--rca", "0x1C046",
           "--data", "0x01", "--yes"]  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def one_line(result) -> str:
    out = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(out) == 1, result.stderr
    assert "Traceback" not in result.output
    return out[0]


def test_cli_yes_on_a_full_disk_is_one_line_and_sends_nothing(dv01, monkeypatch, full_disk):
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", full_disk)
    before = untouched(dv01)
    r = run(*CONTROL)
    assert r.exit_code == EXIT_BAD_INPUT
    line = one_line(r)
    assert "audit log" in line and "No space left on device" in line and "not sent" in line
    assert r.stdout == ""
    assert untouched(dv01) == before


def test_cli_yes_with_a_failing_fsync_sends_nothing(dv01, monkeypatch):
    refuse_fsync(monkeypatch)
    before = untouched(dv01)
    r = run(*CONTROL)
    assert r.exit_code == EXIT_BAD_INPUT
    assert "audit log" in one_line(r)
    assert untouched(dv01) == before


@pytest.mark.parametrize("where", ["missing/out.json", "."])
def test_cli_output_path_checked_before_sending(dv01, tmp_path, where):
    before = untouched(dv01)
    r = run(*CONTROL, "-o", str(tmp_path / where))
    assert r.exit_code == EXIT_BAD_INPUT
    line = one_line(r)
    assert "-o" in line and ("does not exist" in line or "is a directory" in line)
    assert untouched(dv01) == before
    assert lines(dv01.log) == [], "not sent, nothing to audit"


def test_cli_control_without_reply_is_outcome_unknown(dv01):
    dv01.fault("DV01", "silent")
    r = run(*CONTROL, "--timeout", "0.3", "-f", "json")
    assert r.exit_code == EXIT_PARTIAL
    (row,) = json.loads(r.stdout)
    assert row["outcome"] == "unknown"
    assert "outcome unknown — it may have been applied" in r.stderr
    assert "Traceback" not in r.output
    assert [e["outcome"] for e in lines(dv01.log)] == ["intent", "unknown"]


def test_cli_control_to_a_dead_port_is_failed(dv01):
    dv01.fault("DV01", "down")
    r = run(*CONTROL, "-f", "json")
    assert r.exit_code == EXIT_NOTHING
    assert json.loads(r.stdout)[0]["outcome"] == "failed"
    assert "not sent" in r.stderr
    assert [e["outcome"] for e in lines(dv01.log)] == ["intent", "failed"]


def test_cli_control_output_to_a_file(dv01, tmp_path):
    out = tmp_path / "control.json"
    r = run(*CONTROL, "-o", str(out))
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads(out.read_text())[0]["outcome"] == "sent"
    assert len(dv01.models["DV01"].controls) == 1


def fsync_fails_after(monkeypatch, n: int) -> None:
    """The first ``n`` fsyncs succeed, then the disk is full."""
    real = os.fsync
    calls = [0]

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] > n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(audit.os, "fsync", fsync)


def test_outcome_not_recordable_is_a_warning_not_a_failure(dv01, monkeypatch):
    fsync_fails_after(monkeypatch, 1)  # the intent is on disk, the outcome cannot be
    with client(dv01) as c, pytest.warns(RuntimeWarning, match="could not record it"):
        c.control(*VACUUM_GAUGE, b"\x01", confirm=True)
    assert len(dv01.models["DV01"].controls) == 1, "it was sent: the intent was on disk"
    assert lines(dv01.log)[0]["outcome"] == "intent"


def test_cli_outcome_not_recordable_is_one_warning_line(dv01, monkeypatch):
    fsync_fails_after(monkeypatch, 1)
    r = run(*CONTROL, "-f", "json")
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads(r.stdout)[0]["outcome"] == "sent"
    warned = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warned) == 1 and warned[0].startswith("e2ckit: warning:") and "could not record it" in warned[0]
    assert "Traceback" not in r.output
