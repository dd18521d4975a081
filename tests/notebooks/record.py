"""Run notebooks against the same simulated arrays as the tests and store their outputs.

    python tests/notebooks/record.py                  # every notebook in notebooks.toml
    python tests/notebooks/record.py -v 03-compare-the-array   # with the time each cell took

The outputs nbval compares against are the ones stored in the notebook, so after changing a
notebook (or the simulator) run this, look at the diff, and commit. It uses the kernel of the
current environment, like the tests, and needs nothing beyond the test extras.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).parent))

import nbformat  # noqa: E402
from conftest import NOTEBOOKS, kernel_environment, manifest  # noqa: E402
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel  # noqa: E402


def run_cell(kernel: RunningKernel, source: str, timeout: float = 300,
             displays: dict | None = None) -> tuple[list, int | None, bool]:  # fmt: skip
    """Run one cell; its outputs. ``displays`` (display id → output, kept across cells)
    lets an ``update_display`` replace the output it names, as a front end does."""
    displays = {} if displays is None else displays
    msg_id = kernel.execute_cell_input(source, allow_stdin=False)
    outputs, count, failed = [], None, False
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = kernel.get_message(stream="iopub", timeout=max(deadline - time.monotonic(), 1))
        except Empty:
            raise TimeoutError(f"cell did not finish within {timeout} s:\n{source}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content["execution_state"] == "idle":
            break
        if kind == "execute_input":
            count = content["execution_count"]
        elif kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append(nbformat.v4.output_from_msg(msg))
            failed |= kind == "error"
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                displays[display_id] = outputs[-1]
        elif kind == "update_display_data":
            shown = displays.get(content.get("transient", {}).get("display_id"))
            if shown is not None:  # the output it names, in this cell or an earlier one
                shown.data = content["data"]
                shown.metadata = content.get("metadata", {})
    return outputs, count, failed


def record(name: str, options: dict, verbose: bool = False) -> float:
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="e2ckit-nb-") as tmp:
        with kernel_environment(options, tmp) as sim:
            kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME, cwd=str(NOTEBOOKS))
        try:
            count = 0
            displays: dict = {}
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                count += 1
                began = time.monotonic()
                cell.outputs, _, failed = run_cell(kernel, cell.source, displays=displays)
                cell.execution_count = count
                for output in cell.outputs:
                    if "execution_count" in output:
                        output.execution_count = count
                if verbose:
                    print(f"  [{count}] {time.monotonic() - began:5.1f} s  {cell.source.splitlines()[-1][:60]}")
                if failed and "NBVAL_RAISES_EXCEPTION" not in cell.source:
                    err = next(o for o in cell.outputs if o.output_type == "error")
                    raise SystemExit(f"{name}: a cell raised {err.ename}: {err.evalue}\n{cell.source}")
        finally:
            kernel.stop()
            if sim is not None:
                sim.stop()
    nbformat.write(nb, path)
    return time.monotonic() - start


def main(args: list[str]) -> None:
    verbose = "-v" in args
    names = [a for a in args if a != "-v"]
    spec = manifest()["notebooks"]
    for name in names or [n for n, o in spec.items() if o.get("compare", True)]:
        took = record(name, spec[name], verbose)
        print(f"{name}: recorded in {took:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
