"""Shared fixtures: simulated arrays on loopback, and the host map that points e2ckit at them.

Every fixture here binds loopback addresses only and never resolves a real host name.

* ``sim`` (one per module): a started ``SimulatedArray(["DV01", "DV02", "CM01"], seed=7)``
  on 127.0.0.1 with free ports and a *stepped* clock (``SimClock(rate=None)``), so a point
  reads the same bytes until a test calls ``sim.clock.advance(...)``. Shared by the tests
  of one module: a test that injects faults should clear them (``sim.clear_faults()``)
  and one that changes hardware state (controls, resets, missing LRUs) should use
  ``fresh_sim`` instead.
  It serves loopback sockets (``serve=True``): for Client, engine and CLI-process tests.
  A module shapes it with a ``sim_array`` marker instead of defining its own ``sim``::

      pytestmark = pytest.mark.sim_array(["DV01", "DA41"], seed=11, serve=False)

  the antennas, then ``SimulatedArray`` keyword arguments (``serve=False``: the memory
  driver), and: ``rate`` (the clock's; default None, stepped), ``advance`` (simulated
  seconds run before the array starts), ``faults`` (``[(antenna, kind, params), ...]``
  set once started), ``per_test=True`` (a new array for every test, on the test's own
  ``clock`` fixture, for tests that change the array or drive its clock).
* ``clock``: a new stepped ``SimClock(rate=None)`` for one test.
* ``memory_sim`` (module scope): the same three antennas answering in memory (the memory
  driver: no sockets, no threads, virtual time), for tests that need no host:port (api,
  planning, triage, logger). ``sim.memory_array`` reaches ``sim``'s models in memory too.
* ``fresh_sim``: a factory, ``fresh_sim(antennas=("DV01",), **kwargs)``, for a private
  simulated array started now and stopped when the test ends; keyword arguments go to
  ``SimulatedArray`` (``seed`` defaults to 7, ``clock`` to a new stepped clock, ``serve``
  to True: pass ``serve=False`` for the memory driver).
* ``address_sim``: a factory like ``fresh_sim`` for ``bind="address"`` arrays (one
  loopback address per antenna, 127.0.1.x). It tries port 2000 and falls back to free
  high ports when 2000 is taken on those addresses; it skips the test, with the
  reason, when the addresses cannot be bound at all.
* ``active_sim``: ``sim`` made the process's active array for one test (``use_array``): the
  in-process CLI reaches it with no CSV, in memory for a ``serve=False`` module.
* ``served_twin`` (module scope): the module's ``sim`` shape served on loopback, for child
  processes of a module whose ``sim`` answers in memory.
* ``array_csv``: writes ``sim``'s host map to a temporary CSV, sets ``E2CKIT_ARRAY`` to
  it for the duration of the test (monkeypatch), and returns its path (for the CLI, in
  this process or in a child).
* every test runs with ``E2CKIT_AUDIT_LOG`` in a temporary folder (controls are audited).
* hypothesis: under CI (``$CI`` set, as ``.ci/run`` runs) the ``ci`` profile draws the same
  examples every run (derandomized): a red CI run is red again on a rerun. A developer's
  runs explore new examples (and replay the failures stored in ``.hypothesis/``).
* ``sim_client``: a factory, ``sim_client(sim, "DV01", timeout=2.0)``, returning an
  ``e2ckit.client.Client`` for one antenna of a started array, closed when the test ends.

(Test modules cannot import helpers from here: ``tests/notebooks/conftest.py`` shares
the module name ``conftest``. Use the fixtures.)
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from e2ckit.client import Client
from e2ckit.errors import ValidationError

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: The modules and notebooks that keep a worker longest (seconds of one worker, measured on
#: a 2-core machine), longest first. xdist hands a worker a whole module at a time, in the
#: collection's order (``--no-loadscope-reorder``; its own reorder counts tests, not time):
#: starting the longest first lets the workers finish together. Order only: a module not
#: listed runs after these, in its usual order.
LONGEST_FIRST = (
    "test_sim_time", "test_dashboard_browser", "test_cli_recover", "test_dataset_faults", "test_query",
    "test_cli_fuzz", "test_logger", "test_logger_faults", "test_logger_fold", "test_engine",
    "05-recovery-after-an-outage", "03-compare-the-array", "04-outage-trends", "test_dataset_fuzz",
)


def _scope_name(item: pytest.Item) -> str:
    """A test's module stem, or a notebook's name (a worker's unit of work)."""
    parts = item.nodeid.split("::")
    return parts[1] if parts[0].endswith("notebooks.toml") else Path(parts[0]).stem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_scope_name(item), len(rank)))  # stable: a module's order kept


#: Antennas of the shared ``sim`` fixture: two DVs (compressor on channel 2), one CM (channel 3).
SIM_ANTENNAS = ("DV01", "DV02", "CM01")
SIM_SEED = 7


def _new_sim(antennas: Sequence[str] | str, **kwargs: Any) -> Any:
    from e2ckit.sim import SimulatedArray
    from e2ckit.clock import SimClock

    kwargs.setdefault("seed", SIM_SEED)
    kwargs.setdefault("clock", SimClock(rate=None))
    kwargs.setdefault("serve", True)
    return SimulatedArray(antennas, **kwargs)


@contextlib.contextmanager
def _stopped_at_teardown() -> Iterator[list[Any]]:
    """A list for the arrays a factory fixture starts; each is stopped when the test ends."""
    started: list[Any] = []
    try:
        yield started
    finally:
        for s in started:
            s.stop()


