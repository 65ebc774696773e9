"""Molecule featurization: Morgan fingerprints, RDKit 2D descriptors and molecular graphs.

Submodules (import what you need; this package imports nothing heavy on its own):

- ``config``: frozen configuration dataclasses.
- ``fingerprints``: Morgan bit / count vectors via ``rdFingerprintGenerator``.
- ``descriptors``: RDKit 2D descriptors (full set or a fast curated subset).
- ``graph``: atom / bond feature arrays for a directed message-passing network (D-MPNN).
- ``graph_reads``: the RDKit atom / bond properties behind them, read per property.
- ``graph_store``: graphs to and from Parquet (compact per-molecule codes).
- ``runner``: parallel, chunked, streaming featurization of a whole table.
"""
