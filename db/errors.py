"""Errors of the storage layer, each with a message a user can act on."""

from __future__ import annotations


class QclustError(Exception):
    """Base of every error qclust reports to a user as one clear line."""


class CorpusNotFoundError(QclustError):
    def __init__(self, name: str, known: list[str]) -> None:
        hint = f"; known corpora: {', '.join(known)}" if known else "; no corpus exists yet"
        super().__init__(f"corpus '{name}' does not exist{hint} (create one with 'qclust ingest')")
        self.name = name


class DatabaseUnavailableError(QclustError):
    """The database URL points at a server that does not answer."""


class StoredVectorError(QclustError):
    """Vectors in the database do not have the shape their encoder says."""


class CorpusBusyError(QclustError):
    """Another process (here or on another machine) is writing to the corpus."""
