"""Run the notebooks in ``notebooks/`` under nbval, each against its own simulated array.

Plain ``python -m pytest`` runs them: no ``--nbval`` flag is needed. The file
``notebooks.toml`` beside this one lists the notebooks and, for each, the simulated array
(antennas, seed, scenarios, simulated time, faults) that its kernel is pointed at. For each
notebook this plugin

1. starts a seeded :class:`~e2ckit.sim.SimulatedArray` with a stepped clock in the pytest
   process (port 0, loopback only), writes its host map to a temporary CSV and sets
   ``E2CKIT_ARRAY`` to it, so the kernel — which inherits the environment — talks to the
   simulator exactly as it would talk to the real array through ``E2CKIT_ARRAY``;
2. starts the kernel in the current environment (what ``--nbval-current-env`` does), so the
   kernel imports the e2ckit under test;
3. runs every cell, comparing the outputs of cells not marked ``# NBVAL_IGNORE_OUTPUT``
   with the stored ones after the ``[sanitize]`` patterns of ``notebooks.toml``
   (timestamps, loopback ports, temporary paths). A cell that raises fails the test.

After changing a notebook, store fresh outputs with ``python tests/notebooks/record.py``
(same arrays, same kernel). ``pytest --nbval notebooks/`` (nbval's own collection) also
works, without the simulator: the notebooks then talk to whatever ``E2CKIT_ARRAY`` points
at, or to the real array.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NOTEBOOKS = HERE.parent.parent / "notebooks"
MANIFEST = HERE / "notebooks.toml"

try:
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is in the test extras; without it the notebooks are skipped
    IPyNbFile = None


def manifest() -> dict:
    """``notebooks.toml``: {"defaults", "notebooks": {name: options}, "sanitize": [{regex, replace}]}."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(MANIFEST, "rb") as f:
        spec = tomllib.load(f)
    defaults = spec.get("defaults", {})
    spec["notebooks"] = {name: {**defaults, **opts} for name, opts in spec.get("notebooks", {}).items()}
    return spec


def start_sim(options: dict):
    """A started, seeded SimulatedArray with a stepped clock, as one manifest entry describes
    it (the same builder a notebook's SETUP cell uses: ``e2ckit.sim.setup``)."""
    from e2ckit.sim.setup import build

    return build(options)


@contextlib.contextmanager
def kernel_environment(options: dict, tmpdir: str) -> Iterator:
    """Inside: ``os.environ`` as the notebook's kernel must inherit it (``E2CKIT_ARRAY``
    pointing at a fresh simulator, the manifest's ``env``). Yields the simulator (or None);
    the environment is restored on exit, the simulator is left running for the caller."""
    saved = dict(os.environ)
    sim = None
    try:
        os.environ.update({k: str(v) for k, v in options.get("env", {}).items()})
        if options.get("sim", True):
            sim = start_sim(options)
            if options.get("dead"):  # a site-wide power cut: nothing answers
                for antenna in sim.antennas:
                    sim.fault(antenna, "down")
            os.environ["E2CKIT_ARRAY"] = str(sim.write_array(Path(tmpdir) / "array.csv"))
        else:
            os.environ.pop("E2CKIT_ARRAY", None)
        yield sim
    except BaseException:
        if sim is not None:
            sim.stop()
        raise
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path == MANIFEST:
        return NotebookSuite.from_parent(parent, path=file_path)
    return None


class NotebookSuite(pytest.File):
    """``notebooks.toml``: one nbval notebook per entry, with its simulated array."""

    def collect(self):
        if IPyNbFile is None:
            pytest.skip("nbval is not installed (pip install -e '.[test]')")
        spec = manifest()
        listed = spec["notebooks"]
        files = {options.get("notebook", name) for name, options in listed.items()}
        unlisted = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb") if p.stem not in files)
        if unlisted:
            raise pytest.UsageError(f"{MANIFEST.name} does not list these notebooks: {', '.join(unlisted)}")
        for name, options in listed.items():
            path = NOTEBOOKS / f"{options.get('notebook', name)}.ipynb"
            nb = SimNotebook.from_parent(self, path=path, name=name, nodeid=f"{self.nodeid}::{name}")
            nb.compare_outputs = bool(options.get("compare", True))
            nb.sim_options = options
            nb.sanitize_extra = {s["regex"]: s["replace"] for s in spec.get("sanitize", [])}
            yield nb


if IPyNbFile is not None:

    class SimNotebook(IPyNbFile):
        """An nbval notebook whose kernel talks to a simulated array started here."""

        sim_options: dict
        sanitize_extra: dict
        sim = None

        def setup(self):
            option = self.config.option
            saved = (option.nbval_current_env, option.nbval_kernel_name)
            self._tmp = tempfile.TemporaryDirectory(prefix="e2ckit-nb-")
            try:
                with kernel_environment(self.sim_options, self._tmp.name) as self.sim:
                    # --nbval-current-env: the kernel runs the e2ckit under test
                    option.nbval_current_env, option.nbval_kernel_name = True, None
                    super().setup()  # starts the kernel, which copies os.environ now
                self.sanitize_patterns.update(self.sanitize_extra)
            finally:
                option.nbval_current_env, option.nbval_kernel_name = saved

        def teardown(self):
            try:
                super().teardown()
            finally:
                if self.sim is not None:
                    self.sim.stop()
                self._tmp.cleanup()

else:  # pragma: no cover

    class SimNotebook:  # collect() skips before this is used
        pass
