"""Help pages: command groups whose ``--help`` shows each command's first sentence whole."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


class WholeHelp(TyperGroup):
    """A command group whose ``--help`` shows each command's first sentence whole
    (wrapped to the terminal) instead of cutting it at the line's end with "..."."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
