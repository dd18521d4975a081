"""Events of the logging recorded beside the parquet files (``DIR/.e2ckit/events.jsonl``):
wall-clock steps the logger saw. Not rows: the row schema does not change, and a
reader of the parquet files alone never sees them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from e2ckit.logformat.files import warn_skip
from e2ckit.logformat.schema import EVENTS_FILE, STATE_DIR

if TYPE_CHECKING:
    import pandas as pd


def events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The logging events of the dataset at ``path``, one row each, in the order logged:
    ``time`` (UTC, on the corrected clock, just after the event), ``kind``
    (``"clock_step"``), ``step_s`` (signed seconds the wall clock moved), ``cycle`` (the
    logger's cycle number in its session, counted on the monotonic schedule) and
    ``session``. A line that is not an event is skipped with a warning naming the file."""
    import pandas as pd

    f = Path(path) / STATE_DIR / EVENTS_FILE
    rows = []
    try:
        lines = f.read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        lines = []
    for n, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
            rows.append({"time": pd.Timestamp(float(e["at"]), unit="s", tz="UTC"), "kind": str(e["kind"]),
                         "step_s": float(e.get("step_s", "nan")), "cycle": int(e.get("cycle", -1)),
                         "session": str(e.get("session", ""))})  # fmt: skip
        except (ValueError, KeyError, TypeError):
            warn_skip(f"{f} line {n}", "not an event")
    cols = ["time", "kind", "step_s", "cycle", "session"]
    return pd.DataFrame(rows, columns=cols).astype({"time": "datetime64[us, UTC]"}) if rows else pd.DataFrame(
        {"time": pd.Series([], dtype="datetime64[us, UTC]"), "kind": [], "step_s": pd.Series([], dtype=float),
         "cycle": pd.Series([], dtype=int), "session": []})  # fmt: skip
