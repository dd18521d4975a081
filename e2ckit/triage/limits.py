"""Moved: limits, expected states and the one judgement live in :mod:`e2ckit.catalog.limits`
(issue 21: points carry their bounds, below the API). This module keeps the old import path
working."""

from __future__ import annotations

from e2ckit.catalog.limits import (  # noqa: F401  (the old public names)
    _CLAUSE,
    BOUND_FIELDS,
    SITE_ENV,
    Bounds,
    Clause,
    Expectation,
    Finding,
    Limits,
    Reading,
    judge,
    judge_rows,
    limit_cells,
    limits_in_force,
    load_expectations,
    load_limits,
    read_site_limits,
    rejudge_rows,
)

__all__ = [
    "BOUND_FIELDS", "SITE_ENV", "Bounds", "Expectation", "Finding", "Limits", "Reading", "judge",
    "judge_rows", "limit_cells", "limits_in_force", "load_limits", "rejudge_rows",
]  # fmt: skip
