"""Moved to :mod:`e2ckit.clock` (the ground layer: the logger and the CLI use the clock
without the simulator). This name stays while other code moves over; import from
``e2ckit.clock``."""

from e2ckit.clock import *  # noqa: F403
from e2ckit.clock import __all__  # noqa: F401
