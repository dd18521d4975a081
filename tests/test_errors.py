"""Failures as values: one type, rendered in one place, read back from a log's text,
mapped to the blocking client's exceptions by one table."""

from __future__ import annotations

import math

import pytest

from e2ckit import analysis
from e2ckit.errors import (
    DOWN_KINDS,
    EXCEPTIONS,
    KINDS,
    CatalogError,
    E2CConnectionError,
    E2CError,
    E2CTimeoutError,
    Failure,
    ProtocolError,
    TransportError,
)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_renders_parses_back_and_maps_to_an_exception(kind):
    f = Failure.of(kind)
    assert str(f) == f.text == f"{kind}: {KINDS[kind]}"
    assert Failure.parse(f.text) == f
    exc = f.exception("dv01-e2c", 2000)
    assert isinstance(exc, EXCEPTIONS[kind]) and exc.failure is f
    if isinstance(exc, TransportError):
        assert (exc.host, exc.port) == ("dv01-e2c", 2000) and str(exc) == f"dv01-e2c:2000: {KINDS[kind]}"


def test_the_table():
    assert EXCEPTIONS["timeout"] is E2CTimeoutError and EXCEPTIONS["deadline"] is E2CTimeoutError
    assert EXCEPTIONS["refused"] is E2CConnectionError and EXCEPTIONS["unresolved"] is E2CConnectionError
    assert EXCEPTIONS["protocol"] is ProtocolError
    assert EXCEPTIONS["catalog"] is CatalogError
    assert set(EXCEPTIONS) == set(KINDS)


def test_an_e2c_error_reply_as_a_failure():
    f = Failure.e2c(5002)
    assert f.text == "E2C:TIMEOUT_ERROR: 5002 CAN bus timeout: the node did not answer"
    assert f.e2c_name == "TIMEOUT_ERROR" and not f.down
    assert Failure.parse(f.text) == f
    exc = f.exception("h", 1)
    assert isinstance(exc, E2CError) and exc.code == 5002


def test_not_sent_keeps_the_cause():
    f = Failure.of("refused").not_sent()
    assert f.kind == "refused" and f.cause == Failure.of("refused").text
    assert f.text.endswith("(not sent: an earlier request to this antenna failed)")


@pytest.mark.parametrize("empty", [None, math.nan])
def test_no_error_parses_to_none(empty):
    assert Failure.parse(empty) is None


def test_analysis_classifies_by_kind_with_the_same_public_names():
    assert set(analysis.DOWN_ERRORS) == DOWN_KINDS
    assert analysis.DOWN_ERRORS == ("refused", "timeout", "deadline", "closed", "unreachable", "unresolved")
    assert analysis.explain("unresolved: host name did not resolve within 2.5 s").startswith("host name did not resolve")
    assert "E2C error 5002 TIMEOUT_ERROR" in analysis.explain(Failure.e2c(5002).text)


# -- one tree (issue 21 item 4): every exception e2ckit defines lives in e2ckit.errors ------------


def _documented_tree() -> dict[str, tuple[str | None, str | None]]:
    """class name -> (parent in the drawing of errors' docstring, builtin in brackets)."""
    import re

    from e2ckit import errors

    drawing = errors.__doc__.split("The exception tree::", 1)[1].split("Catch ``E2CKitError``", 1)[0]
    tree: dict[str, tuple[str | None, str | None]] = {}
    stack: list[tuple[int, str]] = []  # (depth, name) of the open branches
    for line in drawing.splitlines():
        m = re.match(r"^ {4}((?:│   |    )*)(?:├── |└── )?([A-Z]\w+)(?: \((\w+)\))?", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 + (1 if ("├── " in line or "└── " in line) else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        tree[m.group(2)] = (stack[-1][1] if stack else None, m.group(3))
        stack.append((depth, m.group(2)))
    return tree


def test_the_documented_tree_is_the_tree():
    """The drawing in e2ckit.errors is what the classes are: each under its parent, each
    still the builtin it names (so ``except ValueError`` and ``except OSError`` keep
    catching what they caught)."""
    import builtins

    from e2ckit import errors

    tree = _documented_tree()
    classes = {n for n in errors.__all__ if isinstance(getattr(errors, n), type)
               and issubclass(getattr(errors, n), (Exception, Warning)) and n not in ("ErrorCode",)}  # fmt: skip
    assert set(tree) == classes
    for name, (parent, builtin) in tree.items():
        cls = getattr(errors, name)
        if parent is None:
            assert name in ("E2CKitError", "E2CKitWarning")
        else:
            assert cls.__bases__[0] is getattr(errors, parent), name
        if builtin is not None:
            assert issubclass(cls, getattr(builtins, builtin)), name


def test_every_exception_of_the_package_is_defined_in_errors():
    """No exception or warning class is defined anywhere else in the package: one tree,
    one home."""
    import ast
    import pathlib

    import e2ckit
    from e2ckit import errors

    ours = {n for n in errors.__all__ if isinstance(getattr(errors, n), type)}
    elsewhere = []
    for path in pathlib.Path(e2ckit.__file__).parent.rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "e2ckit":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                if bases & ours or any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                    elsewhere.append(f"{path.name}: {node.name}")
    assert not elsewhere


def test_the_old_names_are_the_same_classes():
    """The modules that raise them still offer them by the names callers import."""
    from e2ckit import cli, dataset, errors, logger
    from e2ckit.cli import options
    from e2ckit.dataset import reader

    assert options.BadInput is cli.BadInput is errors.BadInput
    assert logger.LogWriteError is errors.LogWriteError and logger.LogLockedError is errors.LogLockedError
    assert logger.UnreadableFileWarning is dataset.UnreadableFileWarning is errors.UnreadableFileWarning
    assert reader.Vanished is errors.Vanished


def test_each_kind_is_caught_by_its_builtin_and_by_the_base():
    from e2ckit.errors import BadInput, E2CKitError, LogWriteError, OutputError, UnreadableFileWarning

    with pytest.raises(ValueError, match="no such format"):
        raise OutputError("no such format")
    with pytest.raises(OSError) as info:
        raise LogWriteError(28, "cannot write the log at /x: no space left")
    assert str(info.value) == "cannot write the log at /x: no space left"
    for exc in (BadInput("--node 'zz' is not a number"), OutputError("x"), LogWriteError(1, "x")):
        assert isinstance(exc, E2CKitError)
    assert issubclass(UnreadableFileWarning, UserWarning)
