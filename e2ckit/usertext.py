"""The one reader of the text files a user hands e2ckit: a host map, a site limits file, a
catalog file, a scenario.

Spreadsheets save CSV as UTF-8 *with a byte-order mark*; a BOM left in the text made the
first column ``\\ufeffpoint``, an unknown column (issue 22 item 8). Every user file goes
through :func:`read_user_text`, which drops it and turns every way a file can fail to be text
into one :class:`~e2ckit.errors.ValidationError` naming the file and what it should be.
Ground layer: imports nothing of e2ckit but the errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from e2ckit.errors import ValidationError

__all__ = ["read_user_text"]


def read_user_text(path: str | os.PathLike[str], what: str) -> str:
    """The text of ``path``, UTF-8 with or without a byte-order mark. ``what`` names the
    kind of file in the errors ("site limits file", "host map"): a file that cannot be read,
    is not UTF-8 or is binary is a ValidationError saying so, with the path."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{what} {p} is not UTF-8 text (byte {exc.start})") from None
    if "\0" in text:
        raise ValidationError(f"{what} {p} is binary, not text")
    return text
