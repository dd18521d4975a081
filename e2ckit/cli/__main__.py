"""``python -m e2ckit.cli``: the ``e2ckit`` command."""

from e2ckit.cli import main

main()
