"""Readers of external formats. Each module reads one format into kassa's canonical tables.

Every reader exposes the same small interface (:class:`kassa.sources.base.Source`) and registers
itself in :data:`kassa.sources.registry.SOURCES`; validation against the canonical schema is shared
(:mod:`kassa.sources.validate`), so every format gets the same row-level errors.
"""
