"""The I/O around the sans-I/O core: host-name resolution within a deadline
(:mod:`~e2ckit.transport.resolve`) and the fan-out engine (:mod:`~e2ckit.transport.engine`)."""
