"""ipywidgets panels for notebooks: the array at a glance, trends in a log, one point compared.

Each panel is a thin shell over pure functions, public and usable without widgets (in
scripts, in tests, in reports):

- *data* (:mod:`e2ckit.panels.data`): names in, a DataFrame out — :func:`fetch_array`
  sweeps; :func:`select_log` filters a tidy log; :func:`envelope` cuts a time window to
  about one min/max/mean bucket per pixel column (spikes survive); :func:`compare_to_healthy`
  compares one point with the median of the antennas whose readings are good and within
  limits;
- *render* (:mod:`e2ckit.panels.render`): a DataFrame in, a
  :class:`matplotlib.figure.Figure` out (:func:`render_array`, :func:`render_trend`,
  :func:`render_compare`).

A panel holds what it shows: ``panel.data`` (the DataFrame) and ``panel.figure`` (the
Figure), updated whenever a control changes or a button is clicked. Tests drive the
controls (``panel.point.value = ...``, ``panel.refresh_button.click()``) and look at
those two. Displayed, a panel leaves its figure as a plain PNG (and ArrayPanel its
styled table as HTML) in the cell, kept up to date, so exported notebooks show them.

A panel given a path (``TrendPanel("log/")``) reads only the window it draws, through
``e2ckit.load``. Importing this package loads no matplotlib or ipywidgets: the
submodules import them when a figure or a panel is made.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArrayPanel",
    "ComparePanel",
    "TrendPanel",
    "compare_to_healthy",
    "envelope",
    "fetch_array",
    "point_label",
    "render_array",
    "render_compare",
    "render_trend",
    "select_log",
    "thresholds_for",
    "LIMIT_COLOURS",
]

_WHERE = {
    "ArrayPanel": "widgets", "ComparePanel": "widgets", "TrendPanel": "widgets", "fetch_array": "widgets",
    "compare_to_healthy": "data", "envelope": "data", "select_log": "data",
    "point_label": "render", "render_array": "render", "render_compare": "render", "render_trend": "render",
    "thresholds_for": "render", "LIMIT_COLOURS": "render",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"e2ckit.panels.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'e2ckit.panels' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
