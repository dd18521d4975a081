"""No traceback from the CLI, ever (issue #13.9), and undecodable readings are partial (#13.10).

Each case once ended in a traceback (or silently did the wrong thing). Every bad input
must now give exit status 2 and one line on stderr naming what was wrong. Only
loopback is contacted: a seeded simulated array, or a tiny server in this module.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from e2ckit.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL, app
from e2ckit.wire.frames import REQUEST_SIZE, Reply

#: the click command tree of the app, built once for the module: typer's CliRunner rebuilds
#: it on every invoke (10 ms), which is not what these tests are about (a shell builds it
#: once per process too)
CLICK_APP = typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _click_app_built_once(monkeypatch):
    build = typer.testing._get_command
    monkeypatch.setattr(typer.testing, "_get_command", lambda a: CLICK_APP if a is app else build(a))


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.setenv("E2CKIT_ARRAY", str(sim.write_array(tmp_path / "array.csv")))
    sim.clear_faults()
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def bad_input(result, *words: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr that names ``words``."""
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


SWEEP = ["sweep", "FEMC.TEMP0", "--antennas", "DV01"]


# -- output paths ---------------------------------------------------------------------------


def test_output_into_a_missing_directory(env):
    bad_input(run(*SWEEP, "-o", str(env / "nope" / "x.csv")), "-o", "does not exist")
    assert not (env / "nope").exists()


def test_output_onto_a_directory(env):
    bad_input(run(*SWEEP, "-o", str(env)), "-o", "is a directory")


def test_output_empty(env):
    bad_input(run(*SWEEP, "-o", ""), "-o", "empty")


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e10", "nan", "inf", "-inf"])
def test_timeout_absurd_or_not_a_number(env, value):
    bad_input(run(*SWEEP, "--timeout", value), "--timeout")


def test_timeout_not_a_float_is_one_line(env):
    bad_input(run(*SWEEP, "--timeout", "soon"), "--timeout")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--node", "0x0x13"), ("--node", "١٩"), ("--node", "1_9"), ("--node", "+19"), ("--channel", "１")],
)
def test_numbers_are_ascii_decimal_or_0x_hex(env, option, value):
    args = {"--channel": "1", "--node": "0x13", "--rca": "0x0C000"}
    args[option] = value
    flat = [x for kv in args.items() for x in kv]
    bad_input(run("monitor", "request", "--host", "DV01", *flat), option, "not a number")


@pytest.mark.parametrize("data", ["0x0x1", "١", "0x1 ٢", "1_0"])
def test_control_data_is_ascii(env, data):
    r = run("control", "request", "--host", "DV01", "--channel", "1", "--node", "0x13", "--rca", "0x1C046",
            "--data", data, "--yes")  # fmt: skip
    bad_input(r, "--data", "not a number")


# -- host maps ------------------------------------------------------------------------------


def test_array_empty_is_an_error_not_the_real_array(env):
    bad_input(run("--array", "", *SWEEP), "--array", "empty")


@pytest.mark.parametrize(
    ("content", "word"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"antenna,host\nDV01,h\xe9te\n", "UTF-8")],
)
def test_array_csv_binary_or_not_utf8(env, content, word):
    path = env / "bad.csv"
    path.write_bytes(content)
    bad_input(run("--array", str(path), *SWEEP), "--array", word)


def test_array_csv_with_a_byte_order_mark_just_works(env, sim):
    ep = sim.array["DV01"]
    path = env / "bom.csv"
    path.write_bytes(f"\ufeffantenna,host,port\nDV01,{ep.host},{ep.port}\n".encode())
    r = run("--array", str(path), *SWEEP, "-f", "json")
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads(r.stdout)[0]["antenna"] == "DV01"


# -- simulate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--rate", "nan"], "--rate"),
        (["--rate", "inf"], "--rate"),
        (["--latency", "nan"], "--latency"),
        (["--duration", "nan"], "--duration"),
        (["--scenario", "nope"], "nope"),
        (["--bind", "address", "--port", "99999"], "--port"),
        (["--write-array", "/nonexistent-dir/array.csv"], "--write-array"),
        (["--write-hosts", "/nonexistent-dir/hosts"], "--write-hosts"),
        (["--antennas", ""], "--antennas"),
    ],
)
def test_simulate_bad_input(args, word):
    bad_input(run("simulate", "--antennas", "DV01", "--duration", "0", *args), word)


