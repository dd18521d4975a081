"""Triage and recovery: judge what e2ckit reads (issue #14).

- :mod:`~e2ckit.catalog.limits`: limits, expected states (a site file) and the one judgement
  of a reading, :func:`~e2ckit.catalog.limits.judge` (in the catalog, below the API);
- :func:`alarms`: the readings of a sweep or log in warn, alarm or unavailable, with the reason;
- :func:`diagnose`: one sweep, one verdict per (antenna, subsystem), a probable cause per antenna
  from the rules in ``rules.toml``;
- :func:`recovery`: after an outage, per antenna: power back, stages and vacuum against their
  targets, cool-down ETAs with an 80 % interval (or "too early"; :mod:`~e2ckit.triage.eta`),
  flags for a recovery that stalls;
- :mod:`~e2ckit.triage.board`: the live recovery board (ipywidgets), served by ``e2ckit dashboard``.

Names are imported on first use: ``import e2ckit.triage`` pulls in no pandas.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import Any

_EXPORTS = {
    "Limits": "e2ckit.catalog.limits",
    "load_limits": "e2ckit.catalog.limits",
    "alarms": "e2ckit.triage.alarms",
    "judged": "e2ckit.triage.alarms",
    "diagnose": "e2ckit.triage.diagnose",
    "Diagnosis": "e2ckit.triage.diagnose",
    "recovery": "e2ckit.triage.recovery",
    "RecoveryBoard": "e2ckit.triage.board",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'e2ckit.triage' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``e2ckit.triage.alarms`` (and ``diagnose``, ``recovery``) name a function and a
    submodule: importing the submodule makes Python bind it on the package, after which
    ``from e2ckit.triage import alarms`` gave the module. The package keeps the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
