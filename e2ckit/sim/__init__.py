"""The fake E2C: a simulated ALMA array that tests, notebooks, benchmarks and demos run against.

``SimulatedArray`` starts one fake E2C per antenna on loopback, in a background thread;
each antenna's answers come from an :class:`AntennaModel` (LRU inventory, physics,
controls) driven by a shared :class:`SimClock`, optionally following a scenario.
Run it from a shell with ``python -m e2ckit.sim``.
"""

from e2ckit.clock import SimClock
from e2ckit.sim.model import AntennaModel
from e2ckit.sim.scenario import list_scenarios, load_scenario
from e2ckit.sim.server import FAULT_KINDS, Fault, SimulatedArray

__all__ = ["FAULT_KINDS", "AntennaModel", "Fault", "SimClock", "SimulatedArray", "list_scenarios", "load_scenario"]
