"""Every CLI command, driven with generated arguments: never a traceback, always a documented
exit status (issue #13.9).

The commands are enumerated from the Typer app, so a command added later is covered
without touching this file; options this file knows by name get values that matter
(paths under tmp_path, absurd numbers, unknown names), any other option gets random
text and numbers. Only loopback is contacted: the host map is a small simulated array
on 127.0.0.1, ``--host`` only ever names one of its antennas, an unknown antenna or
127.0.0.1, and the commands that run until stopped (simulate, log) always get a
``--duration``. In-process (CliRunner) with a bounded number of examples per command.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import typer.main
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from e2ckit.cli import EXIT_STATUSES, app
from e2ckit.sim import SimulatedArray


def _commands() -> list[tuple[tuple[str, ...], object]]:
    """(path of names, click command) of every leaf command of the app."""

    def walk(cmd: object, path: tuple[str, ...]):
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield path, cmd
            return
        for name, sub in subs.items():
            yield from walk(sub, (*path, name))

    return list(walk(CLICK_APP, ()))


#: the click command tree of the app, built once: typer's CliRunner rebuilds it on every
#: invoke (10 ms, most of what an example costs); building it is not what is fuzzed here,
#: and a process running the CLI builds it once too
CLICK_APP = typer.main.get_command(app)
COMMANDS = _commands()
#: commands that run until stopped unless given a --duration
RUN_UNTIL_STOPPED = {("simulate",), ("log", "run"), ("dashboard",)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 3-antenna simulated array on 127.0.0.1, and files a user might point at."""
    root = tmp_path_factory.mktemp("fuzz")
    sim = SimulatedArray(["DV01", "CM01", "PM01"], seed=5).start()
    csv = sim.write_array(root / "array.csv")
    (root / "binary.csv").write_bytes(b"\x00\x01\x02\xff")
    (root / "latin1.csv").write_bytes(b"antenna,host\nDV01,h\xe9\n")
    (root / "bom.csv").write_bytes(b"\xef\xbb\xbf" + Path(csv).read_bytes())
    (root / "afile").write_text("x")
    (root / "adir").mkdir()
    paths = [str(root / p) for p in ("out.json", "out.csv", "out.parquet", "out.txt", "adir", "afile",
                                     "missing/out.csv", "log")]  # fmt: skip
    paths += ["", " ", str(root / "adir") + "/"]
    yield {"sim": sim, "csv": str(csv), "root": root, "paths": paths}
    sim.stop()


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["0", "1", "-1", "0.05", "0.2", "1e10", "1e400", "nan", "inf", "-inf", "0x13", "0x0x1",
                         "١", "1_0", "99999", "65536", "18446744073709551617"]),  # fmt: skip
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=12),
        st.text(string.ascii_letters + string.digits + ".,-_ ", max_size=16),
    )


def value_for(option: str, world: dict, good: bool) -> st.SearchStrategy[str]:
    """A value for ``option`` (its long name): a sensible one when ``good`` (so that
    examples get past the argument checks and talk to the simulator), else anything."""
    sim = world["sim"]
    ports = [str(ep.port) for ep in sim.array.values()]
    paths = world["paths"]
    # option: (good values, bad values)
    known: dict[str, tuple[list[str], list[str]]] = {
        "--host": (["DV01", "dv01-e2c", "CM01", "PM01", "127.0.0.1"], ["DV99", "XX01", "", " ", "a host", "::1"]),
        "--port": (ports, ["1", "0", "-1", "65536", "99999", "x"]),
        "--timeout": (["0.05", "0.2", "1"], ["0", "-1", "nan", "inf", "1e10", "x", ""]),
        "--deadline": (["0.1", "0.5"], ["0", "-1", "nan", "1e10", "x"]),
        "--duration": (["0", "0.01", "0.05", "0.05s"], ["-1", "nan", "1s", "x", ""]),
        "--interval": (["0.01", "0.05"], ["0", "-1", "nan", "1e10", "x"]),
        "--flush-every": (["0.01", "1"], ["0", "nan", "x"]),
        "--rate": (["1", "3600"], ["0", "-1", "nan", "inf", "x"]),
        "--latency": (["0", "0.0001"], ["-1", "nan", "inf", "x"]),
        "--seed": (["0", "7", "-1"], ["x", str(2**80)]),
        "--bind": (["port", "address"], ["wire", ""]),
        "--scenario": (["outage", "missing-lru"], ["nope", "", "/nonexistent.toml"]),
        "--antennas": (["DV01", "DV", "CM01,PM01", "all"], ["DV99", "", ",", "XX"]),
        "--channel": (["0", "1", "2", "3", "5"], ["6", "0x1x", "-1", "١"]),
        "--node": (["0x13", "0x22", "0x25", "0x16", "19"], ["0x7FF", "0x800", "0x0x13"]),
        "--rca": (["0x0C000", "0x1C046", "0x30003", "0"], ["0x40000", "-1", "x"]),
        "--data": (["0x01", "0x60 0x64", "1,2,3"], ["0x100", "", "1 2 3 4 5 6 7 8 9", "0x0x1"]),
        "--interpret": ([">f", ">I", "BBBBB"], ["Q!", "", "x"]),
        "--format": (["table", "csv", "json", "parquet"], ["xml", ""]),
        "--before": (["2020-01-02", "2099-01-01"], ["x", ""]),
        "--output": ([p for p in paths if p.endswith((".json", ".csv", ".parquet", ".txt"))], paths),
    }
    known["--out"] = ([str(world["root"] / "log")], paths)
    known["--write-array"] = ([str(world["root"] / "out.csv")], paths)
    known["--write-hosts"] = ([str(world["root"] / "out.txt")], paths)
    if option in known:
        good_values, bad_values = known[option]
        if good:
            return st.sampled_from(good_values)
        return st.one_of(st.sampled_from(bad_values + good_values), numbers() if option != "--host" else st.nothing())
    return st.one_of(numbers(), texts())  # an option this file does not know yet


