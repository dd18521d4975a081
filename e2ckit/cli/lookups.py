"""Catalog look-ups the commands share: a point by address, a node's LRU, bytes as hex."""

from __future__ import annotations

from typing import Any


def catalog() -> Any:
    # lazy: the catalog costs ~60 ms to import; keeps --help fast
    from e2ckit.catalog import default_catalog

    return default_catalog()


def all_points(cat: Any) -> list[Any]:
    pts = cat.points
    return list(pts.values()) if isinstance(pts, dict) else list(pts)


def find_point(
    cat: Any, channel: int, node: int, rca: int, antenna: str | None, kind: str
) -> Any | None:
    """The catalog point at this address (``kind`` monitor or control), if any."""
    for p in all_points(cat):
        if p.node != node or p.rca != rca or getattr(p, "kind", "monitor") != kind:
            continue
        try:
            ch = p.channel_for(antenna) if antenna else None
        except Exception:
            ch = None
        fixed = getattr(p, "channel", None)
        if ch is None and isinstance(fixed, int):
            ch = fixed
        if ch is None or ch == channel:
            return p
    return None


def node_label(cat: Any, node: int) -> tuple[str, str]:
    try:
        info = cat.node_info(node)
        return str(info.abbrev), str(info.name)
    except Exception:
        return "", ""


def hex_bytes(data: bytes | None) -> str | None:
    return None if data is None else " ".join(f"0x{b:02X}" for b in data)
