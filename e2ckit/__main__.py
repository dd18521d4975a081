"""``python -m e2ckit``: the ``e2ckit`` command."""

from e2ckit.cli import main

main()