# -- log ------------------------------------------------------------------------------------


def test_log_out_empty_is_an_error(env):
    r = run("log", "FEMC.TEMP0", "--antennas", "DV01", "--out", "", "--duration", "0.1")
    bad_input(r, "--out", "empty")


def test_log_out_onto_a_file(env):
    (env / "afile").write_text("x")
    bad_input(run("log", "FEMC.TEMP0", "--out", str(env / "afile"), "--duration", "0.1"), "--out")


def test_log_compact_over_only_foreign_files_is_one_line(env):
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = env / "ds" / "date=2020-01-01" / "antenna=DV01"
    day.mkdir(parents=True)
    for i in range(2):
        pq.write_table(pa.table({"other": [1, 2, 3]}), day / f"part-{i}.parquet")
    r = run("log", "compact", str(env / "ds"), "--before", "2020-01-02")
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 1, 2)
    if r.exit_code:  # (the logger skips foreign files; whatever is left is one line)
        assert len([ln for ln in r.stderr.splitlines() if "error" in ln]) == 1, r.stderr


# -- readings that arrive but do not decode (#13.10) ------------------------------------------


@pytest.fixture
def short_replies(tmp_path, monkeypatch):
    """An E2C stand-in on loopback that answers every request with a 2-byte reply: the
    right frame, the wrong length for any float point (FEMC.TEMP0 carries 5 bytes)."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            buf = b""
            while not stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= REQUEST_SIZE:
                    buf = buf[REQUEST_SIZE:]
                    conn.sendall(Reply(0, b"\x01\x02").encode())

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    path = tmp_path / "short.csv"
    path.write_text(f"antenna,host,port\nDV01,127.0.0.1,{port}\n")
    monkeypatch.setenv("E2CKIT_ARRAY", str(path))
    yield port
    stop.set()
    t.join(2)
    srv.close()


def test_sweep_with_undecodable_readings_is_partial(short_replies):
    r = run("sweep", "FEMC.TEMP0", "--antennas", "DV01", "--tidy", "-f", "json")
    assert r.exit_code == EXIT_PARTIAL, r.output
    (row,) = json.loads(r.stdout)
    # since #17 a reply that does not fit its catalog entry carries a "catalog:" error
    assert row["status"] == "bad length" and row["error"].startswith("catalog: bad length")
    assert "bad length" in r.stderr


def test_monitor_request_with_an_undecodable_reading_is_partial(short_replies):
    r = run("monitor", "request", "--host", "DV01", "--channel", "1", "--node", "0x13", "--rca", "0x0C000",
            "-f", "json")  # fmt: skip
    assert r.exit_code == EXIT_PARTIAL, r.output
    assert json.loads(r.stdout)[0]["status"] == "bad length"
    assert "did not decode" in r.stderr


def test_points_groups_as_parquet(env, tmp_path):
    """A column of numbers and text ("per antenna") once made pyarrow raise."""
    import pyarrow.parquet as pq

    out = tmp_path / "groups.parquet"
    r = run("points", "--groups", "-o", str(out))
    assert r.exit_code == EXIT_OK, r.output
    groups = pq.read_table(out).to_pydict()
    assert "cryo" in groups["group"] and "per antenna" in groups["points"]


def test_log_fsync_is_chosen_on_the_command_line(tmp_path):
    """`e2ckit log --fsync flush` logs (a cheaper, documented trade); anything else is bad input."""
    bad = run("log", "FEMC.TEMP0", "--fsync", "never", "-o", str(tmp_path / "x"))
    assert bad.exit_code == EXIT_BAD_INPUT and "--fsync" in bad.stderr and not (tmp_path / "x").exists()
    out = tmp_path / "night"
    ok = run("--simulate", "log", "FEMC.TEMP0", "-a", "DV01", "--fsync", "flush", "--interval", "0.25",
             "--duration", "0.75", "--quiet", "-o", str(out))  # fmt: skip
    assert ok.exit_code == EXIT_OK, ok.output
    import e2ckit

    assert len(e2ckit.load(out)) >= 2
