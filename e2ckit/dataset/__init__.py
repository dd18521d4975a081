"""Reading a logged dataset: :func:`load` (tidy rows or aggregates, local or on object
storage), never writing to it.

======================  ==================================================================
``loader``              :func:`load`: the arguments, the listing, re-listing, ``wide``
``reader``              the one reader of part files: admission, statistics, filters
``live``                rows of write-ahead segments not in a part yet (read into memory)
``tidy``                the tidy frame: categoricals, (time, antenna, point) order
``query``               aggregates (Polars), from samples or from 5-minute summaries
``remote``              ``s3://`` and other pyarrow filesystems: the listing
``events``              :func:`events`: logging events beside the files (wall-clock steps)
``latest``              :func:`latest`: each antenna's last cycles in the logger's order
======================  ==================================================================

``import e2ckit.dataset`` imports no transport, wire, client or sim module (a test
checks it): a notebook that only reads logs needs none of them. The format it reads is
:mod:`e2ckit.logformat`'s; the writer is :mod:`e2ckit.logger`.
"""

from __future__ import annotations

from e2ckit.dataset.events import events
from e2ckit.dataset.latest import latest
from e2ckit.dataset.live import unflushed
from e2ckit.dataset.loader import load
from e2ckit.errors import UnreadableFileWarning
from e2ckit.logformat.schema import LOAD_COLUMNS

__all__ = ["LOAD_COLUMNS", "UnreadableFileWarning", "events", "latest", "load", "unflushed"]