def argument_for(name: str, world: dict, good: bool) -> st.SearchStrategy[str]:
    if name == "path":
        return st.sampled_from([str(world["root"] / "log"), *([] if good else world["paths"])])
    pool = ["cryo", "cmpr", "revision", "temps", "FEMC.TEMP0", "FEMC.TEMP0,FEMC.TEMP1"]
    return st.sampled_from(pool) if good else st.one_of(st.sampled_from([*pool, "nosuchgroup", ""]), texts())


def root_options(world: dict) -> st.SearchStrategy[list[str]]:
    root = world["root"]
    return st.one_of(
        st.just([]),
        st.just([]),
        st.sampled_from([
            ["--array", world["csv"]], ["--array", str(root / "bom.csv")], ["--array", str(root / "binary.csv")],
            ["--array", str(root / "latin1.csv")], ["--array", ""], ["--array", str(root / "nope.csv")],
            ["--sim-seed", "3"], ["--sim-scenario", "outage"], ["--simulate", "--array", world["csv"]],
            ["--simulate"], ["--simulate", "--sim-scenario", "nope"],
        ]),  # fmt: skip
    )


@st.composite
def invocation(draw, path: tuple[str, ...], command, world: dict) -> list[str]:
    """Root options, the command's path, then its options and arguments. Half the
    examples are "good" (sensible values, most options given) so that they reach the
    simulator; the rest may hold anything."""
    good = draw(st.booleans())
    args: list[str] = []
    for param in command.params:
        opts = [o for o in param.opts if o.startswith("--")] or list(param.opts)
        if param.param_type_name == "argument":
            n = draw(st.integers(1 if good else 0, 2 if good else 3))
            args += [draw(argument_for(param.name, world, good)) for _ in range(n)]
            continue
        forced = path in RUN_UNTIL_STOPPED and opts[0] == "--duration"
        if not forced and not draw(st.integers(0, 9).map(lambda n: n < (9 if good else 4))):
            continue
        if getattr(param, "is_flag", False):
            flags = list(param.opts) + list(getattr(param, "secondary_opts", []))
            args.append(draw(st.sampled_from(flags)))
            continue
        value = draw(value_for(opts[0], world, good))
        if forced:  # a run-until-stopped command always ends
            value = draw(st.sampled_from(["0", "0.01", "0.05"] if good else ["0", "0.05", "-1", "nan", "x"]))
        args += [draw(st.sampled_from(param.opts)), value]
    root = [] if good else draw(root_options(world))
    return [*root, *path, *args]


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_never_tracebacks(world, path, command, monkeypatch):
    monkeypatch.setenv("E2CKIT_ARRAY", world["csv"])
    monkeypatch.chdir(world["root"])  # default outputs (log's ./e2ckit-log) land in tmp, not the checkout
    build = typer.testing._get_command
    monkeypatch.setattr(typer.testing, "_get_command", lambda a: CLICK_APP if a is app else build(a))
    runner = CliRunner()

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
    @given(args=invocation(path, command, world))
    def check(args: list[str]) -> None:
        world["sim"].clear_faults()
        result = runner.invoke(app, args)
        shown = f"e2ckit {' '.join(map(repr, args))}\n{result.output}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"exception escaped: {result.exception!r}\n{shown}") from result.exception
        assert "Traceback" not in result.output, shown
        assert "internal error" not in result.output, shown
        assert result.exit_code in EXIT_STATUSES, shown

    check()
