"""The package's version, in the ground layer so that any module (the CLI's ``--version``)
can read it without importing the public face ``e2ckit``."""

__version__ = "0.1.0"
