"""Packaging promises: conda and pip list the same dependencies; CI runs the README's command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

# pip name → conda-forge name, where they differ
CONDA_NAMES = {"duckdb": "python-duckdb"}
PIP_ONLY = {"e2c-client", "moto"}  # not on conda-forge (moto: not its server extra): the pip: section


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_names() -> tuple[set[str], set[str]]:
    conda, pip = set(), set()
    section = None
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        if not line.startswith((" ", "-")):  # a top-level key: name, channels, dependencies
            in_deps = stripped == "dependencies:"
            continue
        if not in_deps:
            continue
        if stripped.strip() == "- pip:":
            section = "pip"
            continue
        m = re.match(r"^(\s*)- (.+)$", stripped)
        if not m:
            section = None if not stripped.startswith(" ") else section
            continue
        indent, item = len(m.group(1)), m.group(2)
        if section == "pip" and indent > 2:
            pip.add(_name(item))
        else:
            section = None
            conda.add(_name(item))
    return conda, pip


def test_environment_yml_has_every_pyproject_dependency() -> None:
    project = _pyproject()["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["test"]}
    conda, pip = _environment_names()
    missing = []
    for name in sorted(wanted):
        if name in PIP_ONLY:
            if name not in pip:
                missing.append(f"{name} (pip section)")
        elif CONDA_NAMES.get(name, name) not in conda:
            missing.append(name)
    assert not missing, f"environment.yml lacks: {', '.join(missing)}"


def test_environment_yml_has_nothing_pyproject_lacks() -> None:
    project = _pyproject()["project"]
    known = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["test"]}
    known = {CONDA_NAMES.get(n, n) for n in known} | {"python", "pip"}
    conda, _ = _environment_names()
    assert conda - known == set(), f"environment.yml lists packages pyproject.toml does not: {conda - known}"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2, "README must open with two command blocks"
    return [blocks[0].strip(), blocks[1].strip()]


def test_readme_opens_with_two_single_line_commands() -> None:
    main_job, test_cmd = _readme_commands()
    assert "\n" not in main_job and "\n" not in test_cmd
    assert "--simulate" in main_job, "the main-job command must run against the embedded simulated array"
    assert "pytest" in test_cmd


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    _, test_cmd = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, ".ci/run must run the README's test command unchanged"


def test_version_is_single_sourced() -> None:
    import e2ckit

    assert _pyproject()["project"]["version"] == e2ckit.__version__


def test_importing_e2ckit_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, e2ckit, e2ckit.client, e2ckit.wire.frames, e2ckit.array, e2ckit.sim;"
        "heavy = [m for m in ('pandas', 'pyarrow', 'matplotlib', 'ipywidgets') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported eagerly: {out.stdout.strip()}"


@pytest.mark.parametrize("module", ["e2ckit.wire", "e2ckit.wire.frames", "e2ckit.wire.connection"])
def test_protocol_core_has_no_io(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in ('socket', 'asyncio', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # socket may come in through the interpreter's own start-up on some platforms; asyncio and pandas must not.
    assert "asyncio" not in out.stdout and "pandas" not in out.stdout


@pytest.mark.parametrize("module", ["e2ckit.errors", "e2ckit.names"])
def test_the_bottom_modules_import_nothing_of_e2ckit(module: str) -> None:
    """errors and names are what every other module stands on: no import circle through them."""
    code = f"import sys, {module}; print(','.join(m for m in sys.modules if m.startswith('e2ckit') and m != '{module}'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("", "e2ckit"), out.stdout


def test_the_wire_core_does_not_import_sockets_itself() -> None:
    import ast

    for name in ("frames.py", "connection.py", "__init__.py"):
        tree = ast.parse((ROOT / "e2ckit" / "wire" / name).read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"socket", "asyncio", "selectors", "select", "threading"}, name
