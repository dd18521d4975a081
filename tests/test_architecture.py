"""The package's shape, checked: layers and cycles (import-linter, from pyproject.toml),
function length, imports inside functions, and nobody inside importing the public face.

These read the source as text and syntax trees; they run in well under a second.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "e2ckit"
#: the longest function anywhere, and in the command-line layer (whole definition,
#: decorators and docstring included)
MAX_LINES, MAX_CLI_LINES = 80, 60
#: at most this share of internal import statements may sit inside a function
MAX_LOCAL_IMPORT_SHARE = 0.10


@functools.cache  # parsed once for the module's tests (the package does not change under them)
def _modules() -> list[tuple[pathlib.Path, ast.Module, list[str]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        out.append((path, ast.parse(text, str(path)), text.splitlines()))
    return out


def _is_internal(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "e2ckit"
    return any(a.name.split(".")[0] == "e2ckit" for a in node.names)


def _imports(tree: ast.AST, in_function: bool = False):
    """(import node, whether it sits inside a function, under ``if TYPE_CHECKING``)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue  # typing only: never executed
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        yield from _imports(child, inner)


def test_import_contracts_hold() -> None:
    """Layers point down and no package has an import cycle, imports inside functions
    included (the contracts live in pyproject.toml under [tool.importlinter])."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_function_is_too_long() -> None:
    too_long = []
    for path, tree, _ in _modules():
        limit = MAX_CLI_LINES if "cli" in path.relative_to(PACKAGE).parts else MAX_LINES
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                length = node.end_lineno - first + 1
                if length > limit:
                    too_long.append(f"{path.relative_to(ROOT)}:{first} {node.name} ({length} lines)")
    assert not too_long, "functions over the limit:\n" + "\n".join(too_long)


def test_imports_inside_functions_are_few_and_explained() -> None:
    """An internal import inside a function is allowed only to keep start-up light, and
    says so in a comment on its line or the line above."""
    total, local, unexplained = 0, 0, []
    for path, tree, lines in _modules():
        for node, in_function in _imports(tree):
            if not _is_internal(node):
                continue
            total += 1
            if not in_function:
                continue
            local += 1
            here = lines[node.lineno - 1]
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            if "#" not in here and not above.startswith("#"):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert local <= MAX_LOCAL_IMPORT_SHARE * total, f"{local} of {total} internal imports are inside functions"
    assert not unexplained, "imports inside functions without a reason beside them:\n" + "\n".join(unexplained)


def test_internal_modules_do_not_import_the_public_face() -> None:
    """``e2ckit/__init__.py`` is for users; inside, a module imports the module that
    defines what it needs (or the face would import itself through its users)."""
    offenders = []
    for path, tree, _ in _modules():
        if path == PACKAGE / "__init__.py":
            continue
        for node, _local in _imports(tree):
            if isinstance(node, ast.Import) and any(a.name == "e2ckit" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} import e2ckit")
            elif isinstance(node, ast.ImportFrom) and node.module == "e2ckit" and node.level == 0:
                for alias in node.names:
                    sub = PACKAGE / alias.name
                    if not (sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from e2ckit import {alias.name}")
    assert not offenders, "modules importing the public face:\n" + "\n".join(offenders)


#: spellings a user or a log relies on, each defined by exactly one module (issue 21 item 4)
ONE_SPELLING = {
    '"(node listing)"': "planning.py",  # the point name of a node listing's row (api and logger)
    '" (not sent: ': "errors.py",  # a request given up after an earlier failure (Failure.not_sent)
}


@pytest.mark.parametrize("literal", list(ONE_SPELLING))
def test_a_spelling_has_one_home(literal: str) -> None:
    homes = [str(path.relative_to(PACKAGE)) for path, _, lines in _modules()
             if any(literal in line for line in lines)]  # fmt: skip
    assert homes == [ONE_SPELLING[literal]]
