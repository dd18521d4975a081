"""The monitor-point catalog: names → addresses, byte layouts, units, limits.

Everything about the points lives in CSV files shipped in ``e2ckit/catalog/data``
(``points.csv``, ``power.csv``, ``families.csv``, ``groups.csv``, ``nodes.csv``, ``inventory.csv``,
``derived.csv``); users add their
own files in the same formats with :func:`load_catalog`. Only the stdlib is used, so
importing the catalog is fast (no pandas).

>>> from e2ckit.catalog import default_catalog
>>> cat = default_catalog()
>>> p = cat.point("FEMC.TEMP0")
>>> p.channel_for("DV01"), hex(p.node), hex(p.rca), p.unit
(1, '0x13', '0xc000', 'K')
>>> d = p.decode(p.encode(3.5))
>>> d.value, d.text, d.status
(3.5, '3.50', 'ok')
>>> p.decode(p.encode(0.0, status=-3)).status
'blocked: hardware state, interlock, maintenance mode or async monitoring off (-3)'
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from e2ckit.catalog._catalog import Catalog, Group, NodeInfo, load_files, read_sources
from e2ckit.catalog._derived import Derived
from e2ckit.catalog._point import (
    CATALOG_PROBLEM,
    DTYPES,
    FEMC_STATUS,
    Decoded,
    Point,
    bound_state,
    ds18s20_celsius,
    ds18s20_encode,
)

__all__ = [
    "CATALOG_PROBLEM",
    "bound_state",
    "DTYPES",
    "FEMC_STATUS",
    "SHIPPED_FILES",
    "Catalog",
    "Decoded",
    "Derived",
    "Group",
    "NodeInfo",
    "Point",
    "default_catalog",
    "ds18s20_celsius",
    "ds18s20_encode",
    "load_catalog",
]

#: the shipped data files, in load order
SHIPPED_FILES = (
    "nodes.csv", "inventory.csv", "families.csv", "points.csv", "power.csv", "groups.csv", "derived.csv",
)  # fmt: skip


def _shipped() -> list[tuple[str, str]]:
    data = resources.files("e2ckit.catalog") / "data"
    return [(f"e2ckit/catalog/data/{name}", (data / name).read_text(encoding="utf-8")) for name in SHIPPED_FILES]


def load_catalog(extra: Iterable[str | Path] = (), *, shipped: bool = True) -> Catalog:
    """A catalog of the shipped files plus ``extra`` user CSV files (points, groups,
    nodes or inventory, told apart by their header). A bad row raises
    :class:`~e2ckit.errors.ValidationError` naming the file, line and field; a user
    point may not reuse a shipped name or address. ``shipped=False`` loads only ``extra``."""
    if isinstance(extra, (str, Path)):
        extra = [extra]
    sources = (_shipped() if shipped else []) + list(read_sources(extra))
    return load_files(sources)


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once and shared (treat it as read-only)."""
    return load_catalog()
