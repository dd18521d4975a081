"""The failure guard: every failure of a command is one line on stderr (``e2ckit: ...``) and
an exit status from the exit table (:mod:`e2ckit.cli.options`), never a traceback."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from e2ckit.cli.options import EXIT_BAD_INPUT, EXIT_NOTHING, EXIT_OK, EXIT_PARTIAL
from e2ckit.errors import (
    AuditError,
    BadInput,
    E2CKitError,
    E2CKitWarning,
    OutputError,
    TransportError,
    ValidationError,
)

try:  # typer >= 0.16 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # noqa: F401 (app uses it)
except ImportError:  # pragma: no cover - typer on click
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[no-redef]  # noqa: F401


def err(message: str) -> None:
    """One line on stderr, prefixed ``e2ckit:``."""
    typer.echo(f"e2ckit: {message}", err=True)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into one line on stderr and a documented exit status.

    Bad input (ours, the library's ValidationError, an unwritable output, an audit log
    that cannot be written) is 2; no connection at all is 3; any other library error
    or OSError is 1. Anything else is a bug, still reported in one line (exit 1).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _warning_line(warnings.showwarning)
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickException):
            raise  # typer's own: the root group prints them in one line
        except (BadInput, ValidationError, OutputError, AuditError) as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except TransportError as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_NOTHING) from None
        except E2CKitError as exc:
            err(f"error: {one_line(exc)}")
            raise typer.Exit(EXIT_PARTIAL) from None
        except KeyError as exc:  # a catalog look-up that missed
            err(f"error: unknown name {exc.args[0] if exc.args else exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            # `e2ckit ... | head`: the reader went away; not an error worth a traceback.
            with _suppress():
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            raise typer.Exit(EXIT_OK) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""  # never "error::"
            err(f"error: {where}{exc.strerror or one_line(exc)}")
            raise typer.Exit(EXIT_PARTIAL) from None
        except Exception as exc:  # a bug: one line, never a traceback
            err(f"internal error: {type(exc).__name__}: {one_line(exc)} (please report this)")
            raise typer.Exit(EXIT_PARTIAL) from None

    return wrapper


def _warning_line(shown: Callable[..., Any]) -> Callable[..., Any]:
    """Python's warning display, but e2ckit's own warnings (a damaged file skipped) as one
    ``e2ckit: warning: …`` line, as the CLI says everything (no source path, no code line)."""

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, E2CKitWarning):
            err(f"warning: {str(message).removeprefix('e2ckit: ')}")
        else:
            shown(message, category, *args, **kwargs)

    return show


@contextmanager
def _suppress() -> Iterator[None]:
    try:
        yield
    except Exception:
        pass