@pytest.fixture(autouse=True)
def _control_audit_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Controls sent by any test are audited into a temporary file, never into the
    developer's own ``~/.local/state/e2ckit/control-audit.jsonl``."""
    monkeypatch.setenv("E2CKIT_AUDIT_LOG", str(tmp_path_factory.mktemp("audit") / "control-audit.jsonl"))


def _shape(node: pytest.Item | pytest.Collector) -> tuple[list[str], dict[str, Any]]:
    """The antennas and keyword arguments of ``sim`` for this node: its module's
    ``sim_array`` marker, else the three default antennas."""
    marker = node.get_closest_marker("sim_array")
    if marker is None:
        return list(SIM_ANTENNAS), {}
    antennas = marker.args[0] if marker.args else marker.kwargs.get("antennas", SIM_ANTENNAS)
    return list(antennas), {k: v for k, v in marker.kwargs.items() if k != "antennas"}


def _shaped_sim(antennas: list[str], options: dict[str, Any], clock: Any = None) -> Any:
    """A started simulated array as a ``sim_array`` marker describes it."""
    from e2ckit.clock import SimClock

    options = dict(options)
    options.pop("per_test", None)
    advance, faults = options.pop("advance", 0), options.pop("faults", ())
    options["clock"] = clock if clock is not None else SimClock(rate=options.pop("rate", None))
    options.pop("rate", None)
    s = _new_sim(antennas, **options)
    if advance:
        s.clock.advance(advance)
    s.start()
    for antenna, kind, *params in faults:
        s.fault(antenna, kind, **(params[0] if params else {}))
    return s


@pytest.fixture(scope="module")
def _module_sim(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's shared ``sim``."""
    s = _shaped_sim(*_shape(request.node))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def clock() -> Any:
    """A new stepped simulated clock (``SimClock(rate=None)``) for this test."""
    from e2ckit.clock import SimClock

    return SimClock(rate=None)


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's simulated array (default: DV01, DV02, CM01; seed 7; stepped clock;
    loopback sockets), shaped by its ``sim_array`` marker; one per test with ``per_test``."""
    antennas, options = _shape(request.node)
    if not options.get("per_test"):
        yield request.getfixturevalue("_module_sim")
        return
    s = _shaped_sim(antennas, options, clock=request.getfixturevalue("clock"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def memory_sim() -> Iterator[Any]:
    """The three antennas of ``sim`` (seed 7, stepped clock), answering in memory."""
    s = _new_sim(list(SIM_ANTENNAS), serve=False).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def fresh_sim() -> Iterator[Callable[..., Any]]:
    """Factory for private simulated arrays, each stopped when the test ends."""
    with _stopped_at_teardown() as started:

        def make(antennas: Sequence[str] | str = ("DV01",), **kwargs: Any) -> Any:
            s = _new_sim(list(antennas) if not isinstance(antennas, str) else antennas, **kwargs)
            s.start()
            started.append(s)
            return s

        yield make


@pytest.fixture
def address_sim() -> Iterator[Callable[..., Any]]:
    """Factory for ``bind="address"`` simulated arrays (127.0.1.x), port 2000 if free."""
    rng = random.Random()
    with _stopped_at_teardown() as started:

        def make(antennas: Sequence[str] | str = ("DV01",), **kwargs: Any) -> Any:
            kwargs["bind"] = "address"
            ports = [kwargs.pop("port", 2000)] + [rng.randrange(20000, 60000) for _ in range(5)]
            last: Exception | None = None
            for port in ports:
                s = _new_sim(antennas, port=port, **kwargs)
                try:
                    s.start()
                except ValidationError as exc:  # "cannot listen for XX on 127.0.1.n:port"
                    last = exc
                    continue
                started.append(s)
                return s
            pytest.skip(f"cannot bind one loopback address per antenna (127.0.1.x) on any port tried: {last}")

        yield make


@pytest.fixture
def sim_client() -> Iterator[Callable[..., Client]]:
    """Factory: ``sim_client(sim, antenna, timeout=2.0)`` → a ``Client``, closed at teardown."""
    made: list[Client] = []

    def make(sim: Any, antenna: str, timeout: float = 2.0) -> Client:
        ep = sim.socket_array[antenna]
        c = Client(ep.host, ep.port, timeout=timeout)
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


@pytest.fixture
def array_csv(sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``sim``'s host map as a CSV file, with ``E2CKIT_ARRAY`` pointing at it for this test."""
    path = sim.write_array(tmp_path / "array.csv")
    monkeypatch.setenv("E2CKIT_ARRAY", str(path))
    return Path(path)


@pytest.fixture(scope="module")
def served_twin(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's ``sim`` shape (its marker) again, served on loopback sockets: for a
    child process, which cannot reach an array in this process's memory. Same seed, clock
    and faults: the same readings."""
    antennas, options = _shape(request.node)
    s = _shaped_sim(antennas, {**options, "serve": True})
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def active_sim(sim: Any) -> Iterator[Any]:
    """``sim`` made this process's active array for the test (``e2ckit.array.use_array``),
    in memory when the module's ``sim`` is (``sim_array(..., serve=False)``): an in-process
    CLI command reaches it as it reaches a ``--simulate`` array, with no socket and no CSV."""
    from e2ckit.array import use_array

    restore = use_array(sim.array)
    yield sim
    restore()


@pytest.fixture
def no_faults_left(sim: Any) -> Iterator[None]:
    """The shared ``sim`` starts and ends each test fault-free (use with ``usefixtures``)."""
    sim.clear_faults()
    yield
    sim.clear_faults()
