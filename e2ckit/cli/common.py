"""Transitional: the names ``cli/common.py`` held before it was split by job. Import from
the module that defines each instead:

    guard     err, one_line, guard (every failure one line and an exit status)
    helptext  WholeHelp (help pages with whole first sentences)
    target    active_array, resolve_target, the deferred --simulate array
    lookups   catalog, find_point, node_label, hex_bytes
    tables    wide_table, rows_table, frame_table, drop_column, emit_table
    reading   run_sweep, progress, exit_status, rows_status, report_errors, finish_read

Kept only so that branches written before the split (cli/log.py, the check and tools power
edits) still import; remove it once none does.
"""

from __future__ import annotations

from e2ckit.cli.guard import ClickException, NoArgsIsHelpError, err, guard, one_line
from e2ckit.cli.helptext import WholeHelp
from e2ckit.cli.lookups import all_points, catalog, find_point, hex_bytes, node_label
from e2ckit.cli.reading import (
    awaited_text,
    exit_status,
    finish_read,
    progress,
    report_errors,
    report_rows,
    rows_status,
    run_sweep,
)
from e2ckit.cli.summary import UNDECODED
from e2ckit.cli.tables import (
    drop_column,
    emit_table,
    expected_readings,
    frame_table,
    rows_table,
    wide_table,
)
from e2ckit.cli.target import (
    active_array,
    array_name,
    check_antennas,
    defer_simulation,
    resolve_target,
    start_simulation,
)

__all__ = [
    "UNDECODED",
    "ClickException",
    "NoArgsIsHelpError",
    "WholeHelp",
    "active_array",
    "all_points",
    "array_name",
    "awaited_text",
    "catalog",
    "check_antennas",
    "defer_simulation",
    "drop_column",
    "emit_table",
    "err",
    "exit_status",
    "expected_readings",
    "find_point",
    "finish_read",
    "frame_table",
    "guard",
    "hex_bytes",
    "node_label",
    "one_line",
    "progress",
    "report_errors",
    "report_rows",
    "resolve_target",
    "rows_status",
    "rows_table",
    "run_sweep",
    "start_simulation",
    "wide_table",
]
