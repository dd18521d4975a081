"""The logged dataset's format: what the writer (:mod:`e2ckit.logger`) writes and the
reader (:mod:`e2ckit.dataset`) reads, in one place below both.

======================  ==================================================================
``schema``              the file schema, writer settings, names of files and directories,
                        the errors and the warning both sides raise
``files``               partitions, part files and the one admission rule for a file
``segments``            write-ahead segments: names, whole batches, rows by partition
``summaries``           the 5-minute summaries of compacted days: format, identity, use
``rules``               a good reading and a bucket (what aggregates and summaries count)
======================  ==================================================================

Layering: ``logger`` and ``dataset`` are siblings and never import each other; both
import this package, which imports only :mod:`e2ckit.errors` (and pyarrow; Polars and
pandas inside the functions that need them).
"""
