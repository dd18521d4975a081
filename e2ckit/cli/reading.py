"""Reading many antennas: the sweep with its progress bar, and what follows a read (the
failures on stderr, the summary line, the exit status from the exit table)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from e2ckit.array import Array
from e2ckit.cli.guard import err
from e2ckit.cli.options import (
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    check_timing,
    exit_status_of,
)
from e2ckit.cli.summary import UNDECODED, antenna_states, is_problem, phase_line, summary_line
from e2ckit.errors import Failure

if TYPE_CHECKING:
    from e2ckit.api import TidyRow


def _down(error: str) -> bool:
    """Whether a row's error says its E2C did not answer (refused, timeout, unresolved...)."""
    failure = Failure.parse(error)
    return failure is not None and failure.down


def exit_status(errors: list[Any], undecoded: int = 0) -> int:
    """0 no errors; 3 every row failed without any host answering; 1 otherwise.

    ``undecoded``: readings that arrived but did not decode (:data:`UNDECODED`): they
    make a clean run partial (1).
    """
    bad = [str(e) for e in errors if e is not None and e == e and str(e) not in ("", "None")]
    if not bad:
        return EXIT_PARTIAL if undecoded else EXIT_OK
    # "Nothing answered" only when every failure says the E2C did not answer at all: an
    # E2C error code or a reply that does not fit its catalog entry came from a host.
    if len(bad) == len(errors) and all(_down(e) for e in bad):
        return EXIT_NOTHING
    return EXIT_PARTIAL


def rows_status(rows: list[TidyRow]) -> int:
    """The exit status of a sweep's tidy rows (errors and undecodable readings)."""
    return exit_status([r.error for r in rows], sum(1 for r in rows if r.status in UNDECODED))


def report_errors(frame: Any, what: str = "readings") -> None:
    """One summary line per failing antenna on stderr (data stays clean on stdout).

    ``frame``: a DataFrame with ``antenna`` and ``error`` columns, or tidy rows
    (``api.TidyRow``), whose undecodable readings count as failed too."""
    if isinstance(frame, list):
        antennas = [r.antenna for r in frame]
        errors = [r.error or (f"{r.status}: {r.point} reply did not decode" if r.status in UNDECODED else None)
                  for r in frame]  # fmt: skip
    else:
        antennas, errors = list(frame["antenna"]), list(frame["error"])
    total: dict[str, int] = {}
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}
    for a, e in zip(antennas, errors, strict=True):
        total[a] = total.get(a, 0) + 1
        if e is not None and e == e:
            counts[a] = counts.get(a, 0) + 1
            first.setdefault(a, e)
    if not counts:
        return
    n_bad = sum(counts.values())
    err(f"{n_bad} of {len(errors)} {what} failed on {len(counts)} of {len(total)} antennas:")
    for a, e in first.items():
        err(f"  {a}: {counts[a]}/{total[a]} failed, e.g. {e}")


@contextmanager
def progress(names: list[str], label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on stderr when it is a terminal (nothing otherwise), naming the
    antennas still awaited: those are the ones worth a look when it stalls."""
    if len(names) < 2 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    awaited = dict.fromkeys(names)  # insertion-ordered set
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=len(names))

        def tick(done: int, _total: int, antenna: str) -> None:
            awaited.pop(antenna, None)
            bar.update(task, completed=done, description=f"{label}: waiting for {awaited_text(list(awaited))}")

        yield tick


def awaited_text(names: list[str], shown: int = 4) -> str:
    """``DV03, DV07, CM01, PM02 +5``: the first few antennas still awaited, and how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" +{more}" if more > 0 else "")


def run_sweep(
    what: str | list[str],
    antennas: Any,
    array: Any,
    timeout: float,
    deadline: float | None,
    label: str,
    stand_in_family: str = "DV",
) -> list[TidyRow]:
    """``api.sweep_rows`` (tidy rows, no pandas) with a progress bar, for any host map.

    The catalog addresses points per antenna family, so an E2C that is no antenna (a
    bare address, a central LO host) is swept as one of family ``stand_in_family``:
    its endpoint carries that family, under its own name.
    """
    from e2ckit.api import resolve_array, sweep_rows  # lazy: pulls the transport; keeps --help fast

    check_timing(timeout, deadline)
    arr = resolve_array(array)
    names = arr.select(antennas)
    if any(arr[a].family is None for a in names):
        arr = Array((arr[a] if arr[a].family else dataclasses.replace(arr[a], family=stand_in_family) for a in arr),
                    source=arr.source, clock=arr.clock)  # fmt: skip
    with progress(list(names), label) as tick:
        rows = sweep_rows(what, names, array=arr, timeout=timeout, deadline=deadline, progress=tick)
    return rows


def report_rows(rows: list[TidyRow], problems: bool, tidy: bool = False) -> tuple[list[TidyRow], dict[str, str]]:
    """The rows to show (``--problems``: only the antennas that are not ok, and with
    ``tidy`` only their readings that are not ok) and every antenna's state."""

    states = antenna_states(rows)
    if problems:
        rows = [r for r in rows if states[r.antenna] != "ok" and (not tidy or is_problem(r))]
    return rows, states


def finish_read(rows: list[TidyRow], states: dict[str, str]) -> None:
    """After an array-wide read's table: failures, the summary line, the exit status."""

    report_errors(rows)
    by_phase = phase_line(rows)  # while a recovery is under way, and the rows tell it
    if by_phase:
        err(by_phase)
    err(summary_line(states))
    raise typer.Exit(exit_status_of(rows_status(rows), states.values()))
