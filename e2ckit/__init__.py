"""e2ckit: ALMA E2C monitor and control for analysis, in notebooks and on the command line.

The public surface is listed in ``__all__``; names are imported on first use so that
``import e2ckit`` (and the CLI) stays fast and pulls in pandas only when needed.

>>> import e2ckit                                                   # doctest: +SKIP
>>> df = e2ckit.sweep("cryo")            # the whole array's cryostats, one row per antenna
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    # the version lives in the ground layer (the CLI reads it there); imported on first use so
    # that importing any e2ckit module loads no other one through this package
    "__version__": "e2ckit.version",
    # DataFrame API
    "sweep": "e2ckit.api",
    "asweep": "e2ckit.api",
    "read": "e2ckit.api",
    "nodes": "e2ckit.api",
    "inventory": "e2ckit.api",
    "style": "e2ckit.api",
    "to_wide": "e2ckit.api",
    # triage and recovery (#14)
    "alarms": "e2ckit.triage.alarms",
    "diagnose": "e2ckit.triage.diagnose",
    "recovery": "e2ckit.triage.recovery",
    "plan_recovery": "e2ckit.triage.plan",
    "recover": "e2ckit.triage.recover",
    "Limits": "e2ckit.catalog.limits",
    "RecoveryBoard": "e2ckit.triage.board",
    # logging to parquet (the writer) and reading it back (the dataset)
    "Logger": "e2ckit.logger",
    "compact": "e2ckit.logger",
    "load": "e2ckit.dataset",
    # building blocks
    "Client": "e2ckit.client",
    "E2CClient": "e2ckit.compat",
    "Array": "e2ckit.array",
    "default_array": "e2ckit.array",
    "Request": "e2ckit.wire.frames",
    "Reply": "e2ckit.wire.frames",
    "Mode": "e2ckit.wire.frames",
    "NodeRecord": "e2ckit.wire.frames",
    "catalog": "e2ckit.catalog",
    "default_catalog": "e2ckit.catalog",
    "SimulatedArray": "e2ckit.sim",
    # errors
    "E2CKitError": "e2ckit.errors",
    "E2CError": "e2ckit.errors",
    "TransportError": "e2ckit.errors",
    "E2CConnectionError": "e2ckit.errors",
    "E2CTimeoutError": "e2ckit.errors",
    "ProtocolError": "e2ckit.errors",
    "ValidationError": "e2ckit.errors",
    "SweepError": "e2ckit.errors",
    "AuditError": "e2ckit.errors",
    "OutcomeUnknownError": "e2ckit.errors",
    "CatalogError": "e2ckit.errors",
    "Failure": "e2ckit.errors",
}

__all__ = [*_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'e2ckit' has no attribute {name!r}")
    mod = import_module(module)
    value = mod if name == "catalog" else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
